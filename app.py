"""Internal Assessment Portal: the application factory, read as a table of contents."""
from flask import Flask

import access
import blueprints
import cli
import jobs
import metrics
from blueprints import (account_admin, auth, centre_profile, centres, entries, helpline, home, imports,
                        impersonation, internal_assessment, moderators, outbox, reports, samples, series_admin,
                        uploads)
from extensions import babel, csrf, htmx, login_manager, select_locale
from blueprints import health, moderation
from blueprints import notices
from storage import bind_database, close_database, open_database
import security
import settings
import throttle


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True, template_folder='partials')
    settings.load(app, test_config)

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
    metrics.init_app(app)  # /metrics, not public; request, save, sign-in counts
    blueprints.init_app(app)

    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(internal_assessment.bp)
    app.register_blueprint(samples.bp)
    app.register_blueprint(uploads.bp)
    uploads.init_app(app)
    app.register_blueprint(reports.bp)
    app.register_blueprint(centre_profile.bp)
    app.register_blueprint(helpline.bp)
    app.register_blueprint(centres.bp)
    app.register_blueprint(impersonation.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(account_admin.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(entries.bp)
    app.register_blueprint(series_admin.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(moderators.bp)
    app.register_blueprint(health.bp)
    notices.init_app(app)  # /staff/notices and the service banner on every page

    cli.init_app(app)
    return app
