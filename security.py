"""Response headers and error pages (QUALITY HDR-1): never a debug page,
never a 500 without a page that says what to do."""
from urllib.parse import quote

from flask import current_app, has_request_context, make_response, render_template, request, session
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from peewee import InterfaceError, OperationalError
from werkzeug.routing import IntegerConverter

from blueprints import hx_redirect, render
from extensions import htmx
from models import LANGUAGES, AuditLog

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ids beyond what a database column holds
    answer 404, not an overflow and a 500 (issue 6, point 13)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=2 ** 63 - 1, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app):
    app.url_map.converters['int'] = IdConverter
    AuditLog.address_of_request = staticmethod(
        lambda: request.remote_addr if has_request_context() else None)
    app.after_request(add_headers)
    app.register_error_handler(CSRFError, csrf_failed)
    for status in (400, 403, 404, 405, 413, 500):
        app.register_error_handler(status, error_page)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(InterfaceError, database_unavailable)


def add_headers(response):
    response.headers.setdefault('Content-Security-Policy', CSP)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Referrer-Policy'] = 'same-origin'
    response.headers['X-Frame-Options'] = 'DENY'
    if request.is_secure:
        response.headers['Strict-Transport-Security'] = 'max-age=31536000; includeSubDomains'
    if request.endpoint != 'static':
        # Pages, CSV exports and PDFs may hold candidates' data: never kept in
        # a shared school PC's browser cache (issue 6, point 11).
        response.headers['Cache-Control'] = 'no-store'
    return response


def csrf_failed(error):
    """A form without a valid token: usually a session that ended (SESS-4)."""
    from flask import url_for
    from access import ask_to_sign_in
    public = request.endpoint in ('auth.login', 'auth.sign_in_code', 'auth.forgotten_password', 'auth.reset',
                                  'auth.welcome', 'auth.language', 'auth.logout')
    if '_user_id' not in session and not public:
        return ask_to_sign_in(keep=False)  # nothing without a valid token is kept
    if htmx:
        return hx_redirect(request.headers.get('HX-Current-URL') or url_for('home.index'), 400)
    return render('error.html', status=400, title=_('This form has expired'),
                  message=_('The page was open too long or came from somewhere else. '
                            'Go back, reload the page and try again; nothing was saved.'))


ERRORS = {
    400: (_l('Something was wrong with that request'), _l('Go back and try again.')),
    403: (_l('Not available to this account'), _l('Your account does not have access to this page. '
          'Ask your exams officer if you need it.')),
    404: (_l('Page not found'), _l('The page does not exist, or your account cannot open it.')),
    405: (_l('Not allowed'), _l('That action cannot be done from here.')),
    413: (_l('Too large'), _l('What you sent is larger than this page accepts. Nothing was saved.')),
    500: (_l('Something went wrong on our side'), _l('Nothing was saved. Please try again; if it '
          'keeps happening, contact the helpline.')),
}


def error_page(error):
    status = getattr(error, 'code', 500) or 500
    title, message = ERRORS.get(status, ERRORS[500])
    try:
        return render('error.html', status=status, title=title, message=message)
    except Exception:  # the page itself failed (the database, most often): the plain one
        current_app.logger.exception('error page failed')
        return unavailable(status, title, message)


RETRY_SECONDS = 3


def database_unavailable(error):
    """The database is away (restarting, failing over): 503, said without
    touching it; an inline save says "not saved" in its cell and retries."""
    current_app.logger.warning('database unavailable: %s', error)
    title = _l('The service is unavailable for a moment')
    message = _l('Nothing was saved. Please try again in a few seconds.')
    if htmx:
        with force_locale(_language()):
            words = _('Not saved: the service is busy for a moment. Trying again…')
        response = make_response(words, 503)
        response.headers['X-Portal-Message'] = quote(words)
    else:
        response = unavailable(503, title, message)
    response.headers['Retry-After'] = str(RETRY_SECONDS)
    return response


def _language():
    """The page's language without the database: the session's, else the browser's."""
    chosen = session.get('lang')
    return chosen if chosen in LANGUAGES else (request.accept_languages.best_match(LANGUAGES) or 'en')


def unavailable(status, title, message):
    from flask import g
    from extensions import login_manager
    g._login_user = login_manager.anonymous_user()  # so that no template asks the database who is here
    with force_locale(_language()):
        page = render_template('unavailable.html', title=str(title), message=str(message),
                               language=_language())
    return make_response(page, status)
