"""What every area shares: page-or-fragment rendering, htmx response
headers, and the words for a refusal."""
import functools
import re

from flask import current_app, flash, make_response, render_template, url_for
from markupsafe import Markup
from flask_babel import format_datetime, get_locale, gettext as _, lazy_gettext as _l, ngettext

from extensions import htmx
from impersonation import until as acting_until


def render(page, fragment=None, status=200, **context):
    """The whole page, or `fragment` alone for a non-boosted htmx request
    (one place decides; `Vary: HX-Request` always, HDR-1)."""
    template = fragment if (fragment and htmx and not htmx.boosted) else page
    if status in (400, 409, 413, 422):
        context.setdefault('error_summary', error_summary(
            context.get('errors') if isinstance(context.get('errors'), dict) else {}, context.get('refused')))
    response = make_response(render_template(template, **context), status)
    response.vary.add('HX-Request')
    return response


def error_summary(errors, refused=None):
    """[(field id or None, message)] for the box at the top of a page that
    came back with errors (the GOV.UK pattern, issue 10): a field's id is its
    name, a marksheet row's is value-<entry id>; `refused` is about no field."""
    listed = [(None, refused)] if refused else []
    return listed + [(f'value-{key}' if isinstance(key, int) else None if key in (None, 'form') else str(key), message)
                     for key, message in errors.items() if message]


def public_url(endpoint, **values):
    """An address on this site for an e-mail, from PUBLIC_URL."""
    return current_app.config['PUBLIC_URL'].rstrip('/') + url_for(endpoint, **values)


def hx_redirect(url, status=200):
    """Send an htmx request to a whole new page."""
    response = make_response('', status)
    response.headers['HX-Redirect'] = url
    return response


MESSAGES = {
    'not_a_grade': _l('“%(value)s” is not an outcome for this unit: choose Pass, Merit, Distinction or Absent.'),
    'not_a_mark': _l('“%(value)s” is not a mark: enter a whole number from 0 to %(maximum)s, or Absent.'),
    'mark_out_of_range': _l('%(value)s is out of range: marks run from 0 to %(maximum)s.'),
    'unknown_entry': _l('That candidate is not on this marksheet.'),
    'submitted': _l('Outcomes for this unit have been submitted and cannot be altered online. '
                    'To ask for an amendment, e-mail %(support)s.'),
    'stale': _l('Not saved: someone else changed this outcome to %(value)s (%(who)s, %(when)s). '
                'The current value is shown; choose again if it needs changing.'),
    'stale_cleared': _l('Not saved: someone else cleared this outcome (%(who)s). Choose again if needed.'),
    'incomplete': _l('%(missing)s outcomes are missing: every candidate needs an outcome before you can submit.'),
    'system_sample': _l('Candidates chosen by the system cannot be removed from the sample.'),
    'not_submitted': _l('The sample is generated when outcomes are submitted.'),
    'not_in_sample': _l('That candidate is not in the sample.'),
    'not_a_substitute': _l('Choose one of the nearest candidates offered as the substitute.'),
}


def page_number(text, last=9999):
    """A page number from a query string: ASCII digits in range, else 1."""
    text = text or ''
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 and 0 < int(text) <= last else 1


def report_dropped(dropped):
    """Posted rows that were not the marksheet's: counted and said, never read."""
    if dropped:
        flash(ngettext('%(num)s row sent was not on this marksheet and was not saved.',
                       '%(num)s rows sent were not on this marksheet and were not saved.', dropped), 'error')


def message_for(error):
    """The user's words for a DomainError."""
    params = dict(error.params)
    params.setdefault('support', current_app.config['BOARD_SUPPORT_EMAIL'])
    if error.code == 'stale':
        outcome = params.get('outcome')
        if outcome is None:
            return _('Not saved: someone else changed this outcome. The current value is shown.')
        params.update(value=outcome_label(outcome.value), who=outcome.entered_by.username,
                      when=format_datetime(outcome.entered_at, 'short'))
    return str(MESSAGES[error.code]) % params


def outcome_label(value):
    """The word for a stored outcome value, in the page's language."""
    return _outcome_words(str(get_locale())).get(value, value or '')


@functools.lru_cache(maxsize=8)
def _outcome_words(locale):
    # Translated once per language: a Rows: All marksheet asks hundreds of times.
    return {'P': _('Pass'), 'M': _('Merit'), 'D': _('Distinction'), 'A': _('Absent')}


SAMPLE_REASONS = {
    'all': _l('All candidates (15 or fewer)'),
    'highest': _l('Highest outcome'),
    'lowest': _l('Lowest outcome'),
    'spread': _l('Rank spread'),
    'grade': _l('Covers grade %(detail)s'),
    'group': _l('Covers teaching group %(detail)s'),
    'centre': _l('Added by centre'),
    'substitute': _l('Substitute'),
    'moderator': _l('Requested by moderator'),
}


def reason_label(reason, detail=''):
    """Why a candidate is in the sample, in the page's language."""
    if reason == 'grade':
        detail = outcome_label(detail)
    return str(SAMPLE_REASONS.get(reason, reason)) % {'detail': detail}


def sample_reason(member):
    label = reason_label(member.reason, member.detail)
    if member.work_missing:
        label += ' – ' + _('work incomplete or lost')
    return label


AUDIT_WORDS = {
    'auth.sign_in': _l('Signed in'), 'auth.sign_out': _l('Signed out'),
    'auth.sign_in_failed': _l('Failed sign-in'), 'auth.sign_in_throttled': _l('Sign-in slowed down'),
    'auth.sign_in_code_sent': _l('Sign-in code e-mailed'), 'auth.sign_in_code_failed': _l('Wrong sign-in code'),
    'auth.reset_requested': _l('Password reset asked for'), 'auth.reset_sent': _l('Password reset link e-mailed'),
    'auth.password_set.reset': _l('Password reset'), 'auth.password_set.invite': _l('Password set from an invitation'),
    'auth.second_factor_enrolled': _l('Second factor set up'),
    'account.create': _l('Account created'), 'account.update': _l('Account changed'),
    'permission.change': _l('Permissions changed'), 'centre.update': _l('Centre details changed'),
    'eo_change.request': _l('Change of Exams Officer asked for'),
    'eo_change.confirm': _l('Change of Exams Officer confirmed'),
    'eo_change.reject': _l('Change of Exams Officer rejected'),
    'outcome.set': _l('Outcome changed'), 'unit.submit': _l('Outcomes submitted'),
    'sample.add': _l('Added to the sample'), 'sample.remove': _l('Taken out of the sample'),
    'sample.substitute': _l('Substitute chosen'),
    'impersonation.start': _l('The helpline started acting for the centre'),
    'impersonation.changes': _l('The helpline switched to making changes'),
    'impersonation.stop': _l('The helpline stopped acting for the centre'),
    'impersonation.end': _l('The helpline\'s time acting for the centre ended'),
    'impersonation.submit_asked_in_writing': _l('The helpline submitted at the centre\'s written request'),
    'request.take': _l('Request taken by a member of the helpline'),
    'note.save': _l('Explanatory note for the moderator saved'),
    'outcome.amend': _l('Outcome amended by the board'),
    'outcome_amendment.request': _l('Outcome amendment asked for'),
    'outcome_amendment.reject': _l('Outcome amendment refused'),
    'file_deletion.request': _l('File deletion asked for'),
    'file_deletion.confirm': _l('File deletion accepted'),
    'file_deletion.reject': _l('File deletion refused'),
    'e_submission_opt_out.request': _l('Opt-out from e-submission asked for'),
    'e_submission_opt_out.confirm': _l('Opt-out from e-submission accepted'),
    'e_submission_opt_out.reject': _l('Opt-out from e-submission refused'),
    'moderator.create': _l('Moderator account created'), 'moderator.update': _l('Moderator account changed'),
    'assignment.create': _l('Moderator assigned'), 'assignment.move': _l('Moderator assignment moved'),
    'assignment.remove': _l('Moderator assignment removed'),
    'candidate.create': _l('Candidate added'),
    'entry.requested': _l('Entry change sent to the board'),
    'entry.cancelled': _l('Entry change cancelled'),
    'entry.processed': _l('Entry processed by the board'),
    'entry.withdrawn': _l('Withdrawal processed by the board'),
    'series.create': _l('Series created'), 'series.update': _l('Series changed'),
    'unit.create': _l('Unit created'), 'unit.update': _l('Unit changed'),
    'notice.create': _l('Service notice set'), 'notice.end': _l('Service notice ended'),
    'import.save': _l('Import saved'), 'import.centres.update': _l('Centre changed by an import'),
    'import.candidates.update': _l('Candidate changed by an import'),
    'import.entries.update': _l('Entry changed by an import'),
    'import.moderators.update': _l('Moderator changed by an import'),
    'import.assignments.update': _l('Moderator assignment changed by an import'),
}


AUDIT_KEYS = {  # the fields an audit row's before and after name, in words
    'candidate': _l('Candidate'), 'candidate_name': _l('Candidate name'), 'candidates': _l('Candidates'),
    'due': _l('Due date'), 'entry': _l('Entry'), 'letter_date': _l('Date of the letter'),
    'reference': _l('Reference'), 'sample': _l('Sample'), 'status': _l('Status'), 'unit': _l('Unit'),
    'moderator': _l('Moderator'), 'active': _l('Active'), 'kind': _l('Kind'), 'file': _l('File'),
    'account': _l('Account'), 'username': _l('Username'), 'centre': _l('Centre'), 'submitted': _l('Submitted'),
    'current': _l('Current outcome'), 'requested': _l('New outcome'), 'substitute': _l('Substitute'),
    'by': _l('By'), 'name': _l('Name'), 'email': _l('E-mail'), 'route': _l('Route'), 'language': _l('Language'),
    'eo_name': _l('Exams Officer'), 'eo_email': _l('E-mail'),
}
AUDIT_VALUES = {'pending': _l('Pending'), 'confirmed': _l('Confirmed'), 'rejected': _l('Rejected')}


def audit_key(key):
    """A field of an audit row in words; one without words yet is marked as English."""
    return str(AUDIT_KEYS[key]) if key in AUDIT_KEYS else Markup('<span lang="en">{}</span>').format(key)


def audit_details(row):
    """An audit row's before and after in words: what changed, why, the
    ticket or note; outcome codes as words."""
    before, after = row.details
    said = []
    if isinstance(after, dict) and 'value' in after:
        said.append(f'{audit_value(before)} → {audit_value(after["value"])}')
    elif isinstance(before, dict) or isinstance(after, dict):
        before, after = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
        for key in sorted(set(before) | set(after) - {'reason', 'ticket', 'note', 'until', 'value'}):
            if before.get(key) != after.get(key):
                said.append(Markup('{}: {} → {}').format(audit_key(key), audit_value(before.get(key)),
                                                          audit_value(after.get(key))))
    elif before is not None or after is not None:
        said.append(f'{audit_value(before)} → {audit_value(after)}')
    if isinstance(after, dict):
        if after.get('reason'):
            why = _('Why: %(reason)s', reason=after['reason'])
            if after.get('ticket'):
                why += ' (' + _('ticket %(ticket)s', ticket=after['ticket']) + ')'
            said.append(why)
        if after.get('note'):
            said.append(_('Note: %(note)s', note=after['note']))
    return said


SIGN_IN_WAYS = {  # the target of an auth.sign_in row: how the account signed in
    'password': _l('with a password'),
    'password and authenticator code': _l('with a password and an authenticator code'),
    'password and e-mailed code': _l('with a password and an e-mailed code'),
}


def target_names(rows):
    """{target: words} for a page of audit rows: a candidate, an account or a
    unit by its name, not its id (three queries, whatever the page); how a
    sign-in was made in words."""
    from models import Account, Candidate, Entry, Unit
    wanted = {}
    for row in rows:
        kind, _, key = (row.target or '').partition(':')
        if key.isascii() and key.isdigit():
            wanted.setdefault(kind, set()).add(int(key))
    names = {row.target: str(SIGN_IN_WAYS[row.target]) for row in rows if row.target in SIGN_IN_WAYS}
    if wanted.get('entry'):
        for entry in (Entry.select(Entry.id, Candidate, Unit.code).join(Candidate).switch(Entry).join(Unit)
                      .where(Entry.id.in_(list(wanted['entry'])))):
            names[f'entry:{entry.id}'] = (f'{entry.candidate.number} {entry.candidate.display_name} '
                                          f'({entry.unit.code})')
    if wanted.get('account'):
        for account in Account.select(Account.id, Account.username).where(Account.id.in_(list(wanted['account']))):
            names[f'account:{account.id}'] = account.username
    if wanted.get('unit'):
        for unit in Unit.select(Unit.id, Unit.code).where(Unit.id.in_(list(wanted['unit']))):
            names[f'unit:{unit.id}'] = unit.code
    return names


def audit_value(value):
    """A before or after of an audit row in words: outcome codes as words."""
    if value is None:
        return '–'
    if isinstance(value, str):
        return str(AUDIT_VALUES[value]) if value in AUDIT_VALUES else outcome_label(value)
    return value


SUITE_NAMES = {
    'GCE': _l('GCE'), 'GCSE': _l('GCSE'), 'FUNCTIONAL SKILLS': _l('FUNCTIONAL SKILLS'),
    'ENTRY PATHWAYS': _l('ENTRY PATHWAYS'), 'WELSH BAC': _l('WELSH BAC'), 'ENTRY LEVEL': _l('ENTRY LEVEL'),
    'LEVEL 3': _l('LEVEL 3'), 'VOCATIONAL AWARDS': _l('VOCATIONAL AWARDS'),
    'MODERN LANGUAGES': _l('MODERN LANGUAGES'), 'WORK WELSH': _l('WORK WELSH'), 'HSCCC': _l('HSCCC'),
}


def suite_label(suite):
    """A suite of qualifications (models.SUITES) in the page's language."""
    return str(SUITE_NAMES.get(suite, suite))


def audit_label(action):
    """What an audit row's action means, in the page's language."""
    return str(AUDIT_WORDS.get(action, action))


def in_language(thing):
    """A series' name or a unit's title in the page's language. On a Welsh
    page without a Welsh form the English one is marked lang="en", so a
    screen reader reads it as English (issue 10)."""
    language = str(get_locale() or 'en')
    if hasattr(thing, 'title_in'):
        text, welsh = thing.title_in(language), thing.title_cy
    elif hasattr(thing, 'name_in'):
        text, welsh = thing.name_in(language), thing.name_cy
    else:
        return thing
    if language == 'cy' and not welsh:
        return Markup('<span lang="en">{}</span>').format(text)
    return Markup.escape(text)


def english(text):
    """English-only data (a centre's name) marked so on a Welsh page, for a screen reader."""
    if str(get_locale() or 'en') == 'cy':
        return Markup('<span lang="en">{}</span>').format(text)
    return Markup.escape(text)


def full_title_in(unit):
    """`Unit.full_title` in the page's language: series, title and code."""
    return Markup('{} {} ({})').format(in_language(unit.series), in_language(unit), unit.code)


def full_title_text(unit):
    """`Unit.full_title` in the current language as plain text, for e-mails
    (.txt templates are not escaped, so no markup)."""
    language = str(get_locale() or 'en')
    return f'{unit.series.name_in(language)} {unit.title_in(language)} ({unit.code})'


def session_ends_at():
    """When the signed-in session ends if nothing is done (the idle limit),
    as UK clock time: said on pages without JavaScript (WCAG 2.2.1)."""
    import datetime
    from zoneinfo import ZoneInfo
    from flask import session
    seen = session.get('seen_at') or datetime.datetime.now(datetime.timezone.utc).timestamp()
    ends = seen + current_app.config['IDLE_MINUTES'] * 60
    return datetime.datetime.fromtimestamp(ends, ZoneInfo('Europe/London')).strftime('%H:%M')


def init_app(app):
    """Helpers every template can call."""
    from models import ABSENT, GRADE_WORDS
    app.jinja_env.globals.update(
        absent_words=' '.join(sorted(w for w, code in GRADE_WORDS.items() if code == ABSENT)),
        current_locale=lambda: str(get_locale() or 'en'), outcome_label=outcome_label, audit_label=audit_label, audit_details=audit_details,
        reason_label=reason_label, sample_reason=sample_reason, suite_label=suite_label, acting_until=acting_until,
        in_language=in_language, english=english, full_title_in=full_title_in, full_title_text=full_title_text, session_ends_at=session_ends_at,
        status_open=lambda units, status: any(not status.get(u.id, (0, 0, False))[2] for u in units))


# --- Fields every form shares -------------------------------------------------

NAME_MAX, EMAIL_MAX = 200, 254
EMAIL = re.compile(r'[^@\s<>()\[\],;:"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+')


def clean(value):
    """One line of text: runs of spaces, tabs and newlines become one space."""
    return ' '.join((value or '').split())


def name_problem(name, required=True):
    """The message for a name that cannot be used, or None."""
    if required and not name:
        return _('Enter a name.')
    if len(name) > NAME_MAX:
        return _('Use at most %(count)s characters.', count=NAME_MAX)
    return None


def email_problem(email, required=True):
    """The message for an e-mail address that cannot be used, or None."""
    if not email:
        return _('Enter an e-mail address.') if required else None
    if len(email) > EMAIL_MAX or not EMAIL.fullmatch(email):
        return _('Enter an e-mail address in the form name@example.org (at most %(count)s characters).',
                 count=EMAIL_MAX)
    return None
