"""Issue 10 point 6: every page that comes back with errors starts with a box
listing each problem as a link to its field, and its title starts "Error:"
("Gwall:" in Welsh); with or without JavaScript (the box is server-rendered)."""
import re

import pytest

import demo
from models import db
from tests.test_access import job, moderation_world, routes  # noqa: F401  fixtures reused

ROLE_FOR = (('series_admin.', 'series_staff'), ('imports.', 'series_staff'), ('moderators.', 'series_staff'),
            ('entries.queue', 'series_staff'), ('entries.process', 'series_staff'), ('entries.', 'admin'),
            ('helpline.', 'staff'), ('centres.', 'staff'), ('impersonation.', 'staff'), ('moderation.', 'moderator'),
            ('account_admin.', 'admin'), ('centre_profile.', 'admin'))


def summary_links(html):
    """The fields the error summary links to ([] if it names none), or None without one."""
    box = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return re.findall(r'<a href="#([^"]+)">', box.group(0)) if box else None


def test_a_bad_mark_100_rows_down_is_listed_at_the_top_with_a_link_to_it(world, as_):
    with db.connection_context():
        many = demo.make_candidates(world.centre, 120, 5001, seed=3)
        entries = demo.enter(many, world.unit)
    far = entries[109]
    response = as_('teacher').post(f'/internal-assessment/{world.unit.id}', data={
        f'value-{far.id}': 'Excellent', f'version-{far.id}': 0, 'rows': 'all', 'page': '1', 'save': '1'})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'<title>Error: ', html)
    assert summary_links(html) == [f'value-{far.id}']
    assert f'id="value-{far.id}"' in html
    assert html.index('class="error-summary"') < html.index('<table')
    assert '“Excellent” is not an outcome for this unit' in html


def test_in_welsh_the_title_starts_gwall(world, as_):
    client = as_('teacher')
    client.post('/language', data={'lang': 'cy', 'next': '/'})
    entry = world.entries[0]
    html = client.post(f'/internal-assessment/{world.unit.id}', data={
        f'value-{entry.id}': 'Excellent', f'version-{entry.id}': 0, 'rows': '20', 'page': '1'}).get_data(as_text=True)
    assert re.search(r'<title>Gwall: ', html)


def test_every_form_that_comes_back_with_errors_links_each_to_a_field_on_the_page(app, moderation_world, job, as_):
    world, checked, problems = moderation_world, [], []
    clients = {}
    for rule, url, method in routes(app, world, job):
        if method != 'POST':
            continue
        role = next((r for prefix, r in ROLE_FOR if rule.endpoint.startswith(prefix)), 'teacher')
        client = clients.get(role) or clients.setdefault(role, as_(role))
        response = client.post(url, data={})
        assert response.status_code != 500, url
        html = response.get_data(as_text=True)
        links = summary_links(html)
        if response.status_code == 422 and 'text/html' in response.content_type and '<html' in html and links is None:
            problems.append(f'{url}: came back with errors but no summary')
        if links is not None:
            if not re.search(r'<title>Error: ', html):
                problems.append(f'{url}: title without "Error:"')
            problems += [f'{url}: the summary links to #{field}, which is not on the page'
                         for field in links if f'id="{field}"' not in html]
            checked.append(url)
    assert problems == [], "\n".join(problems)
    assert len(checked) >= 5, checked
