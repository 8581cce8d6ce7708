"""The helpline's request queue (SPEC 2 Requests, 3.9, 3.10): every kind of
request in one list with its target, its status history, the staff member
who has it, and the decisions that move it on.

Below the views and above `models`: no Flask here. Views validate forms and
translate `DomainError`s; e-mails are passed in as `tell`, a function called
inside the decision's transaction that returns the job to enqueue after
commit (QUALITY REL-4). A decision is made once: the UPDATE ... WHERE
status = 'pending' in `settle` decides any race, and a refusal raised after
it rolls the whole decision back, so nothing is written.
"""
import datetime
import json

from peewee import JOIN, SQL, Case, SqliteDatabase, fn

from models import (Account, AuditLog, Candidate, Centre, DomainError, Entry, Outcome, Request,
                    RequestEvent, Series, Submission, Unit, db, lock_marksheet, utcnow, writing)

# The kinds the helpline works here ('entry' requests belong to series staff).
KINDS = ('eo_change', 'outcome_amendment', 'file_deletion', 'e_submission_opt_out')
# What staff record from a centre's letter or e-mail (a change of Exams
# Officer on letterhead has its own form).
RECORDED_KINDS = ('outcome_amendment', 'file_deletion', 'e_submission_opt_out')
STATUSES = ('pending', 'confirmed', 'rejected')
# Hours to decide a request (SPEC 3.9: 48 for a change of Exams Officer);
# REQUEST_TARGET_HOURS in the app's config overrides any of them.
TARGET_HOURS = {'eo_change': 48, 'outcome_amendment': 120, 'file_deletion': 72,
                'e_submission_opt_out': 120}
# Age filters: over the kind's own target, or simply older than a day or a week.
AGES = {'over_target': None, 'over_day': 24, 'over_week': 24 * 7}
PAGE_SIZE = 25
NOTE_MAX = 1000
REFERENCE_MAX = 100


def targets(configured=None):
    """The hours each kind may wait, the configured ones over the defaults."""
    hours = dict(TARGET_HOURS)
    for kind, value in (configured or {}).items():
        if kind in hours and isinstance(value, int) and value > 0:
            hours[kind] = value
    return hours


def due_order(hours):
    """Sort key: the request due soonest (the oldest breach) first."""
    if isinstance(db.obj, SqliteDatabase):
        days = Case(Request.kind, [(kind, SQL(repr(int(h) / 24))) for kind, h in hours.items()], SQL('0'))
        return fn.julianday(Request.created_at) + days
    offset = Case(Request.kind, [(kind, SQL(f"INTERVAL '{int(h)} hours'")) for kind, h in hours.items()],
                  SQL("INTERVAL '0 hours'"))
    return Request.created_at + offset


def with_age(req, hours, now=None):
    """The request with its age in whole hours, its target, and whether it is over."""
    now = now or utcnow()
    req.hours = int((now - req.created_at).total_seconds() // 3600)
    req.target = hours.get(req.kind, TARGET_HOURS['eo_change'])
    req.overdue = req.status == 'pending' and req.hours >= req.target
    return req


def queue(hours, kind='', status='pending', centre_id=None, age='', page=1, now=None):
    """One page of requests, oldest breach first, and how many match."""
    now = now or utcnow()
    Asker, Holder = Account.alias(), Account.alias()
    query = (Request.select(Request, Centre, Unit.code, Asker.username, Asker.contact_name, Holder.username)
             .join(Centre).switch(Request)
             .join(Unit, JOIN.LEFT_OUTER).switch(Request)
             .join(Asker, JOIN.LEFT_OUTER, on=(Request.created_by == Asker.id), attr='asker').switch(Request)
             .join(Holder, JOIN.LEFT_OUTER, on=(Request.assigned_to == Holder.id), attr='holder')
             .where(Request.kind.in_([kind] if kind in KINDS else list(KINDS))))
    if status in STATUSES:
        query = query.where(Request.status == status)
    if centre_id is not None:
        query = query.where(Request.centre == centre_id)
    if age == 'over_target':
        over = [(Request.kind == k) & (Request.created_at <= now - datetime.timedelta(hours=h))
                for k, h in hours.items()]
        condition = over[0]
        for more in over[1:]:
            condition |= more
        query = query.where(condition)
    elif AGES.get(age):
        query = query.where(Request.created_at <= now - datetime.timedelta(hours=AGES[age]))
    matching = query.count()
    waiting_first = Case(None, [(Request.status == 'pending', 0)], 1)
    rows = query.order_by(waiting_first, due_order(hours), Request.id).paginate(page, PAGE_SIZE)
    return [with_age(r, hours, now) for r in rows], matching


def request_or_none(request_id):
    """A request of a kind the helpline works, with its centre and unit."""
    return (Request.select(Request, Centre).join(Centre)
            .where(Request.id == request_id, Request.kind.in_(KINDS)).get_or_none())


def history(request_id):
    """The request's status history, oldest first, with who."""
    return list(RequestEvent.select(RequestEvent, Account)
                .join(Account, JOIN.LEFT_OUTER, on=(RequestEvent.by == Account.id), attr='by')
                .where(RequestEvent.request == request_id).order_by(RequestEvent.at, RequestEvent.id))


def settle(req, status, staff, note=''):
    """Move a pending request on; False if it was settled already (a lost race
    included). Call inside the decision's transaction."""
    moved = (Request.update(status=status)
             .where(Request.id == req.id, Request.status == 'pending').execute())
    if moved:
        RequestEvent.create(request=req.id, status=status, by=staff, note=note)
    return bool(moved)


def take(request_id, staff):
    """The request is now `staff`'s; returns whether that changed anything.
    Raises DomainError('request_settled') for a request already decided."""
    with writing():
        req = Request.get_by_id(request_id)
        if req.status != 'pending':
            raise DomainError('request_settled')
        if req.assigned_to_id == staff.id:
            return False
        previous = Account.get_or_none(Account.id == req.assigned_to_id) if req.assigned_to_id else None
        moved = (Request.update(assigned_to=staff, assigned_at=utcnow())
                 .where(Request.id == req.id, Request.status == 'pending').execute())
        if not moved:
            raise DomainError('request_settled')
        RequestEvent.create(request=req.id, status='taken', by=staff)
        AuditLog.record(staff, 'request.take', f'request:{req.id}',
                        before={'assigned_to': previous.username if previous else None},
                        after={'assigned_to': staff.username}, centre=req.centre_id)
        return True


# --- Recording a centre's written request --------------------------------------

def submitted_units(centre_id):
    """The units the centre has submitted: outcomes only the board can amend."""
    return list(Unit.select(Unit, Series).join(Series).switch(Unit)
                .join(Submission, on=(Submission.unit == Unit.id))
                .where(Submission.centre == centre_id).order_by(Unit.code, Unit.id))


def e_submission_units(centre_id):
    """The centre's units that need e-submission (uploads)."""
    entered = Entry.select(Entry.unit).where(Entry.centre == centre_id)
    return list(Unit.select(Unit, Series).join(Series)
                .where(Unit.id.in_(entered), Unit.e_submission == True)  # noqa: E712
                .order_by(Unit.code, Unit.id))


def units_for(kind, centre_id):
    """The centre's units a request of `kind` can be about."""
    return submitted_units(centre_id) if kind == 'outcome_amendment' else e_submission_units(centre_id)


def entered_units_with_code(centre_id, code):
    """The centre's units (with entries) whose code is `code`, whatever the case."""
    entered = Entry.select(Entry.unit).where(Entry.centre == centre_id)
    return list(Unit.select().where(Unit.id.in_(entered), Unit.code == code.strip().upper()))


def entry_of(centre_id, unit_id, candidate_number):
    """The processed entry of the centre's candidate for the unit, with its
    candidate and outcome, or None."""
    return (Entry.select(Entry, Candidate, Outcome).join(Candidate).switch(Entry)
            .join(Outcome, JOIN.LEFT_OUTER, attr='outcome')
            .where(Entry.centre == centre_id, Entry.unit == unit_id, Entry.processed == True,  # noqa: E712
                   Candidate.number == candidate_number).get_or_none())


def _opened(kind, centre, unit, staff, details, note=''):
    req = Request.create(kind=kind, centre=centre, unit=unit, status='pending',
                         details=json.dumps(details), created_by=staff)
    RequestEvent.create(request=req, status='pending', by=staff, note=note)
    AuditLog.record(staff, f'{kind}.request', f'request:{req.id}',
                    after={'unit': unit.code, **details}, centre=centre)
    return req


def _waiting(kind, centre_id, unit_id):
    return list(Request.select().where(Request.kind == kind, Request.centre == centre_id,
                                       Request.unit == unit_id, Request.status == 'pending'))


def record_amendment(centre, unit, entry, value, reference, letter_date, staff):
    """A centre's written request to amend a submitted outcome, waiting for a
    decision. Raises DomainError: 'not_submitted_unit', 'same_outcome',
    'amendment_waiting'."""
    with writing():
        lock_marksheet(centre.id, unit.id)
        if not Submission.select().where(Submission.centre == centre.id, Submission.unit == unit.id).exists():
            raise DomainError('not_submitted_unit', unit=unit.code)
        current = Outcome.get_or_none(Outcome.entry == entry.id)
        if current is not None and current.value == value:
            raise DomainError('same_outcome')
        for other in _waiting('outcome_amendment', centre.id, unit.id):
            if other.info.get('entry') == entry.id:
                raise DomainError('amendment_waiting', request=other.id)
        details = {'entry': entry.id, 'candidate': entry.candidate.number,
                   'candidate_name': entry.candidate.display_name, 'requested': value,
                   'current': current.value if current else None, 'reference': reference,
                   'letter_date': letter_date.isoformat()}
        return _opened('outcome_amendment', centre, unit, staff, details)


def record_centre_request(kind, centre, unit, reason, staff):
    """A file deletion or an opt-out from e-submission asked for by the
    centre, waiting for a decision. Raises DomainError('request_waiting')."""
    with writing():
        waiting = _waiting(kind, centre.id, unit.id)
        if waiting:
            raise DomainError('request_waiting', request=waiting[0].id)
        return _opened(kind, centre, unit, staff, {'reason': reason})


# --- Decisions --------------------------------------------------------------------

def decide(req, status, staff, note='', tell=None):
    """Accept ('confirmed') or reject a request whose decision changes no
    data here; returns (decided, what `tell` returned)."""
    with writing():
        if not settle(req, status, staff, note):
            return False, None
        AuditLog.record(staff, f"{req.kind}.{'confirm' if status == 'confirmed' else 'reject'}",
                        f'request:{req.id}', after={'status': status, 'note': note}, centre=req.centre_id)
        return True, (tell(req) if tell else None)


def amend_outcome(req, value, score, reason, staff, tell=None):
    """Confirm an outcome amendment: the submitted outcome changes, once, in
    one transaction with its audit row (before, after, reason). The unit
    stays submitted and its sample is not touched. Returns (before, what
    `tell` returned), or (None, None) if the request was decided already.
    Raises DomainError: 'not_submitted_unit', 'unknown_entry', 'same_outcome'."""
    entry_id = req.info.get('entry')
    with writing():
        lock_marksheet(req.centre_id, req.unit_id)
        if not settle(req, 'confirmed', staff, reason):
            return None, None
        # Refusals from here on roll the settling back too: nothing is written.
        unit = Unit.get_by_id(req.unit_id)
        if not Submission.select().where(Submission.centre == req.centre_id,
                                         Submission.unit == req.unit_id).exists():
            raise DomainError('not_submitted_unit', unit=unit.code)
        outcome = (Outcome.select().join(Entry)
                   .where(Outcome.entry == entry_id, Entry.centre == req.centre_id,
                          Entry.unit == req.unit_id).get_or_none())
        if outcome is None:
            raise DomainError('unknown_entry')
        if outcome.value == value:
            raise DomainError('same_outcome')
        # The one path past the marksheet's "submitted" refusal (Marksheet._save).
        (Outcome.update(value=value, score=score, version=Outcome.version + 1, amended=True,
                        entered_by=staff, entered_at=utcnow())
         .where(Outcome.id == outcome.id).execute())
        Request.update(details=json.dumps({**req.info, 'before': outcome.value, 'after': value})).where(
            Request.id == req.id).execute()
        AuditLog.record(staff, 'outcome.amend', f'entry:{entry_id}', before=outcome.value,
                        after={'value': value, 'reason': reason, 'request': req.id,
                               'reference': req.info.get('reference')},
                        centre=req.centre_id)
        return outcome.value, (tell(req, outcome.value) if tell else None)


def opted_out(centre_id, unit_id):
    """True if the board has accepted the centre's opt-out from e-submission
    for the unit (for the uploads to come)."""
    return Request.select().where(Request.kind == 'e_submission_opt_out', Request.centre == centre_id,
                                  Request.unit == unit_id, Request.status == 'confirmed').exists()
