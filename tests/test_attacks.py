"""Issue 6, attacked: for each point of the hostile review, the test an
attacker would write. Each one failed against the code before the fixes
(07e246e) and passes since 1d7c42b and 30c47e9; they assert what an
attacker or a user notices (status codes, page text, database rows, mail as
delivered), never timings.

The tests use HTTP only where they can, so that the same file runs against
the code before the fixes (links then carried the token in their path: the
helpers below open either kind). The last test is an attacker's script
against a real server, with plain http.client requests."""
import io
import email
import email.policy
import http.client
import json
import logging
import os
import re
import secrets
import threading
import urllib.parse

import pytest
from redis import Redis

import storage
from app import create_app
from models import Account, AuditLog, Candidate, Job, Outbox, Outcome, Token, db, utcnow
from tests import factories
from tests.conftest import PortalClient
from tests.factories import PASSWORD

pytestmark = pytest.mark.db

KEY = 'attack-tests-secret-key-of-at-least-32-characters'
NAME_IN_PASSWORD = 'Do not use your username, your centre number or the name of the board in it.'
WRONG = 'Wrong2017pw'


# --- Helpers ------------------------------------------------------------------

def text(response):
    return response.get_data(as_text=True)


def rows(query):
    with db.connection_context():
        return list(query)


def count(query):
    with db.connection_context():
        return query.count()


def outcomes_of(entries):
    """What an attacker must not be able to change: each entry's outcome row."""
    ids = [e.id for e in entries]
    return {(o.entry_id, o.value, o.version, o.entered_by_id)
            for o in rows(Outcome.select().where(Outcome.entry.in_(ids)))}


def outcome_of(entry):
    found = rows(Outcome.select().where(Outcome.entry == entry.id))
    return found[0].value if found else None


def set_outcome(entry, value, account):
    with db.connection_context():
        Outcome.delete().where(Outcome.entry == entry.id).execute()
        Outcome.create(entry=entry.id, value=value, score=-1 if value == 'A' else 1, entered_by=account.id)


def give_email(account, address=None):
    address = address or f'{account.username.lower()}@example.org'
    with db.connection_context():
        Account.update(email=address).where(Account.id == account.id).execute()
    return address


def without_tokens(html):
    """A page with its CSRF tokens (signed with a timestamp) blanked out."""
    return re.sub(r'(name="csrf_token" value="|"X-CSRFToken": ")[^"]+', r'\1', html)


def expire(client):
    """The session has been idle for 21 minutes (the limit is 20)."""
    with client.session_transaction() as session:
        session['seen_at'] -= 21 * 60


def signed_in(app, username, address='127.0.0.1'):
    client = app.test_client()
    client.environ_base['REMOTE_ADDR'] = address
    response = client.login(username)
    assert response.status_code == 303, f'could not sign in as {username}'
    client.get(response.location)
    return client


def sign_in_attempt(client, username, password):
    return client.post('/login', data={'username': username, 'password': password})


def fail_sign_ins(client, username, addresses, each=5):
    """`each` wrong passwords for `username` from every one of `addresses`."""
    client.get('/login')
    for address in addresses:
        client.environ_base['REMOTE_ADDR'] = address
        for _ in range(each):
            sign_in_attempt(client, username, WRONG)


def latest_mail(to=None, key_prefix=None):
    query = Outbox.select().order_by(Outbox.id.desc())
    if to:
        query = query.where(Outbox.to == to)
    if key_prefix:
        query = query.where(Outbox.key.startswith(key_prefix))
    found = rows(query.limit(1))
    return found[0] if found else None


def delivered_body(app, mail):
    """The body of a mail as delivered: the .eml written when it was sent."""
    path = os.path.join(app.config['MAIL_FOLDER'], re.sub(r'[^A-Za-z0-9._-]+', '_', mail.key) + '.eml')
    with open(path, 'rb') as handle:
        return email.message_from_bytes(handle.read(), policy=email.policy.default).get_content()


LINK = re.compile(r'https?://[^\s/]+(/(?:reset|welcome))([#/])([A-Za-z0-9_-]{20,})')


def delivered_link(app, mail):
    """(page, '#' or '/', token) of the link in a delivered mail."""
    found = LINK.search(delivered_body(app, mail))
    assert found, 'no link in the mail'
    return found.group(1), found.group(2), found.group(3)


def open_link(client, link, **form):
    """Use a link as its holder's browser does: the page posts the token from
    the fragment (since the fix), or the token is in the path (before)."""
    page, separator, token = link
    if separator == '#':
        client.get(page)
        return client.post(page, data=dict(form, token=token))
    client.get(f'{page}/{token}')
    if form:
        return client.post(f'{page}/{token}', data=form)
    return client.get(f'{page}/{token}')


def ask_for_reset(client, username):
    client.get('/forgotten-password')
    return client.post('/forgotten-password', data={'username': username})


def invite_new_teacher(admin, initials='ABC'):
    """The administrator creates 68999<initials>; an invitation is e-mailed."""
    address = f'{initials.lower()}@example.org'
    response = admin.post('/account-admin/accounts', data={'initials': initials, 'contact_name': 'Ms A Teacher',
                                                           'email': address, 'language': 'en'})
    assert response.status_code == 303
    return address


def account_admin_form(**fields):
    """Save Changes in Account Admin, as the page posts it."""
    form = {'current_password': PASSWORD, 'new_password': '', 'confirmation': '', 'language': 'en',
            'contact_name': 'Mr J Brown', 'job_title': 'Teacher', 'email': 'jbrown@example.org',
            'active': 'yes', 'facility-FAQ': 'yes', 'facility-CW_LEVEL_3': 'yes', 'all-CW_LEVEL_3': 'yes'}
    form.update(fields)
    return form


def forged_session(app, user_id):
    """A session cookie signed with the app's own SECRET_KEY, as someone who
    has read the key (a leaked config, a backup) would make it."""
    now = utcnow().timestamp()
    fields = {'_user_id': user_id, '_fresh': True, '_id': secrets.token_hex(64),
              'sid': secrets.token_urlsafe(16), 'signed_in_at': now, 'seen_at': now,
              'csrf_token': secrets.token_hex(20)}
    return app.session_interface.get_signing_serializer(app).dumps(fields)


@pytest.fixture
def make_app(tmp_path):
    """An app with its own configuration (and its own database and world):
    only one app is live at a time, so a test makes them one after another."""
    made = []

    def make(**config):
        folder = tmp_path / f'app-{len(made)}'
        folder.mkdir()
        settings = {'TESTING': True, 'DATABASE_URL': f'sqlite:///{folder}/portal.db', 'SECRET_KEY': KEY,
                    'REPORTS_DIR': str(folder / 'reports'), 'MAIL_FOLDER': str(folder / 'mail')}
        settings.update(config)
        if made:
            db.close()
            db.obj.close_all()
        application = create_app(settings)
        application.test_client_class = PortalClient
        storage.migrate()
        with db.connection_context():
            world = factories.build_world()
        made.append(application)
        return application, world
    yield make
    if made:
        db.close()
        db.obj.close_all()


# --- Point 1: a leaked SECRET_KEY (QUALITY SESS-1) ---------------------------

def test_p1_sess1_a_leaked_secret_key_alone_cannot_mint_a_session(app, world, as_):
    real = as_('teacher')
    assert real.get('/internal-assessment/').status_code == 200
    name = app.config['SESSION_COOKIE_NAME']
    teacher = world.teacher.id
    # '<id>:0' is what every session carried before the fix (the epoch never
    # moves for most accounts): signed with the key, it opened the marksheets.
    for guess in (f'{teacher}:0', f'{teacher}:1', f'{teacher}:', f'{teacher}', f'{teacher}:None',
                  f'{teacher}:0:0', f'{teacher}:' + 'A' * 32, f'{world.admin.id}:0'):
        attacker = app.test_client()
        attacker.set_cookie(name, forged_session(app, guess))
        response = attacker.get('/internal-assessment/')
        assert response.status_code in (302, 303) and '/login' in response.location, \
            f'a session forged with _user_id {guess!r} opened the Internal Assessment'
        assert 'Signed in as' not in text(attacker.get('/'))
    assert real.get('/internal-assessment/').status_code == 200  # the real cookie still does


@pytest.mark.parametrize('key', [None, '', 'short-key-of-24-characters', 'dev-only-secret-change-me'])
def test_p1_sess1_b_the_app_refuses_to_start_without_a_real_secret_key(tmp_path, monkeypatch, key):
    for name in ('SECRET_KEY', 'FLASK_SECRET_KEY', 'PORTAL_ENV'):
        monkeypatch.delenv(name, raising=False)
    config = {'DATABASE_URL': f'sqlite:///{tmp_path}/portal.db', 'REPORTS_DIR': str(tmp_path / 'reports'),
              'MAIL_FOLDER': str(tmp_path / 'mail')}
    if key is not None:
        config['SECRET_KEY'] = key
    try:
        with pytest.raises(SystemExit) as refused:
            create_app(config)
        message = str(refused.value.code)
        assert 'SECRET_KEY' in message and 'secrets.token_hex' in message  # what is wrong, and how to make one
        config['SECRET_KEY'] = secrets.token_hex(32)
        assert create_app(config).config['SECRET_KEY'] == config['SECRET_KEY']  # a real key starts
    finally:
        if not db.is_closed():
            db.close()


# --- Point 2: another centre's rows in the no-JS Save (QUALITY AC-2) ----------

DROPPED = re.compile(r'1 row sent was not on this marksheet and was not saved')


def absent_probe(client, unit, entry, confirm):
    """50551 posts 68999's entry as Absent; returns what it sees."""
    form = {f'value-{entry.id}': 'A', f'version-{entry.id}': '1'}
    if confirm:
        form['confirm_absent'] = '1'
    response = client.post(f'/internal-assessment/{unit.id}', data=form)
    page = text(client.get(response.location)) if response.status_code in (302, 303) else text(response)
    return response.status_code, response.location, without_tokens(page)


@pytest.mark.parametrize('confirm', [False, True], ids=['asked', 'confirm_absent=1'])
def test_p2_ac2_a_another_centres_ids_in_the_no_js_save_reveal_nothing_and_change_nothing(world, as_, confirm):
    absent, present = world.entries[0], world.entries[1]
    set_outcome(absent, 'A', world.admin)
    set_outcome(present, 'P', world.admin)
    before = outcomes_of(world.entries)
    attacker = as_('other_admin')
    seen_absent = absent_probe(attacker, world.unit, absent, confirm)
    seen_present = absent_probe(attacker, world.unit, present, confirm)
    assert seen_absent == seen_present, 'the answer tells whether 68999\'s candidate is Absent'
    assert seen_absent[0] == 303 and DROPPED.search(seen_absent[2])
    assert outcomes_of(world.entries) == before


def test_p2_ac2_b_another_centres_ids_replayed_after_sign_in_reveal_nothing_and_change_nothing(app, world, as_):
    absent, present = world.entries[0], world.entries[1]
    set_outcome(absent, 'A', world.admin)
    set_outcome(present, 'P', world.admin)
    before = outcomes_of(world.entries)
    seen = []
    for entry in (absent, present):
        attacker = as_('other_admin')
        expire(attacker)
        kept = attacker.post(f'/internal-assessment/{world.unit.id}', data={
            f'value-{entry.id}': 'A', f'version-{entry.id}': '1', 'confirm_absent': '1'})
        assert kept.status_code == 303 and '/login' in kept.location
        back = attacker.login(world.other_admin.username)
        assert back.status_code == 303
        seen.append((back.location, without_tokens(text(attacker.get(back.location)))))
    assert seen[0] == seen[1], 'the replay tells whether 68999\'s candidate is Absent'
    assert seen[0][0] == f'/internal-assessment/{world.unit.id}' and DROPPED.search(seen[0][1])
    assert outcomes_of(world.entries) == before


# --- Point 3: the sign-in throttle (QUALITY AUTH-3) ----------------------------

TOO_MANY = 'Too many failed attempts'


def test_p3_auth3_a_five_failures_delay_that_address_only(app, world):
    attacker = app.test_client()
    fail_sign_ins(attacker, '68999JBR', ['10.0.0.1'])
    delayed = sign_in_attempt(attacker, '68999JBR', PASSWORD)
    assert delayed.status_code == 429 and TOO_MANY in text(delayed)
    teacher = app.test_client()
    teacher.environ_base['REMOTE_ADDR'] = '10.0.0.2'
    teacher.get('/login')
    assert sign_in_attempt(teacher, '68999JBR', PASSWORD).status_code == 303  # not kept out


def test_p3_auth3_b_a_known_browser_is_not_delayed_by_an_attacker_at_the_same_address(app, world):
    school = '10.0.0.5'
    teacher = signed_in(app, '68999JBR', school)
    assert teacher.get_cookie('portal_known') is not None
    assert teacher.post('/logout').status_code == 303
    pupil = app.test_client()
    fail_sign_ins(pupil, '68999JBR', [school], each=8)
    assert sign_in_attempt(pupil, '68999JBR', PASSWORD).status_code == 429
    teacher.get('/login')
    assert sign_in_attempt(teacher, '68999JBR', PASSWORD).status_code == 303


def test_p3_auth3_c_past_thirty_failures_an_unknown_browser_needs_an_emailed_code(app, world):
    address = give_email(world.teacher)
    known = signed_in(app, '68999JBR', '10.0.3.1')
    known.post('/logout')
    fail_sign_ins(app.test_client(), '68999JBR', [f'10.0.1.{n}' for n in range(1, 7)])  # 30, from anywhere
    stranger = app.test_client()
    stranger.environ_base['REMOTE_ADDR'] = '10.0.2.1'
    stranger.get('/login')
    response = sign_in_attempt(stranger, '68999JBR', PASSWORD)
    assert response.status_code == 303 and response.location.endswith('/login/code')
    assert 'Signed in as' not in text(stranger.get('/'))
    mail = latest_mail(to=address, key_prefix='signin-code-')
    assert mail is not None and re.fullmatch(r'signin-code-\d+', mail.key)
    code = re.search(r'^\s*(\d{8})\s*$', delivered_body(app, mail), re.M).group(1)
    assert code not in mail.body  # staff reading the outbox never see it
    page = stranger.get('/login/code')
    assert page.status_code == 200
    wrong = stranger.post('/login/code', data={'code': f'{(int(code) + 1) % 10 ** 8:08d}'})
    assert wrong.status_code == 401
    right = stranger.post('/login/code', data={'code': code})
    assert right.status_code == 303
    assert 'Signed in as 68999JBR' in text(stranger.get(right.location))
    known.get('/login')  # the teacher's own browser signs straight in
    straight = sign_in_attempt(known, '68999JBR', PASSWORD)
    assert straight.status_code == 303 and '/login/code' not in straight.location


def test_p3_auth3_d_a_reset_request_is_never_suppressed_by_the_throttle(app, world):
    address = give_email(world.teacher)
    attacker = app.test_client()
    fail_sign_ins(attacker, '68999JBR', [f'10.0.4.{n}' for n in range(1, 9)])  # 40 failures
    assert sign_in_attempt(attacker, '68999JBR', WRONG).status_code == 429
    teacher = app.test_client()
    teacher.environ_base['REMOTE_ADDR'] = '10.0.4.1'  # even from a delayed address
    assert ask_for_reset(teacher, '68999JBR').status_code == 303
    mail = latest_mail(to=address)
    assert mail is not None and 'Reset' in mail.subject
    assert delivered_link(app, mail)[0] == '/reset'


def test_p3_auth3_e_behind_one_proxy_the_forwarded_address_is_the_clients(make_app):
    app, world = make_app(PROXY_HOPS=1)
    proxy = app.test_client()
    proxy.environ_base['REMOTE_ADDR'] = '10.9.9.9'
    proxy.get('/login')
    for _ in range(5):
        proxy.post('/login', data={'username': '68999JBR', 'password': WRONG},
                   headers={'X-Forwarded-For': '203.0.113.7'})
    delayed = proxy.post('/login', data={'username': '68999JBR', 'password': PASSWORD},
                         headers={'X-Forwarded-For': '203.0.113.7'})
    assert delayed.status_code == 429
    other_pupil = proxy.post('/login', data={'username': '68999JBR', 'password': PASSWORD},
                             headers={'X-Forwarded-For': '203.0.113.8'})  # behind the same proxy
    assert other_pupil.status_code == 303
    failed = rows(AuditLog.select().where(AuditLog.action == 'auth.sign_in_failed'))
    assert len(failed) == 5 and {row.address for row in failed} == {'203.0.113.7'}


def test_p3_auth3_f_without_proxies_a_forged_forwarded_for_is_ignored(app, world):
    """PROXY_HOPS=0, the default: held before the fix too (there was no
    ProxyFix); this guards the ProxyFix the fix added."""
    attacker = app.test_client()
    attacker.environ_base['REMOTE_ADDR'] = '10.0.0.66'
    attacker.get('/login')
    for n in range(5):
        attacker.post('/login', data={'username': '68999JBR', 'password': WRONG},
                      headers={'X-Forwarded-For': f'198.51.100.{n}'})
    delayed = attacker.post('/login', data={'username': '68999JBR', 'password': PASSWORD},
                            headers={'X-Forwarded-For': '198.51.100.99'})
    assert delayed.status_code == 429 and TOO_MANY in text(delayed)
    audited = rows(AuditLog.select().where(AuditLog.action.startswith('auth.sign_in')))
    assert audited and {row.address for row in audited} == {'10.0.0.66'}


# --- Point 4: links in the outbox (QUALITY AUTH-1) ----------------------------

def test_p4_auth1_a_staff_reading_the_outbox_never_see_a_reset_or_invitation_link(app, world, as_):
    reset_to = give_email(world.teacher)
    assert ask_for_reset(app.test_client(), '68999JBR').status_code == 303
    invite_to = invite_new_teacher(as_('admin'))
    staff = as_('staff')
    for to, page in ((reset_to, '/reset'), (invite_to, '/welcome')):
        mail = latest_mail(to=to)
        delivered = delivered_link(app, mail)
        token = delivered[2]
        shown = staff.get(f'/staff/outbox/{mail.id}')
        assert shown.status_code == 200
        assert token not in text(shown), f'staff can read the token of {page}'
        assert '[link hidden]' in text(shown)
        assert token not in mail.body
        assert getattr(mail, 'secret', None) == ''  # forgotten once sent
        assert delivered[:2] == (page, '#')
        assert open_link(app.test_client(), delivered).status_code == 200  # and the holder's link works


def test_p4_auth1_b_a_reset_asked_for_by_staff_is_audited_as_theirs(app, world, as_):
    give_email(world.teacher)
    staff = as_('staff')
    assert ask_for_reset(staff, '68999JBR').status_code == 303
    audited = {row.action: row for row in rows(AuditLog.select().where(AuditLog.action.startswith('auth.reset')))}
    assert audited['auth.reset_requested'].actor_id == world.staff.id
    assert audited['auth.reset_sent'].actor_id == world.staff.id


# --- Point 5: a forged save kept for replay (QUALITY SESS-4, AC-5) -------------

@pytest.mark.parametrize('token', ['none', 'wrong'])
def test_p5_sess4_a_cross_site_save_during_an_expired_session_is_not_replayed(app, world, as_, token):
    entry = world.entries[0]
    teacher = as_('teacher')
    expire(teacher)
    # The teacher's open tab makes a request (or the teacher comes back to
    # it): the session is found expired and the sign-in page says so.
    noticed = teacher.get(f'/internal-assessment/{world.unit.id}')
    assert noticed.status_code == 303 and 'expired=1' in noticed.location
    form = {f'value-{entry.id}': 'D', f'version-{entry.id}': '0', 'confirm_absent': '1'}
    if token == 'none':
        forged = teacher.post(f'/internal-assessment/{world.unit.id}', data=form, csrf=False,
                              headers={'Origin': 'https://evil.example', 'Referer': 'https://evil.example/'})
    else:
        forged = teacher.post(f'/internal-assessment/{world.unit.id}', data=form,
                              headers={'X-CSRFToken': 'IjU0ZWE3Yzg1ZjM4YjE5ZjM0In0.forged.token'})
    assert forged.status_code in (302, 303, 400) and outcome_of(entry) is None
    back = teacher.login('68999JBR')
    assert back.status_code == 303
    page = text(teacher.get(back.location))
    assert outcome_of(entry) is None, 'a forged save was applied at the next sign-in'
    assert 'before signing in again was saved' not in page
    # The teacher's own change, sent with the expired session's token, is kept.
    expire(teacher)
    teacher.get(f'/internal-assessment/{world.unit.id}')
    kept = teacher.post(f'/internal-assessment/{world.unit.id}', data=dict(form, **{f'value-{entry.id}': 'M'}))
    assert kept.status_code == 303 and '/login' in kept.location
    back = teacher.login('68999JBR')
    assert outcome_of(entry) == 'M'
    assert 'Your change made before signing in again was saved' in text(teacher.get(back.location))


# --- Point 6: Secure cookies over HTTPS (QUALITY SESS-3) -----------------------

def sign_in_cookies(client, base_url):
    client.get('/login', base_url=base_url)
    response = client.post('/login', base_url=base_url, data={'username': '68999JBR', 'password': PASSWORD},
                           headers={'Referer': f'{base_url}/login'})  # HTTPS: Flask-WTF checks it
    assert response.status_code == 303
    return {header.split('=', 1)[0]: header for header in response.headers.getlist('Set-Cookie')}


def test_p6_sess3_the_session_cookie_is_secure_on_an_https_site(make_app):
    app, world = make_app()
    plain = sign_in_cookies(app.test_client(), 'http://localhost')
    assert 'session' in plain and 'Secure' not in plain['session']
    app, world = make_app(PUBLIC_URL='https://portal.example.org')
    secure = sign_in_cookies(app.test_client(), 'https://localhost')
    assert '__Host-session' in secure, f'cookies set: {sorted(secure)}'
    cookie = secure['__Host-session']
    assert '; Secure' in cookie and '; HttpOnly' in cookie and 'Path=/' in cookie and 'Domain=' not in cookie


# --- Point 8: more rows than the marksheet has (QUALITY AC-3) ------------------

def test_p8_ac3_a_save_with_more_rows_than_the_marksheet_is_refused_whole(world, as_):
    admin = as_('admin')
    form = {}
    for entry in world.entries + world.other_centre_entries[:1]:  # 30 rows of ours, and one more
        form[f'value-{entry.id}'] = 'P'
        form[f'version-{entry.id}'] = '0'
    response = admin.post(f'/internal-assessment/{world.unit.id}', data=form)
    assert response.status_code == 413
    assert 'more rows than this marksheet has' in text(response)
    assert outcomes_of(world.entries) == set(), 'rows of ours were saved from a refused page'
    assert count(Outcome.select()) == 0


# --- Point 9: a reset request costs the same for any name (QUALITY AUTH-2) -----

def test_p9_auth2_a_reset_request_does_the_same_work_for_a_real_or_unknown_name(make_app, redis_server):
    Redis.from_url(redis_server).flushdb()
    app, world = make_app(REDIS_URL=redis_server)  # jobs queued, not run in the request
    give_email(world.teacher)
    client = app.test_client()
    client.get('/forgotten-password')
    work = []
    for username in ('68999JBR', 'NOBODY99', '68999jbr', 'Secret2017pw!'):
        before = [count(q) for q in (Job.select(), Job.select().where(Job.kind == 'password_reset'),
                                     AuditLog.select(), Token.select(), Outbox.select())]
        assert client.post('/forgotten-password', data={'username': username}).status_code == 303
        after = [count(q) for q in (Job.select(), Job.select().where(Job.kind == 'password_reset'),
                                    AuditLog.select(), Token.select(), Outbox.select())]
        work.append([b - a for a, b in zip(before, after)])
    # one job (a password_reset), one audit row, no token and no mail written in the request
    assert work == [[1, 1, 1, 0, 0]] * 4, work


# --- Point 10: passwords with names in them; links end with a new password -----

@pytest.mark.parametrize('password', ['68999abcd', 'xWJEC2024y', 'my68999JBRpw1'])
def test_p10_auth1_a_passwords_with_a_name_in_them_are_refused_on_the_reset_page(app, world, password):
    address = give_email(world.teacher)
    client = app.test_client()
    assert ask_for_reset(client, '68999JBR').status_code == 303
    link = delivered_link(app, latest_mail(to=address))
    response = open_link(client, link, password=password, confirmation=password)
    assert response.status_code == 422 and NAME_IN_PASSWORD in text(response)
    assert client.login('68999JBR', password).status_code == 401


@pytest.mark.parametrize('password', ['68999abcd', 'xWJEC2024y'])
def test_p10_auth1_b_passwords_with_a_name_in_them_are_refused_in_account_admin(app, world, as_, password):
    response = as_('admin').post(f'/account-admin/accounts/{world.teacher.id}',
                                 data=account_admin_form(new_password=password, confirmation=password))
    assert response.status_code == 422 and NAME_IN_PASSWORD in text(response)
    assert app.test_client().login('68999JBR', password).status_code == 401
    assert app.test_client().login('68999JBR').status_code == 303  # the old password still works


def test_p10_auth1_c_a_new_password_ends_earlier_invitation_and_reset_links(app, world, as_):
    admin = as_('admin')
    invitation = delivered_link(app, latest_mail(to=invite_new_teacher(admin)))
    reset_to = give_email(world.teacher)
    assert ask_for_reset(app.test_client(), '68999JBR').status_code == 303
    reset = delivered_link(app, latest_mail(to=reset_to))
    new = rows(Account.select().where(Account.username == '68999ABC'))[0]
    for account in (new, world.teacher):
        response = admin.post(f'/account-admin/accounts/{account.id}',
                              data=account_admin_form(new_password='Chalkboard2017x', confirmation='Chalkboard2017x',
                                                      email=f'{account.username.lower()}@example.org'))
        assert response.status_code == 303
    for link in (invitation, reset):
        assert open_link(app.test_client(), link).status_code == 410, f'{link[0]} still works'
        taken = open_link(app.test_client(), link, password='Takeover2017x', confirmation='Takeover2017x')
        assert taken.status_code == 410
    assert app.test_client().login('68999JBR', 'Takeover2017x').status_code == 401
    assert app.test_client().login('68999JBR', 'Chalkboard2017x').status_code == 303


# --- Point 11: downloads are not kept in a shared PC's cache (QUALITY HDR-1) ---

def test_p11_hdr1_csv_export_and_pdf_download_are_no_store(world, as_, tmp_path):
    report = tmp_path / 'report.pdf'
    report.write_bytes(b'%PDF-1.4 test')
    with db.connection_context():
        job = Job.create(kind='candidate_report', centre=world.centre.id, account=world.teacher.id,
                         status='finished', result_path=str(report), args=json.dumps({'unit': world.unit.id}))
    teacher = as_('teacher')
    csv_export = teacher.get(f'/internal-assessment/{world.unit.id}/export.csv')
    pdf = teacher.get(f'/internal-assessment/reports/jobs/{job.id}/file')
    assert csv_export.status_code == pdf.status_code == 200
    assert pdf.data.startswith(b'%PDF')
    assert 'no-store' in csv_export.headers.get('Cache-Control', ''), 'the CSV may be cached'
    assert 'no-store' in pdf.headers.get('Cache-Control', ''), 'the PDF may be cached'


# --- Point 12: formulas in a ';' spreadsheet (QUALITY CSV-1) -------------------

def test_p12_csv1_a_formula_after_a_semicolon_is_neutralised_and_every_field_quoted(world, as_):
    with db.connection_context():
        Candidate.update(surname='Smith;=1+2').where(Candidate.id == world.candidates[0].id).execute()
    exported = as_('teacher').get(f'/internal-assessment/{world.unit.id}/export.csv').data.decode('utf-8-sig')
    lines = exported.splitlines()
    assert len(lines) == 31
    assert '"Smith;\'=1+2"' in exported
    assert 'Smith;=1+2' not in exported
    field = r'"(?:[^"]|"")*"'
    for line in lines:
        assert re.fullmatch(rf'{field}(,{field})*', line), f'a field is not quoted: {line}'


# --- Point 13: ids past 2^63 (QUALITY ERR-1) -----------------------------------

@pytest.mark.parametrize('role', ['anonymous', 'admin', 'teacher', 'teacher_one_unit', 'teacher_no_units',
                                  'other_admin', 'other_teacher', 'moderator', 'staff'])
def test_p13_err1_ids_past_what_a_column_holds_answer_404_never_500(app, world, as_, role):
    client = app.test_client() if role == 'anonymous' else as_(role)
    if role == 'anonymous':
        client.get('/login')
    for path in ('/internal-assessment/18446744073709551616', '/internal-assessment/9223372036854775808',
                 '/internal-assessment/99999999999999999999/export.csv'):
        assert client.get(path).status_code == 404, f'GET {path} as {role}'
    for path in (f'/internal-assessment/{world.unit.id}/entries/99999999999999999999',
                 f'/internal-assessment/{world.unit.id}/entries/9223372036854775808',
                 '/internal-assessment/9223372036854775808/entries/1'):
        response = client.htmx(path, {'value-1': 'P', 'version-1': '0'})
        assert response.status_code == 404, f'POST {path} as {role}: {response.status_code}'
    # The no-JS Save's address past 2^63: werkzeug answers 405 (its GET twin
    # matches the path), which is no 500 and reads nothing.
    response = client.post('/internal-assessment/9223372036854775808', data={'value-1': 'P'})
    assert response.status_code in (404, 405), f'POST /internal-assessment/2^63 as {role}: {response.status_code}'


# --- Point 14: a password typed into the username box (QUALITY AUTH-4) ---------

def test_p14_auth4_a_password_typed_as_the_username_is_never_stored(client, world):
    client.get('/login')
    assert sign_in_attempt(client, 'Secret2017pw!', 'Secret2017pw!').status_code == 401
    assert sign_in_attempt(client, '68999JBR', WRONG).status_code == 401
    failed = rows(AuditLog.select().where(AuditLog.action == 'auth.sign_in_failed').order_by(AuditLog.id))
    everything = ' '.join(f'{r.target} {r.before} {r.after}' for r in rows(AuditLog.select())).lower()
    assert 'secret2017pw' not in everything, 'the typed password is in the audit log'
    assert failed[0].target == 'user:[not a username]'
    assert '68999JBR' in failed[1].target


# --- Point 15: tokens never in a URL path (QUALITY AUTH-4) ---------------------

def test_p15_auth4_reset_and_invitation_links_carry_the_token_only_after_the_hash(app, world, as_):
    for rule in app.url_map.iter_rules():
        assert 'token' not in rule.arguments, f'{rule} has the token in its path'
    assert {r.endpoint: set(r.arguments) for r in app.url_map.iter_rules()
            if r.endpoint in ('auth.reset', 'auth.welcome')} == {'auth.reset': set(), 'auth.welcome': set()}
    address = give_email(world.teacher)
    client = app.test_client()
    assert ask_for_reset(client, '68999JBR').status_code == 303
    mail = latest_mail(to=address)
    body = delivered_body(app, mail)
    page, separator, token = delivered_link(app, mail)
    assert f'http://127.0.0.1:5000/reset#{token}' in body and f'/reset/{token}' not in body
    invitation = delivered_link(app, latest_mail(to=invite_new_teacher(as_('admin'))))
    assert invitation[:2] == ('/welcome', '#')
    form = client.get('/reset')
    assert form.status_code == 200 and 'Code from the e-mail' in text(form)
    chosen = client.post('/reset', data={'token': token})
    assert chosen.status_code == 200 and 'Account: 68999JBR' in text(chosen)
    assert client.post('/reset', data={'token': token, 'password': 'Chalkboard2017x',
                                       'confirmation': 'Chalkboard2017x'}).status_code == 303
    assert client.login('68999JBR', 'Chalkboard2017x').status_code == 303


# --- Defects found while attacking, not fixed here (reported) -----------------

def test_err1_a_superscript_page_number_is_page_one_not_a_500(app, world, as_):
    app.config['PROPAGATE_EXCEPTIONS'] = False  # as in production: the error page, not a traceback
    teacher = as_('teacher')
    assert teacher.get(f'/internal-assessment/{world.unit.id}?page=%C2%B2').status_code < 500
    assert teacher.post(f'/internal-assessment/{world.unit.id}', data={'page': '\u00b2'}).status_code < 500


def test_p14_auth4_a_password_typed_as_the_username_is_not_kept_in_redis(make_app, redis_server):
    redis = Redis.from_url(redis_server)
    redis.flushdb()
    app, world = make_app(REDIS_URL=redis_server)
    client = app.test_client()
    client.get('/login')
    assert sign_in_attempt(client, 'MySecret2017pw!', 'MySecret2017pw!').status_code == 401
    kept = b' '.join(redis.keys('*')).lower()
    assert b'mysecret2017pw' not in kept, kept


# --- An attacker's script against a real server: points 1, 2 and 5 -------------

class Script:
    """What an attacker's script uses: bare HTTP requests and a cookie jar."""

    def __init__(self, base):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookies = {}
        self.token = None

    def request(self, method, path, form=None, headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        headers = dict(headers or {})
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        if self.cookies:
            headers['Cookie'] = '; '.join(f'{name}={value}' for name, value in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            page = response.read().decode('utf-8', 'replace')
            for header in response.headers.get_all('Set-Cookie') or []:
                name, _, rest = header.partition('=')
                value = rest.split(';', 1)[0]
                if not value or 'max-age=0' in header.lower() or '1970' in header:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            found = re.search(r'name="csrf_token" value="([^"]+)"', page)
            if found:
                self.token = found.group(1)
            return response.status, response.getheader('Location', ''), page
        finally:
            connection.close()

    def get(self, path, **kwargs):
        return self.request('GET', path, **kwargs)

    def post(self, path, form, with_token=True, **kwargs):
        form = dict(form)
        if with_token and self.token:
            form['csrf_token'] = self.token
        return self.request('POST', path, form, **kwargs)

    def sign_in(self, username, password=PASSWORD):
        self.get('/login')
        status, location, _ = self.post('/login', {'username': username, 'password': password})
        if status == 303:
            self.get(location)
        return status, location


@pytest.fixture
def served(app, world):
    from werkzeug.serving import make_server
    logging.getLogger('werkzeug').setLevel(logging.ERROR)
    server = make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_port}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_attack_script_against_a_real_server_points_1_2_and_5(app, world, served):
    breaches = []
    cookie = app.config['SESSION_COOKIE_NAME']

    # Point 1: a cookie signed with a leaked SECRET_KEY.
    for guess in (f'{world.admin.id}:0', f'{world.admin.id}:1', f'{world.admin.id}:x'):
        forger = Script(served)
        forger.cookies[cookie] = forged_session(app, guess)
        status, location, _ = forger.get('/internal-assessment/')
        if status != 303 or '/login' not in location:
            breaches.append(f'point 1: a forged session {guess!r} answered {status}')
    real = Script(served)
    assert real.sign_in('68999') == (303, '/')
    assert real.get('/internal-assessment/')[0] == 200

    # Point 2: 50551 names 68999's entries in its own no-JS Save.
    absent, present = world.entries[0], world.entries[1]
    set_outcome(absent, 'A', world.admin)
    set_outcome(present, 'P', world.admin)
    before = outcomes_of(world.entries)
    attacker = Script(served)
    assert attacker.sign_in('50551')[0] == 303
    attacker.get(f'/internal-assessment/{world.unit.id}')
    for confirm in ({}, {'confirm_absent': '1'}):
        answers = []
        for entry in (absent, present):
            status, location, page = attacker.post(f'/internal-assessment/{world.unit.id}', dict(
                {f'value-{entry.id}': 'A', f'version-{entry.id}': '1'}, **confirm))
            if status == 303:
                page = attacker.get(location)[2]
            answers.append((status, location, without_tokens(page)))
        if answers[0] != answers[1]:
            breaches.append(f'point 2: Absent or not tells apart ({answers[0][0]} vs {answers[1][0]}, {confirm})')
        elif not DROPPED.search(answers[0][2]):
            breaches.append('point 2: the page does not say the rows were not saved')
    if outcomes_of(world.entries) != before:
        breaches.append('point 2: 68999\'s outcomes changed')

    # Point 5: a cross-site POST without a token while the teacher's session has expired.
    target = world.entries[2]
    teacher = Script(served)
    assert teacher.sign_in('68999JBR')[0] == 303
    app.config['IDLE_MINUTES'] = -1  # the teacher has been away: the session has expired ...
    try:
        status, location, _ = teacher.get(f'/internal-assessment/{world.unit.id}')  # ... and the tab noticed
    finally:
        app.config['IDLE_MINUTES'] = 20
    assert status == 303 and 'expired=1' in location
    status, location, _ = teacher.post(
        f'/internal-assessment/{world.unit.id}',
        {f'value-{target.id}': 'D', f'version-{target.id}': '0', 'confirm_absent': '1'},
        with_token=False, headers={'Origin': 'https://evil.example', 'Referer': 'https://evil.example/x'})
    assert status in (302, 303, 400)
    status, location = teacher.sign_in('68999JBR')
    assert status == 303
    if outcome_of(target) is not None:
        breaches.append(f'point 5: the forged save was applied at sign-in ({outcome_of(target)})')

    assert not breaches, breaches


def test_rel_a_flood_of_reset_requests_from_one_address_stops_writing_rows(app, world):
    """The scanner's finding: anonymous reset requests wrote a job and an
    audit row each, without limit. Past 50 from one address in 15 minutes
    the answer is the same and nothing more is written."""
    import throttle
    from models import Job
    client = app.test_client()
    client.get('/forgotten-password')
    for n in range(throttle.RESETS_PER_ADDRESS + 10):
        assert client.post('/forgotten-password', data={'username': f'NOBODY{n}'}).status_code == 303
    with db.connection_context():
        assert Job.select().where(Job.kind == 'password_reset').count() == throttle.RESETS_PER_ADDRESS
    other = app.test_client()
    other.environ_base['REMOTE_ADDR'] = '10.9.9.9'
    other.get('/forgotten-password')
    other.post('/forgotten-password', data={'username': 'SOMEONE'})
    with db.connection_context():
        assert Job.select().where(Job.kind == 'password_reset').count() == throttle.RESETS_PER_ADDRESS + 1


# --- Hostile numbers in query strings and forms of this stop's pages (ERR-1) ----

def test_hostile_page_and_series_numbers_never_answer_500(world, as_):
    """A superscript digit passes str.isdigit() but not int(); a long run of
    digits after 000001 passed the old page check and overflowed the OFFSET."""
    staff = as_('staff')
    for page in ('²', '0' * 5 + '1' + '9' * 40, '-1', '١'):
        assert staff.get(f'/helpline/requests?page={page}').status_code == 200
        assert as_('teacher').get(f'/internal-assessment/{world.unit.id}?page={page}').status_code == 200
    response = as_('series_staff').post('/board/imports/', data={
        'kind': 'entries', 'series': '9' * 40, 'file': (io.BytesIO(b'centre,candidate,unit\n'), 'e.csv')})
    assert response.status_code == 422
