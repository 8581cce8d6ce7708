"""PDF reports, rendered by WeasyPrint in a worker (SPEC 3.5, PDF-1).

A report costs a worker seconds and a file on disk, so one is made only when
it would differ from one already on its way or made within the hour, an
account may ask for a limited number an hour, and files are deleted after
REPORT_KEEP_HOURS.
"""
import datetime
import json
import math
import os
import re
import tempfile
import threading
import time
from urllib.parse import unquote, urlsplit

import click
from flask import current_app, render_template
from flask.cli import with_appcontext
from peewee import JOIN, fn

from jobs import log, runner, set_progress
from models import Centre, Entry, Job, Marksheet, ModeratorReport, Outcome, Series, Submission, Unit, db, utcnow

STATIC_BASE = 'https://portal-static.invalid/static/'


def static_only_fetcher():
    """A URL fetcher that serves the app's own static files and nothing else:
    no file://, no network."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    static_root = os.path.realpath(current_app.static_folder)

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if not url.startswith(STATIC_BASE):
                raise ValueError(f'refused: {url[:80]}')
            path = os.path.realpath(os.path.join(static_root, unquote(urlsplit(url).path[len('/static/'):])))
            if not path.startswith(static_root + os.sep) or not os.path.isfile(path):
                raise ValueError(f'refused: {url[:80]}')
            with open(path, 'rb') as handle:
                body = handle.read()
            kind = 'text/css' if path.endswith('.css') else 'application/octet-stream'
            return URLFetcherResponse(url, body, {'Content-Type': kind}, 200)

    return StaticOnly(fail_on_errors=False)


def write_pdf(html, path):
    """Render to a temporary file beside `path`, then rename: never half a PDF."""
    from weasyprint import HTML
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.part')
    os.close(handle)
    try:
        HTML(string=html, base_url=STATIC_BASE, url_fetcher=static_only_fetcher()).write_pdf(
            temporary, pdf_tags=True)  # headings and table headers reach a screen reader (issue 10)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@runner('candidate_report')
def candidate_report(job):
    """CANDIDATE DETAILS REPORT for one centre's unit, as a PDF."""
    sheet = Marksheet(Centre.get_by_id(job.centre_id), Unit.get_by_id(job.arguments['unit']))
    rows = sheet.report_rows()
    set_progress(job, 20)
    html = render_template('reports/candidate_report_print.html', sheet=sheet, unit=sheet.unit,
                           rows=rows, static_base=STATIC_BASE, board=current_app.config)
    set_progress(job, 40)
    path = os.path.join(current_app.config['REPORTS_DIR'], f'candidate-report-{job.id}.pdf')
    write_pdf(html, path)
    Job.update(result_path=path).where(Job.id == job.id).execute()


@runner('moderator_report')
def moderator_report(job):
    """A completed moderator report, for the centre from results day
    (blueprints/moderation.py records the job only then), as a PDF."""
    report = (ModeratorReport.select(ModeratorReport, Unit, Series).join(Unit).join(Series)
              .where(ModeratorReport.id == job.arguments['report'], ModeratorReport.centre == job.centre_id,
                     ModeratorReport.completed_at.is_null(False)).get())
    set_progress(job, 20)
    html = render_template('moderation/report_print.html', report=report, unit=report.unit,
                           centre=Centre.get_by_id(job.centre_id), static_base=STATIC_BASE,
                           board=current_app.config)
    set_progress(job, 40)
    path = os.path.join(current_app.config['REPORTS_DIR'], f'moderator-report-{job.id}.pdf')
    write_pdf(html, path)
    Job.update(result_path=path).where(Job.id == job.id).execute()


# --- One report per change, a limit per account -------------------------------

REUSE_HOURS = 1
LIMIT_HOURS = 1
REPORT_FILE = re.compile(r'(candidate|moderator)-report-\d+\.pdf|sample-\d+\.zip|tmp\w+\.part')  # ours
REPORT_KINDS = ('candidate_report', 'moderator_report', 'sample_zip')  # files on disk, counted and cleaned


def report_args(sheet):
    """What a report shows, as its job's arguments: the unit and a fingerprint
    of the marksheet read in one query. Any change to an outcome changes it
    (a new outcome its count and latest id, an altered one the versions and
    the latest time, a cleared one the count), and so does submission."""
    submitted = fn.EXISTS(Submission.select().where(Submission.centre == sheet.centre,
                                                    Submission.unit == sheet.unit))
    entries, outcomes, versions, last_id, latest, done = (
        sheet.entries().select(fn.COUNT(Entry.id), fn.COUNT(Outcome.id), fn.SUM(Outcome.version),
                               fn.MAX(Outcome.id), fn.MAX(Outcome.entered_at), submitted)
        .join(Outcome, JOIN.LEFT_OUTER).tuples().get())
    return {'unit': sheet.unit.id,
            'marksheet': [entries, outcomes, int(versions or 0), last_id or 0, str(latest or ''), bool(done)]}


def same_report(centre_id, language, args, kind='candidate_report'):
    """A report of the same centre, unit, language and unchanged marksheet
    that is still on its way (not stalled) or was made within the hour and
    is still on disk; asking again gives that one. None if there is none."""
    since = utcnow() - datetime.timedelta(hours=REUSE_HOURS)
    candidates = Job.select().where(
        Job.kind == kind, Job.centre == centre_id, Job.language == language,
        Job.args == json.dumps(args, sort_keys=True),
        (Job.status.in_(('queued', 'started')) & (Job.created_at >= since))
        | ((Job.status == 'finished') & (Job.finished_at >= since))).order_by(Job.id.desc())
    stale = current_app.config['JOB_STALE_SECONDS']
    for job in candidates:
        if job.status == 'finished' and has_file(job):
            return job
        if job.status != 'finished' and not job.stalled(stale):
            return job
    return None


def has_file(job):
    return bool(job.result_path) and os.path.isfile(job.result_path)


def wait_before_another(account_id):
    """(Minutes until the account may ask for another new report, its newest
    reports of the hour); no minutes while it is under REPORT_JOBS_PER_HOUR."""
    limit = current_app.config['REPORT_JOBS_PER_HOUR']
    recent = list(Job.select().where(
        Job.kind.in_(REPORT_KINDS), Job.account == account_id,
        Job.created_at >= utcnow() - datetime.timedelta(hours=LIMIT_HOURS))
        .order_by(Job.created_at.desc(), Job.id.desc()).limit(limit))
    if len(recent) < limit:
        return 0, recent
    free_at = recent[-1].created_at + datetime.timedelta(hours=LIMIT_HOURS)
    return max(1, math.ceil((free_at - utcnow()).total_seconds() / 60)), recent


# --- Old report files ---------------------------------------------------------

CLEAN_EVERY_SECONDS = 3600
_cleaned = {'at': None}
_clean_lock = threading.Lock()


def clean_reports():
    """Delete report files older than REPORT_KEEP_HOURS and forget them on
    their jobs, whose pages then say the report has expired. Only our own
    file names directly in REPORTS_DIR: never a folder, never a symbolic
    link (nor what it points to). Returns how many files were deleted."""
    keep = datetime.timedelta(hours=current_app.config['REPORT_KEEP_HOURS'])
    cutoff = time.time() - keep.total_seconds()
    deleted = 0
    try:
        found = list(os.scandir(current_app.config['REPORTS_DIR']))
    except FileNotFoundError:
        found = []
    for entry in found:
        if not REPORT_FILE.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
            try:
                os.unlink(entry.path)
                deleted += 1
            except FileNotFoundError:  # another worker was first
                pass
    (Job.update(result_path='')
     .where(Job.kind.in_(REPORT_KINDS), Job.result_path != '', Job.finished_at < utcnow() - keep)
     .execute())
    return deleted


def clean_reports_when_due():
    """`clean_reports` at most once an hour in this process (the worker's
    sweeper and the in-process job thread call this often)."""
    with _clean_lock:
        if _cleaned['at'] is not None and time.monotonic() - _cleaned['at'] < CLEAN_EVERY_SECONDS:
            return
        _cleaned['at'] = time.monotonic()
    try:
        clean_reports()
    except Exception:  # the database or the disk away: the next hour tries again
        log.exception('cleaning old reports failed')


@click.command('clean-reports')
@with_appcontext
def clean_reports_command():
    """Delete report files older than REPORT_KEEP_HOURS (the worker does this hourly)."""
    with db.connection_context():
        click.echo(f'old report files deleted: {clean_reports()}')
