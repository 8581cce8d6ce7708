"""Helpline staff acting as a centre's account: start, switch to changes,
stop (SPEC 3.10; QUALITY IMP-1..3, SESS-3). The rules are in
impersonation.py and are checked on every request by access.py."""
import secrets

from flask import Blueprint, abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from peewee import JOIN

import impersonation
import second_factor
from access import real_account, helpline_required, safe_return_path
from blueprints import clean, render
from extensions import login_manager
from models import Account, AuditLog, Centre, utcnow, writing

bp = Blueprint('impersonation', __name__, url_prefix='/helpline/impersonation')


def fresh_session(staff, state=None):
    """A new session for the staff member (new id, new CSRF token, a new
    session secret, so no earlier cookie of theirs, acting or not, works
    again): nothing is carried from one identity to the other (SESS-3)."""
    signed_in_at = session.get('signed_in_at')  # the 12-hour limit runs on
    session.clear()
    Account.end_sessions(staff.id)
    login_user(Account.get_by_id(staff.id))
    session['sid'] = secrets.token_urlsafe(16)
    session['signed_in_at'] = signed_in_at or utcnow().timestamp()
    session['seen_at'] = utcnow().timestamp()
    if state:
        session['acting'] = state


def target_or_404(account_id):
    target = (Account.select(Account, Centre).join(Centre, JOIN.LEFT_OUTER)
              .where(Account.id == account_id).get_or_none()) if account_id else None
    if target is None:
        abort(404)
    return target


def read_reason(form):
    return clean(form.get('reason'))[:impersonation.REASON_MAX], clean(form.get('ticket'))[:impersonation.TICKET_MAX]


def start_page(target, values=None, errors=None, status=200):
    return render('helpline/act_as.html', target=target, values=values or {}, errors=errors or {},
                  limit=int(impersonation.LIMIT.total_seconds() // 60), status=status)


@bp.route('/accounts/<int:account_id>')
@helpline_required
def ask(account_id):
    """The form to act as an account: a reason, a ticket, a fresh code."""
    target = target_or_404(account_id)
    if not impersonation.may_act_as(current_user, target):
        abort(403)
    return start_page(target)


@bp.route('/start', methods=['POST'])
@helpline_required
def start():
    """Act as a centre account, read-only, for at most 30 minutes."""
    staff = current_user._get_current_object()
    raw = request.form.get('account', '')
    target = target_or_404(int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None)
    if not impersonation.may_act_as(staff, target):
        return start_page(target, errors={'account': _('The helpline can act only as an active centre '
                                                       'account.')}, status=403)
    reason, ticket = read_reason(request.form)
    errors = {}
    if not reason:
        errors['reason'] = _('Say why you are acting for the centre (for example, what they asked for).')
    with writing():
        if not errors and not second_factor.accept(staff, request.form.get('code', '')):
            errors['code'] = _('That code is not right, or it has been used already. Enter the code your '
                               'authenticator app shows now.')
        if not errors:
            state = impersonation.begin(target, reason, ticket, utcnow())
            AuditLog.record(staff, 'impersonation.start', f'account:{target.id}',
                            after={'reason': reason, 'ticket': ticket, 'until': state['until']},
                            centre=target.centre_id, acting_for=target)
    if errors:
        return start_page(target, {'reason': reason, 'ticket': ticket}, errors, status=422)
    fresh_session(staff, state)
    flash(_('You are acting as %(username)s, read-only.', username=target.username))
    return redirect(url_for('home.index'), 303)


@bp.route('/changes', methods=['POST'])
def changes():
    """Switch to changes: a reason again, logged."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    state = getattr(current_user, 'acting', None)
    back = safe_return_path(request.form.get('next')) or url_for('home.index')
    if not state:
        abort(404)
    reason, _ticket = read_reason(request.form)
    if not reason:
        flash(_('Say why changes are needed before switching to changes.'), 'error')
        return redirect(back, 303)
    AuditLog.record(real_account(), 'impersonation.changes', f'account:{current_user.id}',
                    after={'reason': reason}, centre=current_user.centre_id,
                    acting_for=current_user._get_current_object())
    session['acting'] = dict(state, changes=True)
    flash(_('Changes are on: what you save is recorded as the helpline acting for %(username)s.',
            username=current_user.username))
    return redirect(back, 303)


@bp.route('/stop', methods=['POST'])
def stop():
    """Stop acting: back to the helpline console, in a new session."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    state = getattr(current_user, 'acting', None)
    if not state:
        flash(_('You were not acting for a centre.'), 'error')
        return redirect(url_for('home.index'), 303)
    staff, target = real_account(), current_user._get_current_object()
    AuditLog.record(staff, 'impersonation.stop', f'account:{target.id}', centre=target.centre_id,
                    acting_for=target)
    fresh_session(staff)
    flash(_('You have stopped acting as %(username)s.', username=target.username))
    return redirect(url_for('centres.centre', centre_id=target.centre_id), 303)
