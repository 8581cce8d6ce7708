"""ENTRIES (SPEC 2 Entry; issue 9 point 4): an exams officer's new entries
and withdrawals wait as pending `EntryChange` rows until the board's series
staff process them in a queue; only then does the marksheet change.

Below the views and above `models`: no Flask here. Refusals are
`DomainError`s that the views put into words ('not_found' answers 404).
Every change is one `writing()` transaction with its audit row; requests of
one centre queue on the centre's row, so two tabs cannot both ask for the
same entry. Processing is a conditional UPDATE ... WHERE status =
'pending': of two tabs processing one change, one does it and the other is
told who did (never an error, never twice).
"""
import datetime

from peewee import JOIN, Case, fn

from models import (Account, AuditLog, Candidate, CandidateFile, Centre, DomainError, Entry, EntryChange,
                    Outcome, SampleMember, Series, Submission, Unit, lock_marksheet, utcnow, writing)

# The seed: "teachers should allow 72 hours before trying to input the mark".
TARGET_HOURS = 72
# Processed changes stay on the exams officer's page this long ("processed on").
RECENT_DAYS = 14
QUEUE_PAGE_SIZE = 50
# A PROCESS pressed on a change cancelled this recently says so; older, 'not found'.
CANCELLED_DAYS = 30
# "Process all" works through the changes in batches of this many ids per
# query, all inside one transaction.
BATCH = 100


# --- What the exams officer sees ---------------------------------------------------

def series_with_units():
    """The series that have units, in the board's order (one query)."""
    return list(Series.select().where(fn.EXISTS(Unit.select().where(Unit.series == Series.id)))
                .order_by(Series.position, Series.name))


def units_of(series_id):
    return list(Unit.select().where(Unit.series == series_id).order_by(Unit.code))


def unit_of_series(unit_id, series_id):
    """The unit if it is one of the series', else None (a forged or stale id)."""
    try:
        unit_id = int(unit_id)
    except (TypeError, ValueError):
        return None
    return Unit.get_or_none(Unit.id == unit_id, Unit.series == series_id)


def candidates_of(centre_id):
    """The centre's candidates by number, for the picker (one query)."""
    return list(Candidate.select(Candidate.id, Candidate.number, Candidate.surname, Candidate.forename)
                .where(Candidate.centre == centre_id).order_by(Candidate.number))


def centre_candidate(centre_id, candidate_id=None, number=None):
    """A candidate of this centre by id (another centre's or no such id:
    'not_found') or by its 4-digit number ('no_such_candidate')."""
    if candidate_id not in (None, ''):
        try:
            candidate_id = int(candidate_id)
        except (TypeError, ValueError):
            raise DomainError('not_found')
        found = Candidate.get_or_none(Candidate.id == candidate_id, Candidate.centre == centre_id)
        if found is None:
            raise DomainError('not_found')
        return found
    number = (number or '').strip()
    if not (len(number) == 4 and number.isascii() and number.isdigit()):
        raise DomainError('bad_number', number=number[:10])
    found = Candidate.get_or_none(Candidate.number == number, Candidate.centre == centre_id)
    if found is None:
        raise DomainError('no_such_candidate', number=number)
    return found


class Row:
    """One line of the ENTRIES page: a candidate on a unit and its state."""
    __slots__ = ('candidate', 'unit_id', 'entry', 'change', 'state')

    def __init__(self, candidate, unit_id, entry=None, change=None, state=''):
        self.candidate, self.unit_id, self.entry, self.change, self.state = candidate, unit_id, entry, change, state

    @property
    def teaching_group(self):
        return (self.entry.teaching_group if self.entry else '') or (self.change.teaching_group if self.change else '')


def centre_page(centre_id, units, now=None):
    """({unit_id: [Row, ...]}, [recently processed changes]) for the
    centre's entries on `units`, in two queries whatever the number of
    candidates. States: 'entered', 'pending_entry', 'pending_withdrawal',
    'withdrawn' (kept with an outcome: the teacher marks Absent)."""
    now = now or utcnow()
    unit_ids = [u.id for u in units]
    rows = {u: {} for u in unit_ids}
    if not unit_ids:
        return {u: [] for u in unit_ids}, []
    for entry in (Entry.select(Entry, Candidate).join(Candidate)
                  .where(Entry.centre == centre_id, Entry.unit.in_(unit_ids), Entry.processed == True)):  # noqa: E712
        rows[entry.unit_id][entry.candidate_id] = Row(entry.candidate, entry.unit_id, entry=entry,
                                                      state='withdrawn' if entry.withdrawn else 'entered')
    Processor = Account.alias()
    changes = (EntryChange.select(EntryChange, Candidate, Processor.username)
               .join(Candidate).switch(EntryChange)
               .join(Processor, JOIN.LEFT_OUTER, on=(EntryChange.processed_by == Processor.id), attr='processor')
               .where(EntryChange.centre == centre_id, EntryChange.unit.in_(unit_ids),
                      (EntryChange.status == 'pending')
                      | (EntryChange.processed_at >= now - datetime.timedelta(days=RECENT_DAYS)))
               .order_by(EntryChange.requested_at, EntryChange.id))
    recent = []
    for change in changes:
        if change.status == 'processed':
            recent.append(change)
            continue
        row = rows[change.unit_id].get(change.candidate_id)
        if change.kind == 'withdraw' and row is not None:
            row.change, row.state = change, 'pending_withdrawal'
        elif change.kind == 'enter':
            if row is None:
                row = rows[change.unit_id][change.candidate_id] = Row(change.candidate, change.unit_id)
            row.change, row.state = change, 'pending_entry'
    recent.sort(key=lambda c: c.processed_at, reverse=True)
    return {u: sorted(found.values(), key=lambda r: r.candidate.number) for u, found in rows.items()}, recent


# --- The exams officer's changes ------------------------------------------------------

def _pending(candidate_id, unit_id, kind):
    return EntryChange.get_or_none(EntryChange.candidate == candidate_id, EntryChange.unit == unit_id,
                                   EntryChange.kind == kind, EntryChange.status == 'pending')


def _live_entry(candidate_id, unit_id):
    """The candidate's processed, not withdrawn entry for the unit, or None."""
    return Entry.get_or_none(Entry.candidate == candidate_id, Entry.unit == unit_id,
                             Entry.processed == True, Entry.withdrawn == False)  # noqa: E712


def request_entry(centre_id, unit, actor, acting_for=None, candidate_id=None, number=None, new=None,
                  teaching_group=''):
    """A pending new entry of an existing candidate (by id or number) or of
    a new one (`new`: number, surname, forename, dob, uci), created now and
    shown nowhere until the entry is processed. Returns the change.

    Raises DomainError: 'not_found' (another centre's candidate id),
    'no_such_candidate', 'bad_number', 'number_taken' (with `candidate`),
    'already_entered', 'already_pending'."""
    with writing():
        Centre.locked(centre_id)  # one centre's requests queue: two tabs cannot both ask
        if new is not None:
            taken = Candidate.get_or_none(Candidate.centre == centre_id, Candidate.number == new['number'])
            if taken is not None:
                raise DomainError('number_taken', number=new['number'], candidate=taken)
            candidate = Candidate.create(centre=centre_id, **new)
            AuditLog.record(actor, 'candidate.create', f'candidate:{candidate.id}', centre=centre_id,
                            acting_for=acting_for,
                            after={'number': candidate.number, 'surname': candidate.surname,
                                   'forename': candidate.forename, 'dob': str(candidate.dob),
                                   'uci': candidate.uci})
        else:
            candidate = centre_candidate(centre_id, candidate_id, number)
        if _live_entry(candidate.id, unit.id) is not None:
            raise DomainError('already_entered', number=candidate.number, unit=unit.code)
        if _pending(candidate.id, unit.id, 'enter') is not None:
            raise DomainError('already_pending', number=candidate.number, unit=unit.code)
        change = EntryChange.create(centre=centre_id, candidate=candidate.id, unit=unit.id, kind='enter',
                                    teaching_group=teaching_group, requested_by=acting_for or actor)
        AuditLog.record(actor, 'entry.requested', f'entry_change:{change.id}', centre=centre_id,
                        acting_for=acting_for,
                        after={'kind': 'enter', 'candidate': candidate.number, 'unit': unit.code,
                               'teaching_group': teaching_group})
    change.candidate = candidate
    return change


def centre_entry(centre_id, entry_id):
    """An entry of this centre with its candidate and unit, or DomainError('not_found')."""
    try:
        entry_id = int(entry_id)
    except (TypeError, ValueError):
        raise DomainError('not_found')
    entry = (Entry.select(Entry, Candidate, Unit).join(Candidate).switch(Entry).join(Unit)
             .where(Entry.id == entry_id, Entry.centre == centre_id).get_or_none())
    if entry is None:
        raise DomainError('not_found')
    return entry


def request_withdrawal(centre_id, entry_id, actor, acting_for=None):
    """A pending withdrawal of one of the centre's entered candidates.

    Raises DomainError: 'not_found' (another centre's or no such entry),
    'not_entered' (not processed yet, or already withdrawn), 'already_pending'."""
    with writing():
        Centre.locked(centre_id)
        entry = centre_entry(centre_id, entry_id)
        if not entry.processed or entry.withdrawn:
            raise DomainError('not_entered', number=entry.candidate.number, unit=entry.unit.code)
        if _pending(entry.candidate_id, entry.unit_id, 'withdraw') is not None:
            raise DomainError('already_pending', number=entry.candidate.number, unit=entry.unit.code)
        change = EntryChange.create(centre=centre_id, candidate=entry.candidate_id, unit=entry.unit_id,
                                    kind='withdraw', teaching_group=entry.teaching_group,
                                    requested_by=acting_for or actor)
        AuditLog.record(actor, 'entry.requested', f'entry:{entry.id}', centre=centre_id, acting_for=acting_for,
                        after={'kind': 'withdraw', 'candidate': entry.candidate.number, 'unit': entry.unit.code,
                               'change': change.id})
    return change


def _processed_by(change_id):
    """The change as processed, with who did it (for 'already processed by X at T')."""
    Processor = Account.alias()
    return (EntryChange.select(EntryChange, Processor.username)
            .join(Processor, JOIN.LEFT_OUTER, on=(EntryChange.processed_by == Processor.id), attr='processor')
            .where(EntryChange.id == change_id).get_or_none())


def _change_id(change_id):
    try:
        return int(change_id)
    except (TypeError, ValueError):
        raise DomainError('not_found')


def cancel(centre_id, change_id, actor, acting_for=None):
    """The exams officer takes back a change still pending (the row goes;
    the audit keeps it). Raises DomainError: 'not_found' (another centre's
    or no such change), 'already_processed' (with who and when)."""
    change_id = _change_id(change_id)
    with writing():
        change = (EntryChange.select(EntryChange, Candidate, Unit).join(Candidate).switch(EntryChange).join(Unit)
                  .where(EntryChange.id == change_id, EntryChange.centre == centre_id).get_or_none())
        if change is None:
            raise DomainError('not_found')
        gone = EntryChange.delete().where(EntryChange.id == change_id, EntryChange.status == 'pending').execute()
        if not gone:
            done = _processed_by(change_id)
            raise DomainError('already_processed', who=done.processor.username, at=done.processed_at)
        AuditLog.record(actor, 'entry.cancelled', f'entry_change:{change_id}', centre=centre_id,
                        acting_for=acting_for,
                        before={'kind': change.kind, 'candidate': change.candidate.number, 'unit': change.unit.code})
    return change


# --- The board's queue --------------------------------------------------------------

def due_by(change):
    return change.requested_at + datetime.timedelta(hours=TARGET_HOURS)


def with_target(change, now=None):
    """The change with when it is due and, past that, by how many whole hours it is overdue."""
    now = now or utcnow()
    change.due = due_by(change)
    change.overdue_hours = max(0, int((now - change.due).total_seconds() // 3600)) if now > change.due else None
    return change


def _pending_query(series_id=None, centre_id=None):
    query = (EntryChange.select(EntryChange.id).join(Unit)
             .where(EntryChange.status == 'pending'))
    if series_id:
        query = query.where(Unit.series == series_id)
    if centre_id:
        query = query.where(EntryChange.centre == centre_id)
    return query


def _queue_rows():
    """Changes with their centre, candidate, unit, series and who asked."""
    Requester = Account.alias()
    return (EntryChange.select(EntryChange, Centre, Candidate, Unit, Series, Requester.username,
                               Requester.contact_name)
            .join(Centre).switch(EntryChange).join(Candidate).switch(EntryChange)
            .join(Unit).join(Series).switch(EntryChange)
            .join(Requester, on=(EntryChange.requested_by == Requester.id), attr='requester'))


def counts(series_id=None, centre_id=None, now=None):
    """{'total', 'enter', 'withdraw', 'overdue'} of the pending changes matching the filter, in one query."""
    overdue_since = (now or utcnow()) - datetime.timedelta(hours=TARGET_HOURS)
    row = (EntryChange.select(fn.COUNT(EntryChange.id).alias('total'),
                              fn.SUM(Case(None, [(EntryChange.kind == 'enter', 1)], 0)).alias('enter'),
                              fn.SUM(Case(None, [(EntryChange.requested_at < overdue_since, 1)], 0))
                              .alias('overdue'))
           .where(EntryChange.id.in_(_pending_query(series_id, centre_id))).dicts().get())
    total, enter = row['total'] or 0, int(row['enter'] or 0)
    return {'total': total, 'enter': enter, 'withdraw': total - enter, 'overdue': int(row['overdue'] or 0)}


def queue(series_id=None, centre_id=None, page=1, now=None):
    """(one page of pending changes oldest first with their targets, their
    counts for the filter): two queries whatever the number of changes."""
    now = now or utcnow()
    rows = (_queue_rows().where(EntryChange.id.in_(_pending_query(series_id, centre_id)))
            .order_by(EntryChange.requested_at, EntryChange.id)
            .paginate(page, QUEUE_PAGE_SIZE))
    return [with_target(c, now) for c in rows], counts(series_id, centre_id, now)


def queue_row(change_id, now=None):
    """One change as the queue shows it (pending or not), or None."""
    found = _queue_rows().where(EntryChange.id == change_id).get_or_none()
    return with_target(found, now) if found else None


def _apply(change, actor, now):
    """What a change does to the entry, once claimed (inside the transaction,
    holding the marksheet's lock)."""
    candidate = Candidate.get_by_id(change.candidate_id)
    entry = Entry.get_or_none(Entry.candidate == change.candidate_id, Entry.unit == change.unit_id)
    about = {'candidate': candidate.number, 'change': change.id}
    if change.kind == 'enter':
        if entry is None:
            entry = Entry.create(candidate=candidate.id, unit=change.unit_id, centre=candidate.centre_id,
                                 teaching_group=change.teaching_group, processed=True)
            before = None
        else:
            before = {'processed': entry.processed, 'withdrawn': entry.withdrawn,
                      'teaching_group': entry.teaching_group}
            Entry.update(processed=True, withdrawn=False,
                         teaching_group=change.teaching_group or entry.teaching_group).where(
                Entry.id == entry.id).execute()
        AuditLog.record(actor, 'entry.processed', f'entry:{entry.id}', centre=change.centre_id, before=before,
                        after=dict(about, processed=True, teaching_group=change.teaching_group or
                                   entry.teaching_group))
        return 'entered'
    if entry is None:  # nothing left to withdraw (removed by other means)
        AuditLog.record(actor, 'entry.withdrawn', f'candidate:{candidate.id}', centre=change.centre_id,
                        after=dict(about, unit=change.unit_id, nothing_to_withdraw=True))
        return 'removed'
    kept_for = (Outcome.select().where(Outcome.entry == entry.id).exists()
                or Submission.select().where(Submission.centre == change.centre_id,
                                             Submission.unit == change.unit_id).exists()
                or SampleMember.select().where(SampleMember.entry == entry.id).exists()
                or CandidateFile.select().where(CandidateFile.entry == entry.id).exists())
    if kept_for:
        Entry.update(withdrawn=True).where(Entry.id == entry.id).execute()
        AuditLog.record(actor, 'entry.withdrawn', f'entry:{entry.id}', centre=change.centre_id,
                        before={'withdrawn': entry.withdrawn}, after=dict(about, withdrawn=True))
        return 'withdrawn'
    AuditLog.record(actor, 'entry.withdrawn', f'candidate:{candidate.id}', centre=change.centre_id,
                    before={'entry': entry.id, 'teaching_group': entry.teaching_group},
                    after=dict(about, unit=change.unit_id, removed=True))
    entry.delete_instance()
    return 'removed'


def _claim(change_id, actor, now):
    return EntryChange.update(status='processed', processed_by=actor.id, processed_at=now).where(
        EntryChange.id == change_id, EntryChange.status == 'pending').execute()


def process(change_id, actor):
    """Process one pending change: ('entered' | 'withdrawn' | 'removed', change).

    Raises DomainError: 'already_processed' (who and when: the other tab
    won), 'cancelled' (by the exams officer meanwhile), 'not_found'."""
    change_id = _change_id(change_id)
    now = utcnow()
    with writing():
        change = EntryChange.get_or_none(EntryChange.id == change_id)
        if change is None:
            # Looked for among recent audit rows only (the index on `at`): an
            # older cancellation is simply not found.
            cancelled = AuditLog.select().where(AuditLog.at >= now - datetime.timedelta(days=CANCELLED_DAYS),
                                                AuditLog.action == 'entry.cancelled',
                                                AuditLog.target == f'entry_change:{change_id}').exists()
            raise DomainError('cancelled' if cancelled else 'not_found')
        # the marksheet's lock before the claim: every transaction takes them in one order
        lock_marksheet(change.centre_id, change.unit_id)
        if not _claim(change_id, actor, now):
            done = _processed_by(change_id)
            raise DomainError('already_processed', who=done.processor.username, at=done.processed_at)
        return _apply(change, actor, now), change


def process_many(change_ids=None, actor=None, series_id=None, centre_id=None):
    """Process the listed pending changes, or (`change_ids` None) every one
    matching the filter, in one transaction, oldest first; each claimed by
    its own conditional update. Returns {'processed', 'already', 'unknown'}:
    ids processed elsewhere meanwhile are counted, not errors."""
    now = utcnow()
    done = {'processed': 0, 'already': 0, 'unknown': 0}
    with writing():
        if change_ids is None:
            wanted = [c.id for c in _pending_query(series_id, centre_id)]
        else:
            wanted = sorted(set(change_ids))
        found = []
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start:start + BATCH]
            found += list(EntryChange.select().where(EntryChange.id.in_(batch)))
        done['unknown'] = len(wanted) - len(found)
        # One order in every transaction (marksheet lock, then the claim), so
        # two tabs processing overlapping lists wait for each other, never deadlock.
        for change in sorted(found, key=lambda c: (c.centre_id, c.unit_id, c.id)):
            if change.status != 'pending':
                done['already'] += 1
                continue
            lock_marksheet(change.centre_id, change.unit_id)
            if not _claim(change.id, actor, now):
                done['already'] += 1
                continue
            _apply(change, actor, now)
            done['processed'] += 1
    return done


def centre_by_number(number):
    number = (number or '').strip()
    return Centre.get_or_none(Centre.number == number) if Centre.number_is_valid(number) else None


def series_or_none(series_id):
    try:
        return Series.get_or_none(Series.id == int(series_id))
    except (TypeError, ValueError):
        return None

