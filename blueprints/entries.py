"""ENTRIES: exams officers' new entries and withdrawals, pending until the
board's series staff process them in a queue (SPEC 2 Entry; issue 9). The
rules live in `entries`; these views read forms and say what happened."""
import datetime
import re

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import format_datetime, get_locale, gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user

import entries as domain
from access import acting_ids, centre_account_required, series_staff_required
from blueprints import clean, page_number, render
from extensions import htmx
from models import Candidate, DomainError, parse_date

bp = Blueprint('entries', __name__)

NAME_MAX = 100
GROUP_MAX = 20
STATES = {
    'entered': _l('Entered'),
    'pending_entry': _l('Pending entry'),
    'pending_withdrawal': _l('Pending withdrawal'),
    'withdrawn': _l('Withdrawn: mark Absent'),
}
KINDS = {'enter': _l('New entry'), 'withdraw': _l('Withdrawal')}
PROCESSED = {
    'entered': _l('Processed: the candidate is now on the marksheet.'),
    'withdrawn': _l('Processed: the candidate has an outcome, so stays on the marksheet marked '
                    '“Withdrawn: mark Absent”.'),
    'removed': _l('Processed: the candidate is no longer on the marksheet.'),
}
REFUSALS = {
    'no_such_candidate': _l('This centre has no candidate numbered %(number)s: choose one from the list, '
                            'or enter them as a new candidate.'),
    'bad_number': _l('“%(number)s” is not a candidate number: candidate numbers have 4 digits.'),
    'already_entered': _l('Candidate %(number)s is already entered for %(unit)s: nothing has changed.'),
    'already_pending': _l('A change for candidate %(number)s on %(unit)s is already waiting for the board: '
                          'nothing has changed.'),
    'cancelled': _l('The exams officer cancelled this change before it was processed: nothing has changed.'),
    'not_entered': _l('Candidate %(number)s is not entered for %(unit)s, so cannot be withdrawn: '
                      'nothing has changed.'),
}


def refusal(error):
    """The words for a DomainError met here; 'not_found' answers 404."""
    if error.code == 'not_found':
        abort(404)
    if error.code == 'already_processed':
        return _('Already processed by %(who)s at %(when)s: nothing has changed.', who=error.params['who'],
                 when=format_datetime(error.params['at'], 'short'))
    return str(REFUSALS[error.code]) % error.params


def exams_officer():
    """ENTRIES is the centre's administrator account's (SPEC 1): a teacher's
    account may not enter or withdraw candidates."""
    if not current_user.is_administrator:
        abort(403)
    return current_user.centre_id


def language():
    return str(get_locale() or 'en')


# --- The exams officer's page ----------------------------------------------------

def chosen_series(value):
    """The series asked for in the form or address, or the first that has units."""
    listed = domain.series_with_units()
    chosen = next((s for s in listed if str(s.id) == (value or '')), None)
    return listed, chosen or (listed[0] if listed else None)


def entries_page(series_value=None, values=None, errors=None, taken=None, status=200):
    centre_id = exams_officer()
    listed, series = chosen_series(series_value)
    units = domain.units_of(series.id) if series else []
    rows, recent = domain.centre_page(centre_id, units)
    return render('entries/index.html', listed=listed, series=series, units=units, rows=rows, recent=recent,
                  candidates=domain.candidates_of(centre_id), states=STATES, kinds=KINDS,
                  values=values or {}, errors=errors or {}, taken=taken, lang=language(), status=status)


@bp.route('/entries')
@centre_account_required
def index():
    """The centre's entries for a series, unit by unit, with the changes waiting for the board."""
    return entries_page(request.args.get('series'))



def read_new_candidate(values):
    """The new candidate's fields, and a message beside each that cannot be used."""
    errors = {}
    number = values['new_number']
    if not re.fullmatch(r'[0-9]{4}', number):
        errors['new_number'] = _('Enter the candidate number: 4 digits, for example 0123.')
    for field in ('surname', 'forename'):
        if not values[field]:
            errors[field] = _('Enter the surname.') if field == 'surname' else _('Enter the forename.')
        elif len(values[field]) > NAME_MAX:
            errors[field] = _('Use at most %(count)s characters.', count=NAME_MAX)
    dob = parse_date(values['dob'])
    if dob is None or dob >= datetime.date.today() or dob.year < 1900:
        errors['dob'] = _('Enter the date of birth, for example 25/05/2005 (not in the future).')
    uci = values['uci'].upper().replace(' ', '')
    if uci and not Candidate.uci_is_valid(uci):
        errors['uci'] = _('This is not a valid UCI: 13 characters, the last a check letter. Leave it empty '
                          'if the candidate has none.')
    new = {'number': number, 'surname': values['surname'], 'forename': values['forename'], 'dob': dob,
           'uci': uci or None}
    return new, errors


@bp.route('/entries/new', methods=['POST'])
@centre_account_required
def enter():
    """Ask the board to enter an existing or a new candidate for a unit of the series."""
    centre_id = exams_officer()
    form = request.form
    values = {field: clean(form.get(field))[:200] for field in
              ('series', 'unit_id', 'who', 'candidate_id', 'number', 'new_number', 'surname', 'forename',
               'dob', 'uci', 'teaching_group')}
    values['who'] = 'new' if values['who'] == 'new' else 'existing'
    series = domain.series_or_none(values['series'])
    unit = domain.unit_of_series(values['unit_id'], series.id) if series else None
    errors = {}
    if unit is None:
        errors['unit_id'] = _('Choose one of the units of this series listed.')
    if len(values['teaching_group']) > GROUP_MAX:
        errors['teaching_group'] = _('Use at most %(count)s characters.', count=GROUP_MAX)
    new = None
    if values['who'] == 'new':
        new, problems = read_new_candidate(values)
        errors.update(problems)
    elif not values['candidate_id'] and not values['number']:
        errors['candidate'] = _('Choose the candidate, or type their 4-digit number.')
    if errors:
        return entries_page(values['series'], values, errors, status=422)
    actor, acting_for = acting_ids()
    try:
        change = domain.request_entry(centre_id, unit, actor, acting_for, candidate_id=values['candidate_id'],
                                      number=values['number'], new=new, teaching_group=values['teaching_group'])
    except DomainError as error:
        if error.code == 'number_taken':
            taken = error.params['candidate']
            errors['new_number'] = _('Candidate number %(number)s is already %(name)s at this centre: '
                                     'enter them instead?', number=taken.number, name=taken.display_name)
            return entries_page(values['series'], values, errors, taken=taken, status=409)
        errors['candidate'] = refusal(error)
        return entries_page(values['series'], values, errors, status=409)
    flash(_('Entry of candidate %(number)s for %(code)s sent to the board: it shows as pending until the board '
            'processes it.', number=change.candidate.number, code=unit.code))
    return redirect(url_for('.index', series=series.id, _anchor=f'unit-{unit.id}'), 303)


@bp.route('/entries/<int:entry_id>/withdraw', methods=['POST'])
@centre_account_required
def withdraw(entry_id):
    """Ask the board to withdraw an entered candidate, after a confirmation page."""
    centre_id = exams_officer()
    try:
        entry = domain.centre_entry(centre_id, entry_id)
    except DomainError as error:
        refusal(error)
    back = url_for('.index', series=entry.unit.series_id, _anchor=f'unit-{entry.unit_id}')
    if not request.form.get('confirm'):
        return render('entries/confirm_withdraw.html', entry=entry, back=back, lang=language())
    actor, acting_for = acting_ids()
    try:
        domain.request_withdrawal(centre_id, entry_id, actor, acting_for)
    except DomainError as error:
        flash(refusal(error), 'error')
        return redirect(back, 303)
    flash(_('Withdrawal of candidate %(number)s from %(code)s sent to the board: it shows as pending until the '
            'board processes it.', number=entry.candidate.number, code=entry.unit.code))
    return redirect(back, 303)


@bp.route('/entries/changes/<int:change_id>/cancel', methods=['POST'])
@centre_account_required
def cancel(change_id):
    """Take back a change the board has not processed yet."""
    centre_id = exams_officer()
    actor, acting_for = acting_ids()
    try:
        change = domain.cancel(centre_id, change_id, actor, acting_for)
    except DomainError as error:
        flash(refusal(error), 'error')
        return redirect(url_for('.index'), 303)
    flash(_('Cancelled: %(kind)s of candidate %(number)s for %(code)s.', kind=KINDS[change.kind],
            number=change.candidate.number, code=change.unit.code))
    return redirect(url_for('.index', series=change.unit.series_id, _anchor=f'unit-{change.unit_id}'), 303)


# --- The board's queue -------------------------------------------------------------

def read_filters(args):
    """The queue's filters, each held to what exists, and a message for a centre number that names none."""
    series = domain.series_or_none(args.get('series'))
    number = clean(args.get('centre'))[:10]
    centre = domain.centre_by_number(number)
    problem = (_('There is no centre with the number “%(number)s”.', number=number)
               if number and centre is None else None)
    return {'series': series.id if series else None, 'centre': number if centre else '',
            'page': page_number(args.get('page'))}, series, centre, problem


def queue_url(filters, **changes):
    wanted = dict(series=filters['series'] or None, centre=filters['centre'] or None)
    wanted.update(changes)
    return url_for('entries.queue', **wanted)


@bp.route('/board/entries')
@series_staff_required
def queue():
    """Pending entries and withdrawals, oldest first, against the 72-hour target."""
    filters, series, centre, problem = read_filters(request.args)
    if problem:
        rows, counts = [], {'total': 0, 'enter': 0, 'withdraw': 0, 'overdue': 0}
    else:
        rows, counts = domain.queue(filters['series'], centre.id if centre else None, filters['page'])
    pages = max(1, -(-counts['total'] // domain.QUEUE_PAGE_SIZE))
    return render('entries/queue.html', rows=rows, counts=counts, filters=filters, pages=pages,
                  listed=domain.series_with_units(), problem=problem, kinds=KINDS, hours=domain.TARGET_HOURS,
                  queue_url=queue_url, lang=language())


def back_to_queue():
    """The queue as it was filtered when the form was sent."""
    filters, _series, _centre, _problem = read_filters(request.form)
    return redirect(queue_url(filters, page=filters['page'] if filters['page'] > 1 else None), 303)


@bp.route('/board/entries/<int:change_id>/process', methods=['POST'])
@series_staff_required
def process(change_id):
    """Process one pending change: the marksheet changes now. From the
    queue's row with htmx, the row answers in place with the new counts."""
    try:
        outcome, _change = domain.process(change_id, current_user._get_current_object())
        said, problem = PROCESSED[outcome], False
    except DomainError as error:
        said, problem = refusal(error), True
    if htmx and not htmx.boosted:
        filters, _series, centre, _problem = read_filters(request.form)
        row = domain.queue_row(change_id)  # None once cancelled: the row says so
        return render('entries/_processed.html', c=row, change_id=change_id, said=said, problem=problem, kinds=KINDS, filters=filters,
                      lang=language(), counts=domain.counts(filters['series'], centre.id if centre else None))
    flash(said, 'error' if problem else 'message')
    return back_to_queue()


@bp.route('/board/entries/process', methods=['POST'])
@series_staff_required
def process_all():
    """Process every change listed on the page, or every one matching the filter."""
    filters, series, centre, problem = read_filters(request.form)
    if problem:
        flash(problem, 'error')
        return back_to_queue()
    if request.form.get('scope') == 'matching':
        done = domain.process_many(None, current_user._get_current_object(), series_id=filters['series'],
                                   centre_id=centre.id if centre else None)
    else:
        ids = [int(v) for v in request.form.getlist('change') if v.isascii() and v.isdigit() and len(v) < 12]
        if not ids:
            flash(_('No change was listed to process.'), 'error')
            return back_to_queue()
        done = domain.process_many(ids, current_user._get_current_object())
    flash(ngettext('%(num)s processed.', '%(num)s processed.', done['processed']))
    missed = done['already'] + done['unknown']
    if missed:
        flash(ngettext('%(num)s had already been processed or cancelled meanwhile: nothing changed for it.',
                       '%(num)s had already been processed or cancelled meanwhile: nothing changed for them.',
                       missed), 'error')
    return back_to_queue()
