"""Passwords, throttling, links by e-mail, and the outbox (SPEC 3.1, 3.11;
QUALITY AUTH-1..3, REL-5). SMTP tests talk to a real local SMTP server."""
import asyncio
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from aiosmtpd.controller import Controller
from redis import Redis

import jobs
import passwords
import storage
from app import create_app
from models import Account, AuditLog, Outbox, Token, db
from tests import factories
from tests.conftest import TEST_SECRET, PortalClient, free_port
from throttle import Throttle

pytestmark = pytest.mark.db
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('password, problems', [
    ('Secret2017pw', []),
    ('shrt1x', ['too_short']),
    ('lettersonly', ['letters_and_numbers']),
    ('1234567890', ['letters_and_numbers', 'is_common']),
    ('password1', ['is_common']),
    ('68999jbr1', ['contains_name']),
    ('68999abcd', ['contains_name']),       # issue 6 point 10: the centre number inside
    ('Wjec2024exam', ['contains_name']),    # the board's name inside
    ('a1' * 65, ['too_long']),
    ('Ünïcødé 2024 pässwörd ✓', []),
])
def test_the_password_rule(password, problems):
    assert passwords.problems(password, '68999JBR1', '68999', 'WJEC') == problems


def test_the_breached_list_is_shipped_and_large():
    assert len(passwords.common_passwords()) > 10000


def test_a_128_character_password_is_verified_exactly():
    long = 'a1' * 64
    digest = passwords.hash_password(long)
    assert passwords.matches(digest, long) and not passwords.matches(digest, long[:-1])
    assert not passwords.matches(None, long)


@pytest.mark.parametrize('backend', ['local', 'redis'])
def test_failed_sign_ins_slow_down_but_never_lock_out(backend, redis_server, monkeypatch):
    redis = Redis.from_url(redis_server) if backend == 'redis' else None
    if redis:
        redis.flushdb()
    throttle = Throttle(redis)
    pair = throttle.pair('68999JBR', 'ip:10.0.0.1')
    for _ in range(5):
        assert throttle.wait_seconds(pair) == 0
        throttle.failed(pair, '68999JBR')
    assert throttle.wait_seconds(pair) == 1
    throttle.failed(pair, '68999JBR')
    assert throttle.wait_seconds(pair) == 2
    assert throttle.wait_seconds(throttle.pair('68999JBR', 'ip:10.0.0.2')) == 0  # another address
    clock = time.time() + 3
    monkeypatch.setattr(time, 'time', lambda: clock)
    assert throttle.wait_seconds(pair) == 0  # a delay, not a lockout
    throttle.succeeded(pair)
    assert throttle.wait_seconds(pair) == 0


def test_sign_in_is_throttled_with_the_same_words_for_unknown_users(client, world):
    client.get('/login')
    for username in ('68999JBR', 'NOBODY'):
        for _ in range(5):
            assert client.post('/login', data={'username': username, 'password': 'wrong1234'}).status_code == 401
        refused = client.post('/login', data={'username': username, 'password': 'Secret2017pw'})
        assert refused.status_code == 429
        assert 'Too many failed attempts. Please wait 1 seconds' in refused.get_data(as_text=True)
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'auth.sign_in_throttled').count() == 2


def test_the_account_language_applies_at_sign_in_and_the_switch_holds(client, world):
    with db.connection_context():
        Account.update(language='cy').where(Account.id == world.teacher.id).execute()
    client.get('/login')
    client.post('/language', data={'lang': 'en'})
    client.post('/login', data={'username': '68999JBR', 'password': 'Secret2017pw'})
    assert '<html lang="cy">' in client.get('/').get_data(as_text=True)
    client.post('/language', data={'lang': 'en', 'next': '/'})
    assert '<html lang="en">' in client.get('/internal-assessment/').get_data(as_text=True)


def reset_link(app, username):
    """The mail as stored, and the token as delivered (the .eml file)."""
    with db.connection_context():
        mail = Outbox.select().where(Outbox.to == f'{username.lower()}@example.org').order_by(Outbox.id.desc()).first()
    delivered = open(os.path.join(app.config['MAIL_FOLDER'], f'{mail.key}.eml')).read()
    return mail, re.search(r'http://\S+/reset#(\S+)', delivered).group(1)


def test_a_forgotten_password_link_works_once_and_ends_other_sessions(app, world, as_):
    with db.connection_context():
        Account.update(email='68999jbr@example.org').where(Account.id == world.teacher.id).execute()
    elsewhere = as_('teacher')
    client = app.test_client()
    client.get('/forgotten-password')
    answer = client.post('/forgotten-password', data={'username': '68999jbr'})
    unknown = client.post('/forgotten-password', data={'username': 'NOBODY'})
    assert answer.status_code == unknown.status_code == 303
    page = client.get(answer.location).get_data(as_text=True)
    assert 'If that account exists and has an e-mail address' in page
    mail, token = reset_link(app, '68999JBR')
    assert mail.state == 'sent' and mail.subject == 'Reset your WJEC Internal Assessment password'
    assert token not in mail.body and mail.secret == ''  # stored without it, forgotten once sent
    eml = os.path.join(app.config['MAIL_FOLDER'], f'{mail.key}.eml')
    assert 'Message-ID: <reset-' in open(eml).read()
    assert 'Code from the e-mail' in client.get('/reset').get_data(as_text=True)
    chosen = client.post('/reset', data={'token': token}).get_data(as_text=True)
    assert 'Account: 68999JBR' in chosen
    weak = client.post('/reset', data={'token': token, 'password': 'password1', 'confirmation': 'password1'})
    assert weak.status_code == 422 and 'too common' in weak.get_data(as_text=True)
    mismatch = client.post('/reset', data={'token': token, 'password': 'NewPass2024x', 'confirmation': 'NewPass2024y'})
    assert 'do not match' in mismatch.get_data(as_text=True)
    done = client.post('/reset', data={'token': token, 'password': 'NewPass2024x', 'confirmation': 'NewPass2024x'})
    assert done.status_code == 303
    assert elsewhere.get('/internal-assessment/').status_code == 303  # signed out everywhere
    assert client.post('/reset', data={'token': token}).status_code == 410  # used
    assert client.login('68999JBR', 'NewPass2024x').status_code == 303
    with db.connection_context():
        assert not AuditLog.select().where(AuditLog.after.contains('NewPass') | AuditLog.target.contains('NewPass')).exists()


def test_expired_and_forged_links_are_refused(app, world):
    import datetime
    with db.connection_context():
        token, _ = Token.issue(world.teacher, 'reset', datetime.timedelta(hours=1))
        Token.update(expires_at=datetime.datetime.utcnow() - datetime.timedelta(seconds=1)).execute()
        invite, _ = Token.issue(world.teacher, 'invite', datetime.timedelta(hours=1))
    client = app.test_client()
    client.get('/reset')
    assert client.post('/reset', data={'token': token}).status_code == 410
    assert client.post('/reset', data={'token': invite}).status_code == 410  # an invitation is not a reset link
    assert client.post('/reset', data={'token': 'x' * 43}).status_code == 410
    assert 'This link can no longer be used' in client.post('/reset', data={'token': token}).get_data(as_text=True)
    assert client.post('/welcome', data={'token': invite}).status_code == 200


class Inbox:
    """A real SMTP server on a free port, collecting what it accepts."""

    def __init__(self, slow_first_rcpt=0):
        self.messages = []
        self.slow = slow_first_rcpt

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.slow:
            delay, self.slow = self.slow, 0
            await asyncio.sleep(delay)
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content.decode())
        return '250 Message accepted'


@pytest.fixture
def smtp():
    def start(**options):
        inbox = Inbox(**options)
        controller = Controller(inbox, hostname='127.0.0.1', port=free_port())
        controller.start()
        started.append(controller)
        return inbox, controller.port
    started = []
    yield start
    for controller in started:
        controller.stop()


def test_mail_goes_by_smtp_and_a_failure_is_retried(app, world, smtp):
    inbox, port = smtp()
    app.config.update(MAIL_SERVER='127.0.0.1', MAIL_PORT=free_port())  # nobody listening yet
    with app.test_request_context(), db.connection_context():
        from jobs import emails
        from blueprints.auth import invite
        Account.update(email='new@example.org').where(Account.id == world.teacher.id).execute()
        job = invite(Account.get_by_id(world.teacher.id))
        jobs.enqueue(job)
        mail = Outbox.get()
        assert (mail.state, mail.attempts) == ('failed', 1) and 'ConnectionRefusedError' in mail.error
        app.config['MAIL_PORT'] = port
        jobs.run(job.id)  # the retry
        jobs.run(job.id)  # and again: already sent, nothing more goes out
        mail = Outbox.get()
        assert (mail.state, mail.attempts) == ('sent', 2)
        assert emails.queue(mail.key, 'x@example.org', 'reset', 'en', account=world.teacher, link='x') is None
    assert len(inbox.messages) == 1
    assert f'Message-ID: <{mail.key}@portal.wjec.co.uk>' in inbox.messages[0]
    assert '/welcome#' in inbox.messages[0]


@pytest.mark.parametrize('with_redis', [False, True])
def test_a_mail_whose_worker_lost_the_database_after_sending_is_not_sent_twice(app, world, smtp, request,
                                                                               monkeypatch, with_redis):
    """Issue 11: the SMTP server took the mail, then recording it failed (the
    database went away): the retry finds the delivery noted (Redis, or a
    journal file without Redis) and does not send it again."""
    from peewee import OperationalError
    from jobs import emails
    inbox, port = smtp()
    app.config.update(MAIL_SERVER='127.0.0.1', MAIL_PORT=port)
    if with_redis:
        url = request.getfixturevalue('redis_server')
        Redis.from_url(url).flushdb()
        app.config['REDIS_URL'] = url  # the delivery note; jobs still run in-process here
    real_mark_sent = emails.mark_sent

    def database_lost(mail):
        raise OperationalError('server closed the connection unexpectedly')
    with app.test_request_context(), db.connection_context():
        from blueprints.auth import invite
        Account.update(email='new@example.org').where(Account.id == world.teacher.id).execute()
        job = invite(Account.get_by_id(world.teacher.id))
        monkeypatch.setattr(emails, 'mark_sent', database_lost)
        jobs.enqueue(job)
        assert len(inbox.messages) == 1
        monkeypatch.setattr(emails, 'mark_sent', real_mark_sent)
        Outbox.update(state='sending').execute()  # as the lost attempt left it
        jobs.run(job.id)  # the retry
        mail = Outbox.get()
    assert len(inbox.messages) == 1
    assert (mail.state, mail.attempts) == ('sent', 2)


def test_a_welsh_accounts_mail_comes_from_a_welsh_sender_and_its_link_opens_in_welsh(app, world):
    """Issue 10 point 7: Content-Language, the sender's name in Welsh, the
    board's Message-ID domain, and a link that opens the page in Welsh."""
    import glob
    with app.test_request_context(), db.connection_context():
        from blueprints.auth import invite
        Account.update(email='cy@example.org', language='cy').where(Account.id == world.teacher.id).execute()
        jobs.enqueue(invite(Account.get_by_id(world.teacher.id)))
        mail = Outbox.get()
    import email
    from email import policy
    with open(glob.glob(os.path.join(app.config['MAIL_FOLDER'], '*.eml'))[0], 'rb') as eml:
        sent = email.message_from_binary_file(eml, policy=policy.default)
    assert sent['From'] == 'CBAC Asesu Mewnol <no-reply@wjec.co.uk>' and sent['Content-Language'] == 'cy'
    assert sent['Message-ID'] == f'<{mail.key}@portal.wjec.co.uk>'
    link = re.search(r'(https?://\S+/welcome\?lang=cy)#', sent.get_content()).group(1)
    page = app.test_client().get(link.split('127.0.0.1:5000')[1], headers={'Accept-Language': 'en'})
    assert '<html lang="cy">' in page.get_data(as_text=True)


def test_mail_is_written_in_the_recipients_language(app, world):
    with app.test_request_context(), db.connection_context():
        from blueprints.auth import invite
        Account.update(email='cy@example.org', language='cy').where(Account.id == world.teacher.id).execute()
        jobs.enqueue(invite(Account.get_by_id(world.teacher.id)))
        mail = Outbox.get()
    assert mail.language == 'cy' and 'WJEC' in mail.subject and 'Dear' not in mail.body


def horse_of(worker_pid):
    """The work-horse RQ forked for the current job: a child in its own process group."""
    for child in subprocess.run(['pgrep', '-P', str(worker_pid)], capture_output=True, text=True).stdout.split():
        if os.getpgid(int(child)) == int(child):
            return int(child)
    return None


def test_a_worker_killed_mid_send_neither_loses_nor_duplicates_the_mail(tmp_path, redis_server, smtp):
    inbox, port = smtp(slow_first_rcpt=30)
    config = {'DATABASE_URL': f'sqlite:///{tmp_path}/portal.db', 'REDIS_URL': redis_server,
              'SECRET_KEY': TEST_SECRET, 'MAIL_SERVER': '127.0.0.1', 'MAIL_PORT': port}
    Redis.from_url(redis_server).flushdb()
    app = create_app(dict(config, TESTING=True))
    app.test_client_class = PortalClient
    storage.migrate()
    with app.test_request_context(), db.connection_context():
        world = factories.build_world(candidates=3)
        from blueprints.auth import invite
        Account.update(email='new@example.org').where(Account.id == world.teacher.id).execute()
        job = invite(Account.get_by_id(world.teacher.id))
    with app.app_context():
        jobs.enqueue(job)
    env = dict(os.environ, DATABASE_URL=config['DATABASE_URL'], REDIS_URL=redis_server,
               SECRET_KEY=TEST_SECRET, MAIL_SERVER='127.0.0.1', FLASK_MAIL_PORT=str(port), PYTHONPATH=ROOT)
    worker = subprocess.Popen([sys.executable, '-m', 'jobs.worker'], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with db.connection_context():
                if Outbox.get().state == 'sending':
                    break
            time.sleep(0.1)
        horse = horse_of(worker.pid)
        assert horse, 'no work-horse found'
        os.kill(horse, signal.SIGKILL)  # mid-send: the SMTP server has not been given the mail
        deadline = time.time() + 60
        while time.time() < deadline and not inbox.messages:
            time.sleep(0.2)
        time.sleep(2)
        with db.connection_context():
            mail = Outbox.get()
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode(errors='replace')
        db.close()
    assert len(inbox.messages) == 1, output[-3000:]
    assert (mail.state, mail.attempts) == ('sent', 2)


def test_no_password_reaches_the_logs_the_audit_or_the_outbox(app, world, as_, caplog):
    import logging
    caplog.set_level(logging.DEBUG)  # peewee logs every SQL statement with its parameters
    client = app.test_client()
    client.get('/login')
    client.post('/login', data={'username': '68999JBR', 'password': 'WrongGuess2024'})
    client.post('/login', data={'username': '68999JBR', 'password': factories.PASSWORD})
    admin = as_('admin')
    admin.post(f'/account-admin/accounts/{world.teacher.id}', data={
        'current_password': factories.PASSWORD, 'new_password': 'FreshPass2024', 'confirmation': 'FreshPass2024',
        'language': 'en', 'contact_name': 'T', 'job_title': '', 'email': '', 'active': 'yes',
        'facility-CW_LEVEL_3': 'yes', 'all-CW_LEVEL_3': 'yes'})
    with db.connection_context():
        assert passwords.matches(Account.get_by_id(world.teacher.id).password_hash, 'FreshPass2024')
        stored = ' '.join(f'{a.target} {a.before} {a.after}' for a in AuditLog.select())
        stored += ' '.join(f'{m.subject} {m.body}' for m in Outbox.select())
    logged = caplog.text
    for secret in ('WrongGuess2024', factories.PASSWORD, 'FreshPass2024'):
        assert secret not in logged and secret not in stored
    with db.connection_context():  # the failure is recorded, without the guess
        assert AuditLog.select().where(AuditLog.action == 'auth.sign_in_failed').count() == 1
