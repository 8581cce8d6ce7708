"""Loading a series from CSV: upload, a validation report, then all or nothing
(SPEC 3.10; issue 9 point 3; docs/IMPORTS.md). The work is in `imports`;
these views store the upload, start the jobs and put the report into words."""
import math
import os
import secrets

from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

import imports
import jobs
from access import BACKGROUND_HEADER, series_staff_required
from blueprints import page_number, public_url, render
from extensions import csrf, htmx
from models import DomainError, ImportBatch, Series, writing

bp = Blueprint('imports', __name__, url_prefix='/board/imports')

PER_PAGE = 200
STOP_POLLING = 286
KIND_LABELS = {'centres': _l('Centres'), 'candidates': _l('Candidates'), 'entries': _l('Entries'),
               'moderators': _l('Moderators'), 'assignments': _l('Moderator assignments')}
STATE_LABELS = {'checking': _l('Being checked'), 'invalid': _l('Has problems'), 'ready': _l('Ready to import'),
                'saving': _l('Being saved'), 'saved': _l('Saved'), 'failed': _l('Failed')}
PROBLEMS = {
    'empty_file': _l('The file is empty.'),
    'too_large': _l('The file is larger than %(value)s MiB: split it, or use the command line.'),
    'not_csv': _l('This is not a CSV file (it looks like a PDF, a zip or an Excel workbook): in Excel, '
                  'choose File, Save As, “CSV UTF-8 (Comma delimited)”.'),
    'no_header': _l('The first line is empty: it must name the columns.'),
    'nul_byte': _l('This line holds a NUL byte: the file is not plain text. Save it again as CSV.'),
    'not_utf8': _l('This line is not UTF-8 text: in Excel, save as “CSV UTF-8 (Comma delimited)”.'),
    'unknown_column': _l('Unknown column “%(column)s”.'),
    'unknown_column_near': _l('Unknown column “%(column)s”: did you mean “%(value)s”?'),
    'missing_column': _l('The header has no column “%(column)s”.'),
    'repeated_column': _l('The column “%(column)s” appears more than once.'),
    'cell_count': _l('This row has %(value)s cells, not one for each column of the header.'),
    'required': _l('Empty: a value is required.'),
    'too_long': _l('Too long: at most %(value)s characters.'),
    'formula': _l('“%(value)s” starts like a spreadsheet formula (=, +, -, @): formulas are refused. '
                  'Type the value itself.'),
    'centre_number': _l('“%(value)s” is not a centre number: 5 digits.'),
    'unknown_centre': _l('Unknown centre %(value)s.'),
    'candidate_number': _l('“%(value)s” is not a candidate number: 4 digits.'),
    'unknown_candidate': _l('Candidate %(value)s is not a candidate of this centre.'),
    'not_a_date': _l('“%(value)s” is not a date: write 2001-09-14 or 14/09/2001.'),
    'uci_form': _l('“%(value)s” is not a UCI: 12 letters or digits then a check letter.'),
    'uci_check': _l('The check letter of UCI “%(value)s” is wrong: check the UCI.'),
    'unknown_unit': _l('Unit %(value)s is not in this series.'),
    'duplicate': _l('The same record as row %(value)s: a duplicate.'),
    'email': _l('“%(value)s” is not an e-mail address.'),
    'username_form': _l('“%(value)s” cannot be a moderator’s username: a letter, then 2 to 39 letters, '
                        'digits, dots, dashes or underscores.'),
    'username_taken': _l('The username %(value)s belongs to an account that is not a moderator.'),
    'unknown_moderator': _l('%(value)s is not a moderator’s username.'),
}
HEADER_CODES = ('unknown_column', 'missing_column', 'repeated_column')  # their value is a suggestion, not a cell
REFUSALS = {
    'import_busy': _l('Another import of %(kind)s is being saved: try again in a minute.'),
    'not_ready': _l('This import cannot be confirmed: it has problems, or it is already being saved or saved.'),
}


def problem_words(code, column='', value=''):
    """What is wrong, in the page's language."""
    if code == 'unknown_column' and value:
        code = 'unknown_column_near'
    return str(PROBLEMS.get(code, code)) % {'column': column, 'value': value}


def problem_text(row, column, code, value):
    """A problem as one line, for the command line."""
    where = _('row %(row)s', row=row) if row else _('the file')
    if column and code not in HEADER_CODES:
        where += ', ' + column
    return f'{where}: {problem_words(code, column, value)}'


def batch_for(batch_id):
    """The batch, or 404."""
    batch = ImportBatch.get_or_none(ImportBatch.id == batch_id)
    if batch is None:
        abort(404)
    return batch


def series_choices():
    return list(Series.select().order_by(Series.position, Series.name))


@bp.route('/')
@series_staff_required
def index():
    """The kinds with their formats and templates, the upload form, recent imports."""
    recent = list(ImportBatch.select().order_by(ImportBatch.id.desc()).limit(20))
    return render('imports/index.html', specs=imports.SPECS, kinds=KIND_LABELS, states=STATE_LABELS,
                  series=series_choices(), recent=recent, needs_series=imports.NEEDS_SERIES, errors={})


@bp.route('/templates/<import_kind>.csv')
@series_staff_required
def template(import_kind):
    """A kind's template: header and one example row, UTF-8 with a BOM."""
    if import_kind not in imports.KINDS:
        abort(404)
    response = make_response(imports.template_csv(import_kind))
    response.headers['Content-Type'] = 'text/csv; charset=utf-8'
    response.headers['Content-Disposition'] = f'attachment; filename={import_kind}-template.csv'
    return response


@bp.route('/', methods=['POST'])
@csrf.exempt  # checked below, once the larger body limit for a CSV file is set
@series_staff_required
def upload():
    """Store the file (streamed to disk, size capped), then check it in a job."""
    limit = current_app.config['IMPORT_MAX_BYTES']
    request.max_content_length = limit + 64 * 1024
    try:
        csrf.protect()
        kind = request.form.get('kind', '')
        file = request.files.get('file')
    except RequestEntityTooLarge:
        return refused(413, _('The file is larger than %(size)s MiB: nothing was kept. Split it, or use the '
                              'command line (flask import).', size=limit // 1024 ** 2))
    errors = {}
    if kind not in imports.KINDS:
        errors['kind'] = _('Choose what the file holds.')
    series = None
    if kind in imports.NEEDS_SERIES:
        chosen = request.form.get('series', '')
        series = (Series.get_or_none(Series.id == int(chosen))
                  if chosen.isascii() and chosen.isdigit() and len(chosen) <= 18 else None)
        if series is None:
            errors['series'] = _('Choose the series of the units.')
    if file is None or not file.filename:
        errors['file'] = _('Choose a CSV file.')
    if errors:
        return refused(422, None, errors)
    folder = current_app.config['IMPORTS_DIR']
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f'{kind}-{secrets.token_hex(8)}.csv')
    size = 0
    try:
        with open(path, 'wb') as out:
            for block in iter(lambda: file.stream.read(1 << 20), b''):
                size += len(block)
                if size > limit:
                    raise RequestEntityTooLarge()
                out.write(block)
    except RequestEntityTooLarge:
        os.unlink(path)
        return refused(413, _('The file is larger than %(size)s MiB: nothing was kept. Split it, or use the '
                              'command line (flask import).', size=limit // 1024 ** 2))
    with writing():
        batch = ImportBatch.create(kind=kind, series=series, account=current_user.id,
                                   original_name=os.path.basename(file.filename)[:255], stored_path=path,
                                   sha256=imports.sha256_of(path), size=size)
        job = jobs.record('import_check', account=current_user.id, language=current_user.language, batch=batch.id)
        ImportBatch.update(job=job).where(ImportBatch.id == batch.id).execute()
    jobs.enqueue(job)
    return redirect(url_for('imports.batch', batch_id=batch.id), 303)


def refused(status, message, errors=None):
    """The index again with what was wrong, and a status that says so."""
    if message:
        flash(message, 'error')
    recent = list(ImportBatch.select().order_by(ImportBatch.id.desc()).limit(20))
    return render('imports/index.html', status=status, specs=imports.SPECS, kinds=KIND_LABELS,
                  states=STATE_LABELS, series=series_choices(), recent=recent,
                  needs_series=imports.NEEDS_SERIES, errors=errors or {})


@bp.route('/<int:batch_id>')
@series_staff_required
def batch(batch_id):
    """A batch: its progress while checked or saved, then its report, paged."""
    batch = batch_for(batch_id)
    job = batch.job
    busy = batch.state in ('checking', 'saving')
    stalled = bool(job and job.stalled(current_app.config['JOB_STALE_SECONDS']))
    problems, pages, page = [], 1, 1
    if batch.state == 'invalid':
        kept = imports.kept_problems(batch)
        pages = max(1, math.ceil(len(kept) / PER_PAGE))
        page = page_number(request.args.get('page'), pages)
        problems = [(row, column, problem_words(code, column, value), '' if code in HEADER_CODES else value)
                    for row, column, code, value in kept[(page - 1) * PER_PAGE:page * PER_PAGE]]
    response = render('imports/batch.html', 'imports/_batch.html', batch=batch, job=job, busy=busy,
                      stalled=stalled, problems=problems, pages=pages, page_at=page, kinds=KIND_LABELS,
                      states=STATE_LABELS, kept=imports.KEEP_PROBLEMS)
    if not busy and htmx and request.headers.get(BACKGROUND_HEADER):
        response.status_code = STOP_POLLING
    return response


@bp.route('/<int:batch_id>/confirm', methods=['POST'])
@series_staff_required
def confirm(batch_id):
    """Save a clean batch in one transaction, as a job; once only, whoever confirms first."""
    batch = batch_for(batch_id)
    try:
        claimed = imports.claim(batch.id)
    except DomainError as error:
        flash(str(REFUSALS[error.code]) % {'kind': KIND_LABELS[error.params['kind']]}, 'error')
        return redirect(url_for('imports.batch', batch_id=batch.id), 303)
    if not claimed:
        flash(str(REFUSALS['not_ready']), 'error')
        return redirect(url_for('imports.batch', batch_id=batch.id), 303)
    with writing():
        job = jobs.record('import_save', account=current_user.id, language=current_user.language,
                          batch=batch.id, page=public_url('auth.welcome'))
        ImportBatch.update(job=job).where(ImportBatch.id == batch.id).execute()
    jobs.enqueue(job)
    return redirect(url_for('imports.batch', batch_id=batch.id), 303)
