"""Fixtures in the flaskr manner: `app`, `client`, a signed-in `as_` helper,
and the `world` of tests/factories.py. CSRF stays ON (QUALITY AC-5): the
client sends the token the pages carry, as htmx does.

With PORTAL_TEST_DB=postgres the tests marked `db` run on a private,
throwaway PostgreSQL cluster started here (make test does both runs)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
from flask.testing import FlaskClient

import passwords
import storage
from app import create_app
from models import db
from tests import factories

TEST_SECRET = 'tests-only-secret-key-of-at-least-32-chars'
POSTGRES = os.environ.get('PORTAL_TEST_DB') == 'postgres'
PG_BIN = '/usr/lib/postgresql/15/bin'
passwords.use_cost(time_cost=1, memory_cost=1024)  # argon2id still, just cheap


def pytest_collection_modifyitems(config, items):
    if POSTGRES:
        items[:] = [item for item in items if item.get_closest_marker('db')]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def as_postgres_user(command):
    if os.geteuid() == 0:
        return ['runuser', '-u', 'postgres', '--'] + command
    return command


@pytest.fixture(scope='session')
def postgres_server():
    """A private PostgreSQL cluster on a free loopback port, removed afterwards."""
    if not POSTGRES:
        yield None
        return
    folder = tempfile.mkdtemp(prefix='portal-pg-')
    if os.geteuid() == 0:
        shutil.chown(folder, 'postgres', 'postgres')
    data = os.path.join(folder, 'data')
    port = free_port()
    subprocess.run(as_postgres_user([f'{PG_BIN}/initdb', '-D', data, '-A', 'trust', '-U', 'postgres',
                                     '-E', 'UTF8']), check=True, capture_output=True)
    subprocess.run(as_postgres_user([f'{PG_BIN}/pg_ctl', '-D', data, '-w', '-l', os.path.join(folder, 'log'),
                                     '-o', f'-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off',
                                     'start']), check=True, capture_output=True)
    try:
        yield f'postgresql://postgres@127.0.0.1:{port}'
    finally:
        subprocess.run(as_postgres_user([f'{PG_BIN}/pg_ctl', '-D', data, '-m', 'fast', '-w', 'stop']),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def admin_sql(server, sql):
    import psycopg
    with psycopg.connect(f'{server}/postgres', autocommit=True) as connection:
        connection.execute(sql)


class PortalClient(FlaskClient):
    """Sends the CSRF token from the last page seen, like htmx's hx-headers."""
    token = None

    def open(self, *args, **kwargs):
        method = kwargs.get('method', 'GET')
        if method == 'POST' and self.token and kwargs.pop('csrf', True):
            headers = dict(kwargs.pop('headers', None) or {})
            headers.setdefault('X-CSRFToken', self.token)
            kwargs['headers'] = headers
        else:
            kwargs.pop('csrf', None)
        response = super().open(*args, **kwargs)
        found = re.search(rb'"X-CSRFToken": "([^"]+)"', response.data or b'')
        if found:
            self.token = found.group(1).decode()
        return response

    def login(self, username, password=factories.PASSWORD):
        """Sign in; staff and moderators also give their authenticator code."""
        self.get('/login')
        response = self.post('/login', data={'username': username, 'password': password})
        if response.status_code == 303 and response.location.endswith('/login/code'):
            self.get('/login/code')
            response = self.post('/login/code', data={'code': factories.second_factor_code(username)})
        return response

    def htmx(self, url, data=None, current=None):
        """An htmx POST, as the marksheet's selects make."""
        headers = {'HX-Request': 'true'}
        if current:
            headers['HX-Current-URL'] = current
        return self.post(url, data=data or {}, headers=headers)


@pytest.fixture
def app(tmp_path, postgres_server):
    name = None
    if postgres_server:
        name = 'portal_' + uuid.uuid4().hex[:12]
        admin_sql(postgres_server, f'CREATE DATABASE {name}')
        url = f'{postgres_server}/{name}'
    else:
        url = f'sqlite:///{tmp_path}/portal.db'
    application = create_app({'TESTING': True, 'DATABASE_URL': url, 'SECRET_KEY': TEST_SECRET,
                              'REPORTS_DIR': str(tmp_path / 'reports'), 'MAIL_FOLDER': str(tmp_path / 'mail'),
                              'UPLOADS_DIR': str(tmp_path / 'uploads'), 'FILES_DIR': str(tmp_path / 'files')})
    application.test_client_class = PortalClient
    storage.migrate()
    yield application
    db.close()
    db.obj.close_all()  # pooled connections
    if name:
        admin_sql(postgres_server, f'DROP DATABASE {name} WITH (FORCE)')


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app):
    with db.connection_context():
        return factories.build_world()


@pytest.fixture
def as_(app, world):
    """as_('teacher') gives a client signed in as that account of the world."""
    def sign_in(who):
        account = getattr(world, who)
        client = app.test_client()
        response = client.login(account.username)
        assert response.status_code == 303, f'could not sign in as {who}'
        client.get(response.location)  # as a browser would, picking up the new CSRF token
        return client
    return sign_in


EICAR = r'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'


@pytest.fixture(scope='session')
def clamd_server(tmp_path_factory):
    """A real clamd on a free loopback port, with a shipped signature for
    the EICAR test file (signatures cannot be downloaded here)."""
    binary = shutil.which('clamd') or '/usr/sbin/clamd'
    if not os.path.exists(binary):
        pytest.fail('clamd is not installed: run make test, which installs clamav-daemon')
    folder = tmp_path_factory.mktemp('clamd')
    (folder / 'db').mkdir()
    (folder / 'db' / 'eicar.ndb').write_text('Eicar-Test-Signature:0:*:' + EICAR.encode().hex() + '\n')
    port = free_port()
    (folder / 'clamd.conf').write_text(
        f'Foreground yes\nDatabaseDirectory {folder}/db\nTCPSocket {port}\nTCPAddr 127.0.0.1\n'
        f'LogFile {folder}/clamd.log\nStreamMaxLength 200M\nMaxFileSize 200M\nMaxScanSize 200M\n')
    process = subprocess.Popen([binary, '-c', str(folder / 'clamd.conf')], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f'127.0.0.1:{port}'
    process.terminate()
    process.wait(10)


S3_KEYS = {'S3_ACCESS_KEY': 'portal-tests', 'S3_SECRET_KEY': 'portal-tests-secret'}


def start_weed(binary, folder, attempt):
    """(process, config, boto3 client), or a client of None if it did not come up."""
    import boto3
    from botocore.config import Config
    ports = set()
    while len(ports) < 8:
        ports.add(free_port())
    ports = sorted(ports)
    names = ['master.port', 'master.port.grpc', 'volume.port', 'volume.port.grpc', 'filer.port',
             'filer.port.grpc', 's3.port', 's3.port.grpc']
    data = folder / f'data{attempt}'
    data.mkdir()
    process = subprocess.Popen(
        [binary, 'server', '-ip=127.0.0.1', '-ip.bind=127.0.0.1', f'-dir={data}', '-filer', '-s3',
         f'-s3.config={folder}/s3.json'] + [f'-{n}={p}' for n, p in zip(names, ports)],
        stdout=open(folder / 'log', 'ab'), stderr=subprocess.STDOUT)
    config = dict(S3_KEYS, S3_ENDPOINT_URL=f'http://127.0.0.1:{ports[6]}', S3_BUCKET='portal-files')
    client = boto3.client('s3', endpoint_url=config['S3_ENDPOINT_URL'], region_name='us-east-1',
                          aws_access_key_id=config['S3_ACCESS_KEY'], aws_secret_access_key=config['S3_SECRET_KEY'],
                          config=Config(signature_version='s3v4', s3={'addressing_style': 'path'},
                                        retries={'max_attempts': 1}))
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        try:
            client.create_bucket(Bucket=config['S3_BUCKET'])
            return process, config, client
        except Exception:
            time.sleep(0.5)
    process.kill()
    process.wait(10)
    return process, config, None


@pytest.fixture(scope='session')
def s3_server(tmp_path_factory):
    """A real S3-compatible server (SeaweedFS `weed`, requirements-s3.txt) on
    free loopback ports, with a bucket; stopped by its pid."""
    binary = os.path.join(os.path.dirname(sys.executable), 'weed')
    if not os.path.exists(binary):
        pytest.fail('weed is not installed: run make test, which installs requirements-s3.txt')
    folder = tmp_path_factory.mktemp('s3')
    (folder / 's3.json').write_text(json.dumps({'identities': [{
        'name': 'portal', 'credentials': [{'accessKey': S3_KEYS['S3_ACCESS_KEY'],
                                           'secretKey': S3_KEYS['S3_SECRET_KEY']}],
        'actions': ['Admin', 'Read', 'Write', 'List', 'Tagging']}]}))
    for attempt in range(2):  # weed occasionally dies at start: once more on fresh ports
        process, config, client = start_weed(binary, folder, attempt)
        if client is not None:
            break
    else:
        pytest.fail('the S3 server did not start: ' + (folder / 'log').read_text()[-3000:])
    yield config, client
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()  # weed may need a second signal
        process.wait(10)


@pytest.fixture(scope='session')
def redis_server():
    """A real redis-server on a free loopback port, stopped by PID."""
    port = free_port()
    process = start_redis(port)
    yield f'redis://127.0.0.1:{port}/0'
    process.terminate()
    process.wait(10)


def start_redis(port):
    """redis-server on a loopback port, answering; its process."""
    binary = shutil.which('redis-server')
    if binary is None:
        pytest.fail('redis-server is not installed: run make test, which installs it')
    process = subprocess.Popen([binary, '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                                '--appendonly', 'no'], stdout=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise AssertionError('redis-server did not start')
