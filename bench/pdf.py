"""P-5: the CANDIDATE DETAILS REPORT PDF job against WeasyPrint rendering a
bare HTML table of the same rows."""
import html
import os
import re
import shutil
import subprocess
import time

BARE_CSS = ('@page { size: A4; margin: 18mm 14mm 20mm } '
            'body { font: 10pt "DejaVu Sans", sans-serif } '
            'table { border-collapse: collapse }')


def bare_html(rows):
    """The same rows, as a plain table with a minimal stylesheet."""
    out = ['<!doctype html><html><head><meta charset="utf-8"><style>', BARE_CSS,
           '</style></head><body><table><tr><th>#</th><th>Cand No.</th><th>Cand Name</th>'
           '<th>DOB</th><th>Grade</th></tr>']
    for i, entry in enumerate(rows, start=1):
        c = entry.candidate
        value = entry.outcome.value if entry.outcome and entry.outcome.id else ''
        out.append(f'<tr><td>{i}</td><td>{c.number}</td><td>{html.escape(c.surname)} '
                   f'{html.escape(c.forename)}</td><td>{c.dob.strftime("%d%m%y") if c.dob else ""}'
                   f'</td><td>{value}</td></tr>')
    out.append('</table></body></html>')
    return ''.join(out)


def page_count(path):
    """Pages of a PDF: pdfinfo if installed, else WeasyPrint's own count is
    not available for a written file, so read the page tree's /Count."""
    if shutil.which('pdfinfo'):
        output = subprocess.run(['pdfinfo', path], capture_output=True, text=True,
                                timeout=30).stdout
        match = re.search(r'^Pages:\s+(\d+)', output, re.M)
        if match:
            return int(match.group(1))
    with open(path, 'rb') as handle:
        counts = [int(n) for n in re.findall(rb'/Type\s*/Pages\b[^>]*?/Count\s+(\d+)', handle.read())]
    return max(counts) if counts else 0


def job_pdf(app, sized):
    """Record a candidate_report job and run it in-process, as the app does
    without REDIS_URL. Returns (seconds, pages, path)."""
    import jobs
    from models import Job
    with app.app_context():
        job = jobs.record('candidate_report', centre=sized.centre.id, account=sized.teacher.id,
                          unit=sized.unit.id)
        start = time.perf_counter()
        jobs.run(job.id)
        elapsed = time.perf_counter() - start
        job = Job.get_by_id(job.id)
    if job.status != 'finished':
        raise RuntimeError(f'report job {job.status}: {job.error}')
    return elapsed, page_count(job.result_path), job.result_path


def job_parts(app, sized):
    """Where the job's time goes: the rows query, the template, and
    WeasyPrint with the product's print.css (timed apart, not in the ratio)."""
    from flask import render_template
    from flask_babel import force_locale
    from weasyprint import HTML

    from jobs.reports import STATIC_BASE, static_only_fetcher
    from models import Marksheet
    with app.app_context(), force_locale('en'):
        sheet = Marksheet(sized.centre, sized.unit)
        start = time.perf_counter()
        rows = sheet.report_rows()
        query = time.perf_counter() - start
        start = time.perf_counter()
        page = render_template('reports/candidate_report_print.html', sheet=sheet, unit=sheet.unit,
                               rows=rows, static_base=STATIC_BASE, board=app.config)
        template = time.perf_counter() - start
        start = time.perf_counter()
        document = HTML(string=page, base_url=STATIC_BASE,
                        url_fetcher=static_only_fetcher()).render()
        layout = time.perf_counter() - start
        start = time.perf_counter()
        document.write_pdf()
        write = time.perf_counter() - start
    return {'query': query, 'template': template, 'layout': layout, 'write': write,
            'pages': len(document.pages)}


def bare_pdf(sized, directory):
    """WeasyPrint on the bare table of the same rows. Returns (seconds, pages, path)."""
    from weasyprint import HTML

    from models import Marksheet
    rows = Marksheet(sized.centre, sized.unit).report_rows()
    page = bare_html(rows)
    path = os.path.join(directory, f'bare-{sized.size}.pdf')
    start = time.perf_counter()
    HTML(string=page).write_pdf(path)
    elapsed = time.perf_counter() - start
    return elapsed, page_count(path), path
