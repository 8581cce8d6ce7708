"""Sign in, sign out, forgotten passwords, invitations, the language switch
and help (SPEC 3.1; QUALITY AUTH-1..4, SESS-1..3)."""
from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required

import access
import credentials
import jobs
import passwords
import second_factor
from markupsafe import Markup
from blueprints import public_url, render
from extensions import htmx, login_manager
from models import LANGUAGES, Account, AuditLog, Token, utcnow, writing
from throttle import known_browser, remember_browser

bp = Blueprint('auth', __name__)

PASSWORD_PROBLEMS = {
    'too_short': _l('Use at least 8 characters.'),
    'too_long': _l('Use at most 128 characters.'),
    'letters_and_numbers': _l('Use both letters and numbers.'),
    'contains_name': _l('Do not use your username, your centre number or the name of the board in it.'),
    'is_common': _l('That password is too common: it appears in lists of breached passwords.'),
    'mismatch': _l('The two passwords do not match.'),
}
CODE_WAIT_SECONDS = 15 * 60  # how long the code page waits for its code


def password_problems(password, confirmation, account):
    """The messages for a new password, in the page's language."""
    found = passwords.problems(password, account.username,
                               account.centre.number if account.centre_id else '',
                               current_app.config['BOARD_NAME'])
    if password != confirmation:
        found.append('mismatch')
    return [str(PASSWORD_PROBLEMS[code]) for code in found]


def client_address():
    return request.remote_addr or 'unknown'


def typed_username(username, account=None):
    """What the audit log keeps of a typed username: the name itself only
    when it is one, never a password typed into the wrong box (AUTH-4)."""
    name = (username or '').strip().upper()
    if account is not None or Account.by_username(name) is not None:
        return f'user:{name}'
    return 'user:[not a username]'


@bp.route('/login', methods=['GET', 'POST'])
def login():
    """The sign-in form; after sign-in, back where the user was."""
    back = access.safe_return_path(request.values.get('next'))
    error, status = None, 200
    if request.method == 'POST':
        username = request.form.get('username', '').strip()[:40]
        password = request.form.get('password', '')[:passwords.MAX_LENGTH + 1]
        throttle = current_app.extensions['throttle']
        browser, known_names = known_browser(request.cookies, current_app.config['SECRET_KEY'])
        known = username.upper() in known_names
        pair = throttle.pair(username, f'browser:{browser}' if known else f'ip:{client_address()}')
        wait = throttle.wait_seconds(pair)
        if wait:
            AuditLog.record(None, 'auth.sign_in_throttled', typed_username(username))
            error, status = _('Too many failed attempts. Please wait %(seconds)s seconds and try again.',
                              seconds=wait), 429
        else:
            account = Account.by_username(username)
            if passwords.matches(account.password_hash if account else None, password) and account.active:
                throttle.succeeded(pair)
                if account.needs_second_factor and account.totp_secret:
                    return ask_for_code(account, back, 'second_factor')
                if not known and account.email and throttle.needs_extra_step(account.username):
                    if throttle.may_send_code(account.username):
                        credentials.send_sign_in_code(account)
                    AuditLog.record(account, 'auth.sign_in_code_sent', f'user:{account.username}',
                                    centre=account.centre_id)
                    return ask_for_code(account, back, 'emailed')
                return finish_sign_in(account, back, 'password')
            throttle.failed(pair, username)
            AuditLog.record(account, 'auth.sign_in_failed', typed_username(username, account),
                            centre=account.centre_id if account else None)
            error, status = _('The username or password is not correct.'), 401
    expired = request.args.get('expired') and not current_user.is_authenticated
    return render('auth/login.html', error=error, back=back, expired=expired, status=status)


def finish_sign_in(account, back, how):
    """A fresh session; a change kept at expiry is saved; this browser is
    known to the account from now on."""
    access.sign_in(account)
    Account.update(last_sign_in_at=utcnow()).where(Account.id == account.id).execute()
    AuditLog.record(account, 'auth.sign_in', how, centre=account.centre_id)
    from blueprints.internal_assessment import replay
    pending = access.take_pending(account)
    if pending:
        back = replay(pending, account) or back
    response = redirect(back or url_for('home.index'), 303)
    return remember_browser(response, request.cookies, current_app.config['SECRET_KEY'],
                            account.username, current_app.config['SESSION_COOKIE_SECURE'])


def ask_for_code(account, back, kind):
    """The password was right; a code is needed too: from the authenticator
    app of a staff member or moderator ('second_factor'), or e-mailed after
    many failures to a browser new to the account ('emailed', AUTH-3)."""
    session['code_for'] = {'account': account.id, 'next': back, 'at': utcnow().timestamp(), 'kind': kind}
    return redirect(url_for('.sign_in_code'), 303)


def masked(email):
    """j…@school.org: enough to know which mailbox, no more."""
    name, _, domain = email.partition('@')
    return f'{name[:1]}…@{domain}'


@bp.route('/login/code', methods=['GET', 'POST'])
def sign_in_code():
    """Enter the code e-mailed at sign-in."""
    waiting = session.get('code_for') or {}
    account = Account.get_or_none(Account.id == waiting.get('account')) if waiting else None
    if (account is None or not account.active
            or utcnow().timestamp() - waiting.get('at', 0) > CODE_WAIT_SECONDS):
        session.pop('code_for', None)
        flash(_('Sign in with your username and password first.'), 'error')
        return redirect(url_for('.login'), 303)
    kind = waiting.get('kind', 'emailed')
    error, status = None, 200
    if request.method == 'POST':
        throttle = current_app.extensions['throttle']
        pair = throttle.pair(account.username, f'code:{client_address()}')
        wait = throttle.wait_seconds(pair)
        code = request.form.get('code', '')
        if wait:
            error, status = _('Too many failed attempts. Please wait %(seconds)s seconds and try again.',
                              seconds=wait), 429
        else:
            with writing():
                right = (second_factor.accept(account, code) if kind == 'second_factor'
                         else credentials.check_sign_in_code(account, code))
            if right:
                throttle.succeeded(pair)
                session.pop('code_for', None)
                how = 'password and authenticator code' if kind == 'second_factor' else 'password and e-mailed code'
                return finish_sign_in(account, waiting.get('next'), how)
            throttle.failed(pair, account.username)
            AuditLog.record(account, 'auth.sign_in_code_failed', f'user:{account.username}',
                            centre=account.centre_id)
            error, status = (_('That code is not right, or it has been used already. Enter the code '
                               'your authenticator app shows now, or one of your recovery codes.')
                             if kind == 'second_factor' else
                             _('That code is not right, or it has expired. Use the code in the latest '
                               'e-mail, or sign in again to be sent a new one.')), 401
    return render('auth/sign_in_code.html', kind=kind, email=masked(account.email or '@'), error=error,
                  status=status)


def own_password_problem(password, missing):
    """None if the signed-in account's own password verifies, else what to
    say (`missing`, or the throttle's wait): failures count as failed
    sign-ins (AUTH-3)."""
    if not password:
        return missing
    throttle = current_app.extensions['throttle']
    pair = throttle.pair(current_user.username, f'session:{session.get("sid")}')
    wait = throttle.wait_seconds(pair)
    if wait:
        return _('Too many failed attempts. Please wait %(seconds)s seconds and try again.', seconds=wait)
    if passwords.matches(current_user.password_hash, password[:passwords.MAX_LENGTH + 1]):
        throttle.succeeded(pair)
        return None
    throttle.failed(pair, current_user.username)
    return missing


@bp.route('/account/second-factor', methods=['GET', 'POST'])
def enrol():
    """Set up the second factor: scan the QR code (or type the key) into an
    authenticator app, then prove it with the current password and one code.
    Ten recovery codes are shown once."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.needs_second_factor:
        abort(403)
    secret = session.get('enrol_secret') or second_factor.new_secret()
    session['enrol_secret'] = secret
    errors = {}
    if request.method == 'POST':
        errors['password'] = own_password_problem(request.form.get('password', ''),
                                                  _('Enter your current password.'))
        if not errors['password']:
            with writing():
                codes = second_factor.enrol(current_user._get_current_object(), secret,
                                            request.form.get('code', ''))
                if codes:
                    AuditLog.record(current_user._get_current_object(), 'auth.second_factor_enrolled',
                                    f'account:{current_user.id}')
            if codes:
                session.pop('enrol_secret', None)
                return render('auth/recovery_codes.html', codes=codes)
            errors['code'] = _('That code does not match: check the app shows %(board)s and %(username)s, '
                               'and enter the code it shows now.', board=current_app.config['BOARD_NAME'],
                               username=current_user.username)
        errors = {field: message for field, message in errors.items() if message}
    return render('auth/enrol.html', secret=secret, errors=errors, status=422 if errors else 200,
                  qr=Markup(second_factor.qr_svg(secret, current_user.username, current_app.config['BOARD_NAME'])))


@bp.route('/logout', methods=['POST'])
def logout():
    """Sign out here and everywhere else (SESS-1)."""
    if current_user.is_authenticated:
        person = access.real_account()  # the staff member, if acting for a centre
        if getattr(current_user, 'acting', None):
            AuditLog.record(person, 'impersonation.stop', f'account:{current_user.id}',
                            centre=current_user.centre_id, acting_for=current_user._get_current_object())
        AuditLog.record(person, 'auth.sign_out', '', centre=person.centre_id)
        access.sign_out()
    flash(_('You have signed out.'))
    return redirect(url_for('auth.login'), 303)


@bp.route('/session/stay', methods=['POST'])
@login_required
def stay():
    """"Stay signed in", from the warning two minutes before the idle limit
    (WCAG 2.2.1): a request like any other, so the session's clock starts again."""
    if request.headers.get('X-Requested-With') == 'fetch' or htmx:
        return '', 204
    return redirect(access.safe_return_path(request.form.get('next')) or url_for('home.index'), 303)


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


def invite(account):
    """E-mail a new account's holder a link to set their own password."""
    return credentials.invite(account, public_url('auth.welcome'))


@bp.route('/forgotten-password', methods=['GET', 'POST'])
def forgotten_password():
    """FORGOTTEN PASSWORD: a single-use link by e-mail; the same answer, and
    the same work, whoever is named (AUTH-2). No sign-in throttle holds it back."""
    if request.method == 'POST':
        username = request.form.get('username', '').strip()[:40]
        staff = current_user._get_current_object() if (
            current_user.is_authenticated and current_user.kind == 'staff') else None
        if current_app.extensions['throttle'].may_ask_for_reset(client_address()):
            with writing():
                job = credentials.request_reset(username, public_url('auth.reset'), staff)
                AuditLog.record(staff, 'auth.reset_requested', typed_username(username))
            jobs.enqueue(job)
        flash(_('If that account exists and has an e-mail address, a link to reset its password '
                'has been sent to it. The link works once, for one hour.'))
        return redirect(url_for('auth.login'), 303)
    return render('auth/forgotten_password.html', board=current_app.config)


def set_password_page(purpose):
    """Choose a password from an e-mailed link. The token comes in the
    link's fragment, which the page's script posts (or the holder pastes
    the code from the e-mail), never in the URL's path (AUTH-4)."""
    token = request.form.get('token', '').strip() if request.method == 'POST' else ''
    if not token:
        return render('auth/link_code.html', purpose=purpose)
    row = Token.valid(token, purpose)
    if row is None:
        return render('auth/link_expired.html', status=410)
    account = row.account
    errors = []
    if 'password' in request.form:
        password = request.form.get('password', '')
        errors = password_problems(password, request.form.get('confirmation', ''), account)
        if not errors:
            with writing():
                if not row.use():
                    return render('auth/link_expired.html', status=410)
                Account.set_password(account.id, passwords.hash_password(password[:passwords.MAX_LENGTH]))
                AuditLog.record(account, f'auth.password_set.{purpose}', f'account:{account.id}',
                                centre=account.centre_id)
            flash(_('Your password has been set. Sign in with it now.'))
            return redirect(url_for('auth.login'), 303)
    return render('auth/set_password.html', account=account, purpose=purpose, errors=errors, token=token,
                  status=422 if errors else 200)


@bp.route('/reset', methods=['GET', 'POST'])
def reset():
    """The reset link: choose a new password; other sessions end."""
    return set_password_page('reset')


@bp.route('/welcome', methods=['GET', 'POST'])
def welcome():
    """The invitation link: a new account's holder chooses a password."""
    return set_password_page('invite')
