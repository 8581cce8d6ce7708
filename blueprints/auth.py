"""Sign in, sign out, the language switch and help (SPEC 3.1)."""
from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

import access
import passwords
from blueprints import render
from models import LANGUAGES, Account, AuditLog

bp = Blueprint('auth', __name__)


@bp.route('/login', methods=['GET', 'POST'])
def login():
    """The sign-in form; after sign-in, back where the user was."""
    back = access.safe_return_path(request.values.get('next'))
    error = None
    if request.method == 'POST':
        username = request.form.get('username', '').strip()[:40]
        password = request.form.get('password', '')[:128]
        account = Account.by_username(username)
        if passwords.matches(account.password_hash if account else None, password) and account.active:
            access.sign_in(account)
            AuditLog.record(account, 'auth.sign_in', f'ip:{request.remote_addr}',
                            centre=account.centre_id)
            from blueprints.internal_assessment import replay
            pending = access.take_pending(account)
            if pending:
                back = replay(pending, account) or back
            return redirect(back or url_for('home.index'), 303)
        AuditLog.record(account if account else None, 'auth.sign_in_failed',
                        f'ip:{request.remote_addr}')
        error = _('The username or password is not correct.')
    expired = request.args.get('expired') and not current_user.is_authenticated
    return render('auth/login.html', error=error, back=back, expired=expired,
                  status=401 if error else 200)


@bp.route('/logout', methods=['POST'])
def logout():
    """Sign out here and everywhere else (SESS-1)."""
    if current_user.is_authenticated:
        AuditLog.record(current_user._get_current_object(), 'auth.sign_out',
                        f'ip:{request.remote_addr}', centre=current_user.centre_id)
        access.sign_out()
    flash(_('You have signed out.'))
    return redirect(url_for('auth.login'), 303)


@bp.route('/language', methods=['POST'])
def language():
    """English | Cymraeg: holds for the rest of the session."""
    choice = request.form.get('lang')
    if choice in LANGUAGES:
        session['lang'] = choice
    return redirect(access.safe_return_path(request.form.get('next')) or url_for('home.index'), 303)


@bp.route('/help')
def help():
    """HELP and FREQUENTLY ASKED QUESTIONS."""
    return render('auth/help.html', board=current_app.config)


@bp.route('/forgotten-password')
def forgotten_password():
    """Who can set a new password for you."""
    return render('auth/forgotten_password.html', board=current_app.config)
