"""An outcome amended by the board after submission, as the people involved
click it: the exams officer 68999 submits 9613/L3; helpdesk1 (with the second
factor) records the centre's written request from REQUESTS (a grade not in the
scheme is refused beside the field and nothing is recorded), takes it and
confirms it (without a reason it is refused and nothing changes); the OUTBOX
has the e-mail to the centre's exams officer; and the exams officer's
marksheet shows the new grade "amended by the board", the unit still
submitted and the sample untouched."""
import datetime
import json
import pathlib
import re
import time

from playwright.sync_api import expect

from tests.browser.pages import in_db, outcome_of, switch_language

UNIT = '9613/L3'
EO_EMAIL = 'exams@example-high.sch.uk'  # the demo centre's exams officer
REFERENCE = 'EHS/EXAMS/2017-031'
REASON = 'Clerical error: the centre entered Pass for a Distinction piece of work (letter checked).'


def unit_id_of(code):
    from models import Unit
    return in_db(lambda: Unit.get(Unit.code == code).id)


def sample_of(unit_id):
    """{entry id: (reason, detail)} of the unit's sample at centre 68999."""
    from models import Centre, Entry, SampleMember

    def read():
        centre = Centre.get(Centre.number == '68999')
        return {m.entry_id: (m.reason, m.detail) for m in SampleMember.select().join(Entry)
                .where(Entry.centre == centre, Entry.unit == unit_id)}
    return in_db(read)


def submitted(unit_id):
    """(how many candidates, by whom) of the unit's submission, or None."""
    from models import Account, Submission
    row = in_db(lambda: Submission.select(Submission, Account).join(Account)
                .where(Submission.unit == unit_id).get_or_none())
    return (row.candidates, row.submitted_by.username) if row else None


def candidate_to_amend(unit_id, sample):
    """A candidate with Pass and not in the sample, of the rarest surname
    (the first by number among those): (entry id, number, surname, display
    name, its place on the marksheet in candidate-number order from 0, how
    many of the unit's candidates a search for the surname finds)."""
    from models import Candidate, Entry, Outcome

    def read():
        rows = list(Entry.select(Entry, Candidate, Outcome).join(Candidate).switch(Entry)
                    .join(Outcome, attr='outcome').where(Entry.unit == unit_id)
                    .order_by(Candidate.number))
        surnames = [r.candidate.surname.upper() for r in rows]
        found = {}
        for place, r in enumerate(rows):
            if r.outcome.value == 'P' and r.id not in sample:
                name = r.candidate.surname.upper()
                found.setdefault(name, (r.id, r.candidate.number, r.candidate.surname,
                                        r.candidate.display_name, place,
                                        sum(1 for s in surnames if s.startswith(name))))
        assert found, 'no Pass candidate outside the sample'
        return min(found.values(), key=lambda c: (c[-1], c[1]))
    return in_db(read)


def amendment_requests():
    from models import Request
    return in_db(lambda: [(r.status, json.loads(r.details)) for r in
                          Request.select().where(Request.kind == 'outcome_amendment').order_by(Request.id)])


def amended_flag(entry_id):
    from models import Outcome
    return in_db(lambda: Outcome.get(Outcome.entry == entry_id).amended)


def audit(action):
    from models import AuditLog
    return in_db(lambda: [(r.before, json.loads(r.after) if r.after else None) for r in
                          AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id)])


def wait_for_mail_sent(subject, seconds=10):
    """The Outbox row with this subject once its send job has run (a thread)."""
    from models import Outbox
    deadline = time.monotonic() + seconds
    while True:
        mail = in_db(lambda: Outbox.get_or_none(Outbox.subject == subject))
        if mail is not None and mail.state == 'sent':
            return mail
        if time.monotonic() > deadline:
            raise AssertionError(f'mail "{subject}" not sent: {mail and mail.state}')
        time.sleep(0.1)


def term(page, name):
    """The <dd> after the <dt> called `name` on the request's page."""
    return page.locator('dl.panel dt', has_text=re.compile(f'^{re.escape(name)}$')).locator(
        'xpath=following-sibling::dd[1]')


def ticked(page):
    """How many rows of the marksheet on screen have a ticked sample box."""
    return page.locator('table.marksheet tbody input[type="checkbox"]:checked').count()


def test_an_outcome_is_amended_after_submission(portal, page, new_context, snap, tmp_path):
    portal.app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')  # this test's mail only
    dialogs = []
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    unit_id = unit_id_of(UNIT)

    # 1. The exams officer submits 9613/L3 (all 144 outcomes are in).
    officer = new_context().new_page()
    officer.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    portal.sign_in(officer, '68999', snap)
    portal.open_overview(officer)
    row = portal.unit_row(officer, UNIT)
    expect(row.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (144 DONE, 0 LEFT)')
    snap(officer, 'officer-overview-before-submit')
    row.get_by_role('link', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    officer.wait_for_url(f'{portal.url}/internal-assessment/{unit_id}/submit')
    expect(officer.get_by_text('Are you sure you want to submit outcomes?')).to_be_visible()
    snap(officer, 'officer-submit-confirm')
    officer.get_by_role('button', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    officer.wait_for_url(re.compile(rf'/internal-assessment/{unit_id}\?show=samples$'))
    expect(officer.locator('p.flash')).to_contain_text('All outcomes submitted.')
    expect(officer.locator(f'#submit-{unit_id}')).to_have_text('ALL OUTCOMES SUBMITTED (144)')
    sample = sample_of(unit_id)
    assert len(sample) >= 20
    expect(officer.locator('table.marksheet caption')).to_have_text(f'{len(sample)} candidates')
    assert ticked(officer) == len(sample)
    snap(officer, 'officer-submitted-sample')
    assert submitted(unit_id) == (144, '68999')
    entry_id, number, surname, display_name, place, namesakes = candidate_to_amend(unit_id, sample)
    assert outcome_of(entry_id) == ('P', '68999')
    letter_date = datetime.date.today() - datetime.timedelta(days=3)
    letter_dmy = letter_date.strftime('%d/%m/%Y')

    # 2. helpdesk1: REQUESTS, then the link to record a centre's written request.
    portal.sign_in_with_code(page, 'helpdesk1', snap)
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name='REQUESTS').click()
    page.wait_for_url(portal.url + '/helpline/requests')
    expect(page.get_by_role('heading', name='Requests', exact=True)).to_be_visible()
    expect(page.locator('table.grid caption')).to_have_text('0 requests')
    snap(page, 'requests-empty')
    record_links = page.locator('p', has_text='Record a centre’s written request:')
    record_links.get_by_role('link', name='Outcome amendment', exact=True).click()
    page.wait_for_url(portal.url + '/helpline/requests/new?kind=outcome_amendment')
    expect(page.get_by_role('heading', name='Record a centre’s request')).to_be_visible()
    expect(page.get_by_role('heading', name='Outcome amendment')).to_be_visible()
    picker = page.get_by_role('group', name='Which request, from which centre')
    expect(picker.get_by_label('Kind')).to_have_value('outcome_amendment')
    picker.get_by_label('Centre number').fill('68999')
    picker.get_by_role('button', name="Show the centre's units").click()
    page.wait_for_url(re.compile(r'/helpline/requests/new\?kind=outcome_amendment&centre_number=68999$'))
    form = page.locator('form.panel')
    expect(form.get_by_label('Centre number')).to_have_value('68999')
    units = form.get_by_label("The centre's unit")
    expect(units.locator('option')).to_have_text(  # only the submitted unit can be amended
        ['(or type the unit code below)', re.compile(r'^9613/L3 SOCIAL CONTROL POLICY')])
    snap(page, 'new-request-centre-shown')

    units.select_option(str(unit_id))
    form.get_by_label('Candidate number').fill(number)
    form.get_by_label('Outcome the centre asks for').fill('Excellent')
    form.get_by_label("The centre's reference").fill(REFERENCE)
    form.get_by_label("Date of the centre's letter or e-mail").fill(letter_date.isoformat())
    snap(page, 'new-request-bad-outcome-filled')
    with page.expect_response(lambda r: r.url.endswith('/helpline/requests/new')
                              and r.request.method == 'POST') as refused:
        form.get_by_role('button', name='Record request').click()
    assert refused.value.status == 422
    expect(page.locator('p.flash.error')).to_have_text(
        'Nothing has been recorded: check the details marked below.')
    expect(page.locator('#requested-error')).to_have_text(
        '“Excellent” is not an outcome for this unit: choose Pass, Merit, Distinction or Absent.')
    requested = form.get_by_label('Outcome the centre asks for')
    expect(requested).to_have_attribute('aria-invalid', 'true')
    expect(form.locator('span.error')).to_have_count(1)  # only beside the outcome
    # What was typed is kept.
    expect(units).to_have_value(str(unit_id))
    expect(form.get_by_label('Candidate number')).to_have_value(number)
    expect(requested).to_have_value('Excellent')
    expect(form.get_by_label("The centre's reference")).to_have_value(REFERENCE)
    expect(form.get_by_label("Date of the centre's letter or e-mail")).to_have_value(letter_date.isoformat())
    snap(page, 'new-request-bad-outcome-refused')
    assert amendment_requests() == []
    assert audit('outcome_amendment.request') == []

    requested.fill('Distinction')
    form.get_by_role('button', name='Record request').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/helpline/requests/(\d+)$'))
    request_url = page.url
    request_id = int(request_url.rsplit('/', 1)[1])
    expect(page.locator('p.flash')).to_have_text(
        'Outcome amendment recorded for centre 68999. Check the details, then decide.')
    expect(page.get_by_role('heading', level=1)).to_have_text('Outcome amendment: EXAMPLE HIGH SCHOOL (68999)')
    expect(term(page, 'Status')).to_have_text(re.compile(r'^Pending: 0 hours old'))
    expect(term(page, 'Taken by')).to_have_text('Nobody yet')
    expect(term(page, 'Unit')).to_contain_text(f'({UNIT})')
    expect(term(page, 'Candidate')).to_have_text(f'{number} {display_name}')
    expect(term(page, 'Current outcome')).to_have_text('Pass')
    expect(term(page, 'Outcome the centre asks for')).to_have_text('Distinction')
    expect(term(page, "The centre's reference")).to_have_text(REFERENCE)
    expect(term(page, "Date of the centre's letter or e-mail")).to_have_text(letter_dmy)
    snap(page, 'request-recorded')
    [(status, details)] = amendment_requests()
    assert status == 'pending'
    assert (details['entry'], details['candidate'], details['current'], details['requested'],
            details['reference'], details['letter_date']) == (
        entry_id, number, 'P', 'D', REFERENCE, letter_date.isoformat())

    # 3. Take the request, then confirm it: first without a reason.
    page.get_by_role('button', name='Take this request').click()
    page.wait_for_url(request_url)
    expect(page.locator('p.flash')).to_have_text('You have taken this request.')
    expect(term(page, 'Taken by')).to_have_text(re.compile(r'^HELPDESK1 \(Helpline\), \d\d/\d\d/\d{4} \d\d:\d\d$'))
    expect(page.get_by_role('button', name='Take this request')).to_have_count(0)
    history = page.locator('table.grid tbody tr')
    expect(history.locator('td:nth-child(2)')).to_have_text(['Pending', 'Taken'])
    expect(history.locator('td:nth-child(3)')).to_have_text(['HELPDESK1', 'HELPDESK1'])
    new_value = page.get_by_label('New outcome')
    expect(new_value).to_have_value('D')  # what the centre asked for, chosen already
    snap(page, 'request-taken')

    with page.expect_response(lambda r: r.url.endswith(f'{request_url[len(portal.url):]}/confirm')
                              and r.request.method == 'POST') as refused:
        page.get_by_role('button', name='Confirm', exact=True).click()
    assert refused.value.status == 422
    expect(page.locator('p.flash.error')).to_have_text(
        'Nothing has been changed: check the details marked below.')
    reason = page.get_by_label('Reason for the amendment (kept in the audit log and sent to the centre)')
    expect(page.locator('#reason-error')).to_have_text(
        'Give the reason for the amendment (at most 1000 characters): it is kept in the audit log and '
        'sent to the centre.')
    expect(reason).to_have_attribute('aria-invalid', 'true')
    expect(term(page, 'Status')).to_have_text(re.compile(r'^Pending'))
    expect(term(page, 'Current outcome')).to_have_text('Pass')
    snap(page, 'confirm-without-reason-refused')
    assert outcome_of(entry_id) == ('P', '68999') and amended_flag(entry_id) is False
    assert [status for status, _details in amendment_requests()] == ['pending']
    assert audit('outcome.amend') == []

    new_value.select_option(label='Distinction')
    reason.fill(REASON)
    snap(page, 'confirm-filled')
    page.get_by_role('button', name='Confirm', exact=True).click()
    page.wait_for_url(request_url)
    expect(page.locator('p.flash')).to_have_text([
        f'Amended: the outcome for candidate {number} is now Distinction. The unit stays submitted '
        'and its sample is unchanged.',
        "The centre's Exams Officer has been told by e-mail."])
    expect(term(page, 'Status')).to_have_text('Confirmed')
    expect(term(page, 'Current outcome')).to_have_text('Distinction (amended by the board)')
    expect(term(page, 'Amended')).to_have_text('Pass → Distinction')
    expect(history.locator('td:nth-child(2)')).to_have_text(['Pending', 'Taken', 'Confirmed'])
    expect(history.nth(2).locator('td:nth-child(4)')).to_have_text(REASON)
    expect(page.get_by_role('button', name='Confirm', exact=True)).to_have_count(0)
    expect(page.get_by_role('button', name='Reject', exact=True)).to_have_count(0)
    snap(page, 'amended')
    assert outcome_of(entry_id) == ('D', 'HELPDESK1') and amended_flag(entry_id) is True
    assert submitted(unit_id) == (144, '68999')
    assert sample_of(unit_id) == sample
    assert audit('outcome.amend') == [('"P"', {'value': 'D', 'reason': REASON, 'request': request_id,
                                               'reference': REFERENCE})]

    # 4. OUTBOX: the e-mail to the centre's exams officer.
    subject = f'Outcome amended: {UNIT}, candidate {number}, centre 68999'
    mail = wait_for_mail_sent(subject)
    assert mail.to == EO_EMAIL and mail.language == 'en'
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name='OUTBOX').click()
    page.wait_for_url(portal.url + '/staff/outbox/')
    expect(page.get_by_role('heading', name='Outbox')).to_be_visible()
    mail_row = page.locator('table.grid tbody tr').filter(has=page.get_by_role('link', name=subject))
    expect(mail_row).to_have_count(1)
    expect(mail_row.locator('td:nth-child(2)')).to_have_text(EO_EMAIL)
    expect(mail_row.locator('td:nth-child(4)')).to_have_text('Sent')  # the state in words (outbox.STATES)
    snap(page, 'outbox')
    mail_row.get_by_role('link', name=subject).click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/staff/outbox/\d+$'))
    expect(page.get_by_role('heading', name=subject)).to_be_visible()
    body = page.locator('pre.mail')
    expect(body).to_contain_text('Dear Mr J Bryant,')
    expect(body).to_contain_text(
        f'As asked in your letter or e-mail of {letter_dmy} (your reference {REFERENCE}), WJEC has '
        f'amended the outcome for candidate {number} {display_name} in LEVEL 3 QUALIFICATIONS JUNE 2017 '
        f'SOCIAL CONTROL POLICY & PRACTICE CONTROL ASSESSMENT ({UNIT}).')
    for line in ('Before: Pass', 'After: Distinction', f'Reason: {REASON}',
                 'The unit stays submitted and the moderation sample is unchanged.'):
        expect(body).to_contain_text(line)
    snap(page, 'outbox-mail')
    eml = pathlib.Path(portal.app.config['MAIL_FOLDER']) / f'{mail.key}.eml'
    assert mail.key == f'request-{request_id}-confirmed' and eml.exists()

    # 5. The exams officer signs in again and reads the marksheet.
    officer.context.close()
    officer = new_context().new_page()
    officer.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    portal.sign_in(officer, '68999')
    portal.open_overview(officer)
    row = portal.unit_row(officer, UNIT)
    expect(row.locator(f'#submit-{unit_id}')).to_have_text('ALL OUTCOMES SUBMITTED (144)')
    snap(officer, 'officer-overview-after-amendment')
    row.get_by_role('link', name='VIEW SAMPLES').click()
    officer.wait_for_url(re.compile(rf'/internal-assessment/{unit_id}\?show=samples$'))
    expect(officer.locator(f'#submit-{unit_id}')).to_have_text('ALL OUTCOMES SUBMITTED (144)')
    expect(officer.locator('table.marksheet caption')).to_have_text(f'{len(sample)} candidates')
    assert ticked(officer) == len(sample)
    expect(officer.locator(f'#entry-{entry_id}')).to_have_count(0)  # not added to the sample
    snap(officer, 'officer-sample-after-amendment')

    options = officer.get_by_role('group', name='Options')
    options.get_by_label('Candidate search:').fill(surname)
    options.get_by_label('Show:').select_option(label='All')
    options.get_by_role('button', name='SEARCH').click()
    officer.wait_for_url(re.compile(r'[?&]show=all(&|$)'))
    expect(officer.locator('table.marksheet caption')).to_have_text(
        '1 candidate' if namesakes == 1 else f'{namesakes} candidates')
    amended_row = officer.locator(f'#entry-{entry_id}')
    expect(amended_row.locator('td').nth(0)).to_have_text(number)
    expect(amended_row.locator('td').nth(1)).to_have_text(display_name)
    expect(amended_row.locator('td').nth(2)).to_have_text('Distinction amended by the board')
    expect(amended_row.locator('td').nth(2).locator('em')).to_have_text('amended by the board')
    expect(amended_row.locator('input[type="checkbox"]')).not_to_be_checked()
    expect(officer.locator('table.marksheet select')).to_have_count(0)  # still submitted: nothing to edit
    expect(officer.locator(f'#submit-{unit_id}')).to_have_text('ALL OUTCOMES SUBMITTED (144)')
    snap(officer, 'officer-marksheet-amended-row')

    # Paging to the candidate on Show: All finds the same row.
    options.get_by_label('Candidate search:').fill('')
    options.get_by_role('button', name='SEARCH').click()
    officer.wait_for_url(re.compile(r'[?&]search=&'))
    expect(officer.locator('table.marksheet caption')).to_have_text('144 candidates – page 1 of 8')
    page_of = place // 20 + 1
    if page_of > 1:
        officer.get_by_role('navigation', name='Pages').get_by_role('link', name=str(page_of), exact=True).click()
        officer.wait_for_url(re.compile(rf'[?&]page={page_of}\b'))
    expect(officer.locator(f'#entry-{entry_id} td').nth(2)).to_have_text('Distinction amended by the board')
    snap(officer, 'officer-marksheet-paged-to-candidate')
    switch_language(officer, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(officer, 'officer-marksheet-paged-to-candidate-cy')

    assert sample_of(unit_id) == sample
    assert submitted(unit_id) == (144, '68999')
    assert dialogs == []
