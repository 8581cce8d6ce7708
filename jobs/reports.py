"""PDF reports, rendered by WeasyPrint in a worker (SPEC 3.5, PDF-1)."""
import os
import tempfile
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template

from jobs import runner, set_progress
from models import Centre, Job, Marksheet, Unit

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
        HTML(string=html, base_url=STATIC_BASE, url_fetcher=static_only_fetcher()).write_pdf(temporary)
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
