"""Sign in, sign out, forgotten passwords, invitations, the language switch
and help (SPEC 3.1; QUALITY AUTH-1..4, SESS-1..3)."""
import datetime

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

import access
import jobs
import passwords
from blueprints import public_url, render
from jobs import emails
from models import LANGUAGES, Account, AuditLog, Token, writing

bp = Blueprint('auth', __name__)

RESET_LIFETIME = datetime.timedelta(hours=1)
INVITE_LIFETIME = datetime.timedelta(hours=72)
PASSWORD_PROBLEMS = {
    'too_short': _l('Use at least 8 characters.'),
    'too_long': _l('Use at most 128 characters.'),
    'letters_and_numbers': _l('Use both letters and numbers.'),
    'is_username': _l('Do not use your username or centre number.'),
    'is_common': _l('That password is too common: it appears in lists of breached passwords.'),
    'mismatch': _l('The two passwords do not match.'),
}


def password_problems(password, confirmation, account):
    """The messages for a new password, in the page's language."""
    found = passwords.problems(password, account.username,
                               account.centre.number if account.centre_id else '')
    if password != confirmation:
        found.append('mismatch')
    return [str(PASSWORD_PROBLEMS[code]) for code in found]


def client_address():
    return request.remote_addr or 'unknown'


@bp.route('/login', methods=['GET', 'POST'])
def login():
    """The sign-in form; after sign-in, back where the user was."""
    back = access.safe_return_path(request.values.get('next'))
    error, status = None, 200
    if request.method == 'POST':
        username = request.form.get('username', '').strip()[:40]
        password = request.form.get('password', '')[:passwords.MAX_LENGTH + 1]
        keys = [f'user:{username.upper()}', f'ip:{client_address()}']
        throttle = current_app.extensions['throttle']
        wait = throttle.wait_seconds(keys)
        if wait:
            AuditLog.record(None, 'auth.sign_in_throttled', f'ip:{client_address()} user:{username.upper()}')
            error, status = _('Too many failed attempts. Please wait %(seconds)s seconds and try again.',
                              seconds=wait), 429
        else:
            account = Account.by_username(username)
            if passwords.matches(account.password_hash if account else None, password) and account.active:
                throttle.succeeded(keys[0])
                access.sign_in(account)
                AuditLog.record(account, 'auth.sign_in', f'ip:{client_address()}', centre=account.centre_id)
                from blueprints.internal_assessment import replay
                pending = access.take_pending(account)
                if pending:
                    back = replay(pending, account) or back
                return redirect(back or url_for('home.index'), 303)
            throttle.failed(keys)
            AuditLog.record(account if account else None, 'auth.sign_in_failed',
                            f'ip:{client_address()} user:{username.upper()}')
            error, status = _('The username or password is not correct.'), 401
    expired = request.args.get('expired') and not current_user.is_authenticated
    return render('auth/login.html', error=error, back=back, expired=expired, status=status)


@bp.route('/logout', methods=['POST'])
def logout():
    """Sign out here and everywhere else (SESS-1)."""
    if current_user.is_authenticated:
        AuditLog.record(current_user._get_current_object(), 'auth.sign_out',
                        f'ip:{client_address()}', centre=current_user.centre_id)
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


def send_link(account, purpose, lifetime, template, endpoint):
    """Issue a single-use token and e-mail its link (call inside a transaction);
    returns the job to enqueue after commit."""
    token, row = Token.issue(account, purpose, lifetime)
    return emails.queue(f'{purpose}-{row.id}', account.email, template, account.language,
                        account=account, link=public_url(endpoint, token=token), hours=int(lifetime.total_seconds() // 3600),
                        centre_name=account.centre.name if account.centre_id else '')


def invite(account):
    """E-mail a new account's holder a link to set their own password."""
    return send_link(account, 'invite', INVITE_LIFETIME, 'invitation', 'auth.welcome')


@bp.route('/forgotten-password', methods=['GET', 'POST'])
def forgotten_password():
    """FORGOTTEN PASSWORD: a single-use link by e-mail; the same answer whoever asks."""
    if request.method == 'POST':
        username = request.form.get('username', '').strip()[:40]
        keys = [f'user:{username.upper()}', f'ip:{client_address()}']
        throttle = current_app.extensions['throttle']
        job = None
        if not throttle.wait_seconds(keys):
            throttle.failed([keys[1]])  # every request counts against the address
            account = Account.by_username(username)
            with writing():
                if account and account.active and account.email:
                    job = send_link(account, 'reset', RESET_LIFETIME, 'reset', 'auth.reset')
                AuditLog.record(account, 'auth.reset_requested', f'ip:{client_address()} user:{username.upper()}',
                                centre=account.centre_id if account else None)
        if job:
            jobs.enqueue(job)
        flash(_('If that account exists and has an e-mail address, a link to reset its password '
                'has been sent to it. The link works once, for one hour.'))
        return redirect(url_for('auth.login'), 303)
    return render('auth/forgotten_password.html', board=current_app.config)


def set_password_page(token, purpose):
    """Choose a password from an e-mailed link: invitation or reset."""
    row = Token.valid(token, purpose)
    if row is None:
        return render('auth/link_expired.html', status=410)
    account = row.account
    errors = []
    if request.method == 'POST':
        password = request.form.get('password', '')
        errors = password_problems(password, request.form.get('confirmation', ''), account)
        if not errors:
            with writing():
                if not row.use():
                    return render('auth/link_expired.html', status=410)
                Account.update(password_hash=passwords.hash_password(password[:passwords.MAX_LENGTH]),
                               session_epoch=Account.session_epoch + 1).where(Account.id == account.id).execute()
                AuditLog.record(account, f'auth.password_set.{purpose}', f'ip:{client_address()}',
                                centre=account.centre_id)
            flash(_('Your password has been set. Sign in with it now.'))
            return redirect(url_for('auth.login'), 303)
    return render('auth/set_password.html', account=account, purpose=purpose, errors=errors,
                  status=422 if errors else 200)


@bp.route('/reset/<token>', methods=['GET', 'POST'])
def reset(token):
    """The reset link: choose a new password; other sessions end."""
    return set_password_page(token, 'reset')


@bp.route('/welcome/<token>', methods=['GET', 'POST'])
def welcome(token):
    """The invitation link: a new account's holder chooses a password."""
    return set_password_page(token, 'invite')
