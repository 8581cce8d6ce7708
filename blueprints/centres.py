"""The helpline's console: find a centre, and see what it has (SPEC 3.10;
issue 7 point 2): details, accounts, units and their state, requests and
the audit log. Acting as one of its accounts starts here."""
import datetime

from flask import Blueprint, abort, request
from peewee import fn

import impersonation
from access import helpline_required
from blueprints import page_number, render, target_names
from blueprints.helpline import KIND_LABELS, STATUS_LABELS
from models import (Account, AuditLog, Centre, Entry, Marksheet, Request, SampleMember, Series,
                    Submission, Unit)

bp = Blueprint('centres', __name__, url_prefix='/helpline/centres')
FOUND_MAX = 50
AUDIT_PAGE = 50


@bp.route('/')
@helpline_required
def find():
    """Find a centre by its number or part of its name."""
    query = ' '.join(request.args.get('q', '').split())[:100]
    found = []
    if query:
        found = list(Centre.select().where((Centre.number.startswith(query))
                                           | fn.UPPER(Centre.name).contains(query.upper()))
                     .order_by(Centre.number).limit(FOUND_MAX + 1))
    return render('centres/find.html', query=query, found=found[:FOUND_MAX], more=len(found) > FOUND_MAX)


def units_of(centre):
    """Every unit the centre has entries for, with its state, in a few queries."""
    units = list(Unit.select(Unit, Series).join(Series)
                 .where(Unit.id.in_(Entry.select(Entry.unit).where(Entry.centre == centre.id)))
                 .order_by(Series.position, Series.name, Unit.code))
    ids = [u.id for u in units]
    status = Marksheet.overview(centre.id, ids)
    submissions = {s.unit_id: s for s in Submission.select(Submission, Account).join(Account)
                   .where(Submission.centre == centre.id, Submission.unit.in_(ids))}
    samples = dict(SampleMember.select(Entry.unit, fn.COUNT(SampleMember.id)).join(Entry)
                   .where(Entry.centre == centre.id, Entry.unit.in_(ids)).group_by(Entry.unit).tuples())
    for unit in units:
        unit.done, unit.total, _submitted = status.get(unit.id, (0, 0, False))
        unit.submission, unit.sample_size = submissions.get(unit.id), samples.get(unit.id, 0)
    return units


def read_date(text):
    try:
        return datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def audit_filters(args, accounts, units):
    """The audit log's filters from the query string, each checked against
    what the centre has (a forged id just filters nothing in)."""
    account = args.get('account', '')
    unit = args.get('unit', '')
    page = args.get('page', '1')
    return {'account': int(account) if account in {str(a.id) for a in accounts} else None,
            'unit': int(unit) if unit in {str(u.id) for u in units} else None,
            'since': read_date(args.get('since')), 'until': read_date(args.get('until')),
            'page': page_number(page)}


def audit_rows(centre, filters):
    targets = None
    if filters['unit']:
        entries = Entry.select(Entry.id).where(Entry.centre == centre.id, Entry.unit == filters['unit'])
        targets = [f'unit:{filters["unit"]}'] + [f'entry:{e.id}' for e in entries]
    until = filters['until'] + datetime.timedelta(days=1) if filters['until'] else None
    query = AuditLog.of_centre(centre.id, filters['account'], targets, filters['since'], until)
    rows = list(query.paginate(filters['page'], AUDIT_PAGE + 1))
    return rows[:AUDIT_PAGE], len(rows) > AUDIT_PAGE


@bp.route('/<int:centre_id>')
@helpline_required
def centre(centre_id):
    """One centre: details, accounts, units, requests and audit log."""
    found = Centre.get_or_none(Centre.id == centre_id)
    if found is None:
        abort(404)
    accounts = list(Account.select().where(Account.centre == found.id)
                    .order_by(Account.kind, Account.username))
    units = units_of(found)
    requests = list(Request.select().where(Request.centre == found.id).order_by(Request.created_at.desc()))
    filters = audit_filters(request.args, accounts, units)
    rows, more = audit_rows(found, filters)
    return render('centres/centre.html', centre=found, accounts=accounts, units=units, requests=requests,
                  rows=rows, names=target_names(rows), more=more, filters=filters,
                  request_kinds=KIND_LABELS, request_statuses=STATUS_LABELS,
                  may_act_as=impersonation.may_act_as)
