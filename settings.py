"""Configuration: defaults, the environment, and the checks that stop a
deployment starting unsafe (README, Configuration and Running at scale)."""
import os
import secrets

from werkzeug.middleware.proxy_fix import ProxyFix

DEFAULTS = dict(
    DATABASE_URL=None,               # default: sqlite in instance/
    DATABASE_POOL=True,              # keep connections open between requests
    REDIS_URL=None,                  # none: jobs run in-process
    DEMO_PASSWORD='Demo2017pass',
    BOARD_NAME='WJEC',
    BOARD_SUPPORT_EMAIL='pathways@wjec.co.uk',
    BOARD_EO_CHANGE_EMAIL='centresupport@wjec.co.uk',
    BOARD_HELPLINE='029 2026 5444',
    IDLE_MINUTES=20,
    ABSOLUTE_HOURS=12,
    WTF_CSRF_TIME_LIMIT=None,        # SESS-4: the token lives as long as the session
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE='Lax',
    BABEL_TRANSLATION_DIRECTORIES='translations',
    REPORTS_DIR=None,
    MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # forms and pasted sheets; uploads stream separately
    MAIL_SERVER=None,                # none: mails are written to MAIL_FOLDER as .eml files
    MAIL_PORT=25,
    MAIL_USE_TLS=False,
    MAIL_USERNAME=None,
    MAIL_PASSWORD=None,
    MAIL_FROM='WJEC Internal Assessment <no-reply@wjec.co.uk>',
    MAIL_FROM_CY='CBAC Asesu Mewnol <no-reply@wjec.co.uk>',  # the sender as a Welsh account reads it
    MAIL_DOMAIN='portal.wjec.co.uk',
    MAIL_FOLDER=None,                # default instance/mail
    PUBLIC_URL='http://127.0.0.1:5000',  # links in e-mails
    JOB_STALE_SECONDS=300,           # a job not done this long after it was asked for is said to be late
    JOB_HEARTBEAT_SECONDS=10,        # a running job says it is alive this often; three missed: run again
    PROXY_HOPS=0,                    # proxies in front that set X-Forwarded-*; 0 trusts none
    UPLOADS_DIR=None,                # default instance/uploads: parts being received
    FILES_DIR=None,                  # default instance/files: candidates' work, under stored names
    UPLOAD_MAX_BYTES=10 * 1024 ** 3,  # one file; video can be large
    IMPORT_MAX_BYTES=50 * 1024 ** 2,  # one CSV file to import (docs/IMPORTS.md)
    IMPORTS_DIR=None,                # default instance/imports: uploaded CSV files, kept with their batch
    CLAMD_ADDRESS=None,              # host:port of clamd; none: files are "available, not scanned"
    S3_BUCKET=None,                  # set: finished files go to this S3-compatible bucket
    S3_ENDPOINT_URL=None,            # e.g. https://s3.eu-west-2.amazonaws.com or a SeaweedFS/Swift address
    S3_REGION=None,
    S3_ACCESS_KEY=None,
    S3_SECRET_KEY=None,
)
FROM_ENVIRONMENT = ('DATABASE_URL', 'REDIS_URL', 'DEMO_PASSWORD', 'SECRET_KEY', 'MAIL_SERVER',
                    'MAIL_USERNAME', 'MAIL_PASSWORD', 'PUBLIC_URL', 'PROXY_HOPS',
                    'SESSION_COOKIE_SECURE', 'CLAMD_ADDRESS', 'S3_BUCKET', 'S3_ENDPOINT_URL', 'S3_REGION',
                    'S3_ACCESS_KEY', 'S3_SECRET_KEY')
DEVELOPMENT = 'PORTAL_ENV'           # `make run` sets PORTAL_ENV=development
MIN_SECRET_LENGTH = 32
OLD_DEVELOPMENT_KEY = 'dev-only-secret-change-me'  # the fixed fallback of earlier versions
HOW_TO_MAKE_A_KEY = ('Set SECRET_KEY to a random value of at least 32 characters, the same for every '
                     'web process and worker, for example:\n'
                     '    export SECRET_KEY="$(python3 -c \'import secrets; print(secrets.token_hex(32))\')"')


class UnsafeConfiguration(SystemExit):
    """Raised at start-up: the message says what to set."""


def load(app, test_config=None):
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env()       # FLASK_*, e.g. FLASK_SECRET_KEY
    for name in FROM_ENVIRONMENT:
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config['REPORTS_DIR'] = app.config['REPORTS_DIR'] or os.path.join(app.instance_path, 'reports')
    app.config['MAIL_FOLDER'] = app.config['MAIL_FOLDER'] or os.path.join(app.instance_path, 'mail')
    app.config['UPLOADS_DIR'] = app.config['UPLOADS_DIR'] or os.path.join(app.instance_path, 'uploads')
    app.config['FILES_DIR'] = app.config['FILES_DIR'] or os.path.join(app.instance_path, 'files')
    app.config['UPLOAD_MAX_BYTES'] = int(app.config['UPLOAD_MAX_BYTES'])
    app.config['IMPORT_MAX_BYTES'] = int(app.config['IMPORT_MAX_BYTES'])
    app.config['IMPORTS_DIR'] = app.config['IMPORTS_DIR'] or os.path.join(app.instance_path, 'imports')
    app.config['PROXY_HOPS'] = int(app.config['PROXY_HOPS'] or 0)
    use_secure_cookies(app)
    check_secret_key(app)
    if app.config['PROXY_HOPS']:
        # Trust exactly that many proxies' X-Forwarded-For/Proto/Host: the
        # client address then reaches the throttle and the audit log.
        hops = app.config['PROXY_HOPS']
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def development(app):
    return app.testing or os.environ.get(DEVELOPMENT) == 'development'


def check_secret_key(app):
    """Refuse to start with a missing, short or development key, except in
    development (`make run`, a random key kept in instance/) and the tests."""
    key = app.config.get('SECRET_KEY')
    if development(app):
        if not key:
            app.config['SECRET_KEY'] = development_key(app.instance_path)
        return
    if not key or len(str(key)) < MIN_SECRET_LENGTH or key == OLD_DEVELOPMENT_KEY:
        problem = 'is not set' if not key else 'is too short or a development value'
        raise UnsafeConfiguration(f'Refusing to start: SECRET_KEY {problem}.\n{HOW_TO_MAKE_A_KEY}')


def development_key(folder):
    """A random key for this checkout only, made once."""
    path = os.path.join(folder, 'secret_key')
    if not os.path.exists(path):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'w') as out:
            out.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


def use_secure_cookies(app):
    """Secure cookies when the site is served over HTTPS (SESS-3): a
    `__Host-` name binds the cookie to this host, HTTPS only."""
    secure = app.config.get('SESSION_COOKIE_SECURE')
    if isinstance(secure, str):
        secure = secure.lower() in ('1', 'true', 'yes')
    if not secure:  # Flask's default config already holds False: decide from PUBLIC_URL
        secure = app.config['PUBLIC_URL'].startswith('https:')
    app.config['SESSION_COOKIE_SECURE'] = secure
    if secure:
        app.config['SESSION_COOKIE_NAME'] = '__Host-session'
