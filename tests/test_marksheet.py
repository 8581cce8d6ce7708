"""A teacher's marksheet through the Flask client: inline saves, refusals,
the no-JavaScript path, paste, export (SPEC 3.2, 3.3)."""
import re

import pytest

from models import AuditLog, Outcome, db
from tests.factories import complete

pytestmark = pytest.mark.db


def url(unit, *parts):
    return '/'.join([f'/internal-assessment/{unit.id}', *map(str, parts)])


def version_in(html, entry):
    return int(re.search(rf'name="version-{entry.id}" value="(\d+)"', html).group(1))


def outcome_of(entry):
    with db.connection_context():
        found = Outcome.get_or_none(Outcome.entry == entry.id)
        return found.value if found else None


def save(client, unit, entry, value, version=0):
    return client.htmx(url(unit, 'entries', entry.id),
                       {f'value-{entry.id}': value, f'version-{entry.id}': version})


def test_overview_shows_the_seed_wording_and_states(world, as_):
    with db.connection_context():
        complete(world.other_unit_entries, world.admin)
        complete(world.entries[:7], world.admin)
    page = as_('teacher').get('/internal-assessment/').get_data(as_text=True)
    assert 'ENTER OUTCOMES (7 DONE, 23 LEFT)' in page
    assert 'NO OUTCOMES TO SUBMIT (0 SUBMITTED)' in page and '23 OUTCOMES MISSING' in page
    assert 'SUBMIT OUTCOMES AND GENERATE SAMPLES (30)' in page
    assert 'Deadline for submission of samples and cover sheets to moderator: 15/05/2017' in page
    assert '<details class="series" open>' in page  # expands and collapses without JavaScript
    assert 'C700U3' not in page  # a GCSE unit: this teacher has Level 3 only


def test_an_inline_save_answers_with_the_row_and_out_of_band_counts(world, as_):
    client = as_('teacher')
    client.get(url(world.unit))
    response = save(client, world.unit, world.entries[0], 'M')
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'HX-Request' in response.headers['Vary']
    assert html.lstrip().startswith(f'<tr id="entry-{world.entries[0].id}"')
    assert '<option value="M" selected>' in html
    # issue 10 point 3: the counts and the submit control change their text in
    # place, and one live region outside the table says what was saved
    assert f'id="counts-{world.unit.id}" class="button" hx-swap-oob="innerHTML"' in html
    assert f'id="submit-{world.unit.id}" class="submit-control" aria-live="polite" hx-swap-oob="innerHTML"' in html
    assert 'ENTER OUTCOMES (1 DONE, 29 LEFT)' in html and '29 OUTCOMES MISSING' in html
    candidate = world.candidates[0]
    assert (f'<div id="announce" hx-swap-oob="innerHTML">Saved: {candidate.number} '
            f'{candidate.surname.upper()}: {candidate.forename.upper()}, Merit</div>') in html
    assert f'id="value-{world.entries[0].id}"' in html and 'hx-trigger="save"' in html
    assert len(response.data) < 1024, len(response.data)  # QUALITY P-2
    assert outcome_of(world.entries[0]) == 'M'
    with db.connection_context():
        audit = AuditLog.select().where(AuditLog.action == 'outcome.set').get()
        assert (audit.actor_id, audit.after, audit.target) == (world.teacher.id, '"M"', f'entry:{world.entries[0].id}')


def test_the_submit_control_enables_with_the_last_outcome(world, as_):
    with db.connection_context():
        complete(world.entries[1:], world.admin)
    client = as_('teacher')
    html = save(client, world.unit, world.entries[0], 'D').get_data(as_text=True)
    assert 'SUBMIT OUTCOMES AND GENERATE SAMPLES (30)' in html
    assert 'ENTER OUTCOMES (30 DONE, 0 LEFT)' in html


def test_the_page_without_htmx_is_the_whole_marksheet(world, as_):
    response = as_('teacher').get(url(world.unit))
    html = response.get_data(as_text=True)
    assert 'LEVEL 3 QUALIFICATIONS JUNE 2017 CRIMINOLOGICAL THEORIES (9611/L3) MARKSHEET' in html
    assert html.count('<tr id="entry-') == 20 and 'page 1 of 2' in html
    assert 'HX-Request' in response.headers['Vary']
    all_rows = as_('teacher').get(url(world.unit) + '?rows=all').get_data(as_text=True)
    assert all_rows.count('<tr id="entry-') == 30


@pytest.mark.parametrize('value, status, message', [
    ('X', 422, 'is not an outcome for this unit'),
    ('<script>', 422, 'is not an outcome for this unit'),
])
def test_a_value_not_in_the_grade_scheme_is_refused(world, as_, value, status, message):
    response = save(as_('teacher'), world.unit, world.entries[0], value)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert '<script>' not in response.get_data(as_text=True)
    assert outcome_of(world.entries[0]) is None


@pytest.mark.parametrize('value, message', [
    ('41', '41 is out of range: marks run from 0 to 40.'),
    ('-1', '-1 is out of range'),
    ('12.5', '“12.5” is not a mark'),
    ('twelve', '“twelve” is not a mark'),
])
def test_a_bad_mark_is_refused_beside_the_field(world, as_, value, message):
    response = save(as_('admin'), world.marks_unit, world.marks_entries[0], value)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html and 'aria-invalid="true"' in html
    assert f'value="{value}"' in html  # what was typed stays for correcting
    assert outcome_of(world.marks_entries[0]) is None


def test_marks_and_absent_save_on_a_marks_unit(world, as_):
    client = as_('admin')
    assert save(client, world.marks_unit, world.marks_entries[0], '40').status_code == 200
    assert save(client, world.marks_unit, world.marks_entries[1], 'absent').status_code == 200
    assert (outcome_of(world.marks_entries[0]), outcome_of(world.marks_entries[1])) == ('40', 'A')


@pytest.mark.parametrize('which', ['other_unit_entry', 'other_centre_entry', 'no_such_entry'])
def test_an_entry_of_another_unit_or_centre_is_not_found(world, as_, which):
    entry_id = {'other_unit_entry': world.other_unit_entries[0].id,
                'other_centre_entry': world.other_centre_entries[0].id,
                'no_such_entry': 999999}[which]
    client = as_('teacher')
    response = client.htmx(url(world.unit, 'entries', entry_id),
                           {f'value-{entry_id}': 'P', f'version-{entry_id}': 0})
    assert response.status_code == 404
    with db.connection_context():
        assert Outcome.select().count() == 0


def test_a_unit_the_account_may_not_open_is_not_found(world, as_):
    client = as_('teacher_one_unit')
    assert client.get(url(world.unit)).status_code == 404
    assert save(client, world.unit, world.entries[0], 'P').status_code == 404
    assert client.get(url(world.other_unit)).status_code == 200
    assert as_('teacher_no_units').get('/internal-assessment/').status_code == 403


def test_a_post_without_csrf_is_refused_and_writes_nothing(world, as_):
    client = as_('teacher')
    entry = world.entries[0]
    response = client.post(url(world.unit, 'entries', entry.id), csrf=False,
                           data={f'value-{entry.id}': 'P', f'version-{entry.id}': 0})
    assert response.status_code == 400
    assert 'This form has expired' in response.get_data(as_text=True)
    assert outcome_of(entry) is None


def test_a_stale_row_is_refused_and_shows_the_current_value_and_who(world, as_):
    teacher, admin = as_('teacher'), as_('admin')
    entry = world.entries[0]
    assert save(admin, world.unit, entry, 'D').status_code == 200
    response = save(teacher, world.unit, entry, 'P', version=0)  # rendered before the admin's save
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'Not saved: someone else changed this outcome to Distinction (68999' in html
    assert '<option value="D" selected>' in html
    assert outcome_of(entry) == 'D'
    assert save(teacher, world.unit, entry, 'P', version=version_in(html, entry)).status_code == 200
    assert outcome_of(entry) == 'P'


def test_a_retried_save_whose_answer_was_lost_is_accepted_once(world, as_):
    """Issue 11: the same value from the same version by the same account is
    the save already made, not 'someone else changed this'; anyone else's,
    or another value, is still refused."""
    teacher, admin = as_('teacher'), as_('admin')
    entry = world.entries[0]
    assert save(teacher, world.unit, entry, 'M', version=0).status_code == 200
    retry = save(teacher, world.unit, entry, 'M', version=0)  # the answer to the first was lost
    assert retry.status_code == 200 and 'Not saved' not in retry.get_data(as_text=True)
    assert save(teacher, world.unit, entry, 'D', version=0).status_code == 409
    assert save(admin, world.unit, entry, 'M', version=0).status_code == 409
    with db.connection_context():
        assert Outcome.get(Outcome.entry == entry.id).version == 1
        assert AuditLog.select().where(AuditLog.action == 'outcome.set',
                                       AuditLog.target == f'entry:{entry.id}').count() == 1


def test_clearing_an_outcome_counts_it_as_left_again(world, as_):
    client = as_('teacher')
    save(client, world.unit, world.entries[0], 'P')
    html = save(client, world.unit, world.entries[0], '', version=1).get_data(as_text=True)
    assert 'ENTER OUTCOMES (0 DONE, 30 LEFT)' in html
    assert outcome_of(world.entries[0]) is None


def test_the_save_button_saves_the_page_without_javascript(world, as_):
    client = as_('teacher')
    a, b, c = world.entries[:3]
    response = client.post(url(world.unit), data={
        f'value-{a.id}': 'P', f'version-{a.id}': 0, f'value-{b.id}': 'M', f'version-{b.id}': 0,
        f'value-{c.id}': '', f'version-{c.id}': 0, 'rows': '20', 'page': '1'})
    assert response.status_code == 303
    assert 'outcomes saved' not in response.get_data(as_text=True)
    page = client.get(response.location).get_data(as_text=True)
    assert '2 outcomes saved.' in page
    assert (outcome_of(a), outcome_of(b), outcome_of(c)) == ('P', 'M', None)


def test_absent_without_javascript_asks_first(world, as_):
    client = as_('teacher')
    entry = world.entries[0]
    form = {f'value-{entry.id}': 'A', f'version-{entry.id}': 0}
    confirm = client.post(url(world.unit), data=form)
    assert confirm.status_code == 200
    assert 'Please note an ABSENT should only be used if a candidate is absent' in confirm.get_data(as_text=True)
    assert outcome_of(entry) is None
    done = client.post(url(world.unit), data={**form, 'confirm_absent': '1', 'close': '1'})
    assert done.status_code == 303 and done.location.endswith('/internal-assessment/')
    assert outcome_of(entry) == 'A'


def test_bad_rows_on_a_saved_page_are_shown_and_good_rows_kept(world, as_):
    client = as_('admin')
    a, b = world.marks_entries[:2]
    response = client.post(url(world.marks_unit), data={
        f'value-{a.id}': '33', f'version-{a.id}': 0, f'value-{b.id}': '99', f'version-{b.id}': 0})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '99 is out of range' in html and 'value="99"' in html
    assert (outcome_of(a), outcome_of(b)) == ('33', None)


def test_an_expired_session_mid_edit_redirects_and_keeps_the_change(app, world, as_):
    client = as_('teacher')
    entry = world.entries[0]
    app.config['IDLE_MINUTES'] = -1
    response = client.htmx(url(world.unit, 'entries', entry.id),
                           {f'value-{entry.id}': 'M', f'version-{entry.id}': 0},
                           current=f'http://localhost{url(world.unit)}?page=1')
    app.config['IDLE_MINUTES'] = 20
    assert response.status_code == 401
    assert response.headers['HX-Redirect'].startswith('/login?next=')
    assert response.data == b''  # never a login form inside a grid cell
    assert outcome_of(entry) is None
    login = client.get(response.headers['HX-Redirect']).get_data(as_text=True)
    assert 'Your session ended after 20 minutes' in login
    back = client.post('/login', data={'username': '68999jbr', 'password': 'Secret2017pw',
                                       'next': f'{url(world.unit)}?page=1'})
    assert back.status_code == 303 and back.location == url(world.unit)
    assert outcome_of(entry) == 'M'
    assert 'Your change made before signing in again was saved' in client.get(back.location).get_data(as_text=True)


def test_a_pasted_sheet_is_previewed_then_saved_in_one_go(world, as_):
    client = as_('teacher')
    numbers = [c.number for c in world.candidates]
    text = '\n'.join(['Candidate No\tGrade', f'{numbers[0]}\tPass', f'{numbers[1]}\tmerit',
                      f'{numbers[2]}\tQ', '9999\tPass', f'{numbers[0]}\tDistinction', f'{numbers[3]}\tA'])
    preview = client.post(url(world.unit, 'paste'), data={'sheet': text})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert 'Candidate 9999 is not on this marksheet.' in html
    assert f'Candidate {numbers[0]} appears again (first on line 2)' in html
    assert '“Q” is not an outcome for this unit' in html
    assert '3 rows will be saved.' in html
    with db.connection_context():
        assert Outcome.select().count() == 0  # nothing until confirmed
    saved = client.post(url(world.unit, 'paste'), data={'sheet': text, 'confirm': '1'})
    assert saved.status_code == 303
    assert [outcome_of(e) for e in world.entries[:4]] == ['P', 'M', None, 'A']


def test_a_csv_upload_with_a_bad_encoding_still_reads(world, as_):
    import io
    client = as_('teacher')
    data = f'{world.candidates[0].number},PASS\n'.encode('cp1252') + 'caf\xe9,P\n'.encode('cp1252')
    response = client.post(url(world.unit, 'paste'), data={'file': (io.BytesIO(data), 'marks.csv')},
                           content_type='multipart/form-data')
    assert response.status_code == 200
    assert 'Candidate café is not on this marksheet.' in response.get_data(as_text=True)


def test_csv_export_lists_every_candidate_safely(world, as_):
    from models import Candidate
    with db.connection_context():
        Candidate.update(surname='=HYPERLINK("x")').where(Candidate.id == world.candidates[0].id).execute()
        Candidate.update(forename='Ann;=1+2').where(Candidate.id == world.candidates[1].id).execute()
        Candidate.update(forename='Siân Ŵyn').where(Candidate.id == world.candidates[2].id).execute()
        complete(world.entries[:2], world.admin, 'M')
    response = as_('teacher').get(url(world.unit, 'export.csv'))
    assert response.data.startswith(b'\xef\xbb\xbf')  # issue 10 point 7: Excel reads it as UTF-8
    assert response.headers['Content-Type'] == 'text/csv; charset=utf-8'
    text = response.data.decode('utf-8-sig')
    assert '"Siân Ŵyn"' in text
    assert response.headers['Content-Disposition'] == 'attachment; filename="68999_9611_L3.csv"'
    assert response.headers['Cache-Control'] == 'no-store'  # issue 6, point 11
    assert text.splitlines()[0] == '"Candidate No","Surname","Forename","Teaching group","Outcome"'
    assert len(text.splitlines()) == 31
    assert '"\'=HYPERLINK(""x"")"' in text and ',"Merit"' in text
    # issue 6, point 12: a spreadsheet splitting on ';' sees no formula either
    assert '"Ann;\'=1+2"' in text


def test_search_sort_and_show_filter_the_rows(world, as_):
    with db.connection_context():
        complete(world.entries[:5], world.admin, 'D')
    client = as_('teacher')
    marked = client.get(url(world.unit) + '?show=marked').get_data(as_text=True)
    assert marked.count('<tr id="entry-') == 5
    surname = world.candidates[0].surname
    found = client.get(url(world.unit) + f'?search={surname[:3].lower()}&rows=all').get_data(as_text=True)
    expected = sum(1 for c in world.candidates if c.surname.startswith(surname[:3]))
    assert found.count('<tr id="entry-') == expected
    by_grade = client.get(url(world.unit) + '?sort=grade').get_data(as_text=True)
    first_rows = re.findall(r'<tr id="entry-(\d+)"', by_grade)[:5]
    assert sorted(map(int, first_rows)) == sorted(e.id for e in world.entries[:5])
    assert client.get(url(world.unit) + '?page=abc&sort=evil&show=%3Cx%3E').status_code == 200


def test_hostile_names_are_inert_on_the_marksheet(world, as_):
    from models import Candidate
    with db.connection_context():
        Candidate.update(surname='<img src=x onerror=alert(1)>', forename='{{7*7}}').where(
            Candidate.id == world.candidates[0].id).execute()
        Candidate.update(surname='x" hx-get="/logout').where(Candidate.id == world.candidates[1].id).execute()
        complete(world.entries[:2], world.admin)
    client = as_('teacher')
    for page in (url(world.unit), url(world.unit, 'submit'), f'/internal-assessment/reports/{world.unit.id}'):
        html = client.get(page).get_data(as_text=True)
        assert '<img src=x' not in html and 'hx-get="/logout' not in html
        assert '&lt;img src=x onerror=alert(1)&gt;' in html.lower()
        assert '{{7*7}}' in html and ': 49' not in html


class QueryCounter:
    """Counts SQL statements run through the database (QUALITY P-3)."""

    def __init__(self):
        self.count = 0

    def __enter__(self):
        database = db.obj
        self.original = database.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            self.count += 1
            return self.original(sql, params, *args, **kwargs)
        database.execute_sql = counting
        return self

    def __exit__(self, *exc):
        db.obj.execute_sql = self.original


def test_query_counts_do_not_grow_with_the_number_of_candidates(world, as_):
    import demo
    client = as_('teacher')
    pages = [url(world.unit), url(world.unit) + '?rows=all', url(world.unit) + '?sort=grade&show=marked',
             '/internal-assessment/', f'/internal-assessment/reports/{world.unit.id}', url(world.unit, 'submit')]

    def counts(entry):
        found = []
        for page in pages:
            with QueryCounter() as counter:
                assert client.get(page).status_code == 200
            found.append(counter.count)
        with QueryCounter() as counter:
            assert save(client, world.unit, entry, 'M').status_code == 200
        found.append(counter.count)
        return found

    small = counts(world.entries[0])
    with db.connection_context():
        more = demo.make_candidates(world.centre, 300, 5001, seed=9)
        complete(demo.enter(more, world.unit), world.admin)
    assert counts(world.entries[1]) == small


def test_an_oversized_paste_is_refused_with_a_page_and_nothing_saved(world, as_):
    client = as_('teacher')
    big = (f'{world.candidates[0].number}\tPass\n' * 200000)[:3 * 1024 * 1024]
    response = client.post(url(world.unit, 'paste'), data={'sheet': big, 'confirm': '1'})
    assert response.status_code == 413
    assert 'Too large' in response.get_data(as_text=True)
    assert outcome_of(world.entries[0]) is None
    limit = client.post(url(world.unit, 'paste'), data={'sheet': 'x' * (600 * 1024)})
    assert limit.status_code == 422 and 'the limit is 512 KB' in limit.get_data(as_text=True)


def test_welsh_outcome_words_save_too(world, as_):
    client = as_('teacher')
    client.post('/language', data={'lang': 'cy'})
    numbers = [c.number for c in world.candidates]
    text = f'{numbers[0]},Llwyddo\n{numbers[1]},Teilyngdod\n{numbers[2]},Rhagoriaeth\n{numbers[3]},Absennol'
    assert client.post(url(world.unit, 'paste'), data={'sheet': text, 'confirm': '1'}).status_code == 303
    assert [outcome_of(e) for e in world.entries[:4]] == ['P', 'M', 'D', 'A']
    page = client.get(url(world.unit)).get_data(as_text=True)
    assert '<html lang="cy">' in page and 'Teilyngdod' in page and 'TAFLEN FARCIAU' in page
