"""Series and units as the board's series staff run them (SPEC 2; issue 9):
which unit codes need e-submission (the board's list, data/e_submission_units.csv),
the forms of a unit code, and creating and changing series and units.

Below the views and above `models`: no Flask here. Field problems are
returned as codes ({field: code}) and refusals raised as `DomainError`s;
the views put them into words. Every write is in `writing()`, audited.
"""
import csv
import datetime
import functools
import hashlib
import json
import os
import re

from peewee import JOIN, IntegrityError, fn

from models import (SUITES, AuditLog, DomainError, Entry, Outcome, Series, Unit, db, parse_date, writing)

E_SUBMISSION_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'e_submission_units.csv')

# --- E-submission by unit code (data/README.md) -------------------------------------

# The order a letter range runs through a code's last character: 5962U1 .. 5962UQ.
LAST_CHARACTERS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
FOUR_DIGITS = re.compile(r'\d{4}')
# `5909U2/N2`: the Wales (U) and England (N) variants of one unit.
BOTH_VARIANTS = re.compile(r'(\d{4})U([0-9A-Z])/N([0-9A-Z])')
# A code whose 4-digit base the numeric ranges apply to: 6052/E1, 6300.
NUMBERED = re.compile(r'(\d{4})(?:/[0-9A-Z]+)?')


def variants(code):
    """The codes one written code stands for: `5909U2/N2` is 5909U2 and 5909N2."""
    both = BOTH_VARIANTS.fullmatch(code)
    if both and both.group(2) == both.group(3):
        return [f'{both.group(1)}U{both.group(2)}', f'{both.group(1)}N{both.group(2)}']
    return [code]


@functools.lru_cache(maxsize=4)
def e_submission_rules(path=E_SUBMISSION_CSV):
    """(numeric ranges, exact codes, letter ranges) from the board's list, read once.

    A row from `unit_code_from` to `unit_code_to`: two four-digit numbers are a
    range of base codes; otherwise each variant of `from` runs to the same
    variant of `to` through the last character (the same code when equal)."""
    numeric, exact, letters = [], set(), []
    with open(path, newline='', encoding='utf-8') as handle:
        for row in csv.DictReader(handle):
            low, high = row['unit_code_from'].strip().upper(), row['unit_code_to'].strip().upper()
            if FOUR_DIGITS.fullmatch(low) and FOUR_DIGITS.fullmatch(high):
                numeric.append((int(low), int(high)))
                continue
            for first, last in zip(variants(low), variants(high)):
                if first == last:
                    exact.add(first)
                elif first[:-1] == last[:-1] and first[-1] in LAST_CHARACTERS and last[-1] in LAST_CHARACTERS:
                    letters.append((first[:-1], LAST_CHARACTERS.index(first[-1]), LAST_CHARACTERS.index(last[-1])))
                else:
                    raise ValueError(f'{path}: cannot read the range {low} to {high}')
    return tuple(numeric), frozenset(exact), tuple(letters)


def needs_e_submission(code):
    """True if the board's list says the unit with this code needs e-submission."""
    code = (code or '').strip().upper()
    if not code:
        return False
    numeric, exact, letters = e_submission_rules()
    numbered = NUMBERED.fullmatch(code)
    if numbered:
        base = int(numbered.group(1))
        if any(low <= base <= high for low, high in numeric):
            return True
    for one in {code, *variants(code)}:
        if one in exact:
            return True
        last = LAST_CHARACTERS.find(one[-1])
        if any(one[:-1] == prefix and low <= last <= high for prefix, low, high in letters):
            return True
    return False


# --- The forms of a unit code -------------------------------------------------------

CODE_MAX = 20
UNIT_CODE_FORMS = re.compile('|'.join([
    r'\d{4}(/[0-9A-Z]{1,3})?',                  # 9611/L3, 0700/02, 6052/E1
    r'\d{4}[UN][0-9A-Z](/[UN][0-9A-Z])?',       # 5409U2/N2, 4573U2, 4563UA/NA
    r'[A-Z]\d{2,3}[0-9A-Z]{1,3}',               # C700U3, E819U2, P90CCA, P911CA
    r'\d{6}(/[0-9A-Z]{1,3})?',                  # 951301/51, 982201/W1, 979101
    r'\d{4}[A-Z]{2}/[A-Z]{2,4}-\d{1,2}',        # 6300QC/CCL-2
]))


def normal_code(code):
    """A unit code as stored: upper case, no surrounding spaces."""
    return (code or '').strip().upper()


def code_problem(code):
    """None if `code` (normalised) has one of the board's forms, else a problem code."""
    if not code:
        return 'required'
    if len(code) > CODE_MAX:
        return 'too_long'
    return None if UNIT_CODE_FORMS.fullmatch(code) else 'code_form'


# --- Reading the forms --------------------------------------------------------------

NAME_MAX = 200
SCHEMES = ('grades', 'marks')
MAX_MARK_LIMIT = 9999
E_SUBMISSION_CHOICES = ('list', 'yes', 'no')


def one_line(value):
    return ' '.join((value or '').split())


def read_date(values, errors, field):
    """The date in values[field] ('' is none), or a 'bad_date' problem."""
    text = values[field]
    if not text:
        return None
    day = parse_date(text, first_year=2000)
    if day is None:
        errors[field] = 'bad_date'
    return day


def read_series(form):
    """(values as typed, fields to save, {field: problem code})."""
    values = {field: one_line(form.get(field))[:NAME_MAX + 1] for field in ('name', 'name_cy', 'results_day', 'seen')}
    errors = {}
    for field in ('name', 'name_cy'):
        if len(values[field]) > NAME_MAX:
            errors[field] = 'too_long'
    if not values['name']:
        errors['name'] = 'required'
    fields = {'name': values['name'], 'name_cy': values['name_cy'],
              'results_day': read_date(values, errors, 'results_day')}
    return values, fields, errors


def read_unit(form):
    """(values as typed, fields to save, {field: problem code}); 'e_submission'
    is 'list' (as the board's list says for the code), 'yes' or 'no'."""
    values = {field: one_line(form.get(field))[:NAME_MAX + 1]
              for field in ('code', 'title', 'title_cy', 'suite', 'scheme', 'max_mark', 'deadline', 'e_submission',
                            'seen')}
    values['code'] = normal_code(values['code'])[:CODE_MAX + 1]
    errors = {}
    problem = code_problem(values['code']) if ' ' not in values['code'] else 'code_form'
    if problem:
        errors['code'] = problem
    for field in ('title', 'title_cy'):
        if len(values[field]) > NAME_MAX:
            errors[field] = 'too_long'
    if not values['title']:
        errors['title'] = 'required'
    if values['suite'] not in SUITES:
        errors['suite'] = 'choose_suite'
    if values['scheme'] not in SCHEMES:
        errors['scheme'] = 'choose_scheme'
    max_mark = None
    if values['scheme'] == 'marks':
        text = values['max_mark']
        if text.isascii() and text.isdigit() and 1 <= int(text[:6]) <= MAX_MARK_LIMIT:
            max_mark = int(text)
        else:
            errors['max_mark'] = 'max_mark'
    if values['e_submission'] not in E_SUBMISSION_CHOICES:
        values['e_submission'] = 'list'
    e_submission = ({'yes': True, 'no': False}.get(values['e_submission'])
                    if values['e_submission'] != 'list' else needs_e_submission(values['code']))
    fields = {'code': values['code'], 'title': values['title'], 'title_cy': values['title_cy'],
              'suite': values['suite'], 'scheme': values['scheme'], 'max_mark': max_mark,
              'deadline': read_date(values, errors, 'deadline'), 'e_submission': e_submission}
    return values, fields, errors


def unit_values(unit):
    """A unit's fields as its form shows them."""
    by_list = needs_e_submission(unit.code)
    return {'code': unit.code, 'title': unit.title, 'title_cy': unit.title_cy, 'suite': unit.suite,
            'scheme': unit.scheme, 'max_mark': str(unit.max_mark or ''),
            'deadline': unit.deadline.isoformat() if unit.deadline else '',
            'e_submission': 'list' if unit.e_submission == by_list else ('yes' if unit.e_submission else 'no'),
            'seen': fingerprint(unit, UNIT_FIELDS)}


def series_values(series):
    return {'name': series.name, 'name_cy': series.name_cy,
            'results_day': series.results_day.isoformat() if series.results_day else '',
            'seen': fingerprint(series, SERIES_FIELDS)}


SERIES_FIELDS = ('name', 'name_cy', 'results_day')
UNIT_FIELDS = ('code', 'title', 'title_cy', 'suite', 'scheme', 'max_mark', 'deadline', 'e_submission')


def fingerprint(row, fields):
    """A short digest of a row's details as a form showed them: a save made
    from a form opened before someone else's change is refused, not applied
    over it (two tabs, two people)."""
    details = json.dumps(audited({field: getattr(row, field) for field in fields}), sort_keys=True)
    return hashlib.sha256(details.encode()).hexdigest()[:20]


# --- Queries --------------------------------------------------------------------------

def all_series():
    """Every series with its number of units, in the board's order."""
    return list(Series.select(Series, fn.COUNT(Unit.id).alias('unit_count'))
                .join(Unit, on=(Unit.series == Series.id), join_type=JOIN.LEFT_OUTER)
                .group_by(Series.id).order_by(Series.position, Series.name))


def series_or_none(series_id):
    return Series.get_or_none(Series.id == series_id)


def unit_or_none(unit_id):
    return Unit.select(Unit, Series).join(Series).where(Unit.id == unit_id).get_or_none()


def units_of(series):
    """A series' units in code order, each with how many entries and outcomes it has."""
    return list(Unit.select(Unit, fn.COUNT(Entry.id).alias('entry_count'),
                            fn.COUNT(Outcome.id).alias('outcome_count'))
                .join(Entry, join_type=JOIN.LEFT_OUTER, on=(Entry.unit == Unit.id))
                .join(Outcome, join_type=JOIN.LEFT_OUTER, on=(Outcome.entry == Entry.id))
                .where(Unit.series == series).group_by(Unit.id).order_by(Unit.code))


def has_outcomes(unit_id):
    """True once any outcome exists for the unit, at any centre."""
    return Outcome.select().join(Entry).where(Entry.unit == unit_id).exists()


# --- Writing --------------------------------------------------------------------------

def audited(fields):
    """Fields as an audit row keeps them (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in fields.items()}


def _name_taken(name, series_id=None):
    query = Series.select().where(fn.UPPER(Series.name) == name.upper())
    if series_id is not None:
        query = query.where(Series.id != series_id)
    return query.exists()


def create_series(fields, actor):
    """A new series, last in the board's order. DomainError('duplicate_series')."""
    try:
        with writing():
            if _name_taken(fields['name']):
                raise DomainError('duplicate_series', name=fields['name'])
            position = (Series.select(fn.MAX(Series.position)).scalar() or 0) + 1
            with db.atomic():
                series = Series.create(position=position, **fields)
            AuditLog.record(actor, 'series.create', f'series:{series.id}', after=audited(fields))
            return series
    except IntegrityError:  # the same name created from another tab at the same moment
        raise DomainError('duplicate_series', name=fields['name'])


def update_series(series_id, fields, actor, seen=None):
    """Change a series, if it is as the form showed it (`seen`, its
    fingerprint). DomainError('duplicate_series', 'unknown_series', 'stale_form')."""
    try:
        with writing():
            series = _locked(Series, series_id)
            if series is None:
                raise DomainError('unknown_series')
            before = audited({k: getattr(series, k) for k in fields})
            if before == audited(fields):  # nothing to change (or a retried save that was made)
                return series
            if seen is not None and seen != fingerprint(series, SERIES_FIELDS):
                raise DomainError('stale_form')
            if _name_taken(fields['name'], series.id):
                raise DomainError('duplicate_series', name=fields['name'])
            if before != audited(fields):
                with db.atomic():
                    Series.update(**fields).where(Series.id == series.id).execute()
                AuditLog.record(actor, 'series.update', f'series:{series.id}', before=before,
                                after=audited(fields))
            return series_or_none(series.id)
    except IntegrityError:
        raise DomainError('duplicate_series', name=fields['name'])


def _locked(model, row_id):
    """The row, held until commit on PostgreSQL (SQLite's IMMEDIATE
    transaction already holds the only write lock)."""
    query = model.select().where(model.id == row_id)
    return (query.for_update() if db.obj.for_update else query).get_or_none()


def _code_taken(series_id, code, unit_id=None):
    query = Unit.select().where(Unit.series == series_id, Unit.code == code)
    if unit_id is not None:
        query = query.where(Unit.id != unit_id)
    return query.exists()


def create_unit(series_id, fields, actor):
    """A new unit of a series. DomainError('unknown_series', 'duplicate_code')."""
    try:
        with writing():
            series = _locked(Series, series_id)
            if series is None:
                raise DomainError('unknown_series')
            if _code_taken(series.id, fields['code']):
                raise DomainError('duplicate_code', unit_code=fields['code'])
            with db.atomic():
                unit = Unit.create(series=series, **fields)
            AuditLog.record(actor, 'unit.create', f'unit:{unit.id}',
                            after=audited(dict(fields, series=series.id)))
            return unit
    except IntegrityError:
        raise DomainError('duplicate_code', unit_code=fields['code'])


def update_unit(unit_id, fields, actor, seen=None):
    """Change a unit, if it is as the form showed it (`seen`, its
    fingerprint). Its scheme and maximum mark are fixed once any outcome
    exists (the check and the update are one statement, so an outcome saved
    meanwhile still holds it). DomainError('unknown_unit', 'duplicate_code',
    'scheme_locked', 'stale_form')."""
    try:
        with writing():
            unit = _locked(Unit, unit_id)
            if unit is None:
                raise DomainError('unknown_unit')
            before = audited({k: getattr(unit, k) for k in fields})
            after = audited(fields)
            if before == after:  # nothing to change (or a retried save that was made)
                return unit
            if seen is not None and seen != fingerprint(unit, UNIT_FIELDS):
                raise DomainError('stale_form')
            if _code_taken(unit.series_id, fields['code'], unit.id):
                raise DomainError('duplicate_code', unit_code=fields['code'])
            query = Unit.update(**fields).where(Unit.id == unit.id)
            if (fields['scheme'], fields['max_mark']) != (unit.scheme, unit.max_mark):
                query = query.where(~fn.EXISTS(Outcome.select().join(Entry).where(Entry.unit == unit.id)))
            with db.atomic():
                changed = query.execute()
            if changed != 1:
                raise DomainError('scheme_locked', unit_code=unit.code)
            AuditLog.record(actor, 'unit.update', f'unit:{unit.id}', before=before, after=after)
            return unit_or_none(unit.id)
    except IntegrityError:
        raise DomainError('duplicate_code', unit_code=fields['code'])
