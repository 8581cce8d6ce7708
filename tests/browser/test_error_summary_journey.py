"""Issue 10 point 6 in the browser: a page that comes back with errors starts
with a box listing each problem as a link to its field, its title starts
"Error:" / "Gwall:", with JavaScript on and off, in English and Welsh."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import missing_row_ids, switch_language


@pytest.mark.parametrize('javascript', [True, False])
def test_a_bad_mark_saved_with_the_page_is_listed_at_the_top(portal, new_context, snap, javascript):
    page = new_context(java_script_enabled=javascript).new_page()
    portal.sign_in(page, '68999', snap)
    unit_id = portal.open_unit(page, 'C700U3', snap)  # marks 0-40
    entry_id = missing_row_ids(page)[-1]
    for language, title in (('English', 'Error: '), ('Cymraeg', 'Gwall: ')):
        if language == 'Cymraeg':
            switch_language(page, 'Cymraeg')
        page.locator(f'#value-{entry_id}').fill('99')
        page.locator('form#marksheet button[name="save"]').click()
        summary = page.locator('.error-summary')
        expect(summary).to_be_visible()
        assert page.title().startswith(title)
        link = summary.get_by_role('link')
        expect(link).to_have_count(1)
        expect(link).to_have_attribute('href', f'#value-{entry_id}')
        snap(page, f'error-summary-{"js" if javascript else "nojs"}-{language}')
        link.click()
        assert page.url.endswith(f'#value-{entry_id}')
        expect(page.locator(f'#value-{entry_id}')).to_be_in_viewport()
        expect(page.locator(f'#value-{entry_id}')).to_have_attribute('aria-invalid', 'true')
        page.goto(f'{portal.url}/internal-assessment/{unit_id}')
