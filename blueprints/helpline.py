"""Helpline staff: the change of Exams Officer requests, from the Portal or
on letterhead, confirmed or rejected against the 48-hour target (SPEC 3.9, 3.10)."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from peewee import JOIN

import jobs
from access import roles_required
from blueprints import auth, clean, email_problem, name_problem, render
from blueprints.centre_profile import open_eo_change, pending_change
from jobs import emails
from models import Account, AuditLog, Centre, Request, RequestEvent, utcnow, writing

bp = Blueprint('helpline', __name__, url_prefix='/helpline')

TARGET_HOURS = 48
NOTE_MAX = 1000


def with_age(change):
    """The request with its age in whole hours."""
    change.hours = int((utcnow() - change.created_at).total_seconds() // 3600)
    change.overdue = change.hours >= TARGET_HOURS
    return change


def eo_change_or_404(request_id):
    """A change of Exams Officer request with its centre, or 404."""
    change = (Request.select(Request, Centre).join(Centre)
              .where(Request.id == request_id, Request.kind == 'eo_change').get_or_none())
    if change is None:
        abort(404)
    return with_age(change)


def queue_page(values=None, errors=None, status=200):
    """The queue of pending changes, oldest first, and the letterhead form."""
    waiting = (Request.select(Request, Centre, Account).join(Centre).switch(Request)
               .join(Account, JOIN.LEFT_OUTER, on=(Request.created_by == Account.id), attr='asker')
               .where(Request.kind == 'eo_change', Request.status == 'pending')
               .order_by(Request.created_at))
    return render('helpline/requests.html', waiting=[with_age(c) for c in waiting],
                  target=TARGET_HOURS, values=values or {}, errors=errors or {}, status=status)


@bp.route('/requests')
@roles_required('staff')
def requests():
    """Change of Exams Officer requests waiting for the board."""
    return queue_page()


def read_letterhead(form):
    """The letterhead form's fields, the centre named, and a message beside each that cannot be used."""
    values = {field: clean(form.get(field)) for field in
              ('centre_number', 'new_name', 'new_email', 'security_check')}
    values['signed_off'] = bool(form.get('signed_off'))
    centre = (Centre.get_or_none(Centre.number == values['centre_number'])
              if Centre.number_is_valid(values['centre_number']) else None)
    errors = {
        'centre_number': None if centre else _('There is no centre with the number “%(number)s”.',
                                               number=values['centre_number'][:10]),
        'new_name': name_problem(values['new_name']),
        'new_email': email_problem(values['new_email']),
        'signed_off': None if values['signed_off'] else _(
            'The letterhead must be signed off by the Head of Centre or senior leadership.'),
        'security_check': (None if 0 < len(values['security_check']) <= NOTE_MAX else _(
            "Say what was checked, for example “called the centre's registered number” "
            "(at most %(count)s characters).", count=NOTE_MAX)),
    }
    return values, centre, {field: message for field, message in errors.items() if message}


@bp.route('/requests/letterhead', methods=['POST'])
@roles_required('staff')
def letterhead():
    """Record a letterhead request: sign-off and security check, then confirm it."""
    values, centre, errors = read_letterhead(request.form)
    if errors:
        return queue_page(values, errors, status=422)
    staff = current_user._get_current_object()
    with writing():
        centre = Centre.locked(centre.id)
        waiting = pending_change(centre.id)
        if waiting is None:
            change = open_eo_change(
                centre, values['new_name'], values['new_email'], staff, 'letterhead',
                note=_('Letterhead signed off by the Head of Centre or senior leadership. '
                       'Security check: %(check)s', check=values['security_check']),
                signed_off=True, security_check=values['security_check'])
    if waiting is not None:
        errors['centre_number'] = _('A change of Exams Officer is already waiting for this centre: '
                                    'confirm or reject it first.')
        return queue_page(values, errors, status=409)
    flash(_('Letterhead request recorded for centre %(number)s. Check the details, then confirm.',
            number=centre.number))
    return redirect(url_for('.request_detail', request_id=change.id), 303)


@bp.route('/requests/<int:request_id>')
@roles_required('staff')
def request_detail(request_id):
    """One change of Exams Officer request and its status history."""
    change = eo_change_or_404(request_id)
    events = (RequestEvent.select(RequestEvent, Account)
              .join(Account, JOIN.LEFT_OUTER, on=(RequestEvent.by == Account.id), attr='by')
              .where(RequestEvent.request == change.id).order_by(RequestEvent.at, RequestEvent.id))
    asker = Account.get_or_none(Account.id == change.created_by_id)
    return render('helpline/request.html', change=change, events=list(events), asker=asker,
                  target=TARGET_HOURS)


def settle(change, status, staff, note=''):
    """Move a pending request on; False if it was settled already (a lost race included)."""
    moved = (Request.update(status=status)
             .where(Request.id == change.id, Request.status == 'pending').execute())
    if moved:
        RequestEvent.create(request=change.id, status=status, by=staff, note=note)
    return bool(moved)


def hand_over(change, staff):
    """The new Exams Officer on the centre and its administrator account: the
    old password and sessions end, and the new one is invited to set a password."""
    new = {'eo_name': change.info['new_name'], 'eo_email': change.info['new_email']}
    centre = Centre.get_by_id(change.centre_id)
    before = {'eo_name': centre.eo_name, 'eo_email': centre.eo_email}
    Centre.update(**new).where(Centre.id == centre.id).execute()
    account = Account.get_or_none(Account.centre == centre.id, Account.kind == 'administrator')
    if account is None:
        account = Account.create(username=centre.number, kind='administrator', centre=centre)
    Account.update(contact_name=new['eo_name'], email=new['eo_email']).where(Account.id == account.id).execute()
    Account.set_password(account.id, '')
    account.contact_name, account.email, account.centre = new['eo_name'], new['eo_email'], centre
    AuditLog.record(staff, 'eo_change.confirm', f'request:{change.id}', before=before,
                    after={**new, 'account': account.username}, centre=centre)
    return auth.invite(account)


def already_settled():
    flash(_('This request has already been confirmed or rejected: nothing has changed.'), 'error')


@bp.route('/requests/<int:request_id>/confirm', methods=['POST'])
@roles_required('staff')
def confirm(request_id):
    """Confirm: the new Exams Officer takes over and is e-mailed an invitation."""
    change = eo_change_or_404(request_id)
    staff = current_user._get_current_object()
    with writing():
        job = hand_over(change, staff) if settle(change, 'confirmed', staff, note_from(request.form)) else None
    if job is None:
        already_settled()
    else:
        jobs.enqueue(job)
        flash(_('Confirmed: %(name)s is now the Exams Officer of %(centre)s and has been e-mailed '
                'an invitation to set a password.', name=change.info['new_name'], centre=change.centre.name))
    return redirect(url_for('.request_detail', request_id=change.id), 303)


def note_from(form):
    return (form.get('note') or '').strip()[:NOTE_MAX]


@bp.route('/requests/<int:request_id>/reject', methods=['POST'])
@roles_required('staff')
def reject(request_id):
    """Reject: nothing changes, and the centre's Exams Officer is told why."""
    change = eo_change_or_404(request_id)
    staff, note = current_user._get_current_object(), note_from(request.form)
    job = None
    with writing():
        rejected = settle(change, 'rejected', staff, note)
        if rejected:
            centre = Centre.get_by_id(change.centre_id)
            AuditLog.record(staff, 'eo_change.reject', f'request:{change.id}', after={'note': note},
                            centre=centre)
            if centre.eo_email:
                admin = Account.get_or_none(Account.centre == centre.id, Account.kind == 'administrator')
                job = emails.queue(f'eo-change-rejected-{change.id}', centre.eo_email, 'eo_change_rejected',
                                   admin.language if admin else 'en', centre=centre, details=change.info,
                                   note=note)
    if not rejected:
        already_settled()
        return redirect(url_for('.request_detail', request_id=change.id), 303)
    flash(_('Rejected: the centre keeps its current Exams Officer details.'))
    if job:
        jobs.enqueue(job)
        flash(_("The centre's Exams Officer has been told by e-mail."))
    return redirect(url_for('.request_detail', request_id=change.id), 303)
