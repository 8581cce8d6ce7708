"""Issue 10: the HTML of every page passes the Nu HTML checker (vnu.jar, which
`make test` downloads), apart from htmx's hx-* attributes.

Every GET route of test_access.routes() that answers a full page is rendered
as the first role that may open it, in English and in Welsh, and all of them
are checked in ONE run of the checker (the JVM takes seconds to start)."""
import json
import pathlib
import shutil
import subprocess

import pytest

from models import db
from tests.test_access import ROLES, expected, job, moderation_world, routes  # noqa: F401 (fixtures)

VNU = pathlib.Path(__file__).resolve().parents[1] / '.venv' / 'bin' / 'vnu.jar'
SKIP = ('static', 'metrics.', 'health.')  # not HTML pages
# htmx's attributes are not in HTML's vocabulary; the checker reports each one.
HTMX_MESSAGE = ('Attribute \u201chx-',)


def page_urls(app, world, job):
    """(url, role) for each GET route answering a page, with the first role of
    test_access.ROLES that may open it (anonymous first, for public pages)."""
    for rule, url, method in routes(app, world, job):
        if method != 'GET' or rule.endpoint.startswith(SKIP):
            continue
        role = next((r for r in ROLES if r != 'deactivated' and expected(r, rule) == 'open'), None)
        if role:
            yield url, role


def client_as(app, world, role, language):
    client = app.test_client()
    if role != 'anonymous':
        client.get(client.login(getattr(world, role).username).location)
    with client.session_transaction() as session:
        session['lang'] = language
    return client


def test_every_page_is_valid_html(app, moderation_world, job, tmp_path):  # noqa: F811 (fixtures)
    if shutil.which('java') is None or not VNU.exists():
        pytest.fail('the Nu HTML checker needs java and .venv/bin/vnu.jar: run make test')
    world = moderation_world
    app.config.update(METRICS_ALLOW='', METRICS_TOKEN=None)
    pages = tmp_path / 'pages'
    pages.mkdir()
    written = {}
    clients = {}
    for url, role in page_urls(app, world, job):
        for language in ('en', 'cy'):
            if (role, language) not in clients:
                clients[role, language] = client_as(app, world, role, language)
            response = clients[role, language].get(url)
            body = response.get_data(as_text=True)
            if response.status_code != 200 or not body.lstrip().lower().startswith('<!doctype html>'):
                continue  # a redirect, a file or an htmx fragment
            path = pages / f'{len(written):03d}-{language}.html'
            path.write_text(body, encoding='utf-8')
            written[str(path)] = f'{url} as {role} ({language})'
    assert len(written) > 60  # about 40 pages, in two languages

    run = subprocess.run(['java', '-jar', str(VNU), '--errors-only', '--format', 'json', '--stdout',
                          *sorted(str(p) for p in pages.iterdir())], capture_output=True, text=True, timeout=300)
    messages = json.loads(run.stdout)['messages']
    problems = [f"{written.get(m.get('url', '').removeprefix('file:'), m.get('url'))} line {m.get('lastLine')}: {m['message']}"
                f" [{m.get('extract', '').strip()[:80]}]"
                for m in messages if not m['message'].startswith(HTMX_MESSAGE)]
    assert not problems, f'{len(problems)} HTML error(s):\n' + '\n'.join(problems)
