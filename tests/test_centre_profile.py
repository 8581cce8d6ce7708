"""Manage Centre and the change of Exams Officer (SPEC 3.9, 3.10): from the
Portal or on letterhead, confirmed or rejected by the helpline, then the new
Exams Officer sets a password and signs in as the centre number."""
import datetime
import json
import re
import threading

import pytest

from models import Account, AuditLog, Centre, Outbox, Request, RequestEvent, Token, db, utcnow
from tests import factories

pytestmark = pytest.mark.db

OLD = {'eo_name': 'Mrs A Jones', 'eo_email': 'a.jones@example-high.sch.uk'}
NEW = {'eo_name': 'Mr C Evans', 'eo_email': 'c.evans@example-high.sch.uk'}
NEW_PASSWORD = 'NewEo2024pass'
HOSTILE = '<img src=x onerror=alert(1)>'


@pytest.fixture
def centres(world):
    """Both centres with an Exams Officer, a Head of Centre and a telephone."""
    with db.connection_context():
        Centre.update(head_of_centre='Mr B Head', telephone='029 2000 0000', **OLD).where(
            Centre.id == world.centre.id).execute()
        Centre.update(head_of_centre='Ms Castle Head', telephone='01656 000000',
                      eo_name='Mr Castle Officer', eo_email='officer@castle.sch.uk').where(
            Centre.id == world.other_centre.id).execute()
        Account.update(contact_name=OLD['eo_name'], email=OLD['eo_email']).where(
            Account.id == world.admin.id).execute()
    return world


def centre(world):
    with db.connection_context():
        return Centre.get_by_id(world.centre.id)


def admin_account(world):
    with db.connection_context():
        return Account.get_by_id(world.admin.id)


def count(model, *where):
    with db.connection_context():
        query = model.select()
        return (query.where(*where) if where else query).count()


def profile(client, **changes):
    """Post Manage Centre as the page stands, with `changes`."""
    html = client.get('/centre/').get_data(as_text=True)
    form = {name: value for name, value in re.findall(r'name="(\w+)" type="\w+" value="([^"]*)"', html)}
    form = {name: value for name, value in form.items() if name != 'csrf_token'}
    form.update(changes)
    return client.post('/centre/', data=form)


def only_request():
    with db.connection_context():
        return Request.get(Request.kind == 'eo_change')  # .info reads its details


def mails_to(address):
    with db.connection_context():
        return list(Outbox.select().where(Outbox.to == address).order_by(Outbox.id))


def welcome_token(app, address):
    (mail,) = [m for m in mails_to(address) if '/welcome#' in m.body]
    return factories.delivered_token(app, mail)


def set_password_and_sign_in(app, address):
    """Follow the invitation as the new Exams Officer; returns their signed-in client."""
    client = app.test_client()
    token = welcome_token(app, address)
    assert client.get('/welcome').status_code == 200
    response = client.post('/welcome', data={'token': token, 'password': NEW_PASSWORD,
                                             'confirmation': NEW_PASSWORD})
    assert response.status_code == 303 and response.location.endswith('/login')
    assert client.login('68999', NEW_PASSWORD).status_code == 303
    return client


def staff_post(as_, url, **data):
    client = as_('staff')
    client.get('/helpline/requests')
    return client.post(url, data=data)


# --- Manage Centre -------------------------------------------------------------

def test_manage_centre_has_the_guides_sections_and_a_read_only_telephone(centres, as_):
    html = as_('admin').get('/centre/').get_data(as_text=True)
    for words in ('Manage Centre', 'Account Details: (68999) - Administrator', 'Examinations Officer Details',
                  'Name:', 'Email Address:', 'Centre Details', 'Head of Centre Name:',
                  'Telephone Number (Update via NCN):', 'Post Results Email Address',
                  'For receiving email alerts regarding review of marking and clerical error requests.',
                  'Email Address (if different from EO Email):', 'Save Changes',
                  OLD['eo_name'], OLD['eo_email'], 'Mr B Head', '029 2000 0000'):
        assert words in html, words
    assert 'name="telephone"' not in html and 'name="csrf_token"' in html
    assert '>Manage Centre</a>' in html


def test_head_of_centre_and_post_results_email_change_at_once_with_an_audit_row(centres, as_):
    client = as_('admin')
    response = profile(client, head_of_centre='Dr D Newhead', post_results_email='results@example-high.sch.uk')
    assert response.status_code == 303
    assert 'Centre details saved.' in client.get(response.location).get_data(as_text=True)
    now = centre(centres)
    assert (now.head_of_centre, now.post_results_email) == ('Dr D Newhead', 'results@example-high.sch.uk')
    assert (now.eo_name, now.eo_email) == (OLD['eo_name'], OLD['eo_email'])
    with db.connection_context():
        audit = AuditLog.get(AuditLog.action == 'centre.update')
    assert json.loads(audit.before)['head_of_centre'] == 'Mr B Head'
    assert json.loads(audit.after) == {'head_of_centre': 'Dr D Newhead',
                                       'post_results_email': 'results@example-high.sch.uk'}
    assert audit.actor_id == centres.admin.id and audit.centre_id == centres.centre.id
    assert count(Request) == 0
    profile(client, post_results_email='')  # optional: cleared again
    assert centre(centres).post_results_email is None


def test_a_new_exams_officer_waits_for_the_board(app, centres, as_):
    client = as_('admin')
    response = profile(client, **NEW)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert 'The change of Exams Officer has been sent to WJEC' in page
    assert 'The current details stay in force until WJEC confirms the change' in page
    assert 'A change of Exams Officer is waiting for the board' in page
    assert (centre(centres).eo_name, centre(centres).eo_email) == (OLD['eo_name'], OLD['eo_email'])
    assert admin_account(centres).email == OLD['eo_email']
    change = only_request()
    assert change.status == 'pending' and change.centre_id == centres.centre.id
    assert change.created_by_id == centres.admin.id
    assert change.info == {'route': 'portal', 'old_name': OLD['eo_name'], 'old_email': OLD['eo_email'],
                           'new_name': NEW['eo_name'], 'new_email': NEW['eo_email']}
    assert count(RequestEvent, RequestEvent.request == change.id, RequestEvent.status == 'pending') == 1
    (mail,) = mails_to(app.config['BOARD_EO_CHANGE_EMAIL'])
    assert '68999' in mail.subject
    for words in ('EXAMPLE HIGH SCHOOL', OLD['eo_name'], OLD['eo_email'], NEW['eo_name'], NEW['eo_email'],
                  '68999', f"{app.config['PUBLIC_URL']}/helpline/requests/{change.id}"):
        assert words in mail.body, words


def test_a_second_change_is_refused_while_one_waits(centres, as_):
    client = as_('admin')
    profile(client, **NEW)
    response = profile(client, eo_name='Someone Else', eo_email='someone@example.org')
    assert response.status_code == 409
    assert 'A change of Exams Officer is already waiting for the board' in response.get_data(as_text=True)
    assert count(Request) == 1 and only_request().info['new_name'] == NEW['eo_name']
    # the rest of the profile can still be changed while the request waits
    assert profile(client, head_of_centre='Dr D Newhead').status_code == 303
    assert centre(centres).head_of_centre == 'Dr D Newhead' and count(Request) == 1


def test_changes_racing_from_two_sessions_open_one_request(app, centres, as_):
    clients = [as_('admin') for _ in range(4)]
    for client in clients:
        client.get('/centre/')
    results = []

    def change(client, n):
        results.append(client.post('/centre/', data={
            'eo_name': f'Officer {n}', 'eo_email': f'officer{n}@example.org',
            'head_of_centre': 'Mr B Head', 'post_results_email': ''}).status_code)

    threads = [threading.Thread(target=change, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303, 409, 409, 409]
    assert count(Request) == 1 and len(mails_to(app.config['BOARD_EO_CHANGE_EMAIL'])) == 1


# --- The helpline ------------------------------------------------------------------

def test_staff_see_the_request_in_the_queue_with_its_age(centres, as_):
    profile(as_('admin'), **NEW)
    change = only_request()
    page = as_('staff').get('/helpline/requests').get_data(as_text=True)
    for words in ('68999 EXAMPLE HIGH SCHOOL', OLD['eo_name'], NEW['eo_name'], NEW['eo_email'], 'Portal',
                  '68999', '0 hours', f'/helpline/requests/{change.id}'):
        assert words in page, words
    assert 'Over the 48-hour target' not in page
    with db.connection_context():
        Request.update(created_at=utcnow() - datetime.timedelta(hours=50)).where(
            Request.id == change.id).execute()
    page = as_('staff').get('/helpline/requests').get_data(as_text=True)
    assert '50 hours' in page and 'Over the 48-hour target' in page
    detail = as_('staff').get(f'/helpline/requests/{change.id}').get_data(as_text=True)
    assert 'Status history' in detail and 'Pending' in detail and '>Confirm<' in detail


def test_confirm_hands_the_centre_to_the_new_exams_officer(app, centres, as_):
    old_eo = as_('admin')
    profile(old_eo, **NEW)
    change = only_request()
    before = admin_account(centres)
    response = staff_post(as_, f'/helpline/requests/{change.id}/confirm', note='Phoned the centre')
    assert response.status_code == 303
    now = centre(centres)
    assert (now.eo_name, now.eo_email) == (NEW['eo_name'], NEW['eo_email'])
    account = admin_account(centres)
    assert (account.contact_name, account.email) == (NEW['eo_name'], NEW['eo_email'])
    assert account.password_hash == '' and account.session_secret != before.session_secret
    assert only_request().status == 'confirmed'
    with db.connection_context():
        assert [e.status for e in RequestEvent.select().order_by(RequestEvent.id)] == ['pending', 'confirmed']
        audit = AuditLog.get(AuditLog.action == 'eo_change.confirm')
        assert audit.actor_id == centres.staff.id and json.loads(audit.after)['eo_email'] == NEW['eo_email']
    # the old Exams Officer's session has ended, and the old password no longer works
    response = old_eo.get('/centre/')
    assert response.status_code == 303 and '/login' in response.location
    assert app.test_client().login('68999').status_code == 401
    # the new Exams Officer is invited, sets a password and signs in as the centre number
    new_eo = set_password_and_sign_in(app, NEW['eo_email'])
    page = new_eo.get('/centre/').get_data(as_text=True)
    assert NEW['eo_name'] in page and 'waiting for the board' not in page


def test_reject_changes_nothing_and_tells_the_centre(app, centres, as_):
    admin = as_('admin')
    profile(admin, **NEW)
    change = only_request()
    response = staff_post(as_, f'/helpline/requests/{change.id}/reject', note='Not signed off by the head')
    assert response.status_code == 303
    assert only_request().status == 'rejected'
    assert (centre(centres).eo_name, centre(centres).eo_email) == (OLD['eo_name'], OLD['eo_email'])
    account = admin_account(centres)
    assert account.email == OLD['eo_email'] and account.password_hash
    assert admin.get('/centre/').status_code == 200  # still signed in
    (mail,) = mails_to(OLD['eo_email'])
    assert 'not been made' in mail.body and 'Not signed off by the head' in mail.body
    assert NEW['eo_name'] in mail.body
    assert mails_to(NEW['eo_email']) == [] and count(Token) == 0
    # settled: the centre may ask again
    assert 'waiting for the board' not in admin.get('/centre/').get_data(as_text=True)
    assert profile(admin, eo_name='Someone Else', eo_email='someone@example.org').status_code == 303
    assert count(Request, Request.status == 'pending') == 1


def test_the_letterhead_route_through_to_the_new_exams_officer_signing_in(app, centres, as_):
    staff = as_('staff')
    page = staff.get('/helpline/requests').get_data(as_text=True)
    assert 'Record a letterhead request' in page
    good = {'centre_number': '68999', 'new_name': NEW['eo_name'], 'new_email': NEW['eo_email'],
            'signed_off': '1', 'security_check': "Called the centre's registered number; spoke to the head"}
    refusals = [({'centre_number': '12345'}, 'There is no centre with the number “12345”.'),
                ({'centre_number': '6899x'}, 'There is no centre with the number'),
                ({'signed_off': ''}, 'must be signed off by the Head of Centre or senior leadership'),
                ({'security_check': '  '}, 'Say what was checked'),
                ({'new_email': 'c.evans'}, 'Enter an e-mail address in the form'),
                ({'new_name': ''}, 'Enter a name.')]
    for change, message in refusals:
        response = staff.post('/helpline/requests/letterhead', data={**good, **change})
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    assert count(Request) == 0 and count(AuditLog, AuditLog.action.startswith('eo_change')) == 0

    response = staff.post('/helpline/requests/letterhead', data=good)
    assert response.status_code == 303
    change = only_request()
    assert change.info['route'] == 'letterhead' and change.info['signed_off'] is True
    assert change.info['security_check'] == good['security_check'] and change.created_by_id == centres.staff.id
    detail = staff.get(response.location).get_data(as_text=True)
    assert 'Letterhead' in detail and 'called the centre&#39;s registered number' in detail.lower()
    assert mails_to(app.config['BOARD_EO_CHANGE_EMAIL']) == []  # the board recorded it itself
    again = staff.post('/helpline/requests/letterhead', data=good)
    assert again.status_code == 409 and count(Request) == 1

    assert staff.post(f'/helpline/requests/{change.id}/confirm').status_code == 303
    with db.connection_context():
        assert [e.status for e in RequestEvent.select().order_by(RequestEvent.id)] == ['pending', 'confirmed']
        assert AuditLog.select().where(AuditLog.action == 'eo_change.request').count() == 1
        assert AuditLog.select().where(AuditLog.action == 'eo_change.confirm').count() == 1
    assert centre(centres).eo_email == NEW['eo_email']
    set_password_and_sign_in(app, NEW['eo_email'])


# --- Bad input, twice, races, other centres, access --------------------------------

@pytest.mark.parametrize('field,value,message', [
    ('eo_email', 'not-an-email', 'Enter an e-mail address in the form'),
    ('eo_email', 'a@b', 'Enter an e-mail address in the form'),
    ('eo_email', 'x' * 250 + '@example.org', 'Enter an e-mail address in the form'),
    ('eo_email', HOSTILE, 'Enter an e-mail address in the form'),
    ('eo_email', '', 'Enter an e-mail address.'),
    ('eo_name', '', 'Enter a name.'),
    ('eo_name', 'N' * 201, 'Use at most 200 characters.'),
    ('head_of_centre', '   ', 'Enter a name.'),
    ('head_of_centre', 'H' * 201, 'Use at most 200 characters.'),
    ('post_results_email', 'results@', 'Enter an e-mail address in the form'),
])
def test_bad_input_is_refused_beside_the_field_and_changes_nothing(centres, as_, field, value, message):
    client = as_('admin')
    response = profile(client, **{'head_of_centre': 'Dr D Newhead', field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(message)}', html), html
    assert 'Nothing has been saved' in html
    now = centre(centres)
    assert (now.eo_name, now.eo_email, now.head_of_centre) == (OLD['eo_name'], OLD['eo_email'], 'Mr B Head')
    assert count(Request) == 0 and count(AuditLog, AuditLog.action == 'centre.update') == 0 and count(Outbox) == 0


def test_hostile_text_is_shown_escaped_everywhere(app, centres, as_):
    client = as_('admin')
    assert profile(client, head_of_centre=HOSTILE, eo_name=HOSTILE).status_code == 303
    assert centre(centres).head_of_centre == HOSTILE
    pages = [client.get('/centre/').get_data(as_text=True),
             as_('staff').get('/helpline/requests').get_data(as_text=True),
             as_('staff').get(f'/helpline/requests/{only_request().id}').get_data(as_text=True)]
    for html in pages:
        assert '&lt;img src=x onerror=alert(1)&gt;' in html and HOSTILE not in html
    (mail,) = mails_to(app.config['BOARD_EO_CHANGE_EMAIL'])
    assert HOSTILE in mail.body and '&lt;' not in mail.body  # plain text, as typed


def test_a_posted_centre_or_telephone_is_ignored(centres, as_):
    client = as_('admin')
    response = profile(client, head_of_centre='Dr D Newhead', centre_id=str(centres.other_centre.id),
                       centre=str(centres.other_centre.id), telephone='0800 666 666', number='50551')
    assert response.status_code == 303
    now = centre(centres)
    assert (now.head_of_centre, now.telephone, now.number) == ('Dr D Newhead', '029 2000 0000', '68999')
    with db.connection_context():
        other = Centre.get_by_id(centres.other_centre.id)
    assert (other.head_of_centre, other.telephone) == ('Ms Castle Head', '01656 000000')


def test_confirming_twice_is_refused_and_changes_nothing(app, centres, as_):
    profile(as_('admin'), **NEW)
    change = only_request()
    staff_post(as_, f'/helpline/requests/{change.id}/confirm')
    set_password_and_sign_in(app, NEW['eo_email'])
    account = admin_account(centres)
    for action in ('confirm', 'reject'):
        staff = as_('staff')
        response = staff.post(f'/helpline/requests/{change.id}/{action}')
        assert response.status_code == 303
        page = staff.get(response.location).get_data(as_text=True)
        assert 'This request has already been confirmed or rejected: nothing has changed.' in page
        assert '>Confirm<' not in page
    again = admin_account(centres)
    assert (again.password_hash, again.session_secret) == (account.password_hash, account.session_secret)
    assert only_request().status == 'confirmed' and count(RequestEvent) == 2
    assert count(Token) == 1 and len(mails_to(NEW['eo_email'])) == 1 and mails_to(OLD['eo_email']) == []


def test_confirmations_racing_make_one_change(app, centres, as_):
    profile(as_('admin'), **NEW)
    change = only_request()
    before = admin_account(centres).session_secret
    clients = [as_('staff') for _ in range(4)]
    for client in clients:
        client.get(f'/helpline/requests/{change.id}')
    threads = [threading.Thread(target=c.post, args=(f'/helpline/requests/{change.id}/confirm',))
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(RequestEvent, RequestEvent.status == 'confirmed') == 1
    assert count(Token) == 1 and count(AuditLog, AuditLog.action == 'eo_change.confirm') == 1
    assert admin_account(centres).session_secret != before


def test_a_stale_request_cannot_be_settled(app, centres, as_):
    from blueprints.helpline import settle
    profile(as_('admin'), **NEW)
    with app.app_context(), db.connection_context():
        change = Request.get(Request.kind == 'eo_change')  # read while pending
        Request.update(status='rejected').where(Request.id == change.id).execute()
        assert settle(change, 'confirmed', Account.get_by_id(centres.staff.id)) is False
    assert only_request().status == 'rejected' and count(RequestEvent) == 1


def test_another_centres_details_are_never_shown(centres, as_):
    html = as_('other_admin').get('/centre/').get_data(as_text=True)
    assert 'Account Details: (50551) - Administrator' in html and 'Mr Castle Officer' in html
    for ours in (OLD['eo_name'], OLD['eo_email'], 'Mr B Head', '029 2000 0000', '68999'):
        assert ours not in html
    profile(as_('admin'), **NEW)
    assert NEW['eo_name'] not in as_('other_admin').get('/centre/').get_data(as_text=True)


@pytest.mark.parametrize('role', ['teacher', 'teacher_no_units', 'other_teacher', 'moderator', 'staff'])
def test_only_administrators_manage_a_centre(centres, as_, role):
    client = as_(role)
    assert client.get('/centre/').status_code == 403
    assert client.post('/centre/', data={'head_of_centre': 'X', **NEW}).status_code == 403
    assert centre(centres).head_of_centre == 'Mr B Head'


@pytest.mark.parametrize('role', ['admin', 'teacher', 'other_admin', 'moderator'])
def test_only_staff_work_the_requests(centres, as_, role):
    profile(as_('admin'), **NEW)
    change = only_request()
    client = as_(role)
    assert client.get('/helpline/requests').status_code == 403
    assert client.get(f'/helpline/requests/{change.id}').status_code == 403
    assert client.post(f'/helpline/requests/{change.id}/confirm').status_code == 403
    assert client.post('/helpline/requests/letterhead', data={'centre_number': '68999'}).status_code == 403
    assert only_request().status == 'pending' and centre(centres).eo_name == OLD['eo_name']


def test_signed_out_visitors_are_sent_to_sign_in(client, centres):
    for url in ('/centre/', '/helpline/requests'):
        response = client.get(url)
        assert response.status_code in (302, 303) and '/login' in response.location


def test_the_menu_offers_manage_centre_and_requests(centres, as_):
    assert '>Manage Centre</a>' in as_('admin').get('/').get_data(as_text=True)
    assert '>Manage Centre</a>' not in as_('teacher').get('/').get_data(as_text=True)
    staff = as_('staff').get('/').get_data(as_text=True)
    assert '>REQUESTS</a>' in staff and '>CENTRES</a>' in staff and '>Manage Centre</a>' not in staff
