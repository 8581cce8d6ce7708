"""The helpline acts for a centre, as its staff click it: helpdesk1 signs in
with the second factor, finds centre 68999 and acts as its teacher 68999JBR,
read-only (an inline save is refused and says why), switches to changes with
a reason (the save goes through), stops; the same refusal without
JavaScript; and the exams officer reads what was done in Helpline history."""
import datetime
import json
import re
import warnings

from playwright.sync_api import expect

from tests.browser.pages import in_db, missing_row_ids, outcome_of, switch_language

UNIT = '9614/L3'
REASON = 'The exams officer phoned: 9614/L3 will not save for their teacher'
TICKET = 'HD-4711'
CHANGES_REASON = 'The centre asked us to enter the missing grade for them'
BANNER_READ_ONLY = re.compile(r'^HELPDESK1 is acting as 68999JBR: read-only: ends (\d\d:\d\d) \(UTC\)$')
BANNER_CHANGES_ON = re.compile(r'^HELPDESK1 is acting as 68999JBR: changes on: ends (\d\d:\d\d) \(UTC\)$')
ACTING = 'HELPDESK1 (helpline) acting as 68999JBR'




def audit_actions(*actions):
    """The audit rows of these actions, oldest first: (action, after)."""
    from models import AuditLog
    return in_db(lambda: [(r.action, json.loads(r.after) if r.after else None) for r in
                          AuditLog.select().where(AuditLog.action.in_(actions)).order_by(AuditLog.id)])


def banner(page):
    return page.locator('.acting-banner')


def banner_line(page):
    """The banner's first line, its spaces and line breaks made single."""
    return ' '.join(banner(page).locator('p').inner_text().split())


def expect_banner(page, pattern, until):
    expect(banner(page)).to_be_visible()
    found = pattern.match(banner_line(page))
    assert found, banner_line(page)
    assert found.group(1) == until
    expect(banner(page).get_by_role('button', name='STOP ACTING')).to_be_visible()


def welsh_not_english(page, what, english):
    """The Welsh catalogue is someone else's work in progress: a string still
    in English is reported, not failed on."""
    if english in page.locator('body').inner_text():
        warnings.warn(f'Welsh missing on the {what} (Cymraeg page): "{english}" is still in English')
        return False
    return True


def open_centre(portal, page, snap, step):
    """CENTRES, find 68999 by number, open it."""
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name='CENTRES').click()
    page.wait_for_url(portal.url + '/helpline/centres/')
    expect(page.get_by_role('heading', name='Find a centre')).to_be_visible()
    page.get_by_label('Centre number or part of its name').fill('68999')
    page.get_by_role('button', name='FIND').click()
    page.wait_for_url(portal.url + '/helpline/centres/?q=68999')
    found = page.locator('table.grid')
    expect(found.locator('caption')).to_have_text('1 centre found')
    expect(found.locator('tbody tr')).to_have_count(1)
    expect(found.locator('tbody tr')).to_contain_text('EXAMPLE HIGH SCHOOL')
    snap(page, f'{step}-found-by-number')
    found.get_by_role('link', name='68999', exact=True).click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/helpline/centres/\d+$'))
    expect(page.get_by_role('heading', name='68999 EXAMPLE HIGH SCHOOL')).to_be_visible()


def account_row(page, username):
    return page.locator('table.grid tbody tr').filter(
        has=page.locator('td:first-child', has_text=re.compile(f'^{username}$')))


def start_acting(portal, page, snap, step):
    """From the centre page: ACT AS 68999JBR with a reason, a ticket and a fresh code.
    Returns the banner's end time, HH:MM."""
    account_row(page, '68999JBR').get_by_role('link', name='ACT AS 68999JBR').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/helpline/impersonation/accounts/\d+$'))
    expect(page.get_by_role('heading', name='Act as 68999JBR')).to_be_visible()
    page.get_by_label('Why (what the centre asked for)').fill(REASON)
    page.get_by_label('Ticket number (optional)').fill(TICKET)
    page.get_by_label('Code from your authenticator app').fill(portal.second_factor_code('helpdesk1'))
    snap(page, f'{step}-act-as-filled')
    started = len(audit_actions('impersonation.start'))
    page.get_by_role('button', name='START ACTING AS 68999JBR').click()
    page.wait_for_url(portal.url + '/')
    expect(page.locator('p.flash')).to_have_text('You are acting as 68999JBR, read-only.')
    expect(page.locator('.account')).to_contain_text('Signed in as 68999JBR')
    starts = audit_actions('impersonation.start')
    assert len(starts) == started + 1
    after = starts[-1][1]
    assert (after['reason'], after['ticket']) == (REASON, TICKET)
    until = datetime.datetime.fromtimestamp(after['until'], datetime.timezone.utc)
    assert datetime.timedelta(minutes=29) < until - datetime.datetime.now(datetime.timezone.utc) \
        <= datetime.timedelta(minutes=30)
    expect_banner(page, BANNER_READ_ONLY, until.strftime('%H:%M'))
    snap(page, f'{step}-acting-read-only')
    return until.strftime('%H:%M')


def open_page_with_missing(page):
    """The marksheet's page 3 (Candidate No 3041 on): the first 43 are done."""
    page.get_by_role('navigation', name='Pages').get_by_role('link', name='3', exact=True).click()
    page.wait_for_url(re.compile(r'[?&]page=3\b'))
    expect(page.locator('table.marksheet caption')).to_contain_text('page 3 of 8')
    assert missing_row_ids(page)


def choose_grade_with_keyboard(page, entry_id):
    """Focus the row's dropdown, press ArrowDown (the first grade, Pass) and
    Enter, which saves it (issue 10: arrows alone save nothing). Returns the
    save's response."""
    field = page.locator(f'select[name="value-{entry_id}"]')
    field.focus()
    page.keyboard.press('ArrowDown')
    with page.expect_response(lambda r: r.url.endswith(f'/entries/{entry_id}')
                              and r.request.method == 'POST') as response:
        page.keyboard.press('Enter')
    return response.value


def test_helpline_acts_for_a_centre(portal, page, new_context, snap):
    dialogs = []
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))

    # 1. helpdesk1: the password, then the code from the authenticator app.
    portal.sign_in_with_code(page, 'helpdesk1', snap)
    expect(banner(page)).to_have_count(0)

    # 2. CENTRES: 68999 found by its number and by part of its name.
    open_centre(portal, page, snap, 'centre')
    centre_url = page.url
    page.goto(portal.url + '/helpline/centres/')
    page.get_by_label('Centre number or part of its name').fill('example')
    page.get_by_role('button', name='FIND').click()
    page.wait_for_url(portal.url + '/helpline/centres/?q=example')
    found = page.locator('table.grid tbody tr')
    expect(found.filter(has_text='68999')).to_have_count(1)
    expect(found.filter(has_text='68999')).to_contain_text('EXAMPLE HIGH SCHOOL')
    expect(found.filter(has_text='50551')).to_have_count(0)
    snap(page, 'centre-found-by-name')
    page.locator('table.grid').get_by_role('link', name='68999', exact=True).click()
    page.wait_for_url(centre_url)
    expect(page.get_by_role('heading', name='68999 EXAMPLE HIGH SCHOOL')).to_be_visible()
    expect(account_row(page, '68999JBR').get_by_role('link', name='ACT AS 68999JBR')).to_be_visible()
    expect(account_row(page, '68999').get_by_role('link', name='ACT AS 68999')).to_be_visible()
    snap(page, 'centre-page')

    # 3. ACT AS 68999JBR: without a reason nothing starts, and the page says why.
    account_row(page, '68999JBR').get_by_role('link', name='ACT AS 68999JBR').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/helpline/impersonation/accounts/\d+$'))
    ask_url = page.url
    expect(page.get_by_role('heading', name='Act as 68999JBR')).to_be_visible()
    expect(page.get_by_text('read-only, for at most 30 minutes')).to_be_visible()
    snap(page, 'act-as-form')
    reason = page.get_by_label('Why (what the centre asked for)')
    code = page.get_by_label('Code from your authenticator app')
    code.fill(portal.second_factor_code('helpdesk1'))
    with page.expect_response(lambda r: r.url.endswith('/helpline/impersonation/start')) as empty:
        page.get_by_role('button', name='START ACTING AS 68999JBR').click()  # the server says so, in words
    assert empty.value.status == 422  # forms are novalidate: never the browser's English message
    expect(page.locator('.error-summary')).to_contain_text('Say why you are acting for the centre')
    snap(page, 'act-as-reason-missing-empty')
    reason.fill('   ')  # spaces pass the browser; the server reads no reason
    page.get_by_label('Ticket number (optional)').fill(TICKET)
    with page.expect_response(lambda r: r.url.endswith('/helpline/impersonation/start')) as refused:
        page.get_by_role('button', name='START ACTING AS 68999JBR').click()
    assert refused.value.status == 422
    expect(page.locator('#reason-error')).to_have_text(
        'Say why you are acting for the centre (for example, what they asked for).')
    expect(reason).to_have_attribute('aria-invalid', 'true')
    expect(page.get_by_label('Ticket number (optional)')).to_have_value(TICKET)
    expect(banner(page)).to_have_count(0)
    expect(page.locator('.account')).to_contain_text('Signed in as HELPDESK1')
    assert audit_actions('impersonation.start') == []
    snap(page, 'act-as-reason-missing-server')
    page.goto(centre_url)
    until = start_acting(portal, page, snap, 'first')

    # The banner is on every page; in Welsh it is not the English one.
    portal.open_overview(page)
    expect_banner(page, BANNER_READ_ONLY, until)
    switch_language(page, 'Cymraeg')
    expect(banner(page)).to_be_visible()
    snap(page, 'banner-cymraeg')
    welsh_not_english(page, 'banner', 'is acting as')
    welsh_not_english(page, 'banner', 'STOP ACTING')
    switch_language(page, 'English')
    expect_banner(page, BANNER_READ_ONLY, until)

    # 4. JavaScript on, read-only: the chosen grade is refused beside the field.
    unit_id = portal.open_unit(page, UNIT)
    expect_banner(page, BANNER_READ_ONLY, until)
    counts = page.locator(f'#counts-{unit_id}')
    expect(counts).to_have_text('ENTER OUTCOMES (43 DONE, 101 LEFT)')
    open_page_with_missing(page)
    snap(page, 'marksheet-read-only')
    entry_id = missing_row_ids(page)[0]
    response = choose_grade_with_keyboard(page, entry_id)
    assert response.status == 403
    assert 'read-only' in response.headers.get('x-portal-message', '')
    row = page.locator(f'#entry-{entry_id}')
    expect(row).to_have_class(re.compile(r'\bproblem\b'))
    expect(row.locator('span.error')).to_have_text(
        'Not saved: you are acting as 68999JBR read-only. Use "Switch to changes" in the banner, '
        'with a reason, to make changes.')
    expect(row.locator('span.saved')).to_have_count(0)
    expect(counts).to_have_text('ENTER OUTCOMES (43 DONE, 101 LEFT)')
    snap(page, 'save-refused-read-only')
    assert outcome_of(entry_id) is None
    assert audit_actions('outcome.set') == []

    # 5. SWITCH TO CHANGES with a reason: the same choice now saves.
    marksheet_url = page.url
    banner(page).get_by_label('Reason for changes').fill(CHANGES_REASON)
    snap(page, 'switch-to-changes-filled')
    banner(page).get_by_role('button', name='SWITCH TO CHANGES').click()
    page.wait_for_url(lambda url: url.rstrip('?') == marksheet_url.rstrip('?'))
    expect(page.locator('p.flash')).to_have_text(
        'Changes are on: what you save is recorded as the helpline acting for 68999JBR.')
    expect_banner(page, BANNER_CHANGES_ON, until)
    expect(banner(page).get_by_role('button', name='SWITCH TO CHANGES')).to_have_count(0)
    expect(page.locator(f'#entry-{entry_id}')).to_have_class(re.compile(r'\bmissing\b'))
    response = choose_grade_with_keyboard(page, entry_id)
    assert response.status == 200
    expect(row.locator('span.saved')).to_have_text('Saved')
    expect(row).not_to_have_class(re.compile(r'\bmissing\b|\bproblem\b'))
    expect(page.locator(f'select[name="value-{entry_id}"]')).to_have_value('P')
    expect(counts).to_have_text('ENTER OUTCOMES (44 DONE, 100 LEFT)')
    snap(page, 'saved-with-changes-on')
    assert outcome_of(entry_id) == ('P', '68999JBR')
    assert audit_actions('impersonation.changes') == [('impersonation.changes', {'reason': CHANGES_REASON})]

    # 7. STOP ACTING: back on the centre page as helpdesk1, no banner.
    banner(page).get_by_role('button', name='STOP ACTING').click()
    page.wait_for_url(centre_url)
    expect(page.locator('p.flash')).to_have_text('You have stopped acting as 68999JBR.')
    expect(banner(page)).to_have_count(0)
    expect(page.locator('.account')).to_contain_text('Signed in as HELPDESK1')
    expect(page.get_by_role('heading', name='68999 EXAMPLE HIGH SCHOOL')).to_be_visible()
    snap(page, 'stopped-centre-page')
    switch_language(page, 'Cymraeg')
    expect(page.get_by_role('heading', name='68999 EXAMPLE HIGH SCHOOL')).to_be_visible()
    snap(page, 'centre-page-cymraeg')
    welsh_not_english(page, 'centre page', 'Audit log')
    welsh_not_english(page, 'centre page', 'ACT AS 68999JBR')
    switch_language(page, 'English')
    expect(page.get_by_role('heading', name='Audit log')).to_be_visible()

    # 6. JavaScript off: SAVE on the marksheet while read-only is refused, and says why.
    nojs = new_context(java_script_enabled=False).new_page()
    portal.sign_in_with_code(nojs, 'helpdesk1')
    open_centre(portal, nojs, snap, 'nojs')
    start_acting(portal, nojs, snap, 'nojs')
    page.reload()  # acting starts in a fresh session: helpdesk1's other sessions end (SESS-3)
    expect(page.get_by_role('button', name='LOGIN')).to_be_visible()
    assert '/login' in page.url
    unit_id = portal.open_unit(nojs, UNIT)
    expect(nojs.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (44 DONE, 100 LEFT)')
    open_page_with_missing(nojs)
    other = missing_row_ids(nojs)[0]
    assert other != entry_id
    nojs.select_option(f'select[name="value-{other}"]', label='Merit')
    snap(nojs, 'nojs-marksheet-chosen')
    nojs.get_by_role('button', name='SAVE', exact=True).click()
    nojs.wait_for_load_state()
    expect(nojs.get_by_role('heading', name='Not while acting for a centre')).to_be_visible()
    expect(nojs.locator('#main')).to_contain_text(
        'Not saved: you are acting as 68999JBR read-only.')
    expect(banner(nojs)).to_be_visible()
    snap(nojs, 'nojs-save-refused')
    assert outcome_of(other) is None
    assert outcome_of(entry_id) == ('P', '68999JBR')
    banner(nojs).get_by_role('button', name='STOP ACTING').click()
    nojs.wait_for_url(centre_url)
    expect(banner(nojs)).to_have_count(0)
    expect(nojs.locator('.account')).to_contain_text('Signed in as HELPDESK1')
    snap(nojs, 'nojs-stopped')

    # 8. The exams officer reads it all in Helpline history.
    officer = new_context().new_page()
    officer.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    portal.sign_in(officer, '68999')
    officer.locator('.account').get_by_role('link', name='Helpline history').click()
    officer.wait_for_url(portal.url + '/centre/helpline-history')
    expect(officer.get_by_role('heading', name='The helpline acted on your behalf')).to_be_visible()
    rows = officer.locator('table.audit tbody tr')
    # Newest first: stop, start (no JS); stop, outcome, changes, start (JS on).
    expect(rows.locator('td:nth-child(2)')).to_have_text([ACTING] * 6)
    expect(rows.locator('td:nth-child(3)')).to_have_text([
        'The helpline stopped acting for the centre', 'The helpline started acting for the centre',
        'The helpline stopped acting for the centre', 'Outcome changed',
        'The helpline switched to making changes', 'The helpline started acting for the centre'])
    expect(rows.nth(5).locator('td:nth-child(4)')).to_contain_text(f'Why: {REASON} (ticket {TICKET})')
    expect(rows.nth(4).locator('td:nth-child(4)')).to_contain_text(f'Why: {CHANGES_REASON}')
    from models import Candidate, Entry
    candidate = in_db(lambda: Candidate.select().join(Entry).where(Entry.id == entry_id).get())
    expect(rows.nth(3).locator('td:nth-child(4)')).to_contain_text(
        f'{candidate.number} {candidate.display_name} (9614/L3)– → Pass')  # names and words, not ids
    snap(officer, 'officer-helpline-history')
    assert dialogs == []
