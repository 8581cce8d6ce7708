"""Issue 10 point 5 (WCAG 2.2.1): two minutes before the idle limit a dialog
offers "Stay signed in" (one request that counts as activity) or "Sign out";
without JavaScript the page says when the session will end."""
import re

from playwright.sync_api import expect


def test_the_warning_comes_before_the_idle_limit_and_staying_restarts_the_clock(portal, page, snap):
    portal.app.config['IDLE_MINUTES'] = 2.05  # the warning after 3 seconds
    portal.sign_in(page, '68999JBR', snap)
    portal.open_unit(page, '9611/L3', snap)
    stays = []
    page.on('request', lambda r: stays.append(r.url) if r.url.endswith('/session/stay') else None)
    dialog = page.locator('#session-warning')
    expect(dialog).to_be_hidden()
    expect(dialog).to_be_visible(timeout=8000)
    expect(dialog.get_by_role('heading')).to_have_text('You will be signed out soon')
    snap(page, 'session-warning')
    focused = page.evaluate('document.activeElement.textContent')
    assert focused == 'Stay signed in'  # the modal dialog takes focus: Enter stays
    page.keyboard.press('Enter')
    expect(dialog).to_be_hidden()
    assert len(stays) == 1
    page.wait_for_timeout(1000)
    expect(dialog).to_be_hidden()  # the clock started again
    expect(dialog).to_be_visible(timeout=8000)
    dialog.get_by_role('button', name='Sign out').click()
    expect(page).to_have_url(re.compile(r'/login'))


def test_the_warning_in_welsh(portal, page, snap):
    from tests.browser.pages import switch_language
    portal.app.config['IDLE_MINUTES'] = 2.05
    portal.sign_in(page, '68999JBR', snap)
    switch_language(page, 'Cymraeg')
    dialog = page.locator('#session-warning')
    expect(dialog).to_be_visible(timeout=8000)
    expect(dialog.get_by_role('heading')).to_have_text('Cewch eich allgofnodi cyn bo hir')
    expect(dialog.get_by_role('button', name='Aros wedi mewngofnodi')).to_be_focused()
    snap(page, 'session-warning-cymraeg')


def test_without_javascript_the_page_says_when_the_session_ends(portal, new_context, snap):
    page = new_context(java_script_enabled=False).new_page()
    portal.sign_in(page, '68999JBR', snap)
    note = page.locator('.session-note')
    expect(note).to_contain_text(re.compile(r'Without activity you will be signed out at \d\d:\d\d'))
    expect(page.locator('#session-warning')).to_be_hidden()
