"""VIEW / PRINT REPORTS: the candidate details report and its PDF (SPEC 3.5)."""
from flask import Blueprint, abort, current_app, redirect, request, send_file, url_for
from flask_babel import get_locale
from flask_login import current_user

import access
import jobs
from access import internal_assessment_required, marksheet_for
from blueprints import render
from extensions import htmx
from jobs import reports
from models import Job, Series, Unit, lock_marksheet, writing

STOP_POLLING = 286  # htmx stops polling on this status

bp = Blueprint('reports', __name__, url_prefix='/internal-assessment/reports')


@bp.route('/')
@internal_assessment_required
def index():
    """Every unit of the centre the account may open."""
    units = list(access.permitted_units().select(Unit, Series).join(Series)
                 .order_by(Series.position, Series.name, Unit.code))
    return render('reports/index.html', units=units)


@bp.route('/<int:unit_id>')
@internal_assessment_required
def candidate_details(unit_id):
    """CANDIDATE DETAILS REPORT, in candidate-number order."""
    sheet = marksheet_for(unit_id)
    return render('reports/candidate_details.html', sheet=sheet, unit=sheet.unit,
                  rows=sheet.report_rows())


@bp.route('/<int:unit_id>/pdf', methods=['POST'])
@internal_assessment_required
def print_report(unit_id):
    """PRINT THIS REPORT: a worker renders the PDF; the page follows its progress.
    Asked again (another click, tab or teacher) with nothing changed, it is
    the report already on its way or made within the hour. A new one counts
    against the account's hourly limit, so one account cannot keep the
    workers and the disk busy for everyone."""
    sheet = marksheet_for(unit_id)
    language = str(get_locale() or 'en')
    with writing():
        lock_marksheet(sheet.centre.id, sheet.unit.id)  # two clicks at once: one report
        args = reports.report_args(sheet)
        job = reports.same_report(sheet.centre.id, language, args)
        if job is not None:
            return redirect(url_for('.job', job_id=job.id), 303)
        minutes, recent = reports.wait_before_another(access.real_account().id)
        if not minutes:
            job = jobs.record('candidate_report', centre=sheet.centre.id, account=access.real_account().id,
                              language=language, **args)
    if job is None:
        latest = next((j for j in recent if j.arguments.get('unit') == sheet.unit.id), None)
        response = render('reports/too_many.html', status=429, unit=sheet.unit, minutes=minutes,
                          count=len(recent), latest=latest)
        response.headers['Retry-After'] = str(minutes * 60)
        return response
    jobs.enqueue(job)
    return redirect(url_for('.job', job_id=job.id), 303)


def job_for(job_id):
    """A report job of the signed-in account's centre, or 404."""
    job = Job.get_or_none(Job.id == job_id, Job.centre == current_user.centre_id)
    if job is None or job.kind != 'candidate_report':
        abort(404)
    return job


@bp.route('/jobs/<int:job_id>')
@internal_assessment_required
def job(job_id):
    """The report's progress; polled by htmx, which stops once it is done."""
    job = job_for(job_id)
    unit = marksheet_for(job.arguments['unit']).unit
    return job_page(job, 'reports/job.html', 'reports/_job.html', unit=unit)


def job_page(job, page, fragment, **context):
    """A PDF job's progress page, or its fragment for htmx polling, which
    stops once the job is done, stalled or its file expired."""
    stalled = job.stalled(current_app.config['JOB_STALE_SECONDS'])
    expired = job.status == 'finished' and not reports.has_file(job)  # cleaned up after REPORT_KEEP_HOURS
    done = job.status in ('finished', 'failed') or stalled
    response = render(page, fragment, job=job, stalled=stalled, expired=expired, **context)
    if done and htmx and request.headers.get(access.BACKGROUND_HEADER):
        response.status_code = STOP_POLLING
    return response


@bp.route('/jobs/<int:job_id>/file')
@internal_assessment_required
def job_file(job_id):
    """The finished PDF, as an attachment."""
    job = job_for(job_id)
    unit = marksheet_for(job.arguments['unit']).unit
    return finished_file(job, 'application/pdf', f'candidate-details-{current_user.centre.number}-{unit.code}.pdf')


def finished_file(job, mimetype, name):
    """A finished job's file as an attachment (a '/' in a unit code becomes '-'), or 404."""
    if job.status != 'finished' or not reports.has_file(job):
        abort(404)
    return send_file(job.result_path, mimetype=mimetype, as_attachment=True, download_name=name.replace('/', '-'))
