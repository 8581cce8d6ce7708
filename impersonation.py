"""Helpline staff acting as a centre's account (SPEC 3.10; QUALITY IMP-1..3).

The rules live here, below the views and access.py, so that every request
checks them the same way:

- one pure function, `may_act_as`, decides who may act as whom, always
  against the real staff member;
- the state is a small dict kept in the session (`session['acting']`):
  who is acted as, since and until when, why, and whether changes are on;
- `ended_because` says, on every request, whether it must end now: the
  30-minute limit, the staff member's role or the target's active flag.
"""
import datetime

LIMIT = datetime.timedelta(minutes=30)
CENTRE_KINDS = ('administrator', 'user')
REASON_MAX, TICKET_MAX = 500, 40


def may_act_as(staff, target):
    """Only active helpline staff, only as an active centre account: never
    as staff, a moderator, or oneself."""
    return (staff is not None and target is not None
            and staff.has_staff_role('helpline') and bool(staff.active)
            and target.kind in CENTRE_KINDS and bool(target.active)
            and target.id != staff.id)


def begin(target, reason, ticket, now):
    """The session's state for a new impersonation: read-only."""
    return {'target': target.id, 'username': target.username, 'centre': target.centre_id,
            'started': now.timestamp(),
            'until': (now + LIMIT).timestamp(), 'reason': reason, 'ticket': ticket, 'changes': False}


def ended_because(state, staff, target, now):
    """None while the impersonation may go on; else why it ends now."""
    if now.timestamp() >= state.get('until', 0):
        return 'time_limit'
    if target is None or target.id != state.get('target') or not may_act_as(staff, target):
        return 'revoked'
    return None


def until(state):
    return datetime.datetime.fromtimestamp(state['until'], datetime.timezone.utc).replace(tzinfo=None)
