"""Series and units: the board's series staff create and edit series and
their units (SPEC 2, 3.10; issue 9). The rules live in `series`; these views
read forms, say what is wrong beside each field, and redirect after a save."""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

import series as domain
from access import series_staff_required
from blueprints import render
from models import SUITES, DomainError

bp = Blueprint('series_admin', __name__, url_prefix='/board')

PROBLEMS = {
    'required': _l('This cannot be left empty.'),
    'too_long': _l('Use at most %(count)s characters.'),
    'bad_date': _l('Enter a date such as 17/08/2017.'),
    'code_form': _l('Enter a unit code in one of the board’s forms, such as 9611/L3, C700U3, 5409U2/N2, '
                    '982201/W1 or 6300QC/CCL-2, without spaces.'),
    'choose_suite': _l('Choose the suite the unit belongs to.'),
    'choose_scheme': _l('Choose grades or marks.'),
    'max_mark': _l('Enter the maximum mark, a whole number from 1 to %(limit)s.'),
}
REFUSALS = {
    'duplicate_series': ('name', _l('There is already a series called “%(name)s”.')),
    'duplicate_code': ('code', _l('This series already has a unit %(unit_code)s.')),
    'scheme_locked': ('scheme', _l('Outcomes have been entered for %(unit_code)s: its scheme and maximum mark '
                                   'can no longer change. Nothing has been saved.')),
    'stale_form': ('form', _l('Not saved: someone else changed these details after you opened this page. '
                              'Your changes are still in the form; the details now saved are shown beside it. '
                              'Save again to replace them with yours.')),
}


def words(errors):
    """{field: message} for {field: problem code}."""
    return {field: str(PROBLEMS[code]) % {'count': domain.CODE_MAX if field == 'code' else domain.NAME_MAX,
                                          'limit': domain.MAX_MARK_LIMIT}
            for field, code in errors.items()}


def refused(error):
    """(field, message) for a DomainError met while saving."""
    if error.code in ('unknown_series', 'unknown_unit'):
        abort(404)
    field, message = REFUSALS[error.code]
    return field, str(message) % error.params


def attempt(errors, action, *args, **kwargs):
    """`action(...)` when the form has no errors yet; a refusal becomes the
    error of its field (None is returned then)."""
    if errors:
        return None
    try:
        return action(*args, **kwargs)
    except DomainError as error:
        field, message = refused(error)
        errors[field] = message
        return None


def series_or_404(series_id):
    found = domain.series_or_none(series_id)
    if found is None:
        abort(404)
    return found


def unit_or_404(unit_id):
    found = domain.unit_or_none(unit_id)
    if found is None:
        abort(404)
    return found


def staff():
    return current_user._get_current_object()


# --- Series ------------------------------------------------------------------------

@bp.route('/series')
@series_staff_required
def index():
    """Every series, with its units counted, and "New series"."""
    return render('series_admin/index.html', all_series=domain.all_series())


def series_form(series=None, values=None, errors=None, status=200):
    units = domain.units_of(series) if series is not None else []
    return render('series_admin/series.html', series=series, units=units,
                  values=values or (domain.series_values(series) if series else {}), errors=errors or {},
                  status=status)


@bp.route('/series/new', methods=['GET', 'POST'])
@series_staff_required
def new_series():
    """Create a series: English name (unique), Welsh name, results day."""
    if request.method == 'GET':
        return series_form()
    values, fields, problems = domain.read_series(request.form)
    errors = words(problems)
    created = attempt(errors, domain.create_series, fields, staff())
    if errors:
        return series_form(None, values, errors, status=422)
    flash(_('Series %(name)s created. Add its units below.', name=created.name))
    return redirect(url_for('.series_page', series_id=created.id), 303)


@bp.route('/series/<int:series_id>', methods=['GET', 'POST'])
@series_staff_required
def series_page(series_id):
    """A series: its details to change, and its units with "New unit"."""
    series = series_or_404(series_id)
    if request.method == 'GET':
        return series_form(series)
    values, fields, problems = domain.read_series(request.form)
    errors = words(problems)
    attempt(errors, domain.update_series, series.id, fields, staff(), seen=values['seen'] or None)
    if errors:
        current = domain.series_or_none(series.id) or abort(404)
        values['seen'] = domain.series_values(current)['seen']  # saving again replaces what is there now
        return series_form(current, values, errors, status=409 if 'form' in errors else 422)
    flash(_('Series %(name)s saved.', name=fields['name']))
    return redirect(url_for('.series_page', series_id=series.id), 303)


# --- Units -------------------------------------------------------------------------

def unit_form(series, unit=None, values=None, errors=None, status=200):
    values = values or (domain.unit_values(unit) if unit else {'scheme': 'grades', 'e_submission': 'list'})
    locked = unit is not None and domain.has_outcomes(unit.id)
    rule_code = unit.code if unit else values.get('code', '')
    return render('series_admin/unit.html', series=series, unit=unit, values=values, errors=errors or {},
                  suites=SUITES, locked=locked, status=status, **rule(rule_code))


def rule(code):
    """What the board's list says for a code of the board's forms (else nothing)."""
    code = domain.normal_code(code)
    if domain.code_problem(code):
        return {'rule_code': '', 'by_list': None}
    return {'rule_code': code, 'by_list': domain.needs_e_submission(code)}


@bp.route('/units/e-submission-rule')
@series_staff_required
def e_submission_rule():
    """The line saying what the board's list says for a typed code (htmx, as the code is typed)."""
    return render('series_admin/_rule.html', unit=None, **rule(request.args.get('code', '')[:domain.CODE_MAX + 1]))


@bp.route('/series/<int:series_id>/units/new', methods=['GET', 'POST'])
@series_staff_required
def new_unit(series_id):
    """Add a unit to a series."""
    series = series_or_404(series_id)
    if request.method == 'GET':
        return unit_form(series)
    values, fields, problems = domain.read_unit(request.form)
    errors = words(problems)
    created = attempt(errors, domain.create_unit, series.id, fields, staff())
    if errors:
        return unit_form(series, None, values, errors, status=422)
    flash(_('Unit %(code)s created.', code=created.code))
    return redirect(url_for('.unit_page', unit_id=created.id), 303)


@bp.route('/units/<int:unit_id>', methods=['GET', 'POST'])
@series_staff_required
def unit_page(unit_id):
    """A unit's details, to change; its scheme is fixed once outcomes exist."""
    unit = unit_or_404(unit_id)
    if request.method == 'GET':
        return unit_form(unit.series, unit)
    values, fields, problems = domain.read_unit(request.form)
    errors = words(problems)
    attempt(errors, domain.update_unit, unit.id, fields, staff(), seen=values['seen'] or None)
    if errors:
        current = domain.unit_or_none(unit.id) or abort(404)
        values['seen'] = domain.unit_values(current)['seen']  # saving again replaces what is there now
        return unit_form(current.series, current, values, errors, status=409 if 'form' in errors else 422)
    flash(_('Unit %(code)s saved.', code=fields['code']))
    return redirect(url_for('.unit_page', unit_id=unit.id), 303)
