"""Manage Centre: the signed-in administrator's own centre profile, and the
change of Exams Officer, which waits for the board to confirm it (SPEC 3.9).

The centre always comes from the signed-in account (QUALITY AC-2); the form
takes an allowlist of fields (AC-3): the telephone is changed through NCN."""
import json

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import jobs
from access import acting_ids, roles_required
from blueprints import clean, email_problem, name_problem, page_number, public_url, render, target_names
from jobs import emails
from models import AuditLog, Centre, Request, RequestEvent, writing

bp = Blueprint('centre_profile', __name__, url_prefix='/centre')


def pending_change(centre_id):
    """The change of Exams Officer waiting for the board, or None."""
    return (Request.select().where(Request.centre == centre_id, Request.kind == 'eo_change',
                                   Request.status == 'pending')
            .order_by(Request.created_at).first())


def open_eo_change(centre, new_name, new_email, by, route, note='', acting_for=None, **extra):
    """Record a pending change of Exams Officer (call inside a transaction)."""
    details = dict(route=route, old_name=centre.eo_name, old_email=centre.eo_email,
                   new_name=new_name, new_email=new_email, **extra)
    change = Request.create(kind='eo_change', centre=centre, status='pending',
                            details=json.dumps(details), created_by=acting_for or by)
    RequestEvent.create(request=change, status='pending', by=acting_for or by, note=note)
    AuditLog.record(by, 'eo_change.request', f'request:{change.id}',
                    before={'eo_name': centre.eo_name, 'eo_email': centre.eo_email},
                    after={'eo_name': new_name, 'eo_email': new_email, 'route': route},
                    centre=centre, acting_for=acting_for)
    return change


def tell_the_board(centre, change, by):
    """The mail to the board's support team; returns its job (call inside the transaction)."""
    return emails.queue(f'eo-change-{change.id}', current_app.config['BOARD_EO_CHANGE_EMAIL'],
                        'eo_change_requested', 'en', centre=centre, details=change.info, asked_by=by,
                        link=public_url('helpline.request_detail', request_id=change.id))


def read_form(form):
    """The allowlisted fields, cleaned, and a message beside each that cannot be used."""
    values = {field: clean(form.get(field)) for field in
              ('eo_name', 'eo_email', 'head_of_centre', 'post_results_email')}
    errors = {
        'eo_name': name_problem(values['eo_name']),
        'eo_email': email_problem(values['eo_email']),
        'head_of_centre': name_problem(values['head_of_centre']),
        'post_results_email': email_problem(values['post_results_email'], required=False),
    }
    return values, {field: message for field, message in errors.items() if message}


def save(centre_id, values, by, acting_for=None):
    """Head of Centre and post-results e-mail change now; a new Exams Officer
    waits for the board. Returns (saved, change, job), or a pending change
    that refuses another as (None, waiting, None)."""
    with writing():
        centre = Centre.locked(centre_id)
        wanted_eo = (values['eo_name'], values['eo_email'])
        change, job = None, None
        if wanted_eo != (centre.eo_name, centre.eo_email):
            waiting = pending_change(centre.id)
            if waiting is not None:
                return None, waiting, None
            change = open_eo_change(centre, *wanted_eo, by, 'portal', acting_for=acting_for)
            job = tell_the_board(centre, change, acting_for or by)
        before = {'head_of_centre': centre.head_of_centre, 'post_results_email': centre.post_results_email}
        after = {'head_of_centre': values['head_of_centre'],
                 'post_results_email': values['post_results_email'] or None}
        saved = before != after
        if saved:
            Centre.update(**after).where(Centre.id == centre.id).execute()
            AuditLog.record(by, 'centre.update', f'centre:{centre.id}', before=before, after=after,
                            centre=centre, acting_for=acting_for)
    return saved, change, job


def say_what_happened(saved, change):
    """The messages after Save Changes."""
    if change:
        flash(_('The change of Exams Officer has been sent to %(board)s. The current details '
                'stay in force until %(board)s confirms the change; the new Exams Officer '
                'will then be e-mailed an invitation to set a password.',
                board=current_app.config['BOARD_NAME']))
    if saved:
        flash(_('Centre details saved.'))
    if not (saved or change):
        flash(_('Nothing has changed.'))


@bp.route('/', methods=['GET', 'POST'])
@roles_required('administrator')
def manage():
    """Manage Centre: Examinations Officer, Centre Details and Post Results e-mail."""
    centre = Centre.get_by_id(current_user.centre_id)
    values = {'eo_name': centre.eo_name, 'eo_email': centre.eo_email,
              'head_of_centre': centre.head_of_centre,
              'post_results_email': centre.post_results_email or ''}
    errors, status = {}, 200
    if request.method == 'POST':
        values, errors = read_form(request.form)
        status = 422 if errors else 200
    if request.method == 'POST' and not errors:
        saved, change, job = save(centre.id, values, *acting_ids())
        if saved is not None:
            if job:
                jobs.enqueue(job)
            say_what_happened(saved, change)
            return redirect(url_for('.manage'), 303)
        errors['eo_name'] = _('A change of Exams Officer is already waiting for the board: '
                              'it must be confirmed or rejected before another can be made.')
        status = 409
    return render('centre_profile/manage.html', centre=centre, values=values, errors=errors,
                  waiting=pending_change(centre.id), status=status)


HISTORY_PAGE = 50


@bp.route('/helpline-history')
@roles_required('administrator')
def helpline_history():
    """The helpline acted on your behalf: every row written by staff acting
    as one of the centre's accounts, with why (IMP-3)."""
    page = page_number(request.args.get('page'))
    rows = list(AuditLog.of_centre(current_user.centre_id, helpline_only=True)
                .paginate(page, HISTORY_PAGE + 1))
    return render('centre_profile/helpline_history.html', rows=rows[:HISTORY_PAGE], page_no=page,
                  names=target_names(rows[:HISTORY_PAGE]),
                  more=len(rows) > HISTORY_PAGE)
