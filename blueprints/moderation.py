"""The moderator's workspace (SPEC 3.7, 3.6 further sample; issue 8 point 5)
and, for centre accounts, RESULTS: the moderator reports they may read from
results day ("View Moderators Report"), as a page and a PDF made by a job.

Every moderator view starts with `assignment_for(centre_id, unit_id)`, and
every centre view with `report_for(unit_id)` or `result_job_for(job_id)`:
loaders that answer 404 for anything that is not the signed-in account's,
whatever the ids, so no view can forget tenancy. The rules live in
`moderation`; these views read forms and say what happened. Plain forms
throughout: nothing here needs JavaScript.
"""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user

import access
import jobs
import moderation
import uploads
from access import internal_assessment_required, roles_required
from blueprints import AUDIT_WORDS, message_for, public_url, render
from jobs import emails, reports
from blueprints.reports import finished_file, job_page
from blueprints.uploads import send_candidate_file
from models import Account, DomainError, Job, Marksheet, ModeratorReport, lock_marksheet, writing

bp = Blueprint('moderation', __name__)
moderator_required = roles_required('moderator')

STATE_LABELS = {
    'awaiting': _l('Awaiting centre'),
    'to_moderate': _l('To moderate'),
    'further_sample': _l('Further sample requested'),
    'completed': _l('Completed'),
}
SECTION_LABELS = {
    'tasks': _l('Tasks'),
    'accuracy': _l('Accuracy of assessment'),
    'administration': _l('Administration'),
    'comments': _l('Comments'),
}
bp.add_app_template_global(SECTION_LABELS, 'moderator_report_sections')  # the pages and the PDF's job
REFUSALS = {
    'not_submitted': _l('The centre has not submitted outcomes for this unit yet: there is nothing to '
                        'moderate until it does.'),
    'report_completed': _l('The moderator report for this unit has been completed and can no longer be '
                           'changed.'),
    'no_candidates': _l('Nothing has been requested: choose at least one candidate.'),
    'unknown_entry': _l('Nothing has been saved: that candidate is not on this centre’s marksheet for '
                        'this unit.'),
    'already_in_sample': _l('Nothing has been requested: candidate %(number)s is already in the sample.'),
    'sample_changed': _l('Nothing has been requested: the sample changed while you were choosing. '
                         'Choose again.'),
    'not_sampleable': _l('Nothing has been requested: candidate %(number)s has no outcome or is Absent.'),
    'reason_required': _l('Nothing has been requested: give the reason for the further sample.'),
    'too_long': _l('Nothing has been saved: use at most %(maximum)s characters.'),
    'due_date_required': _l('Nothing has been requested: enter the date by which the centre should send '
                            'the work, for example 25/06/2017.'),
    'due_date_past': _l('Nothing has been requested: the due date %(date)s has passed. Choose today or '
                        'a later date.'),
    'seen_required': _l('Nothing has been saved: enter the mark on the candidate’s work.'),
    'seen_absent': _l('Nothing has been saved: Absent is not a mark on the work. Enter the mark the '
                      'work shows.'),
    'same_as_submitted': _l('Nothing has been saved: that is the mark the centre submitted. A clerical '
                            'error is a difference between the two.'),
    'note_required': _l('Nothing has been saved: add a note saying what you found.'),
    'report_incomplete': _l('Not completed: fill in every section first (%(sections)s). Save a draft to '
                            'keep what you have written.'),
}
# The audit log's words for what happens here (the centre's log on the helpline's pages).
AUDIT_WORDS.update({
    'sample.further': _l('Further sample requested by the moderator'),
    'clerical_error.flag': _l('Clerical error flagged by the moderator'),
    'moderator_report.save': _l('Moderator report draft saved'),
    'moderator_report.complete': _l('Moderator report completed'),
})


def refusal(error):
    """The words for a DomainError met here."""
    params = dict(error.params)
    if error.code == 'already_in_sample' and not params.get('number'):
        return str(REFUSALS['sample_changed'])
    if error.code == 'due_date_past':
        params['date'] = params['date'].strftime('%d/%m/%Y')
    if error.code == 'report_incomplete':
        params['sections'] = ', '.join(str(SECTION_LABELS[name]) for name in params.pop('empty'))
    if error.code in REFUSALS:
        return str(REFUSALS[error.code]) % params
    return message_for(error)


@bp.app_template_global()
def clerical_errors_of(centre_id):
    """For the helpline's centre page: the centre's clerical errors."""
    return moderation.clerical_errors_of_centre(centre_id)


# --- Loaders: tenancy in one place -------------------------------------------------

def moderator():
    return current_user._get_current_object()


def assignment_for(centre_id, unit_id):
    """The signed-in moderator's assignment of a centre's unit, or 404
    (another moderator's, or no such centre or unit: the same answer)."""
    found = moderation.assignment_of(moderator(), centre_id, unit_id)
    if found is None:
        abort(404)
    return found


def report_for(unit_id):
    """A completed moderator report of the signed-in account's centre, on a
    unit it may open, whose series' results day has come; else 404."""
    found = moderation.result(current_user.centre_id, unit_id, access.permitted_units())
    if found is None:
        abort(404)
    return found


def result_job_for(job_id):
    """A moderator report job of the signed-in account's centre whose report
    it may still read, with that report; else 404."""
    job = Job.get_or_none(Job.id == job_id, Job.centre == current_user.centre_id)
    if job is None or job.kind != 'moderator_report':
        abort(404)
    report = report_for(job.arguments.get('unit'))
    if report.id != job.arguments.get('report'):
        abort(404)
    return job, report


def back_to_unit(assignment, message):
    flash(message, 'error')
    return redirect(url_for('.unit', centre_id=assignment.centre_id, unit_id=assignment.unit_id), 303)


# --- The moderator's list and a centre's unit ------------------------------------------

@bp.route('/moderation/')
@moderator_required
def index():
    """The assigned centres' units, by state."""
    found = moderation.assignments(moderator())
    groups = [(state, [a for a in found if a.state == state]) for state in moderation.STATES]
    return render('moderation/index.html', groups=groups, labels=STATE_LABELS)


@bp.route('/moderation/centres/<int:centre_id>/units/<int:unit_id>')
@moderator_required
def unit(centre_id, unit_id):
    """A centre's unit: awaited, or its candidates, sample, files and what
    the moderator has asked for and written."""
    assignment = assignment_for(centre_id, unit_id)
    submission = moderation.submission(assignment)
    sheet = Marksheet(assignment.centre, assignment.unit)
    context = {'assignment': assignment, 'centre': assignment.centre, 'unit': assignment.unit,
               'submission': submission, 'state': moderation.state(assignment), 'labels': STATE_LABELS,
               'opted_out': assignment.unit.e_submission and not uploads.needs_upload(sheet)}
    if submission is not None:  # never the centre's outcomes before it submits
        context.update(files=uploads.files_of(sheet), note=uploads.note_of(sheet),
                       note_files=uploads.note_files_of(sheet))
        context.update(rows=moderation.candidates(assignment), sample=moderation.sample(assignment),
                       errors=moderation.clerical_errors(assignment), report=moderation.report_of(assignment),
                       further=moderation.further_samples(assignment))
    return render('moderation/unit.html', **context)


# --- A further sample ---------------------------------------------------------------

def tell_centre(assignment):
    """The further sample e-mailed to the centre's Exams Officer in their
    account's language; the job, or None without an address (inside the
    transaction)."""
    def tell(further, chosen):
        centre = assignment.centre
        officer = Account.get_or_none(Account.centre == centre.id, Account.kind == 'administrator')
        address = centre.eo_email or (officer.email if officer else '')
        if not address:
            return None
        return emails.queue(f'further-sample-{further.id}', address, 'further_sample',
                            officer.language if officer else 'en', centre=centre, unit=assignment.unit,
                            further=further, chosen=chosen,
                            link=public_url('internal_assessment.marksheet', unit_id=assignment.unit_id,
                                            show='samples'))
    return tell


@bp.route('/moderation/centres/<int:centre_id>/units/<int:unit_id>/files/<int:file_id>')
@moderator_required
def candidate_file(centre_id, unit_id, file_id):
    """One of the centre's files for this unit (a candidate's work or an
    explanatory note), after submission only."""
    assignment = assignment_for(centre_id, unit_id)
    if moderation.submission(assignment) is None:
        abort(404)
    upload = uploads.file_of(assignment.centre_id, assignment.unit_id, file_id)
    if upload is None:
        abort(404)
    return send_candidate_file(upload)


@bp.route('/moderation/centres/<int:centre_id>/units/<int:unit_id>/zip', methods=['POST'])
@moderator_required
def sample_zip(centre_id, unit_id):
    """DOWNLOAD THE WHOLE SAMPLE: a job builds one zip; its page shows progress."""
    assignment = assignment_for(centre_id, unit_id)
    if moderation.submission(assignment) is None:
        abort(404)
    with writing():
        job = jobs.record('sample_zip', centre=assignment.centre_id, account=moderator().id,
                          language=str(get_locale() or 'en'), unit=assignment.unit_id)
    jobs.enqueue(job)
    return redirect(url_for('.zip_job', job_id=job.id), 303)


def zip_job_for(job_id):
    """The signed-in moderator's zip job of a unit still assigned to them, or 404."""
    job = Job.get_or_none(Job.id == job_id, Job.kind == 'sample_zip', Job.account == moderator().id)
    if job is None:
        abort(404)
    return job, assignment_for(job.centre_id, job.arguments['unit'])


@bp.route('/moderation/zips/<int:job_id>')
@moderator_required
def zip_job(job_id):
    """The zip's progress; polled by htmx, which stops once it is done."""
    job, assignment = zip_job_for(job_id)
    return job_page(job, 'moderation/zip_job.html', 'moderation/_zip_job.html', assignment=assignment,
                    centre=assignment.centre, unit=assignment.unit)


@bp.route('/moderation/zips/<int:job_id>/file')
@moderator_required
def zip_file(job_id):
    """The finished zip, as an attachment."""
    job, assignment = zip_job_for(job_id)
    return finished_file(job, 'application/zip', f'sample-{assignment.centre.number}-{assignment.unit.code}.zip')


@bp.route('/moderation/centres/<int:centre_id>/units/<int:unit_id>/further-sample', methods=['GET', 'POST'])
@moderator_required
def further_sample(centre_id, unit_id):
    """Ask for more candidates' work: who, why, and by when."""
    assignment = assignment_for(centre_id, unit_id)
    if moderation.submission(assignment) is None:
        return back_to_unit(assignment, refusal(DomainError('not_submitted')))
    report = moderation.report_of(assignment)
    if report is not None and report.completed:
        return back_to_unit(assignment, refusal(DomainError('report_completed')))
    values = {'entries': set(), 'reason': '', 'due': ''}
    error = None
    if request.method == 'POST':
        chosen = request.form.getlist('entry')
        values = {'entries': set(chosen), 'reason': request.form.get('reason', '')[:moderation.REASON_MAX * 2],
                  'due': request.form.get('due', '')[:20]}
        try:
            _further, job = moderation.request_further_sample(
                assignment, chosen, values['reason'], values['due'], moderator(), tell=tell_centre(assignment))
        except DomainError as failure:
            error = refusal(failure)
        else:
            count = len(chosen)
            message = ngettext('Further sample requested: %(num)s candidate added to the sample.',
                               'Further sample requested: %(num)s candidates added to the sample.', count)
            if job:
                jobs.enqueue(job)
                flash(message + ' ' + _("The centre's Exams Officer has been told by e-mail."))
            else:
                flash(message + ' ' + _('The centre has no Exams Officer e-mail address: tell them another way.'),
                      'error')
            return redirect(url_for('.unit', centre_id=centre_id, unit_id=unit_id), 303)
    return render('moderation/further_sample.html', assignment=assignment, centre=assignment.centre,
                  unit=assignment.unit, choices=moderation.further_sample_choices(assignment), values=values,
                  error=error, today=moderation.today(), status=422 if error else 200)


# --- A clerical error -------------------------------------------------------------

@bp.route('/moderation/centres/<int:centre_id>/units/<int:unit_id>/entries/<int:entry_id>/clerical-error',
          methods=['GET', 'POST'])
@moderator_required
def clerical_error(centre_id, unit_id, entry_id):
    """The mark on the work is not the mark submitted: a note for the helpline."""
    assignment = assignment_for(centre_id, unit_id)
    if moderation.submission(assignment) is None:
        return back_to_unit(assignment, refusal(DomainError('not_submitted')))
    entry = moderation.candidate(assignment, entry_id)
    if entry is None:
        abort(404)
    values = {'seen': '', 'note': ''}
    error = None
    if request.method == 'POST':
        values = {'seen': request.form.get('seen', '')[:20],
                  'note': request.form.get('note', '')[:moderation.NOTE_MAX * 2]}
        try:
            moderation.flag_clerical_error(assignment, entry_id, values['seen'], values['note'], moderator())
        except DomainError as failure:
            error = refusal(failure)
        else:
            flash(_('Clerical error recorded for candidate %(number)s. The helpline will follow it up with '
                    'the centre; the outcome is unchanged.', number=entry.candidate.number))
            return redirect(url_for('.unit', centre_id=centre_id, unit_id=unit_id) + f'#entry-{entry.id}', 303)
    return render('moderation/clerical_error.html', assignment=assignment, centre=assignment.centre,
                  unit=assignment.unit, entry=entry, values=values, error=error,
                  flagged=moderation.clerical_errors(assignment).get(entry.id, []),
                  status=422 if error else 200)


# --- The moderator report -----------------------------------------------------------

@bp.route('/moderation/centres/<int:centre_id>/units/<int:unit_id>/report', methods=['GET', 'POST'])
@moderator_required
def report(centre_id, unit_id):
    """Write the report: SAVE DRAFT as often as needed, then COMPLETE."""
    assignment = assignment_for(centre_id, unit_id)
    if moderation.submission(assignment) is None:
        return back_to_unit(assignment, refusal(DomainError('not_submitted')))
    found = moderation.report_of(assignment)
    values = {name: getattr(found, name) if found else '' for name in ModeratorReport.FIELDS}
    error = None
    if request.method == 'POST':
        values = {name: request.form.get(name, '')[:moderation.REPORT_FIELD_MAX * 2]
                  for name in ModeratorReport.FIELDS}
        complete = request.form.get('action') == 'complete'
        try:
            found = moderation.save_report(assignment, values, moderator(), complete=complete)
        except DomainError as failure:
            error = refusal(failure)
            found = moderation.report_of(assignment)
        else:
            flash(_('Report completed. The centre can read it from results day.') if complete
                  else _('Draft saved. The centre cannot see it.'))
            return redirect(url_for('.report', centre_id=centre_id, unit_id=unit_id), 303)
    return render('moderation/report.html', assignment=assignment, centre=assignment.centre, unit=assignment.unit,
                  report=found, values=values, error=error,
                  status=(409 if found is not None and found.completed else 422) if error else 200)


# --- RESULTS: the centre reads completed reports from results day ---------------------------

@bp.route('/internal-assessment/results/')
@internal_assessment_required
def results():
    """The centre's moderator reports it may read today."""
    return render('moderation/results.html',
                  reports=moderation.results(current_user.centre_id, access.permitted_units()))


@bp.route('/internal-assessment/results/<int:unit_id>')
@internal_assessment_required
def result(unit_id):
    """View Moderators Report."""
    found = report_for(unit_id)
    return render('moderation/result.html', report=found, unit=found.unit, centre=current_user.centre)


@bp.route('/internal-assessment/results/<int:unit_id>/pdf', methods=['POST'])
@internal_assessment_required
def print_result(unit_id):
    """The report as a PDF, made by a worker; as PRINT THIS REPORT does,
    asking again gives the one on its way or made within the hour, and a new
    one counts against the account's hourly limit."""
    found = report_for(unit_id)
    language = str(get_locale() or 'en')
    account = access.real_account()
    args = {'unit': found.unit_id, 'report': found.id, 'completed': found.completed_at.isoformat()}
    with writing():
        lock_marksheet(current_user.centre_id, found.unit_id)  # two clicks at once: one job
        job = reports.same_report(current_user.centre_id, language, args, kind='moderator_report')
        if job is not None:
            return redirect(url_for('.result_job', job_id=job.id), 303)
        minutes, recent = reports.wait_before_another(account.id)
        if not minutes:
            job = jobs.record('moderator_report', centre=current_user.centre_id, account=account.id,
                              language=language, **args)
    if job is None:
        response = render('moderation/result.html', status=429, report=found, unit=found.unit,
                          centre=current_user.centre, too_many=len(recent),
                          minutes=minutes)
        response.headers['Retry-After'] = str(minutes * 60)
        return response
    jobs.enqueue(job)
    return redirect(url_for('.result_job', job_id=job.id), 303)


@bp.route('/internal-assessment/results/jobs/<int:job_id>')
@internal_assessment_required
def result_job(job_id):
    """The PDF's progress; polled by htmx, which stops once it is done."""
    job, found = result_job_for(job_id)
    return job_page(job, 'moderation/result_job.html', 'moderation/_job.html', report=found, unit=found.unit)


@bp.route('/internal-assessment/results/jobs/<int:job_id>/file')
@internal_assessment_required
def result_file(job_id):
    """The finished PDF, as an attachment."""
    job, found = result_job_for(job_id)
    return finished_file(job, 'application/pdf', f'moderator-report-{current_user.centre.number}-{found.unit.code}.pdf')
