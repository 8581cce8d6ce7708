"""ENTRIES (issue 9 point 4): the exams officer's new entries and
withdrawals wait as pending until the board's series staff process them;
only then does the marksheet change. What a user would notice: page text,
status codes, and the rows left in the database."""
import datetime

import pytest

import demo
from models import AuditLog, Candidate, Entry, EntryChange, db, utcnow
from tests.factories import complete
from tests.test_marksheet import QueryCounter

pytestmark = pytest.mark.db


def entries_page(client, series):
    return client.get(f'/entries?series={series.id}')


def send_entry(client, unit, **fields):
    data = {'series': unit.series_id, 'unit_id': unit.id, 'who': 'existing'}
    data.update(fields)
    return client.post('/entries/new', data=data, follow_redirects=True)


def marksheet(client, unit):
    return client.get(f'/internal-assessment/{unit.id}?rows=all').get_data(as_text=True)


def pending(**where):
    with db.connection_context():
        query = EntryChange.select().where(EntryChange.status == 'pending')
        for field, value in where.items():
            query = query.where(getattr(EntryChange, field) == value)
        return list(query)


def process(client, change, **form):
    return client.post(f'/board/entries/{change.id}/process', data=form, follow_redirects=True)


@pytest.fixture
def newcomer(world):
    """A candidate of centre 68999 entered for nothing yet."""
    with db.connection_context():
        return demo.make_candidates(world.centre, 1, 3500, seed=3)[0]


def test_the_exams_officer_sees_the_centres_entries_by_series_and_unit(world, as_):
    page = entries_page(as_('admin'), world.series).get_data(as_text=True)
    assert '9611/L3' in page and '9613/L3' in page and 'C700U3' not in page
    assert f'<td>{world.candidates[0].number}</td>' in page and 'Entered' in page
    assert f'formaction="/entries/{world.entries[0].id}/withdraw"' in page  # a button on the entered row
    assert world.other_candidates[0].number not in page  # another centre's candidates are not ours
    other = entries_page(as_('admin'), world.marks_unit.series).get_data(as_text=True)
    assert 'C700U3' in other and '9611/L3' not in other


def test_an_existing_candidate_is_pending_until_processed_then_on_the_teachers_marksheet(world, as_, newcomer):
    officer = as_('admin')
    page = send_entry(officer, world.unit, candidate_id=newcomer.id, teaching_group='G7').get_data(as_text=True)
    assert 'sent to the board' in page and 'Pending entry' in page
    teacher = as_('teacher')
    assert f'<td>{newcomer.number}</td>' not in marksheet(teacher, world.unit)
    [change] = pending(candidate=newcomer.id)

    staff = as_('series_staff')
    queue = staff.get('/board/entries').get_data(as_text=True)
    assert newcomer.number in queue and '68999' in queue and 'New entry' in queue
    assert 'now on the marksheet' in process(staff, change).get_data(as_text=True)

    assert f'<td>{newcomer.number}</td>' in marksheet(teacher, world.unit)
    with db.connection_context():
        entry = Entry.get(Entry.candidate == newcomer.id, Entry.unit == world.unit.id)
        assert entry.processed and entry.teaching_group == 'G7' and entry.centre_id == world.centre.id
        assert EntryChange.get_by_id(change.id).processed_by_id == world.series_staff.id
        actions = [a.action for a in AuditLog.select().where(AuditLog.action.startswith('entry.'))]
    assert actions == ['entry.requested', 'entry.processed']
    page = entries_page(officer, world.series).get_data(as_text=True)
    assert 'processed on' in page and 'Pending entry' not in page


def test_a_candidate_can_be_typed_by_number(world, as_, newcomer):
    page = send_entry(as_('admin'), world.other_unit, number=newcomer.number).get_data(as_text=True)
    assert 'Pending entry' in page
    assert len(pending(candidate=newcomer.id, unit=world.other_unit.id)) == 1


def test_a_new_candidate_is_created_at_once_and_entered_when_processed(world, as_):
    officer = as_('admin')
    page = send_entry(officer, world.unit, who='new', new_number='3777', surname='Jones', forename='Cerys',
                      dob='2006-03-04', uci='').get_data(as_text=True)
    assert 'Pending entry' in page and 'JONES: CERYS' in page
    with db.connection_context():
        candidate = Candidate.get(Candidate.centre == world.centre.id, Candidate.number == '3777')
    assert candidate.dob == datetime.date(2006, 3, 4)
    assert '3777' not in marksheet(as_('teacher'), world.unit)
    process(as_('series_staff'), pending(candidate=candidate.id)[0])
    assert '<td>3777</td>' in marksheet(as_('teacher'), world.unit)


@pytest.mark.parametrize('fields, message', [
    ({'new_number': '37', 'surname': 'A', 'forename': 'B', 'dob': '2006-01-01'}, 'candidate number: 4 digits'),
    ({'new_number': '3777', 'surname': '', 'forename': 'B', 'dob': '2006-01-01'}, 'Enter the surname'),
    ({'new_number': '3777', 'surname': 'A', 'forename': 'B', 'dob': '2999-01-01'}, 'not in the future'),
    ({'new_number': '3777', 'surname': 'A', 'forename': 'B', 'dob': '2006-01-01', 'uci': '12345678901ZZ'},
     'not a valid UCI'),
])
def test_a_new_candidate_with_bad_details_is_refused_and_nothing_is_written(world, as_, fields, message):
    response = send_entry(as_('admin'), world.unit, who='new', **fields)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert 'value="A"' in response.get_data(as_text=True) or fields['surname'] == ''  # what was typed is kept
    with db.connection_context():
        assert not Candidate.select().where(Candidate.number == '3777').exists()
    assert not pending()


def test_a_taken_number_offers_that_candidate_instead(world, as_, newcomer):
    officer = as_('admin')
    response = send_entry(officer, world.unit, who='new', new_number=newcomer.number, surname='Other',
                          forename='Person', dob='2006-01-01')
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and f'Enter {newcomer.number} instead' in page
    assert f'name="candidate_id" value="{newcomer.id}"' in page
    assert not pending()
    assert 'Pending entry' in send_entry(officer, world.unit, candidate_id=newcomer.id).get_data(as_text=True)


def test_an_entered_or_pending_candidate_is_refused(world, as_, newcomer):
    officer = as_('admin')
    entered = world.candidates[0]
    response = send_entry(officer, world.unit, candidate_id=entered.id)
    assert response.status_code == 409 and 'already entered for 9611/L3' in response.get_data(as_text=True)
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    response = send_entry(officer, world.unit, number=newcomer.number)  # a second tab
    assert response.status_code == 409 and 'already waiting' in response.get_data(as_text=True)
    assert len(pending()) == 1
    response = send_entry(officer, world.unit, number='9998')
    assert response.status_code == 409 and 'no candidate numbered 9998' in response.get_data(as_text=True)


def test_a_unit_of_another_series_or_no_unit_is_refused(world, as_, newcomer):
    officer = as_('admin')
    for unit_id in (world.marks_unit.id, 999999, 'x'):  # C700U3 belongs to GCSE JUNE 2017
        response = officer.post('/entries/new', data={'series': world.series.id, 'unit_id': unit_id,
                                                      'who': 'existing', 'candidate_id': newcomer.id})
        assert response.status_code == 422
        assert 'Choose one of the units of this series' in response.get_data(as_text=True)
    assert not pending()


def test_another_centres_candidate_entry_or_change_is_not_found(world, as_):
    officer = as_('admin')
    stranger = world.other_candidates[0]
    response = officer.post('/entries/new', data={'series': world.series.id, 'unit_id': world.other_unit.id,
                                                  'who': 'existing', 'candidate_id': stranger.id})
    assert response.status_code == 404
    response = officer.post(f'/entries/{world.other_centre_entries[0].id}/withdraw', data={'confirm': '1'})
    assert response.status_code == 404
    with db.connection_context():
        theirs = EntryChange.create(centre=world.other_centre.id, candidate=stranger.id, unit=world.other_unit.id,
                                    kind='enter', requested_by=world.other_admin.id)
    assert officer.post(f'/entries/changes/{theirs.id}/cancel').status_code == 404
    assert len(pending()) == 1  # theirs, untouched


def test_withdrawing_without_an_outcome_removes_the_candidate_once_processed(world, as_):
    officer = as_('admin')
    entry = world.entries[3]
    number = world.candidates[3].number
    confirm = officer.post(f'/entries/{entry.id}/withdraw').get_data(as_text=True)
    assert 'Withdraw candidate' in confirm and 'name="confirm"' in confirm
    assert not pending()  # the first press only asks
    page = officer.post(f'/entries/{entry.id}/withdraw', data={'confirm': '1'},
                        follow_redirects=True).get_data(as_text=True)
    assert 'Pending withdrawal' in page
    again = officer.post(f'/entries/{entry.id}/withdraw', data={'confirm': '1'}, follow_redirects=True)
    assert 'already waiting' in again.get_data(as_text=True)
    [change] = pending(kind='withdraw')
    assert f'<td>{number}</td>' in marksheet(as_('teacher'), world.unit)  # still there until processed
    assert 'no longer on the marksheet' in process(as_('series_staff'), change).get_data(as_text=True)
    assert f'<td>{number}</td>' not in marksheet(as_('teacher'), world.unit)
    with db.connection_context():
        assert Entry.get_or_none(Entry.id == entry.id) is None
        assert AuditLog.select().where(AuditLog.action == 'entry.withdrawn').count() == 1
    later = officer.post(f'/entries/{entry.id}/withdraw', data={'confirm': '1'})
    assert later.status_code == 404


def test_withdrawing_a_candidate_with_an_outcome_asks_the_teacher_to_mark_absent(world, as_):
    with db.connection_context():
        complete(world.entries[:1], world.teacher, 'M')
    officer = as_('admin')
    entry = world.entries[0]
    officer.post(f'/entries/{entry.id}/withdraw', data={'confirm': '1'})
    process(as_('series_staff'), pending(kind='withdraw')[0])
    teacher = as_('teacher')
    page = marksheet(teacher, world.unit)
    assert page.count('Withdrawn: mark Absent') == 1
    with db.connection_context():
        assert Entry.get_by_id(entry.id).withdrawn
    assert 'Withdrawn: mark Absent' in entries_page(officer, world.series).get_data(as_text=True)
    refused = officer.post(f'/entries/{entry.id}/withdraw', data={'confirm': '1'}, follow_redirects=True)
    assert 'is not entered for 9611/L3' in refused.get_data(as_text=True)
    assert not pending()


def test_a_pending_change_can_be_cancelled_but_not_once_processed(world, as_, newcomer):
    officer = as_('admin')
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    [change] = pending()
    page = officer.post(f'/entries/changes/{change.id}/cancel', follow_redirects=True).get_data(as_text=True)
    assert 'Cancelled' in page and 'Pending entry' not in page
    assert not pending()
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    [change] = pending()
    process(as_('series_staff'), change)
    page = officer.post(f'/entries/changes/{change.id}/cancel', follow_redirects=True).get_data(as_text=True)
    assert 'Already processed by SERIES1' in page
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'entry.cancelled').count() == 1


def test_processing_twice_from_two_tabs_does_it_once(world, as_, newcomer):
    send_entry(as_('admin'), world.unit, candidate_id=newcomer.id)
    [change] = pending()
    first, second = as_('series_staff'), as_('series_staff')
    assert 'now on the marksheet' in process(first, change).get_data(as_text=True)
    response = process(second, change)
    assert response.status_code == 200 and 'Already processed by SERIES1' in response.get_data(as_text=True)
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'entry.processed').count() == 1
        assert Entry.select().where(Entry.candidate == newcomer.id).count() == 1


def test_process_all_processes_the_listed_changes_once(world, as_, newcomer):
    officer = as_('admin')
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    send_entry(officer, world.other_unit, candidate_id=newcomer.id)
    officer.post(f'/entries/{world.entries[5].id}/withdraw', data={'confirm': '1'})
    ids = [str(c.id) for c in pending()]
    staff = as_('series_staff')
    page = staff.get('/board/entries').get_data(as_text=True)
    assert 'PROCESS ALL 3 CHANGES SHOWN' in page
    page = staff.post('/board/entries/process', data={'change': ids}, follow_redirects=True).get_data(as_text=True)
    assert '3 processed' in page and 'No change is waiting' in page
    again = as_('series_staff').post('/board/entries/process', data={'change': ids + ['999999', 'x']},
                                     follow_redirects=True).get_data(as_text=True)
    assert '0 processed' in again and '4 had already been processed or cancelled' in again
    teacher = marksheet(as_('teacher'), world.unit)
    assert f'<td>{newcomer.number}</td>' in teacher and f'<td>{world.candidates[5].number}</td>' not in teacher
    assert f'<td>{newcomer.number}</td>' in marksheet(as_('teacher'), world.other_unit)


def test_process_all_matching_a_filter_leaves_the_others(world, as_, newcomer):
    officer = as_('admin')
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    send_entry(officer, world.marks_unit, candidate_id=newcomer.id)
    staff = as_('series_staff')
    page = staff.post('/board/entries/process', data={'scope': 'matching', 'series': world.series.id},
                      follow_redirects=True).get_data(as_text=True)
    assert '1 processed' in page
    [left] = pending()
    assert left.unit_id == world.marks_unit.id
    filtered = staff.get(f'/board/entries?series={world.series.id}').get_data(as_text=True)
    assert 'No change is waiting' in filtered
    assert 'There is no centre with the number' in staff.get('/board/entries?centre=12345').get_data(as_text=True)


def test_the_queue_shows_the_72_hour_target_and_what_is_overdue(world, as_, newcomer):
    officer = as_('admin')
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    send_entry(officer, world.other_unit, candidate_id=newcomer.id)
    old, fresh = sorted(pending(), key=lambda c: c.id)
    asked = utcnow() - datetime.timedelta(hours=80, minutes=5)
    with db.connection_context():
        EntryChange.update(requested_at=asked).where(EntryChange.id == old.id).execute()
    page = as_('series_staff').get('/board/entries').get_data(as_text=True)
    due = (asked + datetime.timedelta(hours=72)).strftime('%d/%m/%Y %H:%M')
    assert f'due by {due}' in page and 'overdue by 8 hours' in page
    assert page.index(f'change-{old.id}') < page.index(f'change-{fresh.id}')  # oldest first
    assert page.count('overdue by') == 1 and '1 overdue' in page and '2 changes waiting' in page


@pytest.mark.parametrize('who', ['teacher', 'teacher_no_units', 'staff', 'series_staff', 'moderator'])
def test_only_exams_officers_use_entries(world, as_, who, newcomer):
    client = as_(who)
    assert client.get('/entries').status_code == 403
    response = client.post('/entries/new', data={'series': world.series.id, 'unit_id': world.unit.id,
                                                 'candidate_id': newcomer.id})
    assert response.status_code == 403
    assert client.post(f'/entries/{world.entries[0].id}/withdraw', data={'confirm': '1'}).status_code == 403
    assert not pending()


@pytest.mark.parametrize('who', ['admin', 'teacher', 'staff', 'moderator'])
def test_only_series_staff_use_the_queue(world, as_, who, newcomer):
    send_entry(as_('admin'), world.unit, candidate_id=newcomer.id)
    [change] = pending()
    client = as_(who)
    assert client.get('/board/entries').status_code == 403
    assert client.post(f'/board/entries/{change.id}/process').status_code == 403
    assert client.post('/board/entries/process', data={'change': [change.id]}).status_code == 403
    assert len(pending()) == 1


def test_hostile_names_are_inert_on_entries_and_the_queue(world, as_):
    officer = as_('admin')
    send_entry(officer, world.unit, who='new', new_number='3666', surname='<img src=x onerror=alert(1)>',
               forename='{{7*7}}', dob='2006-01-01', teaching_group='<b>g</b>')
    for page in (entries_page(officer, world.series), as_('series_staff').get('/board/entries')):
        html = page.get_data(as_text=True)
        assert '<img src=x' not in html and '<b>g</b>' not in html
        assert '&lt;img src=x onerror=alert(1)&gt;'.upper() in html.upper() and '{{7*7}}' in html


def test_page_query_counts_do_not_grow_with_candidates(world, as_):
    officer, staff, teacher = as_('admin'), as_('series_staff'), as_('teacher')
    with db.connection_context():
        complete(world.entries[:2], world.teacher, 'PM')
        Entry.update(withdrawn=True).where(Entry.id == world.entries[0].id).execute()

    def counts():
        found = []
        for client, url in ((officer, f'/entries?series={world.series.id}'), (staff, '/board/entries'),
                            (teacher, f'/internal-assessment/{world.unit.id}?rows=all')):
            with QueryCounter() as counter:
                assert client.get(url).status_code == 200
            found.append(counter.count)
        return found

    small = counts()
    with db.connection_context():
        more = demo.make_candidates(world.centre, 200, 5001, seed=9)
        entered = demo.enter(more, world.unit)
        complete(entered, world.admin)
        Entry.update(withdrawn=True).where(Entry.id.in_([e.id for e in entered[:50]])).execute()
        EntryChange.insert_many([{'centre': world.centre.id, 'candidate': c.id, 'unit': world.other_unit.id,
                                  'kind': 'enter', 'requested_by': world.admin.id} for c in more]).execute()
    assert counts() == small
    assert marksheet(teacher, world.unit).count('Withdrawn: mark Absent') == 51


def test_tabs_racing_to_process_the_same_changes_do_each_once(world, as_, newcomer):
    import threading
    officer = as_('admin')
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    send_entry(officer, world.other_unit, candidate_id=newcomer.id)
    officer.post(f'/entries/{world.entries[7].id}/withdraw', data={'confirm': '1'})
    ids = [str(c.id) for c in pending()]
    clients = [as_('series_staff') for _ in range(4)]
    answers = []

    def press(client, n):
        if n % 2:
            answers.append(client.post('/board/entries/process', data={'change': ids}).status_code)
        else:
            answers.append(client.post(f'/board/entries/{ids[0]}/process').status_code)
    threads = [threading.Thread(target=press, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [303] * 4 and not pending()
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'entry.processed').count() == 2
        assert AuditLog.select().where(AuditLog.action == 'entry.withdrawn').count() == 1
        assert Entry.select().where(Entry.candidate == newcomer.id).count() == 2


def test_tabs_racing_to_send_the_same_entry_leave_one_pending(world, as_, newcomer):
    import threading
    clients = [as_('admin') for _ in range(3)]
    threads = [threading.Thread(target=send_entry, args=(c, world.unit), kwargs={'candidate_id': newcomer.id})
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pending(candidate=newcomer.id)) == 1


def test_processing_from_the_queue_with_htmx_answers_with_the_row_and_the_counts(world, as_, newcomer):
    send_entry(as_('admin'), world.unit, candidate_id=newcomer.id)
    [change] = pending()
    staff = as_('series_staff')
    assert 'hx-post' in staff.get('/board/entries').get_data(as_text=True)
    response = staff.htmx(f'/board/entries/{change.id}/process')
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith(f'<tr id="change-{change.id}"')
    assert 'now on the marksheet' in html and 'hx-swap-oob="true"' in html and '0 changes waiting' in html
    # the page's "process the changes shown" no longer sends it, and goes when none is left (found in the browser)
    assert f'<input id="shown-{change.id}" hx-swap-oob="delete">' in html
    assert '<div id="process-shown" hx-swap-oob="delete"></div>' in html
    again = staff.htmx(f'/board/entries/{change.id}/process').get_data(as_text=True)
    assert 'Already processed by SERIES1' in again and '<form' not in again


def test_a_change_cancelled_before_processing_is_said_so(world, as_, newcomer):
    officer = as_('admin')
    send_entry(officer, world.unit, candidate_id=newcomer.id)
    [change] = pending()
    staff = as_('series_staff')
    staff.get('/board/entries')  # the page shows it
    officer.post(f'/entries/changes/{change.id}/cancel')
    page = process(staff, change).get_data(as_text=True)
    assert 'cancelled this change' in page
    response = staff.htmx(f'/board/entries/{change.id}/process')
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and f'<tr id="change-{change.id}"><td colspan="7">' in html
    assert 'cancelled this change' in html
    assert staff.post('/board/entries/999999/process').status_code == 404
    with db.connection_context():
        assert not Entry.select().where(Entry.candidate == newcomer.id).exists()


def test_the_helpline_acting_for_the_exams_officer_sends_entries_only_with_changes_on(world, as_, newcomer):
    from tests.test_impersonation import acting
    staff = acting(as_, world, 'admin')
    assert 'Pending' not in entries_page(staff, world.series).get_data(as_text=True)
    refused = send_entry(staff, world.unit, candidate_id=newcomer.id)
    assert refused.status_code == 403 and not pending()
    staff.post('/helpline/impersonation/changes', data={'reason': 'The exams officer asked us by phone'})
    assert 'Pending entry' in send_entry(staff, world.unit, candidate_id=newcomer.id).get_data(as_text=True)
    [change] = pending()
    assert change.requested_by_id == world.admin.id
    with db.connection_context():
        [row] = AuditLog.select().where(AuditLog.action == 'entry.requested')
    assert (row.actor_id, row.acting_for_id) == (world.staff.id, world.admin.id)
