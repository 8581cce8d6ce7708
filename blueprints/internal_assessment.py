"""Internal Assessment: the overview, the marksheet, pasting, export and
submission (SPEC 3.2-3.4)."""
import csv
import functools
import io
import itertools
import re

from flask import (Blueprint, abort, current_app, flash, redirect, request,
                   url_for)
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

import access
import jobs
import uploads
from access import acting_ids, internal_assessment_required, marksheet_for
from blueprints import message_for, outcome_label, page_number, public_url, render, report_dropped
from extensions import htmx
from jobs import emails
from models import ABSENT, Account, Candidate, DomainError, Entry, Marksheet, Outcome, Series, Unit

bp = Blueprint('internal_assessment', __name__, url_prefix='/internal-assessment')

SORTS = ('number', 'name', 'grade')
SHOWS = ('all', 'marked', 'samples')
MAX_PASTE_BYTES = 512 * 1024


def marksheet_options(args):
    """Search, Rows, Sort by, Show and page from the query string, with defaults."""
    page = args.get('page', '1')
    return {'search': args.get('search', '').strip()[:50],
            'rows': 'all' if args.get('rows') == 'all' else '20',
            'sort': args.get('sort') if args.get('sort') in SORTS else 'number',
            'show': args.get('show') if args.get('show') in SHOWS else 'all',
            'page': page_number(page, 99999)}


def to_int(text, default=-1):
    return int(text) if text and re.fullmatch(r'\d{1,9}', text) else default


@bp.route('/')
@internal_assessment_required
def overview():
    """One box per series, one row per unit the account may open."""
    units = list(access.permitted_units().select(Unit, Series).join(Series)
                 .order_by(Series.position, Series.name, Unit.code))
    status = Marksheet.overview(current_user.centre_id, [u.id for u in units])
    groups = [(series, list(us)) for series, us in itertools.groupby(units, key=lambda u: u.series)]
    return render('internal_assessment/overview.html', groups=groups, unit_status=status)


def row_words():
    """The words every marksheet row repeats, translated once per language
    (issue 11): a Rows: All page asked gettext for them hundreds of times."""
    return _row_words(str(get_locale() or 'en'))


@functools.lru_cache(maxsize=8)
def _row_words(locale):
    # As Jinja's own _() gives them: Markup, so `words.x % {...}` escapes only the values.
    # Each _() has its words written out, so that pybabel extract sees them.
    def word(translated):
        return Markup(translated) % {}
    return {'withdrawn': word(_('Withdrawn')), 'withdrawn_mark_absent': word(_('Withdrawn: mark Absent')),
            'amended': word(_('amended by the board')), 'choose': word(_('Choose')), 'saved': word(_('Saved')),
            'outcome_for': Markup(_('Outcome for %(number)s')),
            'mark_for': Markup(_('Mark for %(number)s, 0 to %(max)s or Absent')),
            'in_sample': word(_('In the sample')), 'work_lost': word(_('Work incomplete or lost?')),
            'add_to_sample': Markup(_('Add %(number)s to the sample')),
            'grades': [(code, outcome_label(code)) for code in 'PMDA']}


def marksheet_page(sheet, options, errors=None, typed=None, status=200):
    per_page = None if options['rows'] == 'all' else Marksheet.PAGE_SIZE
    rows, matching = sheet.rows(options['search'], options['sort'], options['show'],
                                options['page'], per_page)
    done, total = sheet.counts()
    pages = 1 if not per_page else max(1, -(-matching // per_page))
    submission = sheet.submission()
    sampled = files = note = asked = None
    if sheet.unit.e_submission:  # IAMIS upload, below the marksheet (SPEC 3.6)
        asked = uploads.requests_of(sheet)
        if submission:
            sampled, files, note = sheet.sampled_entries(), uploads.files_of(sheet), uploads.note_of(sheet)
    return render('internal_assessment/marksheet.html', sheet=sheet, unit=sheet.unit,
                  rows=rows, matching=matching, done=done, total=total, pages=pages,
                  submission=submission, options=options, sampled=sampled, files=files, note=note, asked=asked,
                  errors=errors or {}, typed_values=typed or {}, words=row_words(), status=status)


@bp.route('/<int:unit_id>')
@internal_assessment_required
def marksheet(unit_id):
    """The marksheet: search, rows, sort, show, pages of 20."""
    return marksheet_page(marksheet_for(unit_id), marksheet_options(request.args))


def row_response(sheet, entry_id, error=None, typed=None, status=200, row=None):
    """The row, with the counts and the submit control out of band. A `row`
    just saved is passed in: saves succeed only before submission, and its
    save read the counts with it."""
    if row is None:
        rows, _count = sheet.rows(per_page=None, only=entry_id)
        if not rows:
            abort(404)
        row, submission = rows[0], sheet.submission()
    else:
        submission = None
    done, total = getattr(row, 'counts', None) or sheet.counts()
    return render('internal_assessment/_saved.html', sheet=sheet, unit=sheet.unit,
                  row=row, error=error, typed=typed, done=done, total=total,
                  submission=submission, words=row_words(), status=status)


@bp.route('/<int:unit_id>/entries/<int:entry_id>', methods=['POST'])
@internal_assessment_required
def save_outcome(unit_id, entry_id):
    """Save one outcome inline (htmx): the row comes back, refused if stale."""
    sheet = marksheet_for(unit_id)
    raw = request.form.get(f'value-{entry_id}', '')[:40]
    version = to_int(request.form.get(f'version-{entry_id}'))
    actor, acting_for = acting_ids()
    try:
        row = sheet.save_outcome(entry_id, raw, version, actor, acting_for, counts=True)
    except DomainError as error:
        if error.code == 'unknown_entry' or sheet.entry(entry_id) is None:
            abort(404)
        conflict = error.code in ('stale', 'submitted')
        if not htmx:
            flash(message_for(error), 'error')
            return redirect(url_for('.marksheet', unit_id=unit_id), 303)
        return row_response(sheet, entry_id, error=message_for(error),
                            typed=None if conflict else raw, status=409 if conflict else 422)
    if not htmx:
        return redirect(url_for('.marksheet', unit_id=unit_id), 303)
    return row_response(sheet, entry_id, row=row)


def changes_in(form):
    """{entry_id: (typed value, version)} from a marksheet form."""
    out = {}
    for key, raw in form.items():
        match = re.fullmatch(r'value-(\d{1,9})', key)
        if match:
            entry_id = int(match.group(1))
            out[entry_id] = (raw[:40], to_int(form.get(f'version-{entry_id}')))
    return out


class TooManyRows(Exception):
    """A posted page with more rows than the marksheet has: refused whole."""


def apply_form(sheet, form, actor, acting_for, confirmed_absent):
    """Save every changed row of a posted marksheet in one transaction.
    Returns (saved, errors, typed, absent_to_confirm, dropped): rows are
    independent, so a bad one stops only itself. Ids that are not rows of
    this marksheet are dropped before anything is read, and counted: nothing
    of another centre is ever looked at (issue 6, point 2)."""
    changes = changes_in(form)
    if len(changes) > sheet.counts()[1]:
        raise TooManyRows()
    ours = sheet.own_entries(changes)
    dropped = len(changes) - len(ours)
    saved, errors, typed, to_confirm = 0, {}, {}, []
    with sheet.changing():
        current = {o.entry_id: o for o in Outcome.select().where(Outcome.entry.in_(list(ours)))}
        for entry_id, (raw, version) in sorted(changes.items()):
            if entry_id not in ours:
                continue
            now = current.get(entry_id)
            try:
                value, _score = sheet.unit.parse_outcome(raw)
            except DomainError as error:
                errors[entry_id], typed[entry_id] = message_for(error), raw
                continue
            if value == (now.value if now else None):
                continue
            if value == ABSENT and not confirmed_absent:
                to_confirm.append(entry_id)
                continue
            try:
                sheet.save_outcome(entry_id, raw, version, actor, acting_for)
                saved += 1
            except DomainError as error:
                errors[entry_id] = message_for(error)
                if error.code not in ('stale', 'submitted'):
                    typed[entry_id] = raw
    return saved, errors, typed, to_confirm, dropped


@bp.route('/<int:unit_id>', methods=['POST'])
@internal_assessment_required
def save_page(unit_id):
    """The Save button: the whole page at once, for browsers without JavaScript."""
    sheet = marksheet_for(unit_id)
    options = marksheet_options(request.form)
    if sheet.submission() is not None:
        from blueprints.samples import apply_sample_ticks
        apply_sample_ticks(sheet, request.form)
        return redirect(url_for('.marksheet', unit_id=unit_id, **options), 303)
    actor, acting_for = acting_ids()
    try:
        saved, errors, typed, to_confirm, dropped = apply_form(
            sheet, request.form, actor, acting_for, bool(request.form.get('confirm_absent')))
    except TooManyRows:
        flash(_('The form sent more rows than this marksheet has, so nothing was saved. '
                'Reload the page and try again.'), 'error')
        return marksheet_page(sheet, options, status=413)
    report_dropped(dropped)
    if to_confirm:
        entries = list(sheet.entries().where(Entry.id.in_(to_confirm)))
        return render('internal_assessment/confirm_absent.html', sheet=sheet, unit=sheet.unit,
                      form=request.form, entries=entries, options=options)
    if saved:
        flash(ngettext('%(num)s outcome saved.', '%(num)s outcomes saved.', saved))
    if errors:
        return marksheet_page(sheet, options, errors, typed, status=422)
    if request.form.get('close'):
        return redirect(url_for('.overview'), 303)
    return redirect(url_for('.marksheet', unit_id=unit_id, **options), 303)


def replay(pending, account):
    """Save what was sent when the session had expired; returns where to go."""
    unit_id = (pending.get('view_args') or {}).get('unit_id')
    unit = access.permitted_units().where(Unit.id == unit_id).get_or_none()
    if unit is None:
        return None
    sheet = Marksheet(account.centre, unit)
    try:
        saved, errors, _typed, _absent, dropped = apply_form(sheet, MultiDict(pending['form']), account,
                                                             None, True)
    except TooManyRows:
        saved, errors, dropped = 0, {}, len(pending['form'])
    report_dropped(dropped)
    if saved:
        flash(ngettext('Your change made before signing in again was saved (%(num)s outcome).',
                       'Your changes made before signing in again were saved (%(num)s outcomes).',
                       saved))
    for message in errors.values():
        flash(message, 'error')
    return url_for('internal_assessment.marksheet', unit_id=unit.id)


# --- Paste from a spreadsheet, and CSV export --------------------------------

def parse_sheet(sheet, text):
    """Read pasted or uploaded rows of candidate number and outcome.
    Returns rows of dicts with the problem, if any, of each."""
    entries = {e.candidate.number: e for e in sheet.entries().select(Entry, Candidate).join(Candidate)}
    current = {o.entry_id: o for o in Outcome.select().join(Entry).where(
        Entry.centre == sheet.centre, Entry.unit == sheet.unit)}
    rows, seen = [], {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        delimiter = '\t' if '\t' in line else (';' if ';' in line and ',' not in line else ',')
        cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter), [])]
        cells = [c for c in cells if c != '']
        if not cells:
            continue
        number, raw = cells[0], (cells[-1] if len(cells) > 1 else '')
        if line_no == 1 and not number.isdigit():
            continue  # a heading row
        row = {'line': line_no, 'number': number[:20], 'raw': raw[:40], 'entry': None,
               'value': None, 'score': None, 'current': None, 'problem': None}
        entry = entries.get(number.zfill(4) if number.isdigit() else number)
        if entry is None:
            row['problem'] = _('Candidate %(number)s is not on this marksheet.', number=number[:20])
        elif entry.id in seen:
            row['problem'] = _('Candidate %(number)s appears again (first on line %(line)s): this line is not used.',
                               number=entry.candidate.number, line=seen[entry.id])
        elif not raw or len(cells) < 2:
            row['problem'] = _('No outcome given.')
        else:
            row['entry'] = entry
            row['current'] = current.get(entry.id)
            seen[entry.id] = line_no
            try:
                row['value'], row['score'] = sheet.unit.parse_outcome(raw)
            except DomainError as error:
                row['problem'] = message_for(error)
        if entry is not None and row['entry'] is None and row['problem'] is None:
            row['entry'] = entry
        rows.append(row)
    return rows


def pasted_text():
    upload = request.files.get('file')
    if upload and upload.filename:
        data = upload.read(MAX_PASTE_BYTES + 1)
        if len(data) > MAX_PASTE_BYTES:
            return None, _('That file is too large: the limit is 512 KB.')
        for encoding in ('utf-8-sig', 'cp1252'):
            try:
                return data.decode(encoding), None
            except UnicodeDecodeError:
                continue
    text = request.form.get('sheet', '')
    if len(text) > MAX_PASTE_BYTES:
        return None, _('That is too much to paste at once: the limit is 512 KB.')
    return text, None


@bp.route('/<int:unit_id>/paste', methods=['GET', 'POST'])
@internal_assessment_required
def paste(unit_id):
    """Paste rows from a spreadsheet (or upload a CSV): preview, then save all at once."""
    sheet = marksheet_for(unit_id)
    if sheet.submission() is not None:
        flash(message_for(DomainError('submitted')), 'error')
        return redirect(url_for('.marksheet', unit_id=unit_id), 303)
    if request.method == 'GET':
        return render('internal_assessment/paste.html', sheet=sheet, unit=sheet.unit, rows=None, text='')
    text, error = pasted_text()
    rows = parse_sheet(sheet, text) if text else []
    usable = [r for r in rows if r['problem'] is None
              and (r['current'].value if r['current'] else None) != r['value']]
    if request.form.get('confirm') and not error:
        actor, acting_for = acting_ids()
        try:
            saved = sheet.save_many([(r['entry'].id, r['value'], r['score']) for r in usable],
                                    actor, acting_for)
        except DomainError as failure:
            flash(message_for(failure), 'error')
            return redirect(url_for('.marksheet', unit_id=unit_id), 303)
        flash(ngettext('%(num)s outcome saved from the pasted rows.',
                       '%(num)s outcomes saved from the pasted rows.', saved))
        return redirect(url_for('.marksheet', unit_id=unit_id), 303)
    if not rows and not error:
        error = _('Nothing to read: paste rows of candidate number and outcome.')
    return render('internal_assessment/paste.html', sheet=sheet, unit=sheet.unit, rows=rows,
                  usable=usable, text=text or '', error=error, status=422 if error else 200)


FORMULA_START = re.compile(r'(^|;)(\s*[=+\-@\t\r])')


def spreadsheet_safe(text):
    """Stop a name being read as a formula when the CSV is opened, also in
    a spreadsheet that splits on ';' (`Smith;=1+2`): every part that would
    start a formula starts with a quote mark instead (issue 6, point 12)."""
    return FORMULA_START.sub(lambda m: m.group(1) + "'" + m.group(2), text)


@bp.route('/<int:unit_id>/export.csv')
@internal_assessment_required
def export(unit_id):
    """The marksheet as CSV, in candidate-number order."""
    sheet = marksheet_for(unit_id)
    out = io.StringIO()
    out.write('\ufeff')  # a byte-order mark: Excel then reads UTF-8, so ŵ, ŷ and â show as they are
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)  # every field quoted, whatever the separator
    writer.writerow([_('Candidate No'), _('Surname'), _('Forename'), _('Teaching group'), _('Outcome')])
    for entry in sheet.report_rows():
        writer.writerow([entry.candidate.number, spreadsheet_safe(entry.candidate.surname),
                         spreadsheet_safe(entry.candidate.forename),
                         spreadsheet_safe(entry.teaching_group),
                         outcome_label(entry.outcome.value) if entry.outcome else ''])
    name = re.sub(r'[^A-Za-z0-9]+', '_', f'{sheet.centre.number}_{sheet.unit.code}')
    return current_app.response_class(
        out.getvalue().encode('utf-8'), mimetype='text/csv',
        headers={'Content-Disposition': f'attachment; filename="{name}.csv"'})


# --- Submission --------------------------------------------------------------

def receipts_for(sheet):
    """The submission receipt, to the exams officer and to whoever submitted
    (if someone else), written in the submission's transaction."""
    def write(submission, sample):
        who = current_user._get_current_object()
        officer = Account.get_or_none(Account.centre == sheet.centre, Account.kind == 'administrator')
        recipients = {sheet.centre.eo_email: officer.language if officer else 'en'}
        if who.email:
            recipients.setdefault(who.email, who.language)
        link = public_url('internal_assessment.marksheet', unit_id=sheet.unit.id, show='samples')
        written = []
        for to, language in recipients.items():
            if to:
                written.append(emails.queue(f'submitted-{submission.id}-{to}', to, 'submission_receipt',
                                            language, sheet=sheet, submission=submission, sample=sample,
                                            link=link, who=who))
        return [job for job in written if job]
    return write


@bp.route('/<int:unit_id>/submit', methods=['GET', 'POST'])
@internal_assessment_required
def submit(unit_id):
    """Preview the sample and confirm; submitting happens once, however often asked."""
    sheet = marksheet_for(unit_id)
    if request.method == 'POST':
        actor, acting_for = acting_ids()
        try:
            submission, created, receipts = sheet.submit(actor, acting_for, on_submitted=receipts_for(sheet))
        except DomainError as error:
            flash(message_for(error), 'error')
            return redirect(url_for('.marksheet', unit_id=unit_id), 303)
        for job in receipts or []:
            jobs.enqueue(job)
        if created:
            flash(_('All outcomes submitted. The sample has been generated: the candidates '
                    'ticked in the Sample column are the ones the moderator needs.'))
        else:
            flash(_('These outcomes had already been submitted (%(who)s). Nothing was changed.',
                    who=submission.submitted_by.username))
        return redirect(url_for('.marksheet', unit_id=unit_id, show='samples'), 303)
    if sheet.submission() is not None:
        return redirect(url_for('.marksheet', unit_id=unit_id, show='samples'), 303)
    done, total = sheet.counts()
    preview, ranked_count = sheet.preview_sample()
    return render('internal_assessment/submit.html', sheet=sheet, unit=sheet.unit, done=done,
                  total=total, preview=preview, ranked_count=ranked_count)


@bp.route('/guide')
@internal_assessment_required
def guide():
    """INTERNAL ASSESSMENT MANUAL and STEP-BY-STEP GUIDE."""
    return render('internal_assessment/guide.html')
