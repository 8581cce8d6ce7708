"""Names are data, never markup or template: a candidate called
<img src=x onerror=alert(1)> shows as text on every page."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import switch_language

IMG = '<img src=x onerror=alert(1)>'
TEMPLATE = '{{7*7}}'
HX = 'hx-get="/logout"'


def rename_candidates():
    from models import Candidate, Centre
    centre = Centre.get(Centre.number == '68999')
    for number, surname, forename in (('3001', IMG, TEMPLATE), ('3002', HX, 'JOE')):
        changed = (Candidate.update(surname=surname, forename=forename)
                   .where(Candidate.centre == centre, Candidate.number == number).execute())
        assert changed == 1


def name_cell(page, number):
    """The name cell of the row whose first cell is `number`."""
    return page.locator('tr').filter(has=page.locator('td:first-child', has_text=number)).locator(
        'td').nth(1)


def assert_inert(page):
    expect(page.locator('img')).to_have_count(0)
    expect(page.locator('[onerror]')).to_have_count(0)
    expect(page.locator('[hx-get="/logout"]')).to_have_count(0)


@pytest.mark.portal_setup.with_args(rename_candidates)
def test_hostile_names_are_inert(portal, page, snap):
    dialogs, requested = [], []
    page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on('request', lambda request: requested.append(request.url))
    portal.sign_in(page, '68999JBR', snap)
    unit_id = portal.open_unit(page, '9614/L3', snap)

    # The marksheet shows names in capitals.
    expect(name_cell(page, '3001')).to_have_text(f'{IMG.upper()}: {TEMPLATE}')
    expect(name_cell(page, '3002')).to_have_text(f'{HX.upper()}: JOE')
    assert_inert(page)

    # The row as htmx swaps it back after an inline save.
    entry_id = int(page.locator('tr', has=page.locator('td:first-child', has_text='3001'))
                   .get_attribute('id').removeprefix('entry-'))
    field = page.locator(f'select[name="value-{entry_id}"]')
    new_value = 'D' if field.input_value() != 'D' else 'M'
    field.select_option(new_value)
    expect(page.locator(f'#entry-{entry_id} span.saved')).to_be_visible()
    expect(name_cell(page, '3001')).to_have_text(f'{IMG.upper()}: {TEMPLATE}')
    assert_inert(page)
    snap(page, 'marksheet-after-inline-save')

    # The sample preview and the candidate details report (names as entered).
    page.goto(f'{portal.url}/internal-assessment/{unit_id}/submit')
    expect(page.locator('#sample-preview')).to_be_visible()
    snap(page, 'sample-preview')
    assert_inert(page)
    page.goto(f'{portal.url}/internal-assessment/{unit_id}')
    page.get_by_role('link', name='PRINT', exact=True).click()
    page.wait_for_url(f'{portal.url}/internal-assessment/reports/{unit_id}')
    expect(page.get_by_role('heading', name='CANDIDATE DETAILS REPORT')).to_be_visible()
    snap(page, 'report')
    report_row = page.locator('table.report tbody tr').filter(
        has=page.locator('td:nth-child(2)', has_text=re.compile('^3001$')))
    expect(report_row.locator('td').nth(2)).to_have_text(f'{IMG} {TEMPLATE}')
    expect(page.get_by_text(IMG, exact=False)).to_be_visible()
    expect(page.get_by_text(HX, exact=False)).to_be_visible()
    assert '49' not in report_row.locator('td').nth(2).inner_text()
    assert_inert(page)

    page.wait_for_timeout(300)  # give anything that would fire a moment to do so
    assert dialogs == []
    assert not [u for u in requested if '/logout' in u or u.endswith('/x')]
    page.goto(portal.url + '/')
    expect(page.locator('.account')).to_contain_text('Signed in as 68999JBR')
    snap(page, 'home-still-signed-in')
    switch_language(page, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(page, 'home-still-signed-in-cy')
