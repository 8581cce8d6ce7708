"""Moderators and their assignments to centres' units, as the board's series
staff run them (SPEC 2, 3.10; issue 9 point 5). Below the views and above
`models`: no Flask here.

For other modules (the moderators CSV import may call it):

    create_moderator(actor, *, username, name, email, postal_address,
                     welcome_url, language='en', acting_for=None) -> (account, job)

creates an active `moderator` account with no password, its audit row
(`moderator.create`) and its invitation mail, in `writing()` (a savepoint
when called inside a transaction of yours); enqueue the returned job with
`jobs.enqueue(job)` after the outermost commit. Raises
`DomainError('moderator_fields', problems={field: code})` for fields that
cannot be used (codes: see `field_problems`), and
`DomainError('moderator_fields', problems={'username': 'username_taken'})`
when the name is already an account's. `welcome_url` is the address of the
page that takes the invitation's token (`public_url('auth.welcome')`).

An assignment is one `ModeratorAssignment` per centre and unit (a unique
index). Assigning checks under the write lock and catches the index's
refusal too, so a double submit from two tabs finds the first one's result;
a move is one conditional update (WHERE the assignment is still the
moderator's the page showed), so two tabs cannot both move it.
"""
import re

from peewee import JOIN, IntegrityError, fn

import credentials
from models import (LANGUAGES, Account, AuditLog, Centre, DomainError, Entry, ModeratorAssignment, Series,
                    Unit, writing)

PAGE_SIZE = 50
NAME_MAX, EMAIL_MAX, ADDRESS_MAX = 200, 254, 1000
# The same form blueprints.EMAIL accepts (domain modules never import views).
EMAIL = re.compile(r'[^@\s<>()\[\],;:"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+')
DETAIL_FIELDS = ('contact_name', 'email', 'postal_address')


# --- A moderator's details ------------------------------------------------------------

def clean_address(text):
    """A postal address: lines trimmed, empty lines dropped, '\\n' between them."""
    lines = [' '.join(line.split()) for line in (text or '').replace('\r', '\n').split('\n')]
    return '\n'.join(line for line in lines if line)


def field_problems(values):
    """{field: code} for details that cannot be used: 'name_required',
    'too_long', 'email_required', 'email_form', 'address_required'."""
    problems = {}
    if not values.get('contact_name'):
        problems['contact_name'] = 'name_required'
    elif len(values['contact_name']) > NAME_MAX:
        problems['contact_name'] = 'too_long'
    email = values.get('email') or ''
    if not email:
        problems['email'] = 'email_required'
    elif len(email) > EMAIL_MAX or not EMAIL.fullmatch(email):
        problems['email'] = 'email_form'
    if not values.get('postal_address'):
        problems['postal_address'] = 'address_required'
    elif len(values['postal_address']) > ADDRESS_MAX:
        problems['postal_address'] = 'too_long'
    return problems


def username_problem(username):
    """A code if `username` cannot be a new moderator's, else None (reads the database)."""
    if Account.username_form_error('moderator', username):
        return 'username_form'
    if Account.by_username(username) is not None:
        return 'username_taken'
    return None


def create_moderator(actor, *, username, name, email, postal_address, welcome_url, language='en',
                     acting_for=None):
    """A new active moderator account with no password, audited, and its
    invitation; returns (account, job to enqueue after commit)."""
    username = (username or '').strip().upper()
    values = {'contact_name': ' '.join((name or '').split()), 'email': (email or '').strip(),
              'postal_address': clean_address(postal_address)}
    problems = field_problems(values)
    if problem := username_problem(username):
        problems['username'] = problem
    if problems:
        raise DomainError('moderator_fields', problems=problems)
    language = language if language in LANGUAGES else 'en'
    with writing():
        try:
            with writing():  # a savepoint: the index's refusal leaves the outer transaction usable
                account = Account.create(username=username, kind='moderator', password_hash='',
                                         language=language, active=True, **values)
        except IntegrityError:  # created by another request a moment ago
            raise DomainError('moderator_fields', problems={'username': 'username_taken'})
        AuditLog.record(actor, 'moderator.create', f'account:{account.id}',
                        after=dict(values, username=username, language=language), acting_for=acting_for)
        return account, credentials.invite(account, welcome_url)


def moderator_or_none(moderator_id):
    """A moderator account by id, or None (another kind of account, or none)."""
    if not isinstance(moderator_id, int) or not 0 < moderator_id < 2 ** 31:
        return None
    return Account.get_or_none(Account.id == moderator_id, Account.kind == 'moderator')


def update_moderator(actor, moderator_id, *, name, email, postal_address, acting_for=None):
    """Change a moderator's name, e-mail and postal address; returns whether anything changed."""
    values = {'contact_name': ' '.join((name or '').split()), 'email': (email or '').strip(),
              'postal_address': clean_address(postal_address)}
    problems = field_problems(values)
    if problems:
        raise DomainError('moderator_fields', problems=problems)
    with writing():
        account = moderator_or_none(moderator_id)
        if account is None:
            raise DomainError('unknown_moderator')
        before = {field: getattr(account, field) for field in DETAIL_FIELDS}
        if before == values:
            return False
        Account.update(**values).where(Account.id == account.id).execute()
        AuditLog.record(actor, 'moderator.update', f'account:{account.id}', before=before, after=values,
                        acting_for=acting_for)
        return True


def set_active(actor, moderator_id, active, acting_for=None):
    """Deactivate (every session ends) or reactivate a moderator; returns
    whether anything changed (a second tab finds it already done)."""
    with writing():
        account = moderator_or_none(moderator_id)
        if account is None:
            raise DomainError('unknown_moderator')
        if account.active == active:
            return False
        if active:
            Account.update(active=True).where(Account.id == account.id).execute()
        else:
            Account.end_sessions(account.id, active=False)
        AuditLog.record(actor, 'moderator.update', f'account:{account.id}', before={'active': account.active},
                        after={'active': active}, acting_for=acting_for)
        return True


def moderator_list(search='', sort='name', page=1, per_page=PAGE_SIZE):
    """(one page of moderators, each with `assigned`: how many centre-units;
    how many match). Two queries whatever the number of moderators."""
    query = Account.select().where(Account.kind == 'moderator')
    words = (search or '').strip().upper()
    if words:
        query = query.where(fn.UPPER(Account.contact_name).contains(words) | Account.username.contains(words))
    matching = query.count()  # counted without the per-row subquery
    assigned = (ModeratorAssignment.select(fn.COUNT(ModeratorAssignment.id))
                .where(ModeratorAssignment.moderator == Account.id))
    query = query.select(Account, assigned.alias('assigned'))
    if sort == 'newest':
        query = query.order_by(Account.created_at.desc(), Account.id.desc())
    else:
        query = query.order_by(fn.UPPER(Account.contact_name), Account.username)
    return list(query.paginate(page, per_page)), matching


# --- Assignments ----------------------------------------------------------------------

def assignment_query():
    """Assignments with their centre, unit, series and moderator: one query."""
    return (ModeratorAssignment.select(ModeratorAssignment, Centre, Unit, Series, Account)
            .join(Centre).switch(ModeratorAssignment).join(Unit).join(Series)
            .switch(ModeratorAssignment).join(Account))


def assignments_of(moderator_id):
    """Every assignment of a moderator, by centre number, series, unit code."""
    return list(assignment_query().where(ModeratorAssignment.moderator == moderator_id)
                .order_by(Centre.number, Series.position, Series.name, Unit.code))


def assignment_or_none(assignment_id):
    if not isinstance(assignment_id, int) or not 0 < assignment_id < 2 ** 31:
        return None
    return assignment_query().where(ModeratorAssignment.id == assignment_id).get_or_none()


def units_by_series():
    """[(series, [units])] in the board's order, for the unit select."""
    grouped = {}
    for unit in (Unit.select(Unit, Series).join(Series)
                 .order_by(Series.position, Series.name, Unit.code)):
        grouped.setdefault(unit.series_id, (unit.series, []))[1].append(unit)
    return list(grouped.values())


def has_entries(centre_id, unit_id):
    return (Entry.select().where(Entry.centre == centre_id, Entry.unit == unit_id,
                                 Entry.processed == True).exists())  # noqa: E712


def assign(actor, moderator_id, centre_number, unit_id, acting_for=None):
    """Assign a centre's unit to a moderator. Returns (assignment, created,
    warning) where warning is 'no_entries' for a centre with no processed
    entries for the unit yet (allowed: entries often arrive later).

    Raises DomainError: 'not_a_moderator', 'inactive_moderator' (username=),
    'unknown_centre' (number=), 'unknown_unit', or 'assigned_elsewhere'
    (assignment=, the existing one with its moderator) so the page can offer a move."""
    number = (centre_number or '').strip()
    with writing():
        moderator = moderator_or_none(moderator_id)
        if moderator is None:
            raise DomainError('not_a_moderator')
        if not moderator.active:
            raise DomainError('inactive_moderator', username=moderator.username)
        centre = Centre.get_or_none(Centre.number == number) if Centre.number_is_valid(number) else None
        if centre is None:
            raise DomainError('unknown_centre', number=number[:10])
        unit = (Unit.select(Unit, Series).join(Series).where(Unit.id == unit_id).get_or_none()
                if isinstance(unit_id, int) and 0 < unit_id < 2 ** 31 else None)
        if unit is None:
            raise DomainError('unknown_unit')
        existing = _existing(centre.id, unit.id)
        if existing is None:
            try:
                with writing():  # a savepoint: another process may have won the race
                    created = ModeratorAssignment.create(centre=centre, unit=unit, moderator=moderator)
            except IntegrityError:
                existing = _existing(centre.id, unit.id)
        if existing is not None:
            if existing.moderator_id == moderator.id:  # the same form sent twice
                return existing, False, None
            raise DomainError('assigned_elsewhere', assignment=existing)
        AuditLog.record(actor, 'assignment.create', f'unit:{unit.id}', centre=centre.id, acting_for=acting_for,
                        after={'moderator': moderator.username, 'centre': centre.number, 'unit': unit.code})
        warning = None if has_entries(centre.id, unit.id) else 'no_entries'
        return assignment_or_none(created.id), True, warning


def _existing(centre_id, unit_id):
    return (assignment_query().where(ModeratorAssignment.centre == centre_id,
                                     ModeratorAssignment.unit == unit_id).get_or_none())


def move(actor, assignment_id, from_moderator_id, to_username, acting_for=None):
    """Move an assignment from the moderator the page showed to another
    (named by username), in one conditional update. Returns (assignment,
    moved): not moved when a second tab finds it already with that moderator.

    Raises DomainError: 'unknown_assignment', 'unknown_moderator' (username=),
    'inactive_moderator' (username=), 'assignment_changed' (assignment=, now held by someone else)."""
    with writing():
        assignment = assignment_or_none(assignment_id)
        if assignment is None:
            raise DomainError('unknown_assignment')
        to = Account.by_username(to_username)
        if to is None or to.kind != 'moderator':
            raise DomainError('unknown_moderator', username=(to_username or '').strip()[:40])
        if assignment.moderator_id == to.id:
            return assignment, False
        if not to.active:
            raise DomainError('inactive_moderator', username=to.username)
        changed = (ModeratorAssignment.update(moderator=to.id)
                   .where(ModeratorAssignment.id == assignment.id,
                          ModeratorAssignment.moderator == from_moderator_id).execute())
        if changed != 1:
            raise DomainError('assignment_changed', assignment=assignment)
        AuditLog.record(actor, 'assignment.move', f'unit:{assignment.unit_id}', centre=assignment.centre_id,
                        before={'moderator': assignment.moderator.username},
                        after={'moderator': to.username, 'centre': assignment.centre.number,
                               'unit': assignment.unit.code}, acting_for=acting_for)
        return assignment_or_none(assignment.id), True


def remove(actor, assignment_id, from_moderator_id, acting_for=None):
    """Remove an assignment still held by the moderator the page showed.
    Returns the assignment removed, or None if it had gone already.

    Raises DomainError('assignment_changed', assignment=) if it was moved meanwhile."""
    with writing():
        assignment = assignment_or_none(assignment_id)
        if assignment is None:
            return None
        deleted = (ModeratorAssignment.delete()
                   .where(ModeratorAssignment.id == assignment.id,
                          ModeratorAssignment.moderator == from_moderator_id).execute())
        if deleted != 1:
            raise DomainError('assignment_changed', assignment=assignment)
        AuditLog.record(actor, 'assignment.remove', f'unit:{assignment.unit_id}', centre=assignment.centre_id,
                        before={'moderator': assignment.moderator.username, 'centre': assignment.centre.number,
                                'unit': assignment.unit.code}, acting_for=acting_for)
        return assignment


def all_assignments(series_id=None, centre_id=None, page=1, per_page=PAGE_SIZE):
    """(one page of every assignment, filtered; how many match): two queries."""
    query = assignment_query()
    if series_id:
        query = query.where(Unit.series == series_id)
    if centre_id:
        query = query.where(ModeratorAssignment.centre == centre_id)
    query = query.order_by(Centre.number, Series.position, Series.name, Unit.code)
    matching = query.count()
    return list(query.paginate(page, per_page)), matching


def unassigned(series_id=None, centre_id=None, page=1, per_page=PAGE_SIZE):
    """(one page of centre-units with processed entries and no assignment,
    each as (centre, unit, entries); how many there are): four queries."""
    query = (Entry.select(Entry.centre, Entry.unit, fn.COUNT(Entry.id).alias('entries'))
             .join(Centre).switch(Entry).join(Unit).switch(Entry)
             .join(ModeratorAssignment, JOIN.LEFT_OUTER,
                   on=((ModeratorAssignment.centre == Entry.centre) & (ModeratorAssignment.unit == Entry.unit)))
             .where(Entry.processed == True, ModeratorAssignment.id.is_null())  # noqa: E712
             .group_by(Entry.centre, Entry.unit, Centre.number, Unit.code))
    if series_id:
        query = query.where(Unit.series == series_id)
    if centre_id:
        query = query.where(Entry.centre == centre_id)
    matching = query.count()
    rows = list(query.order_by(Centre.number, Unit.code).paginate(page, per_page).dicts())
    centres = {c.id: c for c in Centre.select().where(Centre.id.in_([r['centre'] for r in rows]))} if rows else {}
    units = ({u.id: u for u in Unit.select(Unit, Series).join(Series).where(Unit.id.in_([r['unit'] for r in rows]))}
             if rows else {})
    listed = [(centres[r['centre']], units[r['unit']], r['entries']) for r in rows]
    return listed, matching
