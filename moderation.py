"""The moderator's workspace (SPEC 3.6, 3.7; issue 8 point 5), below the views.

A moderator sees only the centres' units assigned to them
(`ModeratorAssignment`); `assignment_of` is the one way in, and every other
function here takes the assignment it returned. Before the centre submits a
unit the moderator learns only that it is awaited: no candidate, outcome or
sample is read for it here.

On a submitted unit the moderator can
- ask for a further sample: candidates not yet in the sample join it with
  the reason 'moderator', and the centre's Exams Officer is e-mailed;
- flag a clerical error on a candidate (the mark on the work is not the mark
  submitted), which the helpline follows up; it changes no outcome and is
  no part of the moderation judgement;
- write the moderator report, a draft until completed, then read-only; the
  centre sees it from the series' results day (`today()`), never before.

No Flask here. Refusals are `DomainError`s for the views to put into words;
each change is one transaction with its audit row, and an e-mail is passed in
as `tell`, called inside the transaction and returning the job to enqueue
after commit (QUALITY REL-4), as in requests_queue.
"""
import datetime
import re

from peewee import JOIN, IntegrityError

from models import (ABSENT, Account, AuditLog, Candidate, Centre, ClericalError, DomainError, Entry,
                    FurtherSample, Marksheet, ModeratorAssignment, ModeratorReport, Outcome, SampleMember,
                    Series, Submission, Unit, db, utcnow)

# The states of an assigned unit, in the order the moderator's list shows them.
STATES = ('awaiting', 'to_moderate', 'further_sample', 'completed')
REASON_MAX = 1000       # why a further sample is asked for
NOTE_MAX = 1000         # a clerical error's note
REPORT_FIELD_MAX = 10000
BOARD_TIME_ZONE = 'Europe/London'  # results day is a date in the board's calendar


def today():
    """Today's date where the board is: the one clock the results-day rule
    and due dates read (tests freeze it by replacing this function)."""
    try:
        from zoneinfo import ZoneInfo
        return datetime.datetime.now(ZoneInfo(BOARD_TIME_ZONE)).date()
    except Exception:  # no time-zone data on this machine: UTC is at most an hour out
        return utcnow().date()


# --- Which assignments, in which state -------------------------------------------

def assignment_of(moderator, centre_id, unit_id):
    """The moderator's assignment of a centre's unit, with its centre, unit
    and series; None for anything not assigned to this moderator."""
    return (ModeratorAssignment.select(ModeratorAssignment, Centre, Unit, Series)
            .join(Centre).switch(ModeratorAssignment).join(Unit).join(Series)
            .where(ModeratorAssignment.moderator == moderator.id, ModeratorAssignment.centre == centre_id,
                   ModeratorAssignment.unit == unit_id).get_or_none())


def state_of(submitted, further, completed):
    if completed:
        return 'completed'
    if not submitted:
        return 'awaiting'
    return 'further_sample' if further else 'to_moderate'


def assignments(moderator):
    """Every assignment of the moderator with its `state` and, once
    submitted, its `submission`: four queries however many."""
    rows = list(ModeratorAssignment.select(ModeratorAssignment, Centre, Unit, Series)
                .join(Centre).switch(ModeratorAssignment).join(Unit).join(Series)
                .where(ModeratorAssignment.moderator == moderator.id)
                .order_by(Centre.number, Series.position, Series.name, Unit.code))
    if not rows:
        return []
    centres = list({a.centre_id for a in rows})
    units = list({a.unit_id for a in rows})

    def pairs(model, *where):
        return {(r.centre_id, r.unit_id): r for r in model.select().where(
            model.centre.in_(centres), model.unit.in_(units), *where)}
    submissions = pairs(Submission)
    further = pairs(FurtherSample)
    completed = pairs(ModeratorReport, ModeratorReport.completed_at.is_null(False))
    for a in rows:
        key = (a.centre_id, a.unit_id)
        a.submission = submissions.get(key)
        a.state = state_of(a.submission is not None, key in further, key in completed)
    return rows


def marksheet(assignment):
    return Marksheet(assignment.centre, assignment.unit)


def submission(assignment):
    return marksheet(assignment).submission()


def state(assignment):
    report = report_of(assignment)
    further = FurtherSample.select().where(FurtherSample.centre == assignment.centre_id,
                                           FurtherSample.unit == assignment.unit_id).exists()
    return state_of(submission(assignment) is not None, further, report is not None and report.completed)


# --- What the moderator reads on a submitted unit --------------------------------

def _submitted_sheet(assignment):
    sheet = marksheet(assignment)
    if sheet.submission() is None:
        raise DomainError('not_submitted')
    return sheet


def candidates(assignment):
    """Every candidate with outcome (and whether the board amended it) and
    sample membership, in candidate-number order. Refused before submission."""
    rows, _ = _submitted_sheet(assignment).rows(per_page=None)
    return rows


def sample(assignment):
    """The sample's members with candidate, outcome and the further sample
    that asked for them, in candidate-number order."""
    _submitted_sheet(assignment)
    return list(SampleMember.select(SampleMember, Entry, Candidate, Outcome, FurtherSample)
                .join(Entry).join(Candidate).switch(Entry)
                .join(Outcome, JOIN.LEFT_OUTER, attr='outcome').switch(SampleMember)
                .join(FurtherSample, JOIN.LEFT_OUTER)
                .where(Entry.centre == assignment.centre_id, Entry.unit == assignment.unit_id)
                .order_by(Candidate.number))


def further_samples(assignment):
    """The further samples asked for on this unit, newest first."""
    return list(FurtherSample.select().where(FurtherSample.centre == assignment.centre_id,
                                             FurtherSample.unit == assignment.unit_id)
                .order_by(FurtherSample.requested_at.desc(), FurtherSample.id.desc()))


def further_sample_choices(assignment):
    """Who can still be asked for: an outcome other than Absent, not yet in
    the sample; in candidate-number order."""
    sheet = _submitted_sheet(assignment)
    return list(sheet.entries().select(Entry, Candidate, Outcome)
                .join(Candidate).switch(Entry).join(Outcome, attr='outcome').switch(Entry)
                .join(SampleMember, JOIN.LEFT_OUTER)
                .where(Outcome.value != ABSENT, SampleMember.id.is_null())
                .order_by(Candidate.number))


def clerical_errors(assignment):
    """The clerical errors flagged on this unit, {entry id: [errors, newest first]}."""
    found = {}
    for error in (ClericalError.select().join(Entry)
                  .where(Entry.centre == assignment.centre_id, Entry.unit == assignment.unit_id)
                  .order_by(ClericalError.flagged_at.desc(), ClericalError.id.desc())):
        found.setdefault(error.entry_id, []).append(error)
    return found


def candidate(assignment, entry_id):
    """One candidate of the submitted unit, with outcome, or None (another
    unit's or centre's entry, whatever its id)."""
    sheet = _submitted_sheet(assignment)
    try:
        entry_id = int(entry_id)
    except (TypeError, ValueError):
        return None
    return (sheet.entries().select(Entry, Candidate, Outcome).join(Candidate).switch(Entry)
            .join(Outcome, JOIN.LEFT_OUTER, attr='outcome').where(Entry.id == entry_id).get_or_none())


# --- A further sample ---------------------------------------------------------------

def read_due(text):
    """A due date from a form, or None: YYYY-MM-DD as a date input sends it,
    or DD/MM/YYYY as typed where the browser shows a plain text box."""
    text = (text or '').strip()
    try:
        if re.fullmatch(r'\d{4}-\d{2}-\d{2}', text, re.ASCII):
            return datetime.date.fromisoformat(text)
        found = re.fullmatch(r'(\d{1,2})/(\d{1,2})/(\d{4})', text, re.ASCII)
        if found:
            day, month, year = (int(part) for part in found.groups())
            return datetime.date(year, month, day)
    except ValueError:
        return None
    return None


def request_further_sample(assignment, entry_ids, reason, due, moderator, tell=None):
    """Bring the chosen candidates into the sample with the reason 'moderator',
    in one transaction with the request, its audit row and (through `tell(
    further, members)`) the e-mail to the centre. Returns (the further sample,
    what `tell` returned).

    `entry_ids`: what the form sent; `due`: a date or the form's text.
    Raises DomainError, and writes nothing: 'not_submitted', 'report_completed',
    'no_candidates', 'unknown_entry', 'already_in_sample' (number),
    'not_sampleable' (number), 'reason_required', 'too_long' (maximum),
    'due_date_required', 'due_date_past' (date)."""
    reason = (reason or '').strip()
    if not isinstance(due, datetime.date):
        due = read_due(due)
    wanted = set()
    for raw in entry_ids or ():
        text = str(raw).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise DomainError('unknown_entry')
        wanted.add(int(text))
    sheet = marksheet(assignment)
    with sheet.changing():
        still_open(sheet, assignment)
        if len(wanted) > sheet.counts()[1]:  # more than the marksheet has: some are not its rows
            raise DomainError('unknown_entry')
        if not wanted:
            raise DomainError('no_candidates')
        if not reason:
            raise DomainError('reason_required')
        if len(reason) > REASON_MAX:
            raise DomainError('too_long', maximum=REASON_MAX)
        if due is None:
            raise DomainError('due_date_required')
        if due < today():
            raise DomainError('due_date_past', date=due)
        chosen = list(sheet.entries().select(Entry, Candidate, Outcome, SampleMember)
                      .join(Candidate).switch(Entry)
                      .join(Outcome, JOIN.LEFT_OUTER, attr='outcome').switch(Entry)
                      .join(SampleMember, JOIN.LEFT_OUTER, attr='member')
                      .where(Entry.id.in_(list(wanted))).order_by(Candidate.number))
        if len(chosen) != len(wanted):
            raise DomainError('unknown_entry')
        for entry in chosen:
            if entry.member and entry.member.id:
                raise DomainError('already_in_sample', number=entry.candidate.number)
            if not (entry.outcome and entry.outcome.id) or entry.outcome.value == ABSENT:
                raise DomainError('not_sampleable', number=entry.candidate.number)
        further = FurtherSample.create(centre=assignment.centre_id, unit=assignment.unit_id,
                                       moderator=moderator, reason=reason, due=due)
        try:
            with db.atomic():  # the centre ticking the same candidate at this moment
                SampleMember.insert_many([{'entry': entry.id, 'reason': 'moderator', 'added_by': moderator.id,
                                           'further_sample': further.id} for entry in chosen]).execute()
        except IntegrityError:
            raise DomainError('already_in_sample', number='')
        AuditLog.record(moderator, 'sample.further', f'unit:{assignment.unit_id}', after={
            'candidates': ', '.join(entry.candidate.number for entry in chosen),
            'due': due.isoformat(), 'reason': reason}, centre=assignment.centre_id)
        told = tell(further, chosen) if tell else None
        return further, told


# --- A clerical error -------------------------------------------------------------

def flag_clerical_error(assignment, entry_id, seen, note, moderator):
    """Record that the mark on a candidate's work (`seen`, as typed or
    chosen) differs from the outcome submitted, with a note for the helpline.
    Changes no outcome. Raises DomainError, writing nothing: 'not_submitted',
    'unknown_entry', 'seen_required', 'seen_absent', 'same_as_submitted',
    'note_required', 'too_long', or a value error of `Unit.parse_outcome`."""
    note = (note or '').strip()
    sheet = marksheet(assignment)
    with sheet.changing():
        entry = candidate(assignment, entry_id)
        if entry is None or not (entry.outcome and entry.outcome.id):
            raise DomainError('unknown_entry')
        value, _ = sheet.unit.parse_outcome(seen)
        if value is None:
            raise DomainError('seen_required')
        if value == ABSENT:
            raise DomainError('seen_absent')
        if value == entry.outcome.value:
            raise DomainError('same_as_submitted')
        if not note:
            raise DomainError('note_required')
        if len(note) > NOTE_MAX:
            raise DomainError('too_long', maximum=NOTE_MAX)
        error = ClericalError.create(entry=entry.id, centre=assignment.centre_id, moderator=moderator,
                                     submitted_value=entry.outcome.value, seen_value=value, note=note)
        AuditLog.record(moderator, 'clerical_error.flag', f'entry:{entry.id}',
                        after={'submitted': entry.outcome.value, 'on the work': value, 'note': note},
                        centre=assignment.centre_id)
        return error


def clerical_errors_of_centre(centre_id):
    """Every clerical error flagged on the centre's candidates, newest first,
    with candidate, unit and moderator: for the helpline."""
    return list(ClericalError.select(ClericalError, Entry, Candidate, Unit, Account)
                .join(Entry).join(Candidate).switch(Entry).join(Unit).switch(ClericalError)
                .join(Account, on=(ClericalError.moderator == Account.id), attr='moderator')
                .where(ClericalError.centre == centre_id)
                .order_by(ClericalError.flagged_at.desc(), ClericalError.id.desc()))


# --- The moderator report -----------------------------------------------------------

def still_open(sheet, assignment):
    """The unit's report (or None) while it can still be moderated: submitted,
    and the report not completed. Raises DomainError otherwise."""
    if sheet.submission() is None:
        raise DomainError('not_submitted')
    report = report_of(assignment)
    if report is not None and report.completed:
        raise DomainError('report_completed')
    return report


def report_of(assignment):
    return ModeratorReport.get_or_none(ModeratorReport.centre == assignment.centre_id,
                                       ModeratorReport.unit == assignment.unit_id)


def save_report(assignment, fields, moderator, complete=False):
    """Save the report's sections as a draft, or complete it (every section
    filled; read-only from then on). Returns the report. Raises DomainError,
    writing nothing: 'not_submitted', 'report_completed', 'too_long',
    'report_incomplete' (the sections left empty)."""
    values = {name: (fields.get(name) or '').replace('\r\n', '\n').strip() for name in ModeratorReport.FIELDS}
    sheet = marksheet(assignment)
    with sheet.changing():
        report = still_open(sheet, assignment)
        if any(len(value) > REPORT_FIELD_MAX for value in values.values()):
            raise DomainError('too_long', maximum=REPORT_FIELD_MAX)
        if complete:
            empty = [name for name, value in values.items() if not value]
            if empty:
                raise DomainError('report_incomplete', empty=empty)
        now = utcnow()
        if report is None:
            report = ModeratorReport.create(centre=assignment.centre_id, unit=assignment.unit_id,
                                            moderator=moderator, updated_at=now, **values)
        else:
            changed = (ModeratorReport.update(moderator=moderator, updated_at=now, **values)
                       .where(ModeratorReport.id == report.id, ModeratorReport.completed_at.is_null())
                       .execute())
            if changed != 1:
                raise DomainError('report_completed')
        if complete:
            ModeratorReport.update(completed_at=now).where(ModeratorReport.id == report.id).execute()
        AuditLog.record(moderator, 'moderator_report.complete' if complete else 'moderator_report.save',
                        f'unit:{assignment.unit_id}', centre=assignment.centre_id)
        return ModeratorReport.get_by_id(report.id)


# --- What the centre sees, from results day -------------------------------------------
# A completed report is the centre's to read from its series' results day
# (`today()` on or after it); a draft never, and a series without a results
# day never.

def _readable(centre_id, units):
    return (ModeratorReport.select(ModeratorReport, Unit, Series)
            .join(Unit).join(Series)
            .where(ModeratorReport.centre == centre_id, ModeratorReport.completed_at.is_null(False),
                   Series.results_day.is_null(False), Series.results_day <= today(),
                   ModeratorReport.unit.in_(units.select(Unit.id))))


def results(centre_id, units):
    """The centre's completed reports it may read today, for the units in
    the query `units` (those the account may open), with unit and series."""
    return list(_readable(centre_id, units).order_by(Series.position, Series.name, Unit.code))


def result(centre_id, unit_id, units):
    """One of `results`, or None (hidden before results day, a draft, not a
    unit the account may open, another centre's)."""
    return _readable(centre_id, units).where(ModeratorReport.unit == unit_id).get_or_none()
