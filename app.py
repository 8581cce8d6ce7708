"""Internal Assessment Portal: the application factory, read as a table of contents."""
import os

from flask import Flask

import access
import blueprints
import cli
import jobs
from blueprints import (account_admin, auth, centre_profile, helpline, home, internal_assessment,
                        outbox, reports, samples)
from extensions import babel, csrf, htmx, login_manager, select_locale
from storage import bind_database, close_database, open_database
import security
import throttle


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True, template_folder='partials')
    app.config.from_mapping(
        SECRET_KEY=os.environ.get('SECRET_KEY', 'dev-only-secret-change-me'),
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
        MAIL_DOMAIN='portal.wjec.co.uk',
        MAIL_FOLDER=None,                # default instance/mail
        PUBLIC_URL='http://127.0.0.1:5000',  # links in e-mails
        JOB_STALE_SECONDS=300,           # a started job silent this long is run again
    )
    app.config.from_prefixed_env()       # FLASK_*, e.g. FLASK_SECRET_KEY
    for name in ('DATABASE_URL', 'REDIS_URL', 'DEMO_PASSWORD', 'SECRET_KEY', 'MAIL_SERVER',
                 'MAIL_USERNAME', 'MAIL_PASSWORD', 'PUBLIC_URL'):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config['REPORTS_DIR'] = app.config['REPORTS_DIR'] or os.path.join(app.instance_path, 'reports')
    app.config['MAIL_FOLDER'] = app.config['MAIL_FOLDER'] or os.path.join(app.instance_path, 'mail')
    app.config.setdefault('SESSION_COOKIE_SECURE', app.config['PUBLIC_URL'].startswith('https:'))

    bind_database(app)
    app.before_request(open_database)
    app.teardown_request(close_database)

    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    jobs.init_app(app)
    access.init_app(app)
    security.init_app(app)
    throttle.init_app(app)
    blueprints.init_app(app)

    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(internal_assessment.bp)
    app.register_blueprint(samples.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(centre_profile.bp)
    app.register_blueprint(helpline.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(account_admin.bp)

    cli.init_app(app)
    return app
