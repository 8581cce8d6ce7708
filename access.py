"""Who may do what: sessions, role decorators and the loaders that check
tenancy, so that no view can forget (QUALITY AC-1, AC-2, SESS-1..4)."""
import functools
import secrets
from urllib.parse import quote, urlsplit

from flask import abort, current_app, flash, g, make_response, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from extensions import htmx, login_manager
from peewee import JOIN

import impersonation
from models import Account, AuditLog, Centre, Marksheet, Series, Unit, utcnow
from blueprints import hx_redirect, render

# Requests that must not count as activity for the idle timeout (SESS-2).
BACKGROUND_HEADER = 'X-Background'
# Saves that are kept when the session has expired and replayed after sign-in.
REPLAYABLE = ('internal_assessment.save_outcome', 'internal_assessment.save_page')


def init_app(app):
    login_manager.login_view = 'auth.login'
    login_manager.session_protection = None  # our own checks below
    login_manager.user_loader(load_account)
    login_manager.unauthorized_handler(ask_to_sign_in)
    app.before_request(enforce_session_limits)
    app.before_request(require_second_factor)
    app.before_request(guard_impersonation)


def load_account(session_key):
    """Sessions carry 'id:secret', the account's random session secret: a
    new secret (sign-out everywhere, deactivation, password change) ends all
    its sessions at once, and the signing key alone cannot forge one."""
    account_id, _, secret = (session_key or '').partition(':')
    if not (account_id.isascii() and account_id.isdigit()) or len(account_id) > 18 or not secret:
        return None
    account = (Account.select(Account, Centre).join(Centre, JOIN.LEFT_OUTER)
               .where(Account.id == int(account_id)).get_or_none())
    if account is None or not account.holds_session(secret):
        return None
    state = session.get('acting')
    return account_acted_as(account, state) if state else account


def account_acted_as(staff, state):
    """The centre account a helpline member is acting as, checked again on
    every request against the real staff member (IMP-1, IMP-2); when it must
    end (time limit, role or account revoked), the staff member again."""
    target = (Account.select(Account, Centre).join(Centre, JOIN.LEFT_OUTER)
              .where(Account.id == state.get('target')).get_or_none())
    why = impersonation.ended_because(state, staff, target, utcnow())
    if why:
        session.pop('acting', None)
        g.impersonation_ended = (why, state, staff)
        return staff
    target.acting_staff, target.acting = staff, state
    return target


def sign_in(account):
    """Start a fresh session (a new cookie, SESS-3): the account's preferred
    language applies from here, until the switch is used."""
    pending = session.get('pending')
    session.clear()
    if pending:
        session['pending'] = pending
    login_user(account)
    now = utcnow().timestamp()
    session['sid'] = secrets.token_urlsafe(16)
    session['signed_in_at'] = now
    session['seen_at'] = now


def sign_out(everywhere=True):
    if everywhere and current_user.is_authenticated:
        Account.end_sessions(real_account().id)  # never the account acted as
    logout_user()
    language = session.get('lang')
    session.clear()
    if language:
        session['lang'] = language


# What a staff or moderator account may open before it has a second factor.
BEFORE_SECOND_FACTOR = {'auth.enrol', 'auth.logout', 'auth.language', 'auth.help', 'auth.login', 'static'}


def require_second_factor():
    """A staff or moderator account without a second factor can do nothing
    but set one up (SPEC 3.1)."""
    if (request.endpoint in BEFORE_SECOND_FACTOR or '_user_id' not in session
            or not current_user.is_authenticated or not current_user.needs_second_factor
            or current_user.totp_secret):
        return None
    if htmx:
        return hx_redirect(url_for('auth.enrol'), status=403)
    return redirect(url_for('auth.enrol'), 303)


SEEN_EVERY = 60  # seconds between writes of the idle timer to the session


def enforce_session_limits():
    """End sessions idle for 20 minutes or older than 12 hours, on the server."""
    if request.endpoint in (None, 'static') or '_user_id' not in session:
        return
    now = utcnow().timestamp()
    idle = current_app.config['IDLE_MINUTES'] * 60
    absolute = current_app.config['ABSOLUTE_HOURS'] * 3600
    if (now - session.get('seen_at', 0) > idle
            or now - session.get('signed_in_at', 0) > absolute):
        session['expired_account'] = session.get('_user_id')
        logout_user()
        return
    # Written at most once a minute: an unchanged session sends no cookie,
    # and the idle limit is still kept to the minute.
    if not request.headers.get(BACKGROUND_HEADER) and now - session.get('seen_at', 0) >= SEEN_EVERY:
        session['seen_at'] = now


def safe_return_path(url):
    """A path on this site to come back to, never another site."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path or '/'
    if not path.startswith('/') or path.startswith('//'):
        return None
    return path + ('?' + parts.query if parts.query else '')


def ask_to_sign_in(keep=True):
    """Anonymous or expired: keep what was being saved, then sign in and
    come back (an htmx request gets HX-Redirect, never a login form in a cell)."""
    if keep and request.method == 'POST' and request.endpoint in REPLAYABLE:
        keep_for_replay()
    if htmx:
        back = safe_return_path(request.headers.get('HX-Current-URL'))
        return hx_redirect(url_for('auth.login', next=back, expired=1), status=401)
    back = request.full_path if request.method == 'GET' else safe_return_path(request.referrer)
    expired = 1 if session.get('expired_account') else None
    return redirect(url_for('auth.login', next=back, expired=expired), 303)


def keep_for_replay():
    """Only a change sent with the expired session's own CSRF token is kept:
    a forged request must never be saved at the next sign-in."""
    try:
        validate_csrf(request.headers.get('X-CSRFToken') or request.form.get('csrf_token'))
    except ValidationError:
        return
    fields = {k: v for k, v in request.form.items()
              if k.startswith(('value-', 'version-', 'confirm_absent'))}
    fields['row'] = request.form.getlist('row')
    session['pending'] = {'endpoint': request.endpoint, 'view_args': request.view_args,
                          'form': fields, 'account': session.get('expired_account')}


def take_pending(account):
    """The change kept at expiry, if it was this account's."""
    pending = session.pop('pending', None)
    if pending and pending.get('account') == account.get_id():
        return pending
    return None


# --- Roles and loaders --------------------------------------------------------

def roles_required(*kinds):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.kind not in kinds:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


centre_account_required = roles_required('administrator', 'user')


def staff_role_required(role):
    """Staff holding `role`: 'helpline' (centres, requests, acting as a
    centre) or 'series' (series, units, imports, entries, moderators)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_staff_role(role):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


helpline_required = staff_role_required('helpline')
series_staff_required = staff_role_required('series')


def internal_assessment_required(view):
    @functools.wraps(view)
    @centre_account_required
    def wrapped(*args, **kwargs):
        if not current_user.may_use_internal_assessment():
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def permitted_units():
    """Units the signed-in account may open that its centre has entries for."""
    from models import Entry
    return (current_user.permitted_units()
            .where(Unit.id.in_(Entry.select(Entry.unit).where(Entry.centre == current_user.centre_id))))


def marksheet_for(unit_id):
    """The signed-in centre's marksheet for a unit it may open, or 404."""
    unit = (permitted_units().select(Unit, Series).join(Series)  # the series with it: one query
            .where(Unit.id == unit_id).get_or_none())
    if unit is None:
        abort(404)
    return Marksheet(current_user.centre, unit)


def real_account():
    """The person signed in: the staff member while they act for a centre."""
    return getattr(current_user, 'acting_staff', None) or current_user._get_current_object()


def acting_ids():
    """(actor, acting_for) for audit rows: (staff, the centre account) while
    acting for a centre, else (the account, None)."""
    staff = getattr(current_user, 'acting_staff', None)
    if staff is not None:
        return staff, current_user._get_current_object()
    return current_user._get_current_object(), None


# --- While helpline staff act for a centre (IMP-1..3) -------------------------

# Always allowed while acting: the controls of the impersonation itself, and
# printing a report (it changes nothing of the centre's; it counts against
# the staff member's own report limit).
IMPERSONATION_CONTROLS = {'impersonation.stop', 'impersonation.changes', 'auth.logout', 'auth.language', 'auth.stay',
                          'reports.print_report', 'moderation.print_result'}
# Never, even with changes on: accounts, passwords, e-mail addresses, grants, the second factor.
NEVER_WHILE_ACTING = ('account_admin.', 'centre_profile.', 'auth.')
WRITTEN_REQUEST_TO_SUBMIT = 'asked_in_writing'
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')  # every other method writes: POST, and tus's PATCH and DELETE


def guard_impersonation():
    """Read-only until the agent switches to changes; some things never."""
    if '_user_id' not in session or not current_user.is_authenticated:
        return None
    ended = g.pop('impersonation_ended', None)
    if ended:
        why, state, staff = ended
        AuditLog.record(staff, 'impersonation.end', f'account:{state.get("target")}', after={'why': why},
                        centre=state.get('centre'), acting_for=state.get('target'))
        flash(_('You are no longer acting as %(username)s: the %(minutes)s minutes are up or access was '
                'withdrawn.', username=state.get('username', ''),
                minutes=int(impersonation.LIMIT.total_seconds() // 60)), 'error')
    state = getattr(current_user, 'acting', None)
    if not state or request.method in SAFE_METHODS or request.endpoint in IMPERSONATION_CONTROLS:
        return None
    if (request.endpoint or '').startswith(NEVER_WHILE_ACTING):
        return refuse(_('The helpline cannot change accounts, passwords, e-mail addresses, permissions '
                        'or centre details while acting for a centre.'))
    if not state.get('changes'):
        return refuse(_('Not saved: you are acting as %(username)s read-only. Use "Switch to changes" '
                        'in the banner, with a reason, to make changes.', username=current_user.username))
    if request.endpoint == 'internal_assessment.submit':
        if not request.form.get(WRITTEN_REQUEST_TO_SUBMIT):
            return refuse(_('Not submitted: the helpline submits for a centre only when the centre asked in '
                            'writing. Tick the box to say it did.'))
        AuditLog.record(real_account(), 'impersonation.submit_asked_in_writing',
                        f'unit:{(request.view_args or {}).get("unit_id")}', centre=current_user.centre_id,
                        acting_for=current_user._get_current_object())
    return None


def refuse(message):
    """A write refused while acting: said where the agent is looking."""
    if htmx:
        response = make_response(message, 403)
        response.headers['X-Portal-Message'] = quote(message)
        return response
    return render('error.html', status=403, title=_('Not while acting for a centre'), message=message)
