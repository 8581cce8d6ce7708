"""Issue 10 point 8 (WCAG 1.4.10 reflow): at 320 px wide the overview and
the marksheet never scroll the whole page sideways; the marksheet's table
scrolls in its own region, which a keyboard can reach."""
from playwright.sync_api import expect


def page_overflow(page):
    return page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')


def test_overview_and_marksheet_at_320_pixels(portal, new_context, snap):
    page = new_context(viewport={'width': 320, 'height': 640}).new_page()
    portal.sign_in(page, '68999JBR', snap)
    portal.open_overview(page, snap)
    assert page_overflow(page) <= 0, 'the overview scrolls sideways'
    unit_id = portal.open_unit(page, '9614/L3', snap)
    assert page_overflow(page) <= 0, 'the marksheet scrolls sideways'
    region = page.locator('.table-scroll[role="region"]')
    expect(region).to_have_attribute('tabindex', '0')
    assert region.evaluate('e => e.scrollWidth >= e.clientWidth')
    page.goto(f'{portal.url}/internal-assessment/{unit_id}?rows=all')
    assert page_overflow(page) <= 0
    snap(page, 'marksheet-320')
