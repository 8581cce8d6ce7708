"""Issue 10 points 1-3: a teacher who never touches the mouse. Focus stays on
the field just saved (or where the teacher moved to), arrow keys in a closed
grade select do not save per keypress nor ask about Absent for a value passed
over, Enter saves one row once, and one live region says what happened."""
import re

from playwright.sync_api import expect

from tests.browser.pages import missing_row_ids, outcome_of, switch_language


def watch_saves(page):
    sent = []
    page.on('request', lambda r: sent.append(r.url) if (
        r.method == 'POST' and re.search(r'/entries/\d+$', r.url)) else None)
    return sent


def focused_id(page):
    return page.evaluate('document.activeElement && document.activeElement !== document.body'
                         ' && (document.activeElement.id || document.activeElement.tagName)')


def test_twenty_rows_with_the_keyboard_only(portal, page, snap):
    dialogs = []
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    portal.sign_in(page, '68999JBR', snap)
    unit_id = portal.open_unit(page, '9611/L3', snap)  # nothing entered yet
    rows = missing_row_ids(page)
    assert len(rows) == 20
    sent = watch_saves(page)
    page.locator(f'#value-{rows[0]}').focus()
    for number, entry_id in enumerate(rows):
        assert focused_id(page) == f'value-{entry_id}'
        page.keyboard.press('ArrowDown')  # Pass
        page.keyboard.press('ArrowDown')  # Merit
        if number % 5 == 0:  # pass over Absent: no question for a value not chosen
            page.keyboard.press('ArrowDown')
            page.keyboard.press('ArrowDown')  # Absent
            page.keyboard.press('ArrowUp')
            page.keyboard.press('ArrowUp')    # Merit again
        page.wait_for_timeout(50)
        assert len(sent) == number, 'arrow keys sent a save'
        page.keyboard.press('Tab')  # leaving the field saves it; focus goes to the next candidate
        expect(page.locator(f'#entry-{entry_id} span.saved')).to_have_text('Saved')
        assert len(sent) == number + 1
        expect(page.locator('#announce')).to_contain_text(re.compile(r'Saved: \d{4} .*, Merit'))
        if number + 1 < len(rows):
            assert focused_id(page) == f'value-{rows[number + 1]}', 'focus left the next candidate'
    assert focused_id(page) not in (None, ''), 'focus fell to the page'
    # Shift+Tab back into the last row, change it, and Enter: focus stays on it after the swap
    page.keyboard.press('Shift+Tab')
    assert focused_id(page) == f'value-{rows[-1]}'
    page.keyboard.press('ArrowDown')
    page.keyboard.press('Enter')
    expect(page.locator('#announce')).to_contain_text('Distinction')
    page.wait_for_timeout(200)
    assert focused_id(page) == f'value-{rows[-1]}', 'focus was lost by the row swap'
    assert dialogs == []
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (20 DONE, 124 LEFT)')
    snap(page, 'twenty-rows-by-keyboard')
    assert all(outcome_of(entry_id)[0] == 'M' for entry_id in rows[:-1]) and outcome_of(rows[-1])[0] == 'D'
    # in Welsh: the same keys, the live region says it in Welsh, focus stays
    switch_language(page, 'Cymraeg')
    page.locator(f'#value-{rows[0]}').focus()
    page.keyboard.press('ArrowDown')  # Distinction (Rhagoriaeth)
    page.keyboard.press('Enter')
    expect(page.locator('#announce')).to_contain_text(re.compile(r'^Cadwyd: \d{4} '))
    page.wait_for_timeout(200)
    assert focused_id(page) == f'value-{rows[0]}'
    snap(page, 'keyboard-journey-cymraeg')


def test_enter_saves_the_row_once_and_focus_stays_in_it(portal, page, snap):
    portal.sign_in(page, '68999', snap)
    unit_id = portal.open_unit(page, 'C700U3', snap)  # marks 0-40
    entry_id = missing_row_ids(page)[0]
    sent = watch_saves(page)
    box = page.locator(f'#value-{entry_id}')
    box.focus()
    page.keyboard.type('35')
    page.keyboard.press('Enter')
    expect(page.locator(f'#entry-{entry_id} span.saved')).to_have_text('Saved')
    page.wait_for_timeout(300)
    assert len(sent) == 1 and outcome_of(entry_id)[0] == '35'
    assert page.url.endswith(f'/internal-assessment/{unit_id}')  # no whole-form submit, no reload
    assert focused_id(page) == f'value-{entry_id}'
    # a refused value: said in the live region, focus still there
    page.keyboard.press('Control+A')
    page.keyboard.type('99')
    page.keyboard.press('Enter')
    expect(page.locator('#announce')).to_contain_text('99 is out of range')
    expect(page.locator(f'#value-{entry_id}')).to_be_focused()  # once the swap has settled
    assert len(sent) == 2
    snap(page, 'refused-mark-by-keyboard')
