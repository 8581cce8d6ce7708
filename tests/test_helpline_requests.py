"""The helpline's one request queue (issue 7, point 4; SPEC 2 Requests, 3.10):
every kind in one list, filtered and oldest breach first; taking a request;
each kind decided end to end with the centre e-mailed in its language; the
outcome amendment of a submitted unit; bad input refused with nothing
written; two tabs deciding at once giving one decision."""
import datetime
import json
import re
import threading

import pytest

import demo
from models import (Account, AuditLog, Candidate, Centre, Entry, Marksheet, Outbox, Outcome, Request,
                    RequestEvent, SampleMember, Submission, Unit, db, utcnow)
from tests import factories

pytestmark = pytest.mark.db

EO = {'eo_name': 'Mrs A Jones', 'eo_email': 'a.jones@example-high.sch.uk'}


@pytest.fixture
def board(world):
    """Centre 68999 with an Exams Officer writing in Welsh, 9611/L3 and C700U3
    submitted (candidate 3001 has a Pass on 9611/L3), 9613/L3 not submitted
    and an e-submission unit."""
    with db.connection_context():
        Centre.update(**EO).where(Centre.id == world.centre.id).execute()
        Centre.update(eo_name='Mr Castle Officer', eo_email='officer@castle.sch.uk').where(
            Centre.id == world.other_centre.id).execute()
        Account.update(contact_name=EO['eo_name'], email=EO['eo_email'], language='cy').where(
            Account.id == world.admin.id).execute()
        Unit.update(e_submission=True).where(Unit.id == world.other_unit.id).execute()
        factories.complete(world.entries, world.admin, 'PPMMD')
        Outcome.update(value='P', score=1).where(Outcome.entry == world.entries[0].id).execute()
        demo.record_outcomes(world.marks_entries, world.admin, ['10', '25', '40'])
        admin = Account.get_by_id(world.admin.id)
        for unit in (world.unit, world.marks_unit):
            Marksheet(Centre.get_by_id(world.centre.id), Unit.get_by_id(unit.id)).submit(admin)
        world.helper = demo.make_account('helpdesk2', 'staff', factories.PASSWORD,
                                         totp_secret=factories.TOTP_SECRET, staff_roles='helpline')
    return world


def count(model, *where):
    with db.connection_context():
        query = model.select()
        return (query.where(*where) if where else query).count()


def fetch(model, *where):
    with db.connection_context():
        return model.get(*where)


def mails_to(address):
    with db.connection_context():
        return list(Outbox.select().where(Outbox.to == address).order_by(Outbox.id))


def make_request(world, kind, hours_old=0, status='pending', centre=None, unit=None, **details):
    """A request as if it had come in `hours_old` hours ago."""
    with db.connection_context():
        return Request.create(kind=kind, centre=centre or world.centre, unit=unit, status=status,
                              details=json.dumps(details), created_by=world.staff,
                              created_at=utcnow() - datetime.timedelta(hours=hours_old, minutes=1))


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def order_of(html, requests):
    """The requests in the order the list shows them."""
    found = [(html.find(f'/helpline/requests/{r.id}"'), r.id) for r in requests]
    assert all(at >= 0 for at, _ in found), found
    return [request_id for _, request_id in sorted(found)]


AMENDMENT = {'kind': 'outcome_amendment', 'centre_number': '68999', 'unit_code': '9611/l3',
             'candidate': '3001', 'requested': 'Merit', 'reference': 'EHS/2017/14',
             'letter_date': '2017-06-02'}


def record(client, **changes):
    return client.post('/helpline/requests/new', data={**AMENDMENT, **changes})


def recorded_amendment(client):
    response = record(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    return fetch(Request, Request.kind == 'outcome_amendment')


def candidate_number(entry):
    return fetch(Candidate, Candidate.id == entry.candidate_id).number


def outcome_of(entry):
    return fetch(Outcome, Outcome.entry == entry.id)


def sample_of(world, unit):
    with db.connection_context():
        return sorted((m.entry_id, m.reason, m.detail) for m in SampleMember.select().join(Entry).where(
            Entry.unit == unit.id, Entry.centre == world.centre.id))


# --- The one list ------------------------------------------------------------------

def test_every_kind_is_in_one_list_furthest_past_its_target_first(board, as_):
    eo = make_request(board, 'eo_change', 50, route='portal', old_name='Old', old_email='old@x.org',
                      new_name='New Officer', new_email='new@x.org')  # 2 hours over 48
    deletion = make_request(board, 'file_deletion', 60, unit=board.other_unit, reason='Wrong unit')  # due in 12
    amendment = make_request(board, 'outcome_amendment', 130, unit=board.unit, entry=board.entries[0].id,
                             candidate='3001', candidate_name='X', requested='M', current='P',
                             reference='R1', letter_date='2017-06-02')  # 10 hours over 120
    opt_out = make_request(board, 'e_submission_opt_out', 125, unit=board.other_unit,
                           reason='No scanner')  # 5 hours over 120
    decided = make_request(board, 'file_deletion', 500, status='rejected', unit=board.other_unit, reason='x')
    html = page(as_('staff'), '/helpline/requests')
    assert order_of(html, [eo, deletion, amendment, opt_out]) == [amendment.id, opt_out.id, eo.id, deletion.id]
    assert f'/helpline/requests/{decided.id}"' not in html  # the list opens on what waits
    for words in ('Change of Exams Officer', 'Outcome amendment', 'Opt-out from e-submission',
                  'File deletion (cohort uploaded against the wrong unit)',
                  '130 hours', 'Over the 120-hour target', '50 hours', 'Over the 48-hour target', '60 hours',
                  '4 requests', 'Reference R1 of 02/06/2017', '9611/L3, candidate 3001: Pass → Merit'):
        assert words in html, words
    assert 'Over the 72-hour target' not in html


def test_the_list_filters_by_kind_status_centre_and_age(board, as_):
    eo = make_request(board, 'eo_change', 1, route='portal', new_name='N', new_email='n@x.org')
    old_deletion = make_request(board, 'file_deletion', 80, unit=board.other_unit, reason='Wrong unit')
    week_old = make_request(board, 'e_submission_opt_out', 200, unit=board.other_unit, reason='r')
    castle = make_request(board, 'e_submission_opt_out', 2, centre=board.other_centre, unit=board.other_unit,
                          reason='r')
    rejected = make_request(board, 'file_deletion', 3, status='rejected', unit=board.other_unit, reason='r')
    everyone = [eo, old_deletion, week_old, castle, rejected]
    staff = as_('staff')

    def shown(query):
        html = page(staff, '/helpline/requests?' + query)
        return {r.id for r in everyone if f'/helpline/requests/{r.id}"' in html}

    assert shown('') == {eo.id, old_deletion.id, week_old.id, castle.id}
    assert shown('kind=e_submission_opt_out') == {week_old.id, castle.id}
    assert shown('status=rejected') == {rejected.id}
    assert shown('status=all') == {r.id for r in everyone}
    assert shown('centre=50551') == {castle.id}
    assert shown('centre=68999&kind=e_submission_opt_out') == {week_old.id}
    assert shown('age=over_target') == {old_deletion.id, week_old.id}  # 80 > 72, 200 > 120
    assert shown('age=over_day') == {old_deletion.id, week_old.id}
    assert shown('age=over_week') == {week_old.id}
    assert shown('age=over_day&kind=file_deletion&status=all') == {old_deletion.id}
    # values outside the allowlists fall back to the defaults; never a 500
    for query in ('kind=entry', "kind=x' OR 1=1 --", 'status=deleted', 'age=-1', 'page=abc', 'page=0',
                  'page=99999999999999999999', 'kind=&status=&age=&centre='):
        assert shown(query) <= {eo.id, old_deletion.id, week_old.id, castle.id}, query
    assert shown('kind=entry') == {eo.id, old_deletion.id, week_old.id, castle.id}
    for number in ('12345', 'abc', '<b>x</b>'):
        response = staff.get('/helpline/requests', query_string={'centre': number})
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and 'There is no centre with the number' in html
        assert not any(f'/helpline/requests/{r.id}"' in html for r in everyone)
        assert '<b>x</b>' not in html


def test_the_list_is_paged_and_pages_keep_the_filters(board, as_):
    for n in range(27):
        make_request(board, 'file_deletion', n, unit=board.other_unit, reason=f'reason {n}')
    make_request(board, 'e_submission_opt_out', 1, unit=board.other_unit, reason='r')
    staff = as_('staff')
    first = page(staff, '/helpline/requests?kind=file_deletion')
    assert '27 requests' in first and 'page 1 of 2' in first
    assert first.count('/helpline/requests/') - first.count('/helpline/requests/new') >= 25
    assert re.search(r'href="/helpline/requests\?[^"]*page=2', first)
    link = re.search(r'href="(/helpline/requests\?[^"]*page=2[^"]*)"', first).group(1).replace('&amp;', '&')
    assert 'kind=file_deletion' in link
    second = page(staff, link)
    assert 'page 2 of 2' in second and 'reason 0' in second and 'reason 26' not in second


def test_a_staff_member_takes_a_request_and_the_list_shows_who_has_it(board, as_):
    deletion = make_request(board, 'file_deletion', 1, unit=board.other_unit, reason='Wrong unit')
    staff = as_('staff')
    assert 'Take this request' in page(staff, '/helpline/requests')
    response = staff.post(f'/helpline/requests/{deletion.id}/take')
    assert response.status_code == 303 and response.location.endswith(f'/helpline/requests/{deletion.id}')
    detail = page(staff, response.location)
    assert 'You have taken this request.' in detail and 'HELPDESK1' in detail
    assert fetch(Request, Request.id == deletion.id).assigned_to_id == board.staff.id
    html = page(staff, '/helpline/requests')
    assert 'HELPDESK1' in html and 'Take this request' not in html
    staff.post(f'/helpline/requests/{deletion.id}/take')
    assert 'This request is already yours.' in page(staff, f'/helpline/requests/{deletion.id}')
    assert count(AuditLog, AuditLog.action == 'request.take') == 1
    # a colleague takes it over: audited with who had it before
    helper = as_('helper')
    helper.post(f'/helpline/requests/{deletion.id}/take')
    assert fetch(Request, Request.id == deletion.id).assigned_to_id == board.helper.id
    with db.connection_context():
        audits = list(AuditLog.select().where(AuditLog.action == 'request.take').order_by(AuditLog.id))
        assert [json.loads(a.before)['assigned_to'] for a in audits] == [None, 'HELPDESK1']
        assert json.loads(audits[1].after)['assigned_to'] == 'HELPDESK2' and audits[1].actor_id == board.helper.id
        assert [(e.status, e.by_id) for e in RequestEvent.select().order_by(RequestEvent.id)] == [
            ('taken', board.staff.id), ('taken', board.helper.id)]
    assert 'Taken' in page(helper, f'/helpline/requests/{deletion.id}')
    # a decided request cannot be taken
    helper.post(f'/helpline/requests/{deletion.id}/reject', data={'note': 'No'})
    response = staff.post(f'/helpline/requests/{deletion.id}/take')
    assert 'already been confirmed or rejected' in page(staff, response.location)
    assert fetch(Request, Request.id == deletion.id).assigned_to_id == board.helper.id
    assert count(AuditLog, AuditLog.action == 'request.take') == 2


# --- The outcome amendment -----------------------------------------------------------

def test_an_outcome_amendment_end_to_end(app, board, as_):
    staff = as_('staff')
    form = page(staff, '/helpline/requests/new?kind=outcome_amendment&centre_number=68999')
    assert '9611/L3 CRIMINOLOGICAL THEORIES' in form and 'C700U3' in form
    assert '9613/L3' not in form  # not submitted: the centre can still change it
    sample_before = sample_of(board, board.unit)
    before = outcome_of(board.entries[0])
    change = recorded_amendment(staff)
    assert change.status == 'pending' and change.unit_id == board.unit.id
    assert change.info['requested'] == 'M' and change.info['current'] == 'P'
    assert change.info['reference'] == 'EHS/2017/14' and change.info['letter_date'] == '2017-06-02'
    detail = page(staff, f'/helpline/requests/{change.id}')
    for words in ('Outcome amendment: EXAMPLE HIGH SCHOOL (68999)', 'Current outcome', 'Pass', 'Merit',
                  'EHS/2017/14', '02/06/2017', '3001', 'Status history', 'Pending', 'New outcome',
                  'Reason for the amendment'):
        assert words in detail, words
    assert outcome_of(board.entries[0]).value == 'P'  # nothing changes until it is confirmed

    response = staff.post(f'/helpline/requests/{change.id}/confirm',
                          data={'value': 'M', 'reason': 'Clerical error: the teacher entered the wrong grade'})
    assert response.status_code == 303
    done = page(staff, response.location)
    assert 'Amended: the outcome for candidate 3001 is now Merit.' in done
    assert 'The centre&#39;s Exams Officer has been told by e-mail.' in done and 'Confirmed' in done
    after = outcome_of(board.entries[0])
    assert (after.value, after.score, after.amended) == ('M', 2, True)
    assert after.version == before.version + 1 and after.entered_by_id == board.staff.id
    with db.connection_context():
        audit = AuditLog.get(AuditLog.action == 'outcome.amend')
        assert audit.target == f'entry:{board.entries[0].id}' and audit.actor_id == board.staff.id
        assert audit.centre_id == board.centre.id and json.loads(audit.before) == 'P'
        assert json.loads(audit.after) == {'value': 'M', 'reason': 'Clerical error: the teacher entered the wrong grade',
                                           'request': change.id, 'reference': 'EHS/2017/14'}
        assert [e.status for e in RequestEvent.select().where(RequestEvent.request == change.id)
                .order_by(RequestEvent.id)] == ['pending', 'confirmed']
        assert Submission.select().where(Submission.centre == board.centre.id,
                                         Submission.unit == board.unit.id).count() == 1
    assert sample_of(board, board.unit) == sample_before
    assert fetch(Request, Request.id == change.id).status == 'confirmed'
    # the marksheet shows the amended value, said to be the board's
    sheet = as_('admin').get(f'/internal-assessment/{board.unit.id}?rows=all').get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{board.entries[0].id}".*?</tr>', sheet, re.S).group(0)
    assert "wedi'i ddiwygio gan y bwrdd" in row and 'Teilyngdod' in row  # the admin reads Welsh
    assert sheet.count("wedi'i ddiwygio gan y bwrdd") == 1
    # the Exams Officer is told, in Welsh (their account's language)
    (mail,) = mails_to(EO['eo_email'])
    assert mail.language == 'cy' and mail.key == f'request-{change.id}-confirmed'
    for words in ('Llwyddo', 'Teilyngdod', 'Clerical error: the teacher entered the wrong grade', 'EHS/2017/14',
                  '02/06/2017', '3001', '9611/L3'):
        assert words in mail.body, words
    assert '9611/L3' in mail.subject


def test_a_marks_unit_amendment_and_absent(board, as_):
    staff = as_('staff')
    entry = board.marks_entries[0]
    number = candidate_number(entry)
    current = outcome_of(entry).value
    wanted = '33' if current != '33' else '34'
    response = record(staff, unit_code='C700U3', candidate=number, requested=wanted)
    assert response.status_code == 303
    change = fetch(Request, Request.kind == 'outcome_amendment')
    response = staff.post(f'/helpline/requests/{change.id}/confirm', data={'value': 'absent', 'reason': 'Was absent'})
    assert response.status_code == 303
    assert (outcome_of(entry).value, outcome_of(entry).score, outcome_of(entry).amended) == ('A', -1, True)


def test_rejecting_an_amendment_changes_nothing_and_tells_the_centre(board, as_):
    staff = as_('staff')
    change = recorded_amendment(staff)
    response = staff.post(f'/helpline/requests/{change.id}/reject', data={'note': 'Work was marked as submitted'})
    assert response.status_code == 303
    assert 'Rejected: nothing has changed.' in page(staff, response.location)
    assert (outcome_of(board.entries[0]).value, outcome_of(board.entries[0]).amended) == ('P', False)
    assert fetch(Request, Request.id == change.id).status == 'rejected'
    assert count(AuditLog, AuditLog.action == 'outcome_amendment.reject') == 1
    assert count(AuditLog, AuditLog.action == 'outcome.amend') == 0
    (mail,) = mails_to(EO['eo_email'])
    assert mail.language == 'cy' and 'Work was marked as submitted' in mail.body and 'Teilyngdod' in mail.body


# --- File deletion and opt-out from e-submission -----------------------------------------

@pytest.mark.parametrize('kind,decision,words,subject', [
    ('file_deletion', 'confirm', 'has accepted your request to delete the files', 'File deletion accepted'),
    ('file_deletion', 'reject', 'has not accepted your request to delete the files', 'File deletion not accepted'),
    ('e_submission_opt_out', 'confirm', 'has accepted your request to opt out of e-submission',
     'Opt-out from e-submission accepted'),
    ('e_submission_opt_out', 'reject', 'has not accepted your request to opt out of e-submission',
     'Opt-out from e-submission not accepted'),
])
def test_file_deletion_and_opt_out_are_recorded_and_decided(board, as_, kind, decision, words, subject):
    with db.connection_context():  # this Exams Officer reads English
        Account.update(language='en').where(Account.id == board.admin.id).execute()
    staff = as_('staff')
    form = page(staff, f'/helpline/requests/new?kind={kind}&centre_number=68999')
    assert '9613/L3 SOCIAL CONTROL' in form and '9611/L3 CRIMINOLOGICAL' not in form
    response = staff.post('/helpline/requests/new', data={
        'kind': kind, 'centre_number': '68999', 'unit_id': str(board.other_unit.id),
        'reason': 'The whole cohort was uploaded against 9613/L3 instead of 9611/L3'})
    assert response.status_code == 303
    change = fetch(Request, Request.kind == kind)
    assert change.unit_id == board.other_unit.id and change.created_by_id == board.staff.id
    detail = page(staff, response.location)
    assert 'uploaded against 9613/L3 instead of 9611/L3' in detail
    if kind == 'file_deletion':
        assert 'No uploaded files are held yet: accepting records the decision and tells the centre; it deletes nothing.' in detail
    assert ('>Accept<' in detail) and ('>Reject<' in detail)
    response = staff.post(f'/helpline/requests/{change.id}/{decision}', data={'note': 'Checked with the centre'})
    assert response.status_code == 303
    done = page(staff, response.location)
    status = 'confirmed' if decision == 'confirm' else 'rejected'
    assert ('Accepted: the decision is recorded.' if status == 'confirmed' else 'Rejected: nothing has changed.') in done
    assert fetch(Request, Request.id == change.id).status == status
    assert count(AuditLog, AuditLog.action == f'{kind}.{decision}') == 1
    (mail,) = mails_to(EO['eo_email'])
    assert mail.language == 'en' and words in mail.body and 'Checked with the centre' in mail.body
    assert subject in mail.subject and '9613/L3' in mail.subject
    import requests_queue
    with db.connection_context():
        opted_out = requests_queue.opted_out(board.centre.id, board.other_unit.id)
    assert opted_out == (kind == 'e_submission_opt_out' and status == 'confirmed')


def test_a_second_request_for_the_same_unit_waits_for_the_first(board, as_):
    staff = as_('staff')
    data = {'kind': 'file_deletion', 'centre_number': '68999', 'unit_code': '9613/L3', 'reason': 'Wrong unit'}
    assert staff.post('/helpline/requests/new', data=data).status_code == 303
    again = staff.post('/helpline/requests/new', data=data)
    assert again.status_code == 409 and 'is already waiting' in again.get_data(as_text=True)
    assert count(Request) == 1
    assert recorded_amendment(staff)
    again = record(staff)
    assert again.status_code == 409 and 'An amendment for this candidate is already waiting' in again.get_data(as_text=True)
    assert count(Request, Request.kind == 'outcome_amendment') == 1


# --- Bad input: a clear message, nothing written, never a 500 -------------------------------

@pytest.mark.parametrize('changes,message', [
    ({'unit_code': '9613/L3'}, 'Outcomes for 9613/L3 have not been submitted by this centre'),
    ({'requested': 'Excellent'}, '“Excellent” is not an outcome for this unit'),
    ({'requested': ''}, 'Enter the outcome the centre asks for.'),
    ({'unit_code': 'C700U3', 'candidate': '3001', 'requested': '41'}, '41 is out of range: marks run from 0 to 40.'),
    ({'unit_code': 'C700U3', 'candidate': '3001', 'requested': 'Merit'}, '“Merit” is not a mark'),
    ({'requested': 'Pass'}, 'That is already the candidate’s outcome: nothing has changed.'),
    ({'candidate': '4001'}, 'Candidate “4001” is not entered for 9611/L3 at this centre.'),
    ({'candidate': '<script>'}, 'Candidate “&lt;script&gt;” is not entered'),
    ({'reference': ''}, "Enter the centre&#39;s reference"),
    ({'reference': 'R' * 101}, "Enter the centre&#39;s reference"),
    ({'letter_date': ''}, "Enter the date of the centre&#39;s letter or e-mail"),
    ({'letter_date': '2099-01-01'}, 'not in the future'),
    ({'letter_date': '31/02/2017'}, "Enter the date of the centre&#39;s letter or e-mail"),
    ({'centre_number': '12345'}, 'There is no centre with the number “12345”.'),
    ({'unit_code': ''}, 'Enter the unit code, or choose one of the centre&#39;s units.'),
    ({'unit_code': 'XYZ/1'}, 'Centre 68999 has no entries for a unit with the code “XYZ/1”.'),
    ({'unit_id': 'not submitted'}, 'Choose one of the centre&#39;s units listed.'),
    ({'unit_id': 'abc'}, 'Choose one of the centre&#39;s units listed.'),
    ({'unit_id': '99999999999999999999999'}, 'Choose one of the centre&#39;s units listed.'),
    ({'kind': 'entry'}, 'Choose the kind of request.'),
])
def test_a_bad_amendment_request_is_refused_with_nothing_recorded(board, as_, changes, message):
    staff = as_('staff')
    if 'candidate' in changes and changes.get('unit_code') == 'C700U3':
        changes['candidate'] = candidate_number(board.marks_entries[0])
    if changes.get('unit_id') == 'not submitted':
        changes['unit_id'] = str(board.other_unit.id)
    response = record(staff, **changes)
    assert response.status_code in (409, 422), response.status_code
    assert message in response.get_data(as_text=True)
    assert count(Request) == 0 and count(RequestEvent) == 0
    assert count(AuditLog, AuditLog.action.startswith('outcome_amendment')) == 0


@pytest.mark.parametrize('data,message', [
    ({'value': 'M', 'reason': ''}, 'Give the reason for the amendment'),
    ({'value': 'M', 'reason': '   '}, 'Give the reason for the amendment'),
    ({'value': 'M', 'reason': 'x' * 1001}, 'Give the reason for the amendment'),
    ({'value': 'Z', 'reason': 'Clerical error'}, '“Z” is not an outcome for this unit'),
    ({'value': '', 'reason': 'Clerical error'}, 'Enter the new outcome.'),
    ({'value': 'P', 'reason': 'Clerical error'}, 'That is already the candidate’s outcome'),
])
def test_a_bad_confirmation_changes_nothing(board, as_, data, message):
    staff = as_('staff')
    change = recorded_amendment(staff)
    before = outcome_of(board.entries[0])
    response = staff.post(f'/helpline/requests/{change.id}/confirm', data=data)
    assert response.status_code in (409, 422)
    html = response.get_data(as_text=True)
    assert message in html and 'Nothing has been changed' in html
    assert 'Clerical error' in html if data['reason'] == 'Clerical error' else True  # what was typed is kept
    after = outcome_of(board.entries[0])
    assert (after.value, after.version, after.amended) == (before.value, before.version, False)
    assert fetch(Request, Request.id == change.id).status == 'pending'
    assert count(RequestEvent, RequestEvent.request == change.id) == 1
    assert count(AuditLog, AuditLog.action == 'outcome.amend') == 0 and mails_to(EO['eo_email']) == []


def test_an_amendment_on_an_unsubmitted_unit_is_refused_at_the_decision_too(board, as_):
    entry = board.other_unit_entries[0]
    with db.connection_context():
        factories.complete([entry], board.admin, 'P')
    change = make_request(board, 'outcome_amendment', 1, unit=board.other_unit, entry=entry.id, candidate='3001',
                          candidate_name='X', requested='M', current='P', reference='R', letter_date='2017-06-01')
    staff = as_('staff')
    response = staff.post(f'/helpline/requests/{change.id}/confirm', data={'value': 'M', 'reason': 'Asked'})
    assert response.status_code == 409
    assert 'Outcomes for 9613/L3 have not been submitted by this centre' in response.get_data(as_text=True)
    assert (outcome_of(entry).value, outcome_of(entry).amended) == ('P', False)
    assert fetch(Request, Request.id == change.id).status == 'pending'
    assert count(RequestEvent) == 0 and count(AuditLog, AuditLog.action == 'outcome.amend') == 0
    assert mails_to(EO['eo_email']) == []


def test_forged_ids_answer_404(board, as_):
    staff = as_('staff')
    entry_request = make_request(board, 'entry', 1)  # series staff's work, not the helpline's
    for request_id in (999999, entry_request.id, '99999999999999999999'):
        assert staff.get(f'/helpline/requests/{request_id}').status_code == 404
        for action in ('take', 'confirm', 'reject'):
            assert staff.post(f'/helpline/requests/{request_id}/{action}',
                              data={'value': 'M', 'reason': 'x'}).status_code == 404
    assert staff.get('/helpline/requests/abc').status_code == 404
    assert count(RequestEvent) == 0 and count(AuditLog, AuditLog.action.in_(['request.take'])) == 0


@pytest.mark.parametrize('role', ['admin', 'teacher', 'other_admin', 'moderator'])
def test_only_staff_record_take_and_decide(board, as_, role):
    change = make_request(board, 'file_deletion', 1, unit=board.other_unit, reason='r')
    client = as_(role)
    assert client.get('/helpline/requests/new').status_code == 403
    assert client.post('/helpline/requests/new', data={**AMENDMENT}).status_code == 403
    for action in ('take', 'confirm', 'reject'):
        assert client.post(f'/helpline/requests/{change.id}/{action}').status_code == 403
    assert count(Request) == 1 and fetch(Request, Request.id == change.id).status == 'pending'


# --- Twice, and two tabs at once --------------------------------------------------------

def test_deciding_twice_gives_one_decision(board, as_):
    staff = as_('staff')
    change = recorded_amendment(staff)
    staff.post(f'/helpline/requests/{change.id}/confirm', data={'value': 'M', 'reason': 'First tab'})
    for action, data in (('confirm', {'value': 'D', 'reason': 'Second tab'}), ('reject', {'note': 'No'})):
        response = staff.post(f'/helpline/requests/{change.id}/{action}', data=data)
        assert response.status_code == 303
        html = page(staff, response.location)
        assert 'This request has already been confirmed or rejected: nothing has changed.' in html
        assert 'New outcome' not in html
    assert outcome_of(board.entries[0]).value == 'M'
    assert count(RequestEvent, RequestEvent.status.in_(['confirmed', 'rejected'])) == 1
    assert count(AuditLog, AuditLog.action == 'outcome.amend') == 1 and len(mails_to(EO['eo_email'])) == 1


def race(clients, calls):
    threads = [threading.Thread(target=client.post, args=call[:1], kwargs={'data': call[1]})
               for client, call in zip(clients, calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_tabs_confirming_an_amendment_at_once_make_one_amendment(board, as_):
    change = recorded_amendment(as_('staff'))
    before = outcome_of(board.entries[0])
    clients = [as_('staff'), as_('helper'), as_('staff'), as_('helper')]
    url = f'/helpline/requests/{change.id}/confirm'
    race(clients, [(url, {'value': value, 'reason': f'Tab {n}'}) for n, value in enumerate('MDMD')])
    after = outcome_of(board.entries[0])
    assert after.value in ('M', 'D') and after.version == before.version + 1
    assert count(RequestEvent, RequestEvent.status == 'confirmed') == 1
    assert count(AuditLog, AuditLog.action == 'outcome.amend') == 1 and len(mails_to(EO['eo_email'])) == 1


def test_accepting_and_rejecting_at_once_make_one_decision(board, as_):
    change = make_request(board, 'e_submission_opt_out', 1, unit=board.other_unit, reason='r')
    clients = [as_('staff'), as_('helper'), as_('staff'), as_('helper')]
    race(clients, [(f'/helpline/requests/{change.id}/{action}', {'note': action})
                   for action in ('confirm', 'reject', 'confirm', 'reject')])
    decided = fetch(Request, Request.id == change.id).status
    assert decided in ('confirmed', 'rejected')
    assert count(RequestEvent, RequestEvent.status.in_(['confirmed', 'rejected'])) == 1
    assert count(AuditLog, AuditLog.action.startswith('e_submission_opt_out.')) == 1
    assert len(mails_to(EO['eo_email'])) == 1


# --- The change of Exams Officer in the same queue ---------------------------------------------

def test_a_change_of_exams_officer_is_in_the_same_queue_with_its_history(board, as_):
    staff = as_('staff')
    staff.post('/helpline/requests/letterhead', data={
        'centre_number': '50551', 'new_name': 'Ms New', 'new_email': 'new@castle.sch.uk', 'signed_off': '1',
        'security_check': 'Called the school'})
    change = fetch(Request, Request.kind == 'eo_change')
    html = page(staff, '/helpline/requests?kind=eo_change&centre=50551')
    assert f'/helpline/requests/{change.id}"' in html and 'Letterhead' in html and 'Ms New' in html
    staff.post(f'/helpline/requests/{change.id}/take')
    staff.post(f'/helpline/requests/{change.id}/reject', data={'note': 'Not signed'})
    detail = page(staff, f'/helpline/requests/{change.id}')
    assert re.search(r'Pending.*Taken.*Rejected', detail, re.S)
    assert 'HELPDESK1' in page(staff, '/helpline/requests?status=rejected')
    (mail,) = mails_to('officer@castle.sch.uk')
    assert 'Not signed' in mail.body


def test_the_list_reads_a_page_in_the_same_queries_however_many_requests(board, as_, monkeypatch):
    staff = as_('staff')
    seen = []
    execute = db.obj.execute_sql

    def counting(sql, *args, **kwargs):
        seen.append(sql)
        return execute(sql, *args, **kwargs)

    def queries_for_the_list():
        seen.clear()
        monkeypatch.setattr(db.obj, 'execute_sql', counting)
        try:
            assert staff.get('/helpline/requests?status=all').status_code == 200
        finally:
            monkeypatch.setattr(db.obj, 'execute_sql', execute)
        return len(seen)

    make_request(board, 'file_deletion', 1, unit=board.other_unit, reason='r')
    few = queries_for_the_list()
    assert few > 0
    for n in range(8):
        make_request(board, 'outcome_amendment', n, unit=board.unit, entry=board.entries[n].id, candidate='3001',
                     candidate_name='X', requested='M', current='P', reference='R', letter_date='2017-06-01')
        make_request(board, 'eo_change', n, route='portal', new_name='N', new_email='n@x.org')
        make_request(board, 'e_submission_opt_out', n, unit=board.other_unit, reason='r',
                     status='rejected')
    with db.connection_context():
        Request.update(assigned_to=board.helper.id).execute()
    assert queries_for_the_list() == few
