"""The service banner (issue 11, point 6): helpline staff set a notice in
English and Welsh ("Deadline extended to ...", "Uploads are slow this
morning"), shown at the top of every page, signed in or not, in the page's
language, between its times. Plain forms; every change audited.

Pages read the notices through `service_notices()`, which keeps them in the
process for NOTICE_CACHE_SECONDS (30 by default; 0 asks every time): most
pages cost no query. A new notice shows in this process at once and in the
others within that time."""
import datetime
import time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from access import helpline_required
from blueprints import clean, render
from models import Account, AuditLog, ServiceNotice, utcnow, writing

bp = Blueprint('notices', __name__, url_prefix='/staff/notices')
UK = ZoneInfo('Europe/London')
TEXT_MAX = 500
KINDS = {'info': _l('Information'), 'warning': _l('Warning')}


def init_app(app):
    app.config.setdefault('NOTICE_CACHE_SECONDS', 30)
    app.extensions['service_notices'] = {'until': 0.0, 'notices': []}
    app.jinja_env.globals['service_notices'] = service_notices
    app.register_blueprint(bp)


def service_notices():
    """The notices on show now, from the cache when it is fresh. Never fails a
    page: with the database away the page shows without them."""
    cache = current_app.extensions['service_notices']
    now = time.monotonic()
    if now >= cache['until']:
        keep = float(current_app.config['NOTICE_CACHE_SECONDS'])
        try:  # those on show now or starting before the cache is next read
            at = utcnow()
            found = list(ServiceNotice.select().where(
                ServiceNotice.shown_from <= at + datetime.timedelta(seconds=keep),
                ServiceNotice.shown_until.is_null() | (ServiceNotice.shown_until > at))
                .order_by(ServiceNotice.shown_from, ServiceNotice.id))
        except Exception:
            current_app.logger.warning('service notices could not be read', exc_info=True)
            return []
        cache.update(until=now + keep, notices=found)
    at = utcnow()
    return [n for n in cache['notices'] if n.shown_from <= at and (n.shown_until is None or n.shown_until > at)]


def forget_cache():
    current_app.extensions['service_notices']['until'] = 0.0


def uk_time(moment):
    """A stored UTC time as UK clock time, for the list."""
    return moment.replace(tzinfo=datetime.timezone.utc).astimezone(UK).strftime('%d/%m/%Y %H:%M') if moment else ''


def parse_uk_time(text):
    """A datetime-local (2026-11-22T09:30) or 22/11/2026 09:30, as UK time, in UTC; None if not one."""
    text = ' '.join((text or '').replace('T', ' ').split())
    for form in ('%Y-%m-%d %H:%M', '%d/%m/%Y %H:%M', '%Y-%m-%d', '%d/%m/%Y'):
        try:
            moment = datetime.datetime.strptime(text, form)
        except ValueError:
            continue
        if 2000 <= moment.year <= 2100:
            return moment.replace(tzinfo=UK).astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return None


def read_form(form):
    """(values, errors) of the new-notice form: the fields named here only."""
    values = {'text_en': clean(form.get('text_en')), 'text_cy': clean(form.get('text_cy')),
              'kind': form.get('kind', 'info'), 'shown_from': form.get('shown_from', '').strip(),
              'shown_until': form.get('shown_until', '').strip()}
    errors = {}
    for name, missing in (('text_en', _('Enter the notice in English.')),
                          ('text_cy', _('Enter the notice in Welsh: both languages are needed.'))):
        if not values[name]:
            errors[name] = missing
        elif len(values[name]) > TEXT_MAX:
            errors[name] = _('Use at most %(count)s characters.', count=TEXT_MAX)
    if values['kind'] not in KINDS:
        errors['kind'] = _('Choose information or warning.')
    start = parse_uk_time(values['shown_from']) if values['shown_from'] else utcnow()
    end = parse_uk_time(values['shown_until']) if values['shown_until'] else None
    if start is None:
        errors['shown_from'] = _('Enter a date and time, for example 22/11/2026 09:30, or leave it empty for now.')
    if values['shown_until'] and end is None:
        errors['shown_until'] = _('Enter a date and time, for example 22/11/2026 17:00, or leave it empty.')
    elif end is not None and start is not None and end <= max(start, utcnow()):
        errors['shown_until'] = _('The end must be after the start and in the future.')
    return values, errors, start, end


@bp.route('/')
@helpline_required
def index():
    """The notices on show or to come, the last ended ones, and the form for a new one."""
    return notices_page({'kind': 'info'}, {})


def notices_page(values, errors, status=200):
    at = utcnow()
    notices = list(ServiceNotice.select(ServiceNotice, Account.username).join(Account).order_by(ServiceNotice.shown_from.desc(), ServiceNotice.id.desc())
                   .limit(50))
    live = [n for n in notices if n.shown_until is None or n.shown_until > at]
    ended = [n for n in notices if n not in live]
    return render('notices/index.html', live=live, ended=ended, values=values, errors=errors, kinds=KINDS,
                  uk_time=uk_time, now=at, status=status)


@bp.route('/', methods=['POST'])
@helpline_required
def create():
    values, errors, start, end = read_form(request.form)
    if errors:
        return notices_page(values, errors, status=422)
    with writing():
        notice = ServiceNotice.create(text_en=values['text_en'], text_cy=values['text_cy'], kind=values['kind'],
                                      shown_from=start, shown_until=end, set_by=current_user.id)
        AuditLog.record(current_user.id, 'notice.create', f'notice:{notice.id}',
                        after={'text_en': notice.text_en, 'text_cy': notice.text_cy, 'kind': notice.kind,
                               'from': start.isoformat(timespec='minutes'),
                               'until': end.isoformat(timespec='minutes') if end else None})
    forget_cache()
    flash(_('Notice saved: it shows on every page from %(time)s (UK time).', time=uk_time(start)), 'success')
    return redirect(url_for('.index'), 303)


@bp.route('/<int:notice_id>/end', methods=['POST'])
@helpline_required
def end(notice_id):
    """Take a notice off every page now."""
    at = utcnow()
    with writing():
        notice = ServiceNotice.get_or_none(ServiceNotice.id == notice_id)
        if notice is None:
            abort(404)
        if notice.shown_until is None or notice.shown_until > at:
            ServiceNotice.update(shown_until=at).where(ServiceNotice.id == notice_id).execute()
            AuditLog.record(current_user.id, 'notice.end', f'notice:{notice_id}',
                            before={'until': notice.shown_until.isoformat(timespec='minutes')
                                    if notice.shown_until else None},
                            after={'until': at.isoformat(timespec='minutes')})
    forget_cache()
    flash(_('Notice ended: it no longer shows.'), 'success')
    return redirect(url_for('.index'), 303)
