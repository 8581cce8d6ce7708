"""Editing the marksheet with JavaScript on: saves that race, Absent, a stale
row, a session that ends mid-edit, and a marks unit's range."""
import re

from playwright.sync_api import expect

from tests.browser.pages import missing_row_ids, select_values

ABSENT_WARNING = 'Please note an ABSENT should only be used if a candidate is absent'




def is_save_of(entry_id):
    return lambda r: r.url.endswith(f'/entries/{entry_id}') and r.request.method == 'POST'


def watch_saves(page):
    """A list that collects the URL of every inline save the page sends."""
    sent = []
    page.on('request', lambda r: sent.append(r.url) if (
        r.method == 'POST' and re.search(r'/entries/\d+$', r.url)) else None)
    return sent


def test_rapid_changes_are_not_lost(portal, page, snap):
    portal.sign_in(page, '68999JBR', snap)
    unit_id = portal.open_unit(page, '9614/L3', snap)
    page.goto(f'{portal.url}/internal-assessment/{unit_id}?rows=all')
    snap(page, 'marksheet-all-rows')
    chosen = dict(zip(missing_row_ids(page)[:10], 'PMDPMDPMDP'))
    sent = watch_saves(page)
    for entry_id, value in chosen.items():  # no waiting between them
        page.select_option(f'select[name="value-{entry_id}"]', value, no_wait_after=True)
    for entry_id in chosen:
        expect(page.locator(f'#entry-{entry_id} span.saved')).to_have_text('Saved')
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (53 DONE, 91 LEFT)')
    assert len(sent) == 10
    snap(page, 'after-rapid-changes')

    page.reload()
    snap(page, 'reloaded')
    values = select_values(page)
    assert {entry_id: values[entry_id] for entry_id in chosen} == chosen
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (53 DONE, 91 LEFT)')


def test_absent_asks_first(portal, page, snap):
    answers, messages = [], []

    def on_dialog(dialog):
        messages.append((dialog.type, dialog.message))
        dialog.accept() if answers.pop(0) else dialog.dismiss()
    page.on('dialog', on_dialog)
    portal.sign_in(page, '68999JBR', snap)
    unit_id = portal.open_unit(page, '9614/L3', snap)
    values = select_values(page)
    entry_id = next(i for i, v in values.items() if v in 'PMD' and v)
    before = values[entry_id]
    field = page.locator(f'select[name="value-{entry_id}"]')
    sent = watch_saves(page)

    answers.append(False)
    field.select_option('A')
    expect(field).to_have_value(before)
    page.wait_for_timeout(300)  # a save, had one been sent, would have started by now
    assert messages == [('confirm', ABSENT_WARNING)]
    assert sent == []
    snap(page, 'absent-dismissed')
    page.reload()
    assert select_values(page)[entry_id] == before
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (43 DONE, 101 LEFT)')
    snap(page, 'reloaded-after-dismiss')

    answers.append(True)
    with page.expect_response(is_save_of(entry_id)) as response:
        field.select_option('A')
    assert response.value.status == 200
    expect(page.locator(f'#entry-{entry_id} span.saved')).to_have_text('Saved')
    assert messages[1:] == [('confirm', ABSENT_WARNING)]
    snap(page, 'absent-accepted')
    page.reload()
    assert select_values(page)[entry_id] == 'A'
    snap(page, 'reloaded-after-accept')


def test_stale_row_is_refused(portal, page, new_context, snap):
    teacher = page
    officer = new_context().new_page()
    portal.sign_in(teacher, '68999JBR', snap)
    portal.sign_in(officer, '68999', snap)
    unit_id = portal.open_unit(teacher, '9614/L3', snap)
    assert portal.open_unit(officer, '9614/L3', snap) == unit_id
    values = select_values(teacher)
    entry_id = next(i for i, v in values.items() if v == 'P')

    with teacher.expect_response(is_save_of(entry_id)) as first:
        teacher.select_option(f'select[name="value-{entry_id}"]', 'M')
    assert first.value.status == 200
    expect(teacher.locator(f'#entry-{entry_id} span.saved')).to_be_visible()
    snap(teacher, 'teacher-saved')

    with officer.expect_response(is_save_of(entry_id)) as second:
        officer.select_option(f'select[name="value-{entry_id}"]', 'D')  # the stale page
    assert second.value.status == 409
    error = officer.locator(f'#entry-{entry_id} span.error')
    expect(error).to_contain_text('Not saved')
    expect(error).to_contain_text('someone else changed this outcome to Merit (68999JBR')
    expect(officer.locator(f'select[name="value-{entry_id}"]')).to_have_value('M')
    expect(officer.locator(f'#entry-{entry_id}')).to_have_class('problem')
    snap(officer, 'officer-refused')

    officer.reload()
    assert select_values(officer)[entry_id] == 'M'
    snap(officer, 'officer-reloaded')


def test_expired_session_mid_edit_keeps_the_change(portal, page, snap):
    portal.sign_in(page, '68999JBR', snap)
    unit_id = portal.open_unit(page, '9614/L3', snap)
    marksheet_url = page.url
    values = select_values(page)
    entry_id = next(i for i, v in values.items() if v == 'P')
    idle = portal.app.config['IDLE_MINUTES']
    portal.app.config['IDLE_MINUTES'] = 0  # read per request: the next one finds the session over
    try:
        page.wait_for_timeout(50)
        with page.expect_response(is_save_of(entry_id)) as response:
            page.select_option(f'select[name="value-{entry_id}"]', 'D')
        assert response.value.status == 401
        assert response.value.headers.get('hx-redirect', '').startswith('/login?')
        page.wait_for_url(re.compile(r'/login\?'))
    finally:
        portal.app.config['IDLE_MINUTES'] = idle
    expect(page.get_by_role('alert')).to_contain_text('Your session ended')
    expect(page.locator('.account')).to_have_count(0)
    snap(page, 'login-after-expiry')

    page.fill('#username', '68999JBR')
    page.fill('#password', 'Demo2017pass')
    page.get_by_role('button', name='LOGIN').click()
    page.wait_for_url(marksheet_url)
    expect(page.locator('p.flash')).to_have_text(
        'Your change made before signing in again was saved (1 outcome).')
    expect(page.locator(f'select[name="value-{entry_id}"]')).to_have_value('D')
    snap(page, 'back-on-marksheet')
    page.reload()
    snap(page, 'reloaded')
    assert select_values(page)[entry_id] == 'D'
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (43 DONE, 101 LEFT)')


def test_mark_unit_refuses_out_of_range(portal, page, snap):
    portal.sign_in(page, '68999', snap)
    unit_id = portal.open_unit(page, 'C700U3', snap)
    counts = page.locator(f'#counts-{unit_id}')
    expect(counts).to_have_text('ENTER OUTCOMES (10 DONE, 20 LEFT)')
    expect(page.locator('table.marksheet select')).to_have_count(0)
    entry_id = missing_row_ids(page)[0]
    box = page.locator(f'input[name="value-{entry_id}"]')
    error = page.locator(f'#entry-{entry_id} span.error')
    expect(box).to_have_value('')

    with page.expect_response(is_save_of(entry_id)) as response:
        box.fill('41')
        box.press('Tab')
    assert response.value.status == 422
    expect(error).to_have_text('41 is out of range: marks run from 0 to 40.')
    expect(box).to_have_value('41')
    expect(counts).to_have_text('ENTER OUTCOMES (10 DONE, 20 LEFT)')
    snap(page, 'out-of-range')

    page.reload()
    expect(box).to_have_value('')
    expect(error).to_have_count(0)
    expect(counts).to_have_text('ENTER OUTCOMES (10 DONE, 20 LEFT)')
    snap(page, 'reloaded-nothing-saved')

    with page.expect_response(is_save_of(entry_id)) as response:
        box.fill('25')
        box.press('Tab')
    assert response.value.status == 200
    expect(page.locator(f'#entry-{entry_id} span.saved')).to_have_text('Saved')
    expect(counts).to_have_text('ENTER OUTCOMES (11 DONE, 19 LEFT)')
    snap(page, 'saved-25')
    page.reload()
    expect(box).to_have_value('25')
    snap(page, 'reloaded-25')


def test_mark_unit_refuses_text_without_asking_about_absent(portal, page, snap):
    """'abc' is not a mark (nor Absent, which is A, ABS or ABSENT): it gets the
    row's error, like any other invalid mark, not the Absent warning."""
    dialogs = []
    page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    portal.sign_in(page, '68999', snap)
    unit_id = portal.open_unit(page, 'C700U3', snap)
    entry_id = missing_row_ids(page)[0]
    box = page.locator(f'input[name="value-{entry_id}"]')
    sent = watch_saves(page)

    box.fill('abc')
    box.press('Tab')
    page.wait_for_timeout(500)
    snap(page, 'typed-abc')
    assert dialogs == [], f'"abc" was taken for Absent: {dialogs}'
    assert len(sent) == 1
    expect(page.locator(f'#entry-{entry_id} span.error')).to_contain_text('“abc” is not a mark')
    expect(box).to_have_value('abc')
    page.reload()
    expect(box).to_have_value('')
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (10 DONE, 20 LEFT)')
    snap(page, 'reloaded')
