"""Extensions as module singletons, bound to the app in `create_app`."""
from flask import request, session
from flask_babel import Babel
from flask_htmx import HTMX
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from models import LANGUAGES

babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()
login_manager = LoginManager()


def select_locale():
    """The page's language: a link's `?lang=` (a Welsh account's e-mails
    carry it, and it stays for the session), the session's choice (English |
    Cymraeg switch), else the signed-in account's preference, else the browser's."""
    if request.args.get('lang') in LANGUAGES and request.method == 'GET':
        session['lang'] = request.args['lang']
    if session.get('lang') in LANGUAGES:
        return session['lang']
    if current_user and getattr(current_user, 'is_authenticated', False):
        return current_user.language
    return request.accept_languages.best_match(LANGUAGES) or 'en'
