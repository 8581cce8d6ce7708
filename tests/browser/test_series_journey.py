"""Issue 9's journey, as it is clicked: series1 creates a series and a unit,
imports a new centre, its candidates and their entries from the downloaded
templates; the centre's exams officer accepts the e-mailed invitation, sees
the unit and its candidates, enters a new candidate; series1 processes the
change in the ENTRIES QUEUE; the new candidate is on the marksheet and an
outcome for them saves. The exams officer's pages in Cymraeg show the
series' and unit's Welsh titles."""
import csv
import datetime
import email
import email.policy
import io
import pathlib
import re
import time

from playwright.sync_api import expect

from tests.browser.pages import in_db, outcome_of

SERIES = 'ENTRY PATHWAYS NOVEMBER 2026'
SERIES_CY = 'LLWYBRAU MYNEDIAD TACHWEDD 2026'
UNIT = '6123/E1'
TITLE = 'Personal Project'
TITLE_CY = 'Prosiect Personol'
CENTRE = '12345'
CENTRE_NAME = 'YSGOL NEWYDD TEST SCHOOL'
EO_NAME = 'Mrs Nia Evans'
EO_EMAIL = 'exams@ysgol-newydd.example.org'
EO_PASSWORD = 'Newcentre2026pass'
CANDIDATES = [  # number, surname, forename, date of birth
    ('0001', 'JONES', 'Aled', '2010-01-15'),
    ('0002', 'Ŵyn', 'Siân', '14/02/2010'),
    ('0003', 'SMITH', 'Ben', '2010-03-03'),
    ('0004', 'PRICE', 'Cerys', '2010-04-24'),
    ('0005', 'DAVIES', 'Dylan', '2010-05-05'),
    ('0006', 'MORGAN', 'Elin', '2010-06-30'),
]
NEW = ('0007', 'HUGHES', 'Ffion', '2010-07-07')


def menu(page, name):
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name=name, exact=True).click()


def switch_language(page, name):
    """English | Cymraeg in the header: the same page comes back in that language."""
    before = page.url
    page.locator('form.language').get_by_role('button', name=name).click()
    page.wait_for_url(lambda url: url.rstrip('?') == before.rstrip('?'))
    expect(page.locator('html')).to_have_attribute('lang', 'cy' if name == 'Cymraeg' else 'en')


def import_file(portal, page, snap, tmp_path, kind, label, rows, ready, series=None):
    """IMPORTS: the kind's template downloaded, its header kept and `rows`
    written under it; uploaded, checked, confirmed. `ready` is the clean
    report's line; returns the batch page's saved line."""
    menu(page, 'IMPORTS')
    page.wait_for_url(portal.url + '/board/imports/')
    expect(page.get_by_role('heading', name='Imports from CSV')).to_be_visible()
    with page.expect_download() as downloaded:
        page.get_by_role('link', name=f'{label} template (CSV)').click()
    template = pathlib.Path(downloaded.value.path()).read_bytes()
    assert template.startswith('\ufeff'.encode()), template[:10]  # Excel reads it as UTF-8
    header, example = template.decode('utf-8-sig').splitlines()[:2]
    assert downloaded.value.suggested_filename == f'{kind}-template.csv'
    columns = next(csv.reader([header]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\r\n')
    writer.writerow(columns)
    writer.writerows(rows)
    path = tmp_path / f'new-{kind}.csv'
    path.write_bytes(b'\xef\xbb\xbf' + out.getvalue().encode('utf-8'))

    page.get_by_label('The file holds').select_option(label=label)
    if series:
        page.get_by_label('Series (for entries and moderator assignments)').select_option(label=series)
    page.get_by_label('CSV file').set_input_files(str(path))
    snap(page, f'import-{kind}-chosen')
    page.get_by_role('button', name='CHECK THE FILE').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/board/imports/\d+$'))
    expect(page.get_by_role('heading', name=f'Import of {label}')).to_be_visible()
    report = page.locator('.job')
    expect(report).to_contain_text(ready)  # the check runs on the job thread; the page polls
    expect(page.get_by_role('button', name='Confirm import')).to_be_visible()
    snap(page, f'import-{kind}-report')
    page.get_by_role('button', name='Confirm import').click()
    expect(report).to_contain_text('Saved: ')
    snap(page, f'import-{kind}-saved')
    return report.inner_text().strip()


def invitation_link(portal):
    """The /welcome#<token> link from the .eml of the new centre's invitation
    (the stored Outbox body never holds the token)."""
    from models import Account, Outbox
    officer = in_db(lambda: Account.by_username(CENTRE))
    assert officer.kind == 'administrator' and officer.email == EO_EMAIL
    mails = in_db(lambda: list(Outbox.select().where(Outbox.to == EO_EMAIL)))
    assert len(mails) == 1 and mails[0].key.startswith('invite-')
    eml = pathlib.Path(portal.app.config['MAIL_FOLDER']) / f'{mails[0].key}.eml'
    for _ in range(50):  # mails go out on the job thread
        if eml.exists() and in_db(lambda: Outbox.get_by_id(mails[0].id).state) == 'sent':
            break
        time.sleep(0.1)
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message['To'] == EO_EMAIL
    body = message.get_content()
    assert f'Username: {CENTRE}' in body, body
    tokens = re.findall(r'https?://\S+/welcome#([A-Za-z0-9_-]+)', body)
    assert len(tokens) == 1 and tokens[0] not in in_db(lambda: Outbox.get_by_id(mails[0].id).body)
    return '/welcome#' + tokens[0]


def unit_id_of(code):
    from models import Series, Unit
    return in_db(lambda: Unit.select().join(Series).where(Unit.code == code, Series.name == SERIES).get().id)


def test_a_new_centre_from_an_empty_series_to_a_marked_candidate(portal, page, new_context, snap, tmp_path):
    portal.app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')  # this test's mail only
    portal.app.config['IMPORTS_DIR'] = str(tmp_path / 'imports')
    dialogs = []
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))

    # 1. series1: SERIES -> New series -> New unit.
    portal.sign_in_with_code(page, 'series1', snap)
    menu(page, 'SERIES')
    page.wait_for_url(portal.url + '/board/series')
    expect(page.get_by_role('heading', name='Series', exact=True)).to_be_visible()
    snap(page, 'series-list')
    page.get_by_role('link', name='New series').click()
    page.wait_for_url(portal.url + '/board/series/new')
    page.get_by_label('Name in English').fill(SERIES)
    page.get_by_label('Name in Welsh').fill(SERIES_CY)
    page.get_by_label('Results day').fill('2027-01-14')
    snap(page, 'new-series-filled')
    page.get_by_role('button', name='Create series').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/board/series/\d+$'))
    expect(page.get_by_role('heading', name=SERIES)).to_be_visible()
    expect(page.locator('p.flash')).to_have_text(f'Series {SERIES} created. Add its units below.')
    expect(page.get_by_label('Name in Welsh')).to_have_value(SERIES_CY)
    expect(page.get_by_label('Results day')).to_have_value('2027-01-14')
    expect(page.get_by_text('This series has no units yet.')).to_be_visible()
    snap(page, 'series-created')

    page.get_by_role('link', name='New unit').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/board/series/\d+/units/new$'))
    expect(page.get_by_role('heading', name='New unit')).to_be_visible()
    expect(page.get_by_text(f'Series: {SERIES}')).to_be_visible()
    with page.expect_response(lambda r: '/board/units/e-submission-rule' in r.url):
        page.get_by_label('Unit code').fill(UNIT.lower())
        page.get_by_label('Title in English').focus()  # the code's change asks what the list says
    expect(page.locator('#e-submission-rule')).to_have_text(
        f'The board’s list of e-submission units says {UNIT} needs e-submission.')
    page.get_by_label('Title in English').fill(TITLE)
    page.get_by_label('Title in Welsh').fill(TITLE_CY)
    page.get_by_label('Suite').select_option('ENTRY PATHWAYS')
    expect(page.get_by_label('Grades: Pass, Merit, Distinction')).to_be_checked()  # the default
    page.get_by_label('Deadline for samples').fill('2027-05-15')
    expect(page.get_by_label('As the board’s list of e-submission units says for this code')).to_be_checked()
    snap(page, 'new-unit-filled')
    page.get_by_role('button', name='Create unit').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/board/units/\d+$'))
    expect(page.locator('p.flash')).to_have_text(f'Unit {UNIT} created.')
    expect(page.get_by_role('heading', name=f'{UNIT} {TITLE}')).to_be_visible()
    expect(page.locator('#e-submission-rule')).to_contain_text('This unit follows the list: e-submission is on.')
    snap(page, 'unit-created')
    page.get_by_role('link', name=f'Back to {SERIES}').click()
    unit_row = page.locator('table.grid tbody tr').filter(has=page.get_by_role('link', name=UNIT))
    expect(unit_row).to_have_count(1)
    for text in (TITLE, TITLE_CY, 'ENTRY PATHWAYS', 'Grades P/M/D', '15/05/2027', 'Yes'):
        expect(unit_row).to_contain_text(text)
    snap(page, 'series-with-unit')
    unit_id = unit_id_of(UNIT)

    # 2. IMPORTS: the new centre, its 6 candidates, their entries for the unit.
    saved = import_file(portal, page, snap, tmp_path, 'centres', 'Centres',
                        [[CENTRE, CENTRE_NAME, 'Mr Huw Lewis', '01234 567890', EO_NAME, EO_EMAIL]],
                        '1 row is ready: 1 new, 0 changed, 0 unchanged.')
    assert saved == 'Saved: 1 created, 0 updated, 0 unchanged.', saved
    saved = import_file(portal, page, snap, tmp_path, 'candidates', 'Candidates',
                        [[CENTRE, number, surname, forename, dob, ''] for number, surname, forename, dob in CANDIDATES],
                        '6 rows are ready: 6 new, 0 changed, 0 unchanged.')
    assert saved == 'Saved: 6 created, 0 updated, 0 unchanged.', saved
    saved = import_file(portal, page, snap, tmp_path, 'entries', 'Entries',
                        [[CENTRE, number, UNIT.lower(), '10A'] for number, *_ in CANDIDATES],
                        '6 rows are ready: 6 new, 0 changed, 0 unchanged.', series=SERIES)
    assert saved == 'Saved: 6 created, 0 updated, 0 unchanged.', saved
    menu(page, 'IMPORTS')
    recent = page.locator('table.grid').last.locator('tbody tr')
    expect(recent).to_have_count(3)
    expect(recent.filter(has_text='Saved')).to_have_count(3)
    snap(page, 'imports-recent')

    # 3. The exams officer's invitation, opened in their own browser.
    path = invitation_link(portal)
    officer = new_context().new_page()
    officer.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    officer.goto(portal.url + path)
    expect(officer.get_by_role('heading', name='Choose your password')).to_be_visible()
    expect(officer.get_by_text(f'Account: {CENTRE}')).to_be_visible()
    snap(officer, 'welcome')
    officer.get_by_label('New password').fill(EO_PASSWORD)
    officer.get_by_label('Confirmation').fill(EO_PASSWORD)
    officer.get_by_role('button', name='SET PASSWORD').click()
    officer.wait_for_url(portal.url + '/login')
    expect(officer.locator('p.flash')).to_have_text('Your password has been set. Sign in with it now.')
    officer.get_by_label('Username').fill(CENTRE)
    officer.get_by_label('Password').fill(EO_PASSWORD)
    officer.get_by_role('button', name='LOGIN').click()
    officer.wait_for_url(portal.url + '/')
    expect(officer.locator('.account')).to_contain_text(f'Signed in as {CENTRE}')
    snap(officer, f'home-{CENTRE}')

    # 4. INTERNAL ASSESSMENT: the unit with its 6 candidates; ENTRIES: a new candidate, pending.
    portal.open_overview(officer, snap)
    expect(officer.locator('details.series')).to_have_count(1)
    expect(officer.locator('details.series summary')).to_have_text(SERIES)
    row = portal.unit_row(officer, UNIT)
    expect(row).to_contain_text(f'{SERIES} {TITLE} ({UNIT})')
    expect(row).to_contain_text('Deadline for submission of samples and cover sheets to moderator: 15/05/2027')
    counts = officer.locator(f'#counts-{unit_id}')
    expect(counts).to_have_text('ENTER OUTCOMES (0 DONE, 6 LEFT)')
    assert portal.open_unit(officer, UNIT, snap) == unit_id
    expect(officer.get_by_role('heading', name=re.compile(re.escape(TITLE)))).to_be_visible()
    marksheet = officer.locator('table.marksheet')
    expect(marksheet.locator('caption')).to_have_text('6 candidates')
    expect(marksheet.locator('tbody tr')).to_have_count(6)
    expect(marksheet.locator('tbody tr td:first-child')).to_have_text([c[0] for c in CANDIDATES])
    expect(marksheet.locator('tbody')).to_contain_text('ŴYN: SIÂN')

    menu(officer, 'ENTRIES')
    officer.wait_for_url(portal.url + '/entries')
    expect(officer.get_by_role('heading', name='ENTRIES')).to_be_visible()
    officer.get_by_label('Series', exact=True).select_option(label=SERIES)
    officer.get_by_role('button', name='SHOW').click()
    officer.wait_for_url(re.compile(re.escape(portal.url) + r'/entries\?series=\d+$'))
    expect(officer.get_by_role('heading', name=SERIES)).to_be_visible()
    unit_table = officer.locator(f'#unit-{unit_id}')
    expect(unit_table.locator('caption')).to_have_text(f'{UNIT} {TITLE} – 6 candidates')
    expect(unit_table.locator('tbody tr').filter(has_text='Entered')).to_have_count(6)
    snap(officer, 'entries')
    officer.get_by_label('Unit', exact=True).select_option(label=f'{UNIT} {TITLE}')
    officer.get_by_label('A new candidate').check()
    number, surname, forename, dob = NEW
    officer.get_by_label('Candidate number (4 digits)').fill(number)
    officer.get_by_label('Surname').fill(surname)
    officer.get_by_label('Forename').fill(forename)
    officer.get_by_label('Date of birth').fill(dob)
    snap(officer, 'new-entry-filled')
    officer.get_by_role('button', name='SEND THE ENTRY').click()
    officer.wait_for_url(re.compile(re.escape(portal.url) + r'/entries\?series=\d+(#unit-\d+)?$'))
    expect(officer.locator('p.flash')).to_have_text(
        f'Entry of candidate {number} for {UNIT} sent to the board: it shows as pending until the board '
        'processes it.')
    pending = unit_table.locator('tbody tr').filter(has_text=number)
    expect(pending).to_contain_text(f'{surname}: {forename.upper()}')
    expect(pending).to_contain_text('Pending entry')
    expect(pending.get_by_role('button', name='Cancel this change')).to_be_visible()
    expect(unit_table.locator('caption')).to_have_text(f'{UNIT} {TITLE} – 7 candidates')
    snap(officer, 'new-entry-pending')
    portal.open_unit(officer, UNIT)
    expect(marksheet.locator('caption')).to_have_text('6 candidates')
    expect(marksheet.locator('tbody')).not_to_contain_text(number)
    expect(counts).to_have_text('ENTER OUTCOMES (0 DONE, 6 LEFT)')
    snap(officer, 'marksheet-before-processing')

    # 5. series1: the ENTRIES QUEUE, the change due 72 hours after it was asked; PROCESS.
    from models import EntryChange
    change = in_db(lambda: EntryChange.get(EntryChange.status == 'pending'))
    due = (change.requested_at + datetime.timedelta(hours=72)).strftime('%d/%m/%Y %H:%M')
    menu(page, 'ENTRIES QUEUE')
    page.wait_for_url(portal.url + '/board/entries')
    expect(page.get_by_role('heading', name='ENTRIES QUEUE')).to_be_visible()
    queued = page.locator(f'#change-{change.id}')
    expect(page.locator('#counts')).to_contain_text('1 change waiting')
    expect(queued).to_contain_text(f'{CENTRE} {CENTRE_NAME}')
    expect(queued).to_contain_text(f'{number} {surname}: {forename.upper()}')
    expect(queued).to_contain_text(f'{UNIT} {TITLE}')
    expect(queued).to_contain_text('New entry')
    expect(queued).to_contain_text(f'{CENTRE} ({EO_NAME})')
    expect(queued).to_contain_text(f'due by {due} UTC')
    expect(queued).not_to_contain_text('overdue')
    snap(page, 'entries-queue')
    with page.expect_response(lambda r: r.url.endswith(f'/board/entries/{change.id}/process')) as processed:
        queued.get_by_role('button', name='PROCESS').click()
    assert processed.value.status == 200
    expect(queued).to_contain_text('Processed: the candidate is now on the marksheet.')
    expect(page.locator('#counts')).to_contain_text('0 changes waiting')
    snap(page, 'entries-queue-processed')

    # 6. The exams officer reloads the marksheet: 7 candidates; an outcome for the new one saves.
    officer.reload()
    expect(marksheet.locator('caption')).to_have_text('7 candidates')
    expect(marksheet.locator('tbody tr')).to_have_count(7)
    new_row = marksheet.locator('tbody tr').filter(has_text=number)
    expect(new_row).to_contain_text(f'{surname}: {forename.upper()}')
    expect(counts).to_have_text('ENTER OUTCOMES (0 DONE, 7 LEFT)')
    entry_id = int(new_row.get_attribute('id').removeprefix('entry-'))
    with officer.expect_response(lambda r: r.url.endswith(f'/entries/{entry_id}')
                                 and r.request.method == 'POST') as saved_outcome:
        officer.get_by_label(f'Outcome for {number}').select_option(label='Merit')
    assert saved_outcome.value.status == 200
    expect(new_row.locator('span.saved')).to_have_text('Saved')
    expect(counts).to_have_text('ENTER OUTCOMES (1 DONE, 6 LEFT)')
    snap(officer, 'new-candidate-marked')
    assert outcome_of(entry_id) == ('M', CENTRE)

    # 7. In Cymraeg: the overview and the marksheet show the Welsh series and unit titles.
    portal.open_overview(officer)
    switch_language(officer, 'Cymraeg')
    expect(officer.locator('details.series summary')).to_have_text(SERIES_CY)
    expect(portal.unit_row(officer, UNIT)).to_contain_text(f'{SERIES_CY} {TITLE_CY} ({UNIT})')
    snap(officer, 'overview-cymraeg')
    officer.locator(f'#counts-{unit_id}').click()
    officer.wait_for_url(f'{portal.url}/internal-assessment/{unit_id}')
    expect(officer.locator('html')).to_have_attribute('lang', 'cy')
    expect(officer.locator('h1')).to_contain_text(TITLE_CY)
    expect(officer.locator('h1')).not_to_contain_text(TITLE)
    expect(marksheet.locator('tbody tr')).to_have_count(7)
    snap(officer, 'marksheet-cymraeg')
    switch_language(officer, 'English')
    assert dialogs == []
