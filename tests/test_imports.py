"""Imports from CSV (issue 9 point 3): each kind through the web and the
command line, re-import, changes audited, and every kind of bad input told
in words with nothing saved."""
import io
import os
import threading

import pytest

import imports
from models import (Account, AuditLog, Candidate, Centre, Entry, ImportBatch, ModeratorAssignment, Outbox, db)

pytestmark = pytest.mark.db

CENTRES = ('centre_number,name,head_of_centre,telephone,eo_name,eo_email\r\n'
           '12345,YSGOL Y BRYN,Mrs Siân Llŷr Ŵyn,+44 29 2026 5000,Mr Rhys Ŵyn,rhys@example.org\r\n'
           '23456,NEW COLLEGE,,,Ms Ann Lee,ann@example.org\r\n')
CANDIDATES = ('centre_number,candidate_number,surname,forename,date_of_birth,uci\n'
              '68999,5001,LLŶR,Siân,2001-09-14,\n'
              '68999,5002,JONES,Tom,14/09/2001,\n')
MODERATORS = ('username,name,email,postal_address\n'
              'MOD7,Mrs A Moderator,a.mod@example.org,"1 High St, Cardiff"\n')


@pytest.fixture(autouse=True)
def imports_dir(app, tmp_path):
    """Uploaded files under this test's folder, not the checkout's instance/."""
    app.config['IMPORTS_DIR'] = str(tmp_path / 'imports')
    os.makedirs(app.config['IMPORTS_DIR'])


def upload(client, kind, text, series=None, name=None):
    """Upload a file (text or bytes) and follow to its batch page."""
    data = {'kind': kind, 'file': (io.BytesIO(text if isinstance(text, bytes) else text.encode()),
                                   name or f'{kind}.csv')}
    if series is not None:
        data['series'] = str(series)
    client.get('/board/imports/')
    response = client.post('/board/imports/', data=data, content_type='multipart/form-data')
    return response


def batch_page(client, response):
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return client.get(response.location)


def latest_batch():
    with db.connection_context():
        return ImportBatch.select().order_by(ImportBatch.id.desc()).first()


def confirm(client, batch):
    client.get(f'/board/imports/{batch.id}')
    return client.post(f'/board/imports/{batch.id}/confirm')


def entries_csv(world, rows):
    return 'centre_number,candidate_number,unit_code,teaching_group\n' + ''.join(
        f'{c},{n},{u},{g}\n' for c, n, u, g in rows)


# --- Each kind through the web ----------------------------------------------

def test_centres_import_creates_centres_and_invites_their_exams_officers(app, world, as_):
    client = as_('series_staff')
    page = batch_page(client, upload(client, 'centres', '\ufeff' + CENTRES)).get_data(as_text=True)
    assert '2 rows are ready' in page and '2 new, 0 changed, 0 unchanged' in page
    with db.connection_context():
        assert not Centre.select().where(Centre.number == '12345').exists()  # nothing before confirming
    page = client.get(confirm(client, latest_batch()).location).get_data(as_text=True)
    assert 'Saved: 2 created, 0 updated, 0 unchanged' in page
    with db.connection_context():
        centre = Centre.get(Centre.number == '12345')
        assert centre.head_of_centre == 'Mrs Siân Llŷr Ŵyn' and centre.telephone == '+44 29 2026 5000'
        admin = Account.get(Account.username == '12345')
        assert admin.kind == 'administrator' and admin.centre_id == centre.id and admin.password_hash == ''
        assert admin.email == 'rhys@example.org' and admin.contact_name == 'Mr Rhys Ŵyn'
        assert Outbox.select().where(Outbox.to == 'rhys@example.org').count() == 1
        assert Outbox.select().where(Outbox.to == 'ann@example.org').count() == 1
        assert AuditLog.select().where(AuditLog.action == 'account.create').count() == 2
        assert AuditLog.select().where(AuditLog.action == 'import.save').count() == 1


def test_reimporting_the_same_file_changes_nothing_and_a_changed_row_is_audited(app, world, as_):
    client = as_('series_staff')
    batch_page(client, upload(client, 'centres', CENTRES))
    confirm(client, latest_batch())
    page = batch_page(client, upload(client, 'centres', CENTRES)).get_data(as_text=True)
    assert '0 new, 0 changed, 2 unchanged' in page and 'Nothing to save' in page
    assert confirm(client, latest_batch()).status_code == 303
    assert latest_batch().state == 'ready'  # nothing to save: refused, nothing written
    changed = CENTRES.replace('NEW COLLEGE', 'NEW SIXTH FORM COLLEGE')
    one_row = changed.split('\r\n')[0] + '\r\n' + changed.split('\r\n')[2] + '\r\n'  # 12345 missing
    page = batch_page(client, upload(client, 'centres', one_row)).get_data(as_text=True)
    assert '0 new, 1 changed, 0 unchanged' in page
    client.get(confirm(client, latest_batch()).location)
    with db.connection_context():
        assert Centre.get(Centre.number == '23456').name == 'NEW SIXTH FORM COLLEGE'
        assert Centre.select().where(Centre.number == '12345').exists()  # missing rows are not deleted
        row = AuditLog.get(AuditLog.action == 'import.centres.update')
        assert row.details[0]['name'] == 'NEW COLLEGE' and row.details[1]['name'] == 'NEW SIXTH FORM COLLEGE'
        assert Outbox.select().count() == 2  # no second invitation


def test_candidates_import_reads_both_date_forms_and_checks_ucis(app, world, as_):
    client = as_('series_staff')
    batch_page(client, upload(client, 'candidates', CANDIDATES))
    client.get(confirm(client, latest_batch()).location)
    with db.connection_context():
        one = Candidate.get(Candidate.number == '5001')
        two = Candidate.get(Candidate.number == '5002')
        assert one.surname == 'LLŶR' and str(one.dob) == '2001-09-14' and str(two.dob) == '2001-09-14'
    good = '68999300100' + '1'
    letter = next(c for c in 'ABCDEFGHKLMRTVXYZ' if Candidate.uci_is_valid(good + c))
    wrong = next(c for c in 'ABCDEFGHKLMRTVXYZ' if c != letter)
    text = (CANDIDATES.splitlines()[0] + '\n' + f'68999,5003,REES,Ann,2002-01-01,{good}{letter}\n'
            f'68999,5004,REES,Bob,2002-13-01,{good}{wrong}\n')
    page = batch_page(client, upload(client, 'candidates', text)).get_data(as_text=True)
    assert 'is not a date' in page and 'check letter of UCI' in page and '2 problems' in page


def test_entries_import_needs_a_series_and_matches_unit_codes_in_any_case(app, world, as_):
    client = as_('series_staff')
    text = entries_csv(world, [('68999', '3001', '9613/l3', 'G1'), ('50551', '4001', '9613/L3', ''),
                               ('68999', '3002', world.unit.code, 'NEWGROUP')])
    response = upload(client, 'entries', text)
    assert response.status_code == 422 and 'Choose the series of the units.' in response.get_data(as_text=True)
    page = batch_page(client, upload(client, 'entries', text, series=world.series.id)).get_data(as_text=True)
    assert '1 new, 2 changed, 0 unchanged' in page, page  # 3001 and 3002 are entered already
    client.get(confirm(client, latest_batch()).location)
    with db.connection_context():
        new = Entry.select().join(Candidate).where(Candidate.number == '4001', Entry.unit == world.other_unit).get()
        assert new.centre_id == world.other_centre.id
        assert Entry.select().where(Entry.teaching_group == 'NEWGROUP').count() == 1
        assert AuditLog.select().where(AuditLog.action == 'import.entries.update').count() == 2


def test_moderators_and_assignments_import(app, world, as_):
    client = as_('series_staff')
    batch_page(client, upload(client, 'moderators', MODERATORS))
    client.get(confirm(client, latest_batch()).location)
    with db.connection_context():
        moderator = Account.get(Account.username == 'MOD7')
        assert moderator.kind == 'moderator' and moderator.postal_address == '1 High St, Cardiff'
        assert Outbox.select().where(Outbox.to == 'a.mod@example.org').count() == 1
    text = ('centre_number,unit_code,moderator\n'
            f'68999,{world.unit.code},mod7\n50551,{world.unit.code},MOD7\n')
    page = batch_page(client, upload(client, 'assignments', text, series=world.series.id)).get_data(as_text=True)
    assert '1 new, 1 changed, 0 unchanged' in page  # 68999 moves from mod1
    client.get(confirm(client, latest_batch()).location)
    with db.connection_context():
        assert ModeratorAssignment.select().where(ModeratorAssignment.moderator == moderator.id).count() == 2


# --- Bad input ---------------------------------------------------------------------

@pytest.mark.parametrize('content, words', [
    (b'%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj', 'This is not a CSV file'),
    (b'', 'The file is empty.'),
    (b'centre_number,candidate_number,surname,forename,date_of_birth,uci\n68999,50\x0001,A,B,2001-01-01,\n',
     'NUL byte'),
    ('centre_number,candidate_number,surname,forename,date_of_birth,uci\n'
     '68999,5001,"=HYPERLINK(""http://evil.example"")",Ann,2001-01-01,\n'.encode(), 'starts like a spreadsheet formula'),
    (b'centre_number,candidate_number,surname,forname,date_of_birth,uci\n68999,5001,A,B,2001-01-01,\n',
     'Unknown column “forname”: did you mean “forename”?'),
    (b'centre_number,candidate_number,surname,date_of_birth,uci\n68999,5001,A,2001-01-01,\n',
     'The header has no column “forename”.'),
    (b'centre_number,candidate_number,surname,forename,date_of_birth,uci\n68999,501,A,B,2001-01-01,\n'
     b'99999,5001,A,B,2001-01-01,\n68999,5009,A,B,2001-01-01,\n68999,5009,C,D,2001-01-01,\n',
     'not a candidate number'),
    (b'centre_number,candidate_number,surname,forename,date_of_birth,uci\n68999,5001,\xff\xfeA,B,2001-01-01,\n',
     'not UTF-8'),
])
def test_bad_files_are_told_in_words_and_nothing_is_saved(app, world, as_, content, words):
    client = as_('series_staff')
    with db.connection_context():
        before = Candidate.select().count()
    response = batch_page(client, upload(client, 'candidates', content))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert words in page.replace('&#34;', '"').replace('&#39;', "'"), page
    batch = latest_batch()
    assert batch.state == 'invalid'
    assert confirm(client, batch).status_code == 303  # refused: not ready
    assert 'cannot be confirmed' in client.get(f'/board/imports/{batch.id}').get_data(as_text=True)
    with db.connection_context():
        assert Candidate.select().count() == before


def test_every_row_problem_is_named(app, world, as_):
    client = as_('series_staff')
    text = ('centre_number,candidate_number,surname,forename,date_of_birth,uci\n68999,501,A,B,2001-01-01,\n'
            '99999,5001,A,B,2001-01-01,\n68999,5009,A,B,2001-01-01,\n68999,5009,C,D,2001-01-01,\n'
            '68999,5010,,D,yesterday,\n68999,5011,A\n')
    page = batch_page(client, upload(client, 'candidates', text)).get_data(as_text=True)
    for words in ('“501” is not a candidate number', 'Unknown centre 99999', 'The same record as row 4',
                  'Empty: a value is required', '“yesterday” is not a date', 'This row has 3 cells'):
        assert words in page, words
    assert '6 problems' in page


def test_excel_in_a_semicolon_locale_with_bom_and_crlf_is_read(app, world, as_):
    client = as_('series_staff')
    text = '\ufeffcentre_number;candidate_number;surname;forename;date_of_birth;uci\r\n' \
           '68999;5001;LLŶR;Siân;14/09/2001;\r\n;;;;;\r\n'
    page = batch_page(client, upload(client, 'candidates', text.encode('utf-8'))).get_data(as_text=True)
    assert '1 row is ready' in page
    client.get(confirm(client, latest_batch()).location)
    with db.connection_context():
        assert Candidate.get(Candidate.number == '5001').forename == 'Siân'


def test_empty_header_cells_after_the_last_column_and_optional_cells_left_off_are_read(app, world, as_):
    client = as_('series_staff')
    text = ('centre_number,candidate_number,surname,forename,date_of_birth,uci,,\n'
            '68999,5001,REES,Ann,2002-01-01\n68999,5002,REES,Bob,2002-01-01,,,\n68999,5003,REES\n')
    page = batch_page(client, upload(client, 'candidates', text)).get_data(as_text=True)
    assert '1 problem:' in page and 'This row has 3 cells' in page  # forename and date of birth are required


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(app, world, as_):
    app.config['IMPORT_MAX_BYTES'] = 1000
    client = as_('series_staff')
    response = upload(client, 'candidates', CANDIDATES + '68999,5003,A,B,2001-01-01,\n' * 100)
    assert response.status_code == 413
    assert 'larger than' in response.get_data(as_text=True)
    assert not os.listdir(app.config['IMPORTS_DIR'])
    assert latest_batch() is None


def test_templates_download_and_parse_back_clean(app, world, as_, tmp_path):
    client = as_('series_staff')
    for kind in imports.KINDS:
        response = client.get(f'/board/imports/templates/{kind}.csv')
        assert response.status_code == 200 and response.data.startswith(b'\xef\xbb\xbf')
        path = tmp_path / f'{kind}.csv'
        path.write_bytes(response.data)
        with app.app_context(), db.connection_context():
            report = imports.validate(kind, str(path), world.series.id)
        assert report.clean, (kind, report.problems)
        assert report.rows == 1
    assert client.get('/board/imports/templates/secrets.csv').status_code == 404


def test_double_confirm_from_two_tabs_saves_once(app, world, as_):
    client = as_('series_staff')
    batch_page(client, upload(client, 'centres', CENTRES))
    batch = latest_batch()
    client.get(f'/board/imports/{batch.id}')
    other = as_('series_staff')
    other.get(f'/board/imports/{batch.id}')
    client.post(f'/board/imports/{batch.id}/confirm')
    response = other.post(f'/board/imports/{batch.id}/confirm')
    assert 'cannot be confirmed' in other.get(response.location).get_data(as_text=True)
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'import.save').count() == 1
        assert Outbox.select().count() == 2


def test_another_import_of_the_same_kind_being_saved_is_told(app, world, as_):
    client = as_('series_staff')
    batch_page(client, upload(client, 'centres', CENTRES))
    first = latest_batch()
    batch_page(client, upload(client, 'centres', CENTRES))
    second = latest_batch()
    with db.connection_context():
        ImportBatch.update(state='saving').where(ImportBatch.id == first.id).execute()
    response = confirm(client, second)
    assert 'Another import of Centres is being saved' in client.get(response.location).get_data(as_text=True)
    assert latest_batch().state == 'ready'


def test_two_saves_of_the_same_file_at_once_write_it_once(app, world):
    """Two staff confirm the same file in two batches at the same moment: the
    saves queue on the database, and the second finds everything unchanged."""
    path = os.path.join(app.instance_path, 'same.csv')
    with open(path, 'w') as out:
        out.write(CANDIDATES)
    results = []

    def save():
        with app.app_context(), db.connection_context():
            results.append(imports.save('candidates', path, world.series_staff.id)[0].counts())

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r['created'] for r in results) == [0, 2]
    with db.connection_context():
        assert Candidate.select().where(Candidate.number.in_(['5001', '5002'])).count() == 2


@pytest.mark.parametrize('who', ['staff', 'admin', 'teacher', 'moderator'])
def test_only_series_staff_may_import(app, world, as_, who):
    client = as_(who)
    assert client.get('/board/imports/').status_code in (403, 404)
    response = upload(client, 'centres', CENTRES)
    assert response.status_code in (400, 403, 404)
    assert latest_batch() is None


# --- The command line ----------------------------------------------------------

def test_command_line_import_validates_then_saves(app, world, tmp_path):
    path = tmp_path / 'entries.csv'
    path.write_text(entries_csv(world, [('50551', '4001', '9613/L3', ''), ('50551', '4002', '9613/L3', 'X')]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=['import', 'entries', str(path), '--series', world.series.name.lower(), '--yes'])
    assert result.exit_code == 0, result.output
    assert 'saved: 2 created, 0 updated, 0 unchanged' in result.output
    result = runner.invoke(args=['import', 'entries', str(path), '--series', world.series.name, '--yes'])
    assert 'nothing to save' in result.output
    with db.connection_context():
        assert Entry.select().where(Entry.unit == world.other_unit, Entry.centre == world.other_centre).count() == 2


def test_command_line_prints_problems_and_exits_1(app, world, tmp_path):
    path = tmp_path / 'candidates.csv'
    path.write_text(CANDIDATES + '68999,12,A,B,2001-01-01,\n')
    result = app.test_cli_runner().invoke(args=['import', 'candidates', str(path), '--yes'])
    assert result.exit_code == 1
    assert 'row 4, candidate_number: “12” is not a candidate number: 4 digits.' in result.output
    assert '1 problems in 3 rows: nothing saved' in result.output
    result = app.test_cli_runner().invoke(args=['import', 'candidates', str(path)])
    assert result.exit_code == 1 and '1 problems in 3 rows: nothing saved' in result.output
    with db.connection_context():
        assert not Candidate.select().where(Candidate.number == '5001').exists()


def test_command_line_centres_send_invitations(app, world, tmp_path):
    path = tmp_path / 'centres.csv'
    path.write_text(CENTRES)
    result = app.test_cli_runner().invoke(args=['import', 'centres', str(path)], input='y\n')
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert Outbox.select().where(Outbox.to == 'ann@example.org').count() == 1


def test_helpline_staff_may_import_once_they_hold_the_series_role(app, world, as_):
    client = as_('staff')
    assert client.get('/board/imports/').status_code == 403
    with db.connection_context():
        Account.update(staff_roles='helpline series').where(Account.id == world.staff.id).execute()
    page = batch_page(client, upload(client, 'centres', CENTRES)).get_data(as_text=True)
    assert '2 rows are ready' in page


def test_a_long_report_is_paged_200_problems_at_a_time(app, world, as_):
    client = as_('series_staff')
    text = entries_csv(world, [('68999', f'{i:03d}', 'NOPE', '') for i in range(450)])
    page = batch_page(client, upload(client, 'entries', text, series=world.series.id)).get_data(as_text=True)
    assert '900 problems' in page and 'page 1 of 5' in page
    assert page.count('Unit NOPE is not in this series.') == 100  # with 100 candidate-number problems: 200 rows
    last = client.get(f'/board/imports/{latest_batch().id}?page=5').get_data(as_text=True)
    assert 'page 5 of 5' in last and last.count('<tr><td>') == 100


def test_the_check_job_shows_progress_then_stops_polling(app, world, as_):
    client = as_('series_staff')
    batch_page(client, upload(client, 'centres', CENTRES))
    batch = latest_batch()
    with db.connection_context():
        ImportBatch.update(state='checking').where(ImportBatch.id == batch.id).execute()
    page = client.get(f'/board/imports/{batch.id}').get_data(as_text=True)
    assert 'Checking the file' in page and 'hx-trigger="every 1s"' in page and 'Refresh to check' in page
    with db.connection_context():
        ImportBatch.update(state='ready').where(ImportBatch.id == batch.id).execute()
    response = client.get(f'/board/imports/{batch.id}', headers={'HX-Request': 'true', 'X-Background': '1'})
    assert response.status_code == 286 and 'Confirm import' in response.get_data(as_text=True)


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(app, world, as_):
    app.config['IMPORT_MAX_BYTES'] = 1000
    client = as_('series_staff')
    response = upload(client, 'candidates', CANDIDATES + '68999,5003,A,B,2001-01-01,\n' * 4000)  # about 100 KiB
    assert response.status_code == 413 and 'larger than' in response.get_data(as_text=True)
    assert not os.listdir(app.config['IMPORTS_DIR']) and latest_batch() is None
