"""Sign-in, sessions and headers (SPEC 3.1; QUALITY SESS-1..4, AUTH-2, HDR-1)."""
import pytest

from models import Account, AuditLog, FacilityGrant, db

pytestmark = pytest.mark.db


def test_the_login_page_has_the_seed_wording(client):
    html = client.get('/login').get_data(as_text=True)
    for words in ('Username', 'Password', 'LOGIN', 'FORGOTTEN PASSWORD', 'HELP',
                  'This session will automatically terminate if left idle for 20 minutes'):
        assert words in html
    assert 'name="csrf_token"' in html


def test_unknown_user_and_wrong_password_get_the_same_answer(client, world):
    client.get('/login')
    unknown = client.post('/login', data={'username': 'NOBODY', 'password': 'whatever1'})
    wrong = client.post('/login', data={'username': '68999JBR', 'password': 'whatever1'})
    assert unknown.status_code == wrong.status_code == 401
    message = 'The username or password is not correct.'
    assert message in unknown.get_data(as_text=True) and message in wrong.get_data(as_text=True)
    with db.connection_context():
        failures = AuditLog.select().where(AuditLog.action == 'auth.sign_in_failed').count()
        assert failures == 2
        assert not AuditLog.select().where(AuditLog.after.contains('whatever1')).exists()


def test_sign_in_without_csrf_is_refused(client, world):
    response = client.post('/login', data={'username': '68999JBR', 'password': 'Secret2017pw'}, csrf=False)
    assert response.status_code == 400


def test_signed_in_as_and_the_menu_show_only_what_the_account_may_use(as_):
    teacher = as_('teacher').get('/').get_data(as_text=True)
    assert 'Signed in as 68999JBR' in teacher and 'INTERNAL ASSESSMENT' in teacher
    nothing = as_('teacher_no_units').get('/').get_data(as_text=True)
    assert 'Signed in as 68999NON' in nothing and '>INTERNAL ASSESSMENT<' not in nothing
    moderator = as_('moderator').get('/').get_data(as_text=True)
    assert 'EXAMPLE HIGH SCHOOL (68999)' in moderator and '>INTERNAL ASSESSMENT<' not in moderator


def test_idle_for_twenty_minutes_ends_the_session(app, as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['seen_at'] -= 20 * 60 + 1
    response = client.get('/internal-assessment/')
    assert response.status_code == 303 and '/login' in response.location and 'expired=1' in response.location


def test_background_polling_does_not_count_as_activity(app, as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['seen_at'] -= 19 * 60
        seen = session['seen_at']
    client.get('/internal-assessment/reports/', headers={'X-Background': '1'})
    with client.session_transaction() as session:
        assert session['seen_at'] == seen
    client.get('/internal-assessment/reports/')
    with client.session_transaction() as session:
        assert session['seen_at'] > seen


def test_twelve_hours_ends_the_session_whatever_the_activity(as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['signed_in_at'] -= 12 * 3600 + 1
    assert client.get('/').status_code == 303


def test_sign_out_ends_every_session_of_the_account(as_):
    here, elsewhere = as_('teacher'), as_('teacher')
    assert here.post('/logout').status_code == 303
    assert elsewhere.get('/internal-assessment/').status_code == 303


def test_deactivation_and_revoked_permission_apply_at_the_next_request(world, as_):
    client = as_('teacher')
    assert client.get(f'/internal-assessment/{world.unit.id}').status_code == 200
    with db.connection_context():
        FacilityGrant.delete().where(FacilityGrant.account == world.teacher.id).execute()
    assert client.get(f'/internal-assessment/{world.unit.id}').status_code == 403
    with db.connection_context():
        Account.update(active=False).where(Account.id == world.teacher.id).execute()
    response = client.htmx(f'/internal-assessment/{world.unit.id}/entries/{world.entries[0].id}',
                           {f'value-{world.entries[0].id}': 'P'})
    assert response.status_code == 401 and response.headers['HX-Redirect'].startswith('/login')


def test_the_session_cookie_changes_at_sign_in(client, world):
    client.get('/login')
    before = client.get_cookie('session').value
    client.post('/login', data={'username': '68999JBR', 'password': 'Secret2017pw'})
    after = client.get_cookie('session')
    assert after.value != before and after.http_only and after.same_site == 'Lax'


def test_language_switch_holds_for_the_session(client, world):
    client.get('/login')
    response = client.post('/language', data={'lang': 'cy', 'next': '/login'})
    assert response.status_code == 303 and response.location == '/login'
    assert '<html lang="cy">' in client.get('/login').get_data(as_text=True)
    assert client.post('/language', data={'lang': 'cy', 'next': 'https://evil.example/'}).location == '/'


def test_security_headers_on_every_page(client, world):
    response = client.get('/login')
    csp = response.headers['Content-Security-Policy']
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and 'unsafe' not in csp
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['Referrer-Policy'] == 'same-origin'
    html = response.get_data(as_text=True)
    assert '"selfRequestsOnly":true' in html and '"allowEval":false' in html
    assert '<script>' not in html


def test_unknown_pages_get_a_page_not_a_traceback(client):
    response = client.get('/no/such/page')
    assert response.status_code == 404 and 'Page not found' in response.get_data(as_text=True)


def test_the_next_parameter_never_leaves_the_site(client, world):
    client.get('/login?next=//evil.example/x')
    response = client.post('/login', data={'username': '68999JBR', 'password': 'Secret2017pw',
                                           'next': '//evil.example/x'})
    assert response.location == '/'


def test_security_events_record_who_when_and_from_where(client, world, as_):
    client.get('/login')
    client.post('/login', data={'username': '68999JBR', 'password': 'nope12345'}, environ_base={'REMOTE_ADDR': '192.0.2.7'})
    teacher = as_('teacher')
    teacher.post('/logout')
    with db.connection_context():
        rows = {a.action: a for a in AuditLog.select()}
    assert rows['auth.sign_in_failed'].address == '192.0.2.7'
    assert rows['auth.sign_in'].address == '127.0.0.1' and rows['auth.sign_in'].actor_id == world.teacher.id
    assert rows['auth.sign_out'].at is not None
