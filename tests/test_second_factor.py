"""The second factor of staff and moderators (SPEC 3.1; issue 7 point 1;
QUALITY AUTH-3, AUTH-4): TOTP, each code once, recovery codes, throttled."""
import re

import pyotp
import pytest

import demo
from models import Account, AuditLog, RecoveryCode, db
from tests import factories

pytestmark = pytest.mark.db


def password_step(client, username):
    client.get('/login')
    return client.post('/login', data={'username': username, 'password': factories.PASSWORD})


def unenrol(account):
    with db.connection_context():
        Account.update(totp_secret='', totp_last_step=0).where(Account.id == account.id).execute()


def test_staff_and_moderators_are_asked_for_a_code_and_teachers_are_not(app, world):
    for account in (world.staff, world.moderator):
        client = app.test_client()
        response = password_step(client, account.username)
        assert response.status_code == 303 and response.location.endswith('/login/code')
        page = client.get('/login/code').get_data(as_text=True)
        assert 'Enter the code from your authenticator app' in page
        assert client.get('/staff/outbox/').status_code in (302, 303)  # not signed in yet
        signed_in = client.post('/login/code', data={'code': factories.second_factor_code(account.username)})
        assert signed_in.status_code == 303 and not signed_in.location.endswith('/login/code')
    teacher = app.test_client()
    assert password_step(teacher, world.teacher.username).location.endswith('/')


def test_a_code_works_once_and_wrong_codes_are_refused_then_slowed(app, world):
    client = app.test_client()
    password_step(client, 'helpdesk1')
    code = factories.second_factor_code('helpdesk1')
    wrong = '000000' if code != '000000' else '111111'
    refused = client.post('/login/code', data={'code': wrong})
    assert refused.status_code == 401 and 'That code is not right, or it has been used already' in refused.get_data(as_text=True)
    assert client.post('/login/code', data={'code': code}).status_code == 303
    again = app.test_client()  # the same code, replayed by someone who saw it
    password_step(again, 'helpdesk1')
    assert again.post('/login/code', data={'code': code}).status_code == 401
    for _ in range(5):
        again.post('/login/code', data={'code': wrong})
    slowed = again.post('/login/code', data={'code': wrong})
    assert slowed.status_code == 429 and 'Too many failed attempts' in slowed.get_data(as_text=True)
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'auth.sign_in_code_failed').count() >= 6
        assert AuditLog.select().where(AuditLog.action == 'auth.sign_in',
                                       AuditLog.target == 'password and authenticator code').count() == 1


def test_an_account_without_a_second_factor_can_only_enrol(app, world):
    unenrol(world.staff)
    client = app.test_client()
    assert password_step(client, 'helpdesk1').status_code == 303
    for path in ('/', '/helpline/requests', '/staff/outbox/'):
        response = client.get(path)
        assert response.status_code == 303 and response.location.endswith('/account/second-factor'), path
    htmx = client.get('/staff/outbox/', headers={'HX-Request': 'true'})
    assert htmx.status_code == 403 and htmx.headers['HX-Redirect'].endswith('/account/second-factor')
    page = client.get('/account/second-factor').get_data(as_text=True)
    assert 'Set up your second factor' in page and '<svg' in page and 'data:' not in page
    assert client.get('/help').status_code == 200  # help stays open
    teacher = app.test_client()
    teacher.login(world.teacher.username)
    assert teacher.get('/account/second-factor').status_code == 403


def test_enrolment_needs_the_password_and_a_code_and_shows_recovery_codes_once(app, world):
    unenrol(world.staff)
    client = app.test_client()
    password_step(client, 'helpdesk1')
    page = client.get('/account/second-factor').get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    code = pyotp.TOTP(secret).now()
    wrong_password = client.post('/account/second-factor', data={'password': 'nope12345', 'code': code})
    assert wrong_password.status_code == 422 and 'Enter your current password.' in wrong_password.get_data(as_text=True)
    wrong_code = client.post('/account/second-factor', data={'password': factories.PASSWORD, 'code': '12345'})
    assert wrong_code.status_code == 422 and 'That code does not match' in wrong_code.get_data(as_text=True)
    with db.connection_context():
        assert Account.get_by_id(world.staff.id).totp_secret == ''
    done = client.post('/account/second-factor', data={'password': factories.PASSWORD, 'code': code})
    text = done.get_data(as_text=True)
    codes = re.findall(r'<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>', text)
    assert done.status_code == 200 and len(codes) == 10 and 'not shown again' in text
    with db.connection_context():
        account = Account.get_by_id(world.staff.id)
        assert account.totp_secret == secret
        assert RecoveryCode.select().where(RecoveryCode.account == account).count() == 10
        assert not RecoveryCode.select().where(RecoveryCode.digest.in_(codes)).exists()  # digests only
        assert AuditLog.select().where(AuditLog.action == 'auth.second_factor_enrolled').count() == 1
    assert client.get('/staff/outbox/').status_code == 200  # now the console opens
    # a recovery code signs in once, never twice
    for expected in (303, 401):
        other = app.test_client()
        password_step(other, 'helpdesk1')
        assert other.post('/login/code', data={'code': codes[0]}).status_code == expected


def test_the_demo_enrols_helpdesk1_series1_and_mod1_with_the_printed_key(app):
    with db.connection_context():
        demo.load('Demo2017pass')
        enrolled = {a.username: a.totp_secret for a in Account.select().where(Account.kind.in_(['staff', 'moderator']))}
    assert enrolled == {'HELPDESK1': demo.DEMO_TOTP_SECRET, 'SERIES1': demo.DEMO_TOTP_SECRET, 'MOD1': demo.DEMO_TOTP_SECRET}
    client = app.test_client()
    client.get('/login')
    client.post('/login', data={'username': 'helpdesk1', 'password': 'Demo2017pass'})
    response = client.post('/login/code', data={'code': pyotp.TOTP(demo.DEMO_TOTP_SECRET).now()})
    assert response.status_code == 303 and client.get('/staff/outbox/').status_code == 200
