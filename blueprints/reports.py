"""VIEW / PRINT REPORTS: the candidate details report and its PDF (SPEC 3.5)."""
import os

from flask import Blueprint, abort, current_app, redirect, request, send_file, url_for
from flask_babel import get_locale
from flask_login import current_user

import access
import jobs
from access import internal_assessment_required, marksheet_for
from blueprints import render
from extensions import htmx
from models import Job, Series, Unit, writing

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
    """PRINT THIS REPORT: a worker renders the PDF; the page follows its progress."""
    sheet = marksheet_for(unit_id)
    with writing():
        job = jobs.record('candidate_report', centre=sheet.centre.id, account=current_user.id,
                          language=str(get_locale() or 'en'), unit=sheet.unit.id)
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
    stalled = job.stalled(current_app.config['JOB_STALE_SECONDS'])
    done = job.status in ('finished', 'failed') or stalled
    response = render('reports/job.html', 'reports/_job.html', job=job, unit=unit, stalled=stalled)
    if done and htmx and request.headers.get(access.BACKGROUND_HEADER):
        response.status_code = STOP_POLLING
    return response


@bp.route('/jobs/<int:job_id>/file')
@internal_assessment_required
def job_file(job_id):
    """The finished PDF, as an attachment."""
    job = job_for(job_id)
    unit = marksheet_for(job.arguments['unit']).unit
    if job.status != 'finished' or not job.result_path or not os.path.isfile(job.result_path):
        abort(404)
    name = f'candidate-details-{current_user.centre.number}-{unit.code.replace("/", "-")}.pdf'
    return send_file(job.result_path, mimetype='application/pdf', as_attachment=True,
                     download_name=name)
