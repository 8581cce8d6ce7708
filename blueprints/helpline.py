"""Helpline staff: one queue of the centres' requests (SPEC 2 Requests, 3.9,
3.10). Every kind in one list with filters, each against its target (oldest
breach first); each request with its status history, the staff member who
has it, and the decision forms for its kind; the centre is e-mailed at each
decision, in its Exams Officer's language. The queue's logic lives in
`requests_queue`; these views read forms and say what happened."""
import datetime

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

import jobs
import requests_queue as rq
from access import helpline_required
from blueprints import auth, clean, email_problem, message_for, name_problem, outcome_label, page_number, render
from blueprints.centre_profile import open_eo_change, pending_change
from jobs import emails
from models import Account, AuditLog, Centre, DomainError, Unit, parse_date, writing
from requests_queue import settle  # noqa: F401  (the decision's race, for callers and tests)

bp = Blueprint('helpline', __name__, url_prefix='/helpline')

NOTE_MAX = rq.NOTE_MAX
KIND_LABELS = {
    'eo_change': _l('Change of Exams Officer'),
    'outcome_amendment': _l('Outcome amendment'),
    'file_deletion': _l('File deletion (cohort uploaded against the wrong unit)'),
    'e_submission_opt_out': _l('Opt-out from e-submission'),
}
STATUS_LABELS = {'pending': _l('Pending'), 'confirmed': _l('Confirmed'), 'rejected': _l('Rejected')}
AGE_LABELS = {'over_target': _l('Over its target'), 'over_day': _l('Older than a day'),
              'over_week': _l('Older than a week')}
REFUSALS = {
    'request_settled': _l('This request has already been confirmed or rejected: nothing has changed.'),
    'not_submitted_unit': _l('Outcomes for %(unit)s have not been submitted by this centre: the centre can '
                             'still change them on the marksheet.'),
    'same_outcome': _l('That is already the candidate’s outcome: nothing has changed.'),
    'amendment_waiting': _l('An amendment for this candidate is already waiting (request %(request)s): '
                            'decide it first.'),
    'request_waiting': _l('A request of this kind for this unit is already waiting (request %(request)s): '
                          'decide it first.'),
    'unknown_entry': _l('That candidate is no longer entered for this unit: nothing has changed.'),
}


def refusal(error):
    """The words for a DomainError met in the queue."""
    if error.code in REFUSALS:
        return str(REFUSALS[error.code]) % error.params
    return message_for(error)


def targets():
    return rq.targets(current_app.config.get('REQUEST_TARGET_HOURS', rq.TARGET_HOURS))


def staff_member():
    return current_user._get_current_object()


def request_or_404(request_id):
    """A request of a kind the helpline works, with its age, or 404."""
    found = rq.request_or_none(request_id)
    if found is None:
        abort(404)
    return rq.with_age(found, targets())


def note_from(form):
    return (form.get('note') or '').strip()[:NOTE_MAX]


def tell_centre(req, key, template, **context):
    """The decision e-mailed to the centre's Exams Officer, in their account's
    language; returns the job, or None without an address (inside the transaction)."""
    centre = Centre.get_by_id(req.centre_id)
    admin = Account.get_or_none(Account.centre == centre.id, Account.kind == 'administrator')
    address = centre.eo_email or (admin.email if admin else '')
    if not address:
        return None
    unit = Unit.get_by_id(req.unit_id) if req.unit_id else None
    return emails.queue(key, address, template, admin.language if admin else 'en', centre=centre, unit=unit,
                        details=req.info, **context)


def said_by_email(job):
    if job:
        jobs.enqueue(job)
        flash(_("The centre's Exams Officer has been told by e-mail."))
    else:
        flash(_('The centre has no Exams Officer e-mail address: tell them another way.'), 'error')


# --- The list ---------------------------------------------------------------------

def read_filters(args):
    """The list's filters from the query string, each held to its allowlist,
    and a message for a centre number that names no centre."""
    number = clean(args.get('centre'))[:10]
    centre = Centre.get_or_none(Centre.number == number) if Centre.number_is_valid(number) else None
    page = args.get('page', '1')
    filters = {
        'kind': args.get('kind') if args.get('kind') in rq.KINDS else '',
        'status': args.get('status') if args.get('status') in rq.STATUSES + ('all',) else 'pending',
        'age': args.get('age') if args.get('age') in rq.AGES else '',
        'centre': number if centre else '',
        'page': page_number(page, 99999),
    }
    problem = _('There is no centre with the number “%(number)s”.', number=number) if number and not centre else None
    return filters, centre, problem


def queue_page(values=None, errors=None, status=200):
    """The list of requests, filtered, and the letterhead form."""
    filters, centre, centre_problem = read_filters(request.args)
    hours = targets()
    if centre_problem:
        rows, matching = [], 0
    else:
        rows, matching = rq.queue(hours, kind=filters['kind'], status=filters['status'],
                                  centre_id=centre.id if centre else None, age=filters['age'],
                                  page=filters['page'])
    pages = max(1, -(-matching // rq.PAGE_SIZE))
    return render('helpline/requests.html', rows=rows, matching=matching, pages=pages, filters=filters,
                  centre_problem=centre_problem, kinds=KIND_LABELS, ages=AGE_LABELS, hours=hours,
                  target=hours['eo_change'], values=values or {}, errors=errors or {}, status=status)


@bp.route('/requests')
@helpline_required
def requests():
    """Every request waiting for the board, oldest breach first, with filters."""
    return queue_page()


# --- A change of Exams Officer on letterhead ---------------------------------------------

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
@helpline_required
def letterhead():
    """Record a letterhead request: sign-off and security check, then confirm it."""
    values, centre, errors = read_letterhead(request.form)
    if errors:
        return queue_page(values, errors, status=422)
    staff = staff_member()
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


# --- Recording a centre's written request -------------------------------------------------


def chosen_unit(kind, centre, values):
    """The unit picked from the centre's list, or typed as a code; (unit, problem)."""
    units = rq.units_for(kind, centre.id)
    if values['unit_id']:
        unit = next((u for u in units if str(u.id) == values['unit_id']), None)
        return unit, None if unit else _("Choose one of the centre's units listed.")
    code = values['unit_code'].upper()
    if not code:
        return None, _("Enter the unit code, or choose one of the centre's units.")
    eligible = [u for u in units if u.code == code]
    if len(eligible) == 1:
        return eligible[0], None
    if len(eligible) > 1:
        return None, _("Several of the centre's units have the code %(code)s: choose one from the list.",
                       code=code)
    if not rq.entered_units_with_code(centre.id, code):
        return None, _('Centre %(number)s has no entries for a unit with the code “%(code)s”.',
                       number=centre.number, code=code[:20])
    if kind == 'outcome_amendment':
        return None, str(REFUSALS['not_submitted_unit']) % {'unit': code}
    return None, _('%(code)s does not need e-submission: there is no uploaded work to delete or to opt out of.',
                   code=code)


def read_centre_request(form):
    """A centre's written request as staff typed it: (values, kind, centre,
    unit, what to record, errors beside the fields)."""
    values = {field: clean(form.get(field)) for field in
              ('kind', 'centre_number', 'unit_id', 'unit_code', 'candidate', 'requested', 'reference',
               'letter_date')}
    values['reason'] = (form.get('reason') or '').strip()
    kind = values['kind'] if values['kind'] in rq.RECORDED_KINDS else None
    errors, record = {}, {}
    if kind is None:
        errors['kind'] = _('Choose the kind of request.')
    centre = (Centre.get_or_none(Centre.number == values['centre_number'])
              if Centre.number_is_valid(values['centre_number']) else None)
    if centre is None:
        errors['centre_number'] = _('There is no centre with the number “%(number)s”.',
                                    number=values['centre_number'][:10])
    unit = None
    if centre and kind:
        unit, problem = chosen_unit(kind, centre, values)
        if problem:
            errors['unit'] = problem
    if kind == 'outcome_amendment':
        if unit:
            entry = rq.entry_of(centre.id, unit.id, values['candidate'][:4]) if len(values['candidate']) == 4 else None
            if entry is None:
                errors['candidate'] = _('Candidate “%(number)s” is not entered for %(code)s at this centre.',
                                        number=values['candidate'][:10], code=unit.code)
            record['entry'] = entry
            if not values['requested']:
                errors['requested'] = _('Enter the outcome the centre asks for.')
            else:
                try:
                    record['value'], _score = unit.parse_outcome(values['requested'])
                except DomainError as error:
                    errors['requested'] = message_for(error)
        if not 0 < len(values['reference']) <= rq.REFERENCE_MAX:
            errors['reference'] = _("Enter the centre's reference for their letter or e-mail "
                                    "(at most %(count)s characters).", count=rq.REFERENCE_MAX)
        letter_date = parse_date(values['letter_date'])
        if letter_date is None or letter_date > datetime.date.today() or letter_date.year < 2000:
            errors['letter_date'] = _("Enter the date of the centre's letter or e-mail, for example "
                                      "25/05/2017 (not in the future).")
        record['letter_date'] = letter_date
    elif kind:
        if not 0 < len(values['reason']) <= NOTE_MAX:
            errors['reason'] = _('Say what the centre asks for and why (at most %(count)s characters).',
                                 count=NOTE_MAX)
    return values, kind, centre, unit, record, errors


def new_request_page(values, errors=None, status=200):
    kind = values.get('kind') if values.get('kind') in rq.RECORDED_KINDS else 'outcome_amendment'
    values['kind'] = kind
    centre = (Centre.get_or_none(Centre.number == values.get('centre_number'))
              if Centre.number_is_valid(values.get('centre_number')) else None)
    units = rq.units_for(kind, centre.id) if centre else []
    return render('helpline/new_request.html', values=values, errors=errors or {}, centre=centre,
                  units=units, kinds={k: KIND_LABELS[k] for k in rq.RECORDED_KINDS}, status=status)


@bp.route('/requests/new', methods=['GET', 'POST'])
@helpline_required
def new_request():
    """Record a centre's written request: an outcome amendment, a file
    deletion or an opt-out from e-submission."""
    if request.method == 'GET':
        values = {'kind': request.args.get('kind', ''), 'centre_number': clean(request.args.get('centre_number'))[:10]}
        return new_request_page(values)
    values, kind, centre, unit, record, errors = read_centre_request(request.form)
    if errors:
        return new_request_page(values, errors, status=422)
    staff = staff_member()
    try:
        if kind == 'outcome_amendment':
            created = rq.record_amendment(centre, unit, record['entry'], record['value'], values['reference'],
                                          record['letter_date'], staff)
        else:
            created = rq.record_centre_request(kind, centre, unit, values['reason'][:NOTE_MAX], staff)
    except DomainError as error:
        field = 'requested' if error.code == 'same_outcome' else 'unit'
        return new_request_page(values, {field: refusal(error)}, status=409)
    flash(_('%(kind)s recorded for centre %(number)s. Check the details, then decide.',
            kind=KIND_LABELS[kind], number=centre.number))
    return redirect(url_for('.request_detail', request_id=created.id), 303)


# --- One request ------------------------------------------------------------------------

def detail_page(req, values=None, errors=None, status=200):
    """A request of any kind, its status history and the decision forms for its kind."""
    asker = Account.get_or_none(Account.id == req.created_by_id) if req.created_by_id else None
    holder = Account.get_or_none(Account.id == req.assigned_to_id) if req.assigned_to_id else None
    unit = (Unit.select(Unit).where(Unit.id == req.unit_id).get_or_none()) if req.unit_id else None
    entry = None
    if req.kind == 'outcome_amendment' and unit:
        entry = rq.entry_of(req.centre_id, unit.id, req.info.get('candidate'))
    return render('helpline/request.html', change=req, req=req, events=rq.history(req.id), asker=asker,
                  holder=holder, unit=unit, entry=entry, kinds=KIND_LABELS, target=req.target,
                  values=values or {}, errors=errors or {}, status=status)


@bp.route('/requests/<int:request_id>')
@helpline_required
def request_detail(request_id):
    """One request, its status history and its decision."""
    return detail_page(request_or_404(request_id))


@bp.route('/requests/<int:request_id>/take', methods=['POST'])
@helpline_required
def take(request_id):
    """Take this request: it is now the signed-in staff member's."""
    req = request_or_404(request_id)
    try:
        if rq.take(req.id, staff_member()):
            flash(_('You have taken this request.'))
        else:
            flash(_('This request is already yours.'))
    except DomainError as error:
        flash(refusal(error), 'error')
    return redirect(url_for('.request_detail', request_id=req.id), 303)


def already_settled():
    flash(str(REFUSALS['request_settled']), 'error')


@bp.route('/requests/<int:request_id>/confirm', methods=['POST'])
@helpline_required
def confirm(request_id):
    """Confirm (or, for a file deletion or an opt-out, accept) the request."""
    req = request_or_404(request_id)
    if req.kind == 'eo_change':
        return confirm_eo_change(req)
    if req.kind == 'outcome_amendment':
        return confirm_amendment(req)
    return accept(req)


@bp.route('/requests/<int:request_id>/reject', methods=['POST'])
@helpline_required
def reject(request_id):
    """Reject the request: nothing changes, and the centre is told why."""
    req = request_or_404(request_id)
    if req.kind == 'eo_change':
        return reject_eo_change(req)
    template = 'outcome_amendment_rejected' if req.kind == 'outcome_amendment' else f'{req.kind}_decided'
    return decide(req, 'rejected', template, _('Rejected: nothing has changed.'))


def accept(req):
    """A file deletion or an opt-out accepted: the decision is recorded (no
    files are held yet) and the centre told."""
    return decide(req, 'confirmed', f'{req.kind}_decided', _('Accepted: the decision is recorded.'))


def decide(req, status, template, done):
    """Settle a request once (two tabs make one decision), e-mail the centre
    with `template`, and say `done`."""
    note, accepted = note_from(request.form), status == 'confirmed'
    decided, job = rq.decide(req, status, staff_member(), note, tell=lambda r: tell_centre(
        r, f'request-{r.id}-{"accepted" if accepted else "rejected"}', template, accepted=accepted, note=note))
    if not decided:
        already_settled()
    else:
        flash(done)
        said_by_email(job)
    return redirect(url_for('.request_detail', request_id=req.id), 303)


def confirm_amendment(req):
    """The outcome changes, with a reason, on the submitted unit; the centre is told."""
    values = {'value': clean(request.form.get('value')), 'reason': (request.form.get('reason') or '').strip()}
    errors = {}
    unit = Unit.get_by_id(req.unit_id)
    value = score = None
    if not values['value']:
        errors['value'] = _('Enter the new outcome.')
    else:
        try:
            value, score = unit.parse_outcome(values['value'])
        except DomainError as error:
            errors['value'] = message_for(error)
    if not 0 < len(values['reason']) <= NOTE_MAX:
        errors['reason'] = _('Give the reason for the amendment (at most %(count)s characters): it is kept '
                             'in the audit log and sent to the centre.', count=NOTE_MAX)
    if errors:
        return detail_page(req, values, errors, status=422)
    reason = values['reason']
    try:
        before, job = rq.amend_outcome(req, value, score, reason, staff_member(), tell=lambda r, was: tell_centre(
            r, f'request-{r.id}-confirmed', 'outcome_amended', before=was, after=value, reason=reason))
    except DomainError as error:
        field = 'value' if error.code == 'same_outcome' else 'amendment'
        return detail_page(req, values, {field: refusal(error)}, status=409)
    if before is None:
        already_settled()
    else:
        flash(_('Amended: the outcome for candidate %(number)s is now %(value)s. The unit stays submitted '
                'and its sample is unchanged.', number=req.info['candidate'],
                value=outcome_label(value)))
        said_by_email(job)
    return redirect(url_for('.request_detail', request_id=req.id), 303)


# --- A change of Exams Officer decided ---------------------------------------------------

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


def confirm_eo_change(change):
    """Confirm: the new Exams Officer takes over and is e-mailed an invitation."""
    staff = staff_member()
    with writing():
        job = hand_over(change, staff) if rq.settle(change, 'confirmed', staff, note_from(request.form)) else None
    if job is None:
        already_settled()
    else:
        jobs.enqueue(job)
        flash(_('Confirmed: %(name)s is now the Exams Officer of %(centre)s and has been e-mailed '
                'an invitation to set a password.', name=change.info['new_name'], centre=change.centre.name))
    return redirect(url_for('.request_detail', request_id=change.id), 303)


def reject_eo_change(change):
    """Reject: nothing changes, and the centre's Exams Officer is told why."""
    staff, note = staff_member(), note_from(request.form)
    job = None
    with writing():
        rejected = rq.settle(change, 'rejected', staff, note)
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
