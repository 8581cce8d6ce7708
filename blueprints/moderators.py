"""Moderators and their assignments to centres' units, for the board's
series staff (SPEC 2, 3.10; issue 9 point 5). The rules live in
`moderators`; these views read forms, say what is wrong beside each field or
at the top of the page, and redirect after a change. No JavaScript needed."""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

import jobs
import moderators as domain
from access import series_staff_required
from blueprints import clean, page_number, public_url, render
from models import Account, Centre, DomainError, Series

bp = Blueprint('moderators', __name__, url_prefix='/board/moderators')

PROBLEMS = {
    'name_required': _l('Enter the moderator’s name.'),
    'too_long': _l('Use at most %(count)s characters.'),
    'email_required': _l('Enter an e-mail address: the invitation to set a password is sent to it.'),
    'email_form': _l('Enter an e-mail address in the form name@example.org (at most %(count)s characters).'),
    'address_required': _l('Enter the postal address centres send their samples to.'),
    'username_form': _l('Use 3 to 40 letters, digits, dots, dashes or underscores, starting with a letter.'),
    'username_taken': _l('%(username)s is taken: choose another username.'),
}
LIMITS = {'contact_name': domain.NAME_MAX, 'email': domain.EMAIL_MAX, 'postal_address': domain.ADDRESS_MAX}
REFUSALS = {
    'unknown_moderator': _l('There is no moderator with the username “%(username)s”. Nothing has changed.'),
    'not_a_moderator': _l('That account is not a moderator’s. Nothing has been assigned.'),
    'inactive_moderator': _l('%(username)s is deactivated: reactivate the account first. Nothing has changed.'),
    'unknown_centre': _l('There is no centre with the number “%(number)s”. Nothing has been assigned.'),
    'unknown_unit': _l('Choose a unit from the list. Nothing has been assigned.'),
    'assigned_elsewhere': _l('Centre %(centre)s’s unit %(unit)s is already assigned to %(username)s '
                             '(%(name)s). Nothing has been assigned: move it instead if it should change.'),
    'assignment_changed': _l('Centre %(centre)s’s unit %(unit)s is now assigned to %(username)s (someone changed '
                             'it after this page was shown). Nothing has changed: check and try again.'),
}
SORTS = ('name', 'newest')


def refusal(error):
    """The words for a DomainError met here."""
    params = dict(error.params)
    assignment = params.pop('assignment', None)
    if assignment is not None:
        params.update(centre=assignment.centre.number, unit=assignment.unit.code,
                      username=assignment.moderator.username, name=assignment.moderator.contact_name)
    return str(REFUSALS[error.code]) % params


def words(problems, username=''):
    """{field: message} for {field: problem code}."""
    return {field: str(PROBLEMS[code]) % {'count': LIMITS.get(field, 40), 'username': username}
            for field, code in problems.items()}


def staff():
    return current_user._get_current_object()


def moderator_or_404(moderator_id):
    found = domain.moderator_or_none(moderator_id)
    if found is None:
        abort(404)
    return found


def detail_values(form):
    """The fields a moderator's details form may send (AC-3), trimmed to a little past their limits."""
    return {'contact_name': clean(form.get('contact_name'))[:domain.NAME_MAX + 1],
            'email': form.get('email', '').strip()[:domain.EMAIL_MAX + 1],
            'postal_address': domain.clean_address(form.get('postal_address'))[:domain.ADDRESS_MAX + 1]}


def posted_id(form, name):
    """A positive integer id from a form field, or None."""
    text = (form.get(name) or '').strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 11 else None


# --- The list, and a new moderator -------------------------------------------------

@bp.route('/')
@series_staff_required
def index():
    """Every moderator account, searched by name or username, a page at a time."""
    search = clean(request.args.get('q'))[:100]
    sort = request.args.get('sort') if request.args.get('sort') in SORTS else 'name'
    page = page_number(request.args.get('page'))
    rows, matching = domain.moderator_list(search, sort, page, domain.PAGE_SIZE)
    pages = max(1, -(-matching // domain.PAGE_SIZE))
    return render('moderators/index.html', rows=rows, matching=matching, at_page=min(page, pages), pages=pages,
                  search=search, sort=sort)


def new_page(values, errors, status=200):
    return render('moderators/new.html', values=values, errors=errors, status=status)


@bp.route('/new')
@series_staff_required
def new():
    """New moderator: the form."""
    return new_page({}, {})


@bp.route('/new', methods=['POST'])
@series_staff_required
def create():
    """Create the moderator's account; they are e-mailed a link to set their password."""
    form = request.form
    values = dict(detail_values(form), username=clean(form.get('username'))[:41].upper(),
                  language=form.get('language') if form.get('language') in ('en', 'cy') else 'en')
    try:
        account, job = domain.create_moderator(
            staff(), username=values['username'], name=values['contact_name'], email=values['email'],
            postal_address=values['postal_address'], language=values['language'],
            welcome_url=public_url('auth.welcome'))
    except DomainError as error:
        return new_page(values, words(error.params['problems'], values['username']), status=422)
    if job:
        jobs.enqueue(job)
    flash(_('Moderator %(username)s created. An invitation to set a password has been e-mailed to %(email)s; '
            'they set up the second factor when they first sign in.', username=account.username,
            email=account.email))
    return redirect(url_for('.moderator', moderator_id=account.id), 303)


# --- One moderator: details, active, assignments ------------------------------------------

def moderator_page(moderator, values=None, errors=None, assign_values=None, refused=None, offer=None,
                   status=200):
    """The moderator's details form, their assignments and the assign form;
    `refused` is a message at the top, `offer` an assignment to offer moving here."""
    return render('moderators/moderator.html', moderator=moderator,
                  values=values or {field: getattr(moderator, field) for field in domain.DETAIL_FIELDS},
                  errors=errors or {}, assignments=domain.assignments_of(moderator.id),
                  units_by_series=domain.units_by_series(), assign_values=assign_values or {},
                  refused=refused, offer=offer, status=status)


@bp.route('/<int:moderator_id>')
@series_staff_required
def moderator(moderator_id):
    """A moderator's details and the centres' units assigned to them."""
    return moderator_page(moderator_or_404(moderator_id))


@bp.route('/<int:moderator_id>', methods=['POST'])
@series_staff_required
def save(moderator_id):
    """Change the moderator's name, e-mail and postal address."""
    account = moderator_or_404(moderator_id)
    values = detail_values(request.form)
    try:
        changed = domain.update_moderator(staff(), account.id, name=values['contact_name'], email=values['email'],
                                          postal_address=values['postal_address'])
    except DomainError as error:
        if error.code == 'unknown_moderator':
            abort(404)
        return moderator_page(account, values, words(error.params['problems']), status=422)
    flash(_('Changes saved.') if changed else _('Nothing had changed.'))
    return redirect(url_for('.moderator', moderator_id=account.id), 303)


@bp.route('/<int:moderator_id>/active', methods=['POST'])
@series_staff_required
def set_active(moderator_id):
    """Deactivate (their sessions end at once) or reactivate a moderator."""
    account = moderator_or_404(moderator_id)
    wanted = request.form.get('active')
    if wanted not in ('yes', 'no'):
        return moderator_page(account, refused=_('Choose to deactivate or reactivate the account. '
                                                 'Nothing has changed.'), status=422)
    try:
        changed = domain.set_active(staff(), account.id, wanted == 'yes')
    except DomainError:
        abort(404)
    if wanted == 'yes':
        flash(_('%(username)s is active again.', username=account.username) if changed
              else _('%(username)s was already active.', username=account.username))
    else:
        flash(_('%(username)s is deactivated and signed out everywhere.', username=account.username) if changed
              else _('%(username)s was already deactivated.', username=account.username))
    return redirect(url_for('.moderator', moderator_id=account.id), 303)


@bp.route('/<int:moderator_id>/assignments', methods=['POST'])
@series_staff_required
def assign(moderator_id):
    """Assign a centre's unit to this moderator (a centre number and a unit)."""
    account = Account.get_or_none(Account.id == moderator_id) if moderator_id < 2 ** 31 else None
    if account is None or account.kind != 'moderator':  # a forged id: said, not a 500
        return render('error.html', status=422, title=_('Not assigned'),
                      message=str(REFUSALS['not_a_moderator']))
    values = {'centre': clean(request.form.get('centre'))[:10], 'unit': posted_id(request.form, 'unit')}
    try:
        assignment, created, warning = domain.assign(staff(), account.id, values['centre'], values['unit'])
    except DomainError as error:
        offer = error.params.get('assignment') if error.code == 'assigned_elsewhere' else None
        return moderator_page(account, assign_values=values, refused=refusal(error), offer=offer, status=422)
    said = dict(centre=assignment.centre.number, unit=assignment.unit.code, username=account.username)
    if not created:
        flash(_('Centre %(centre)s’s unit %(unit)s was already assigned to %(username)s.', **said))
    else:
        flash(_('Centre %(centre)s’s unit %(unit)s is assigned to %(username)s.', **said))
    if warning == 'no_entries':
        flash(_('Centre %(centre)s has no entries for %(unit)s yet: the assignment stands, ready for them.',
                **said), 'error')
    return redirect(url_for('.moderator', moderator_id=account.id), 303)


# --- Moving and removing an assignment ---------------------------------------------------

def back(form, from_id, to_id=None):
    """Where to go after a move or removal: the list, the new moderator's page, or the old one's."""
    if form.get('back') == 'list':
        return url_for('.assignments')
    if form.get('back') == 'to' and to_id:
        return url_for('.moderator', moderator_id=to_id)
    return url_for('.moderator', moderator_id=from_id)


def assignment_refused(from_id, message, status):
    """A refused move or removal, said on the page it came from (or alone if that page is gone)."""
    account = domain.moderator_or_none(from_id)
    if request.form.get('back') == 'list' or account is None:
        return assignments_page(refused=message, status=status)
    return moderator_page(account, refused=message, status=status)


@bp.route('/assignments/<int:assignment_id>/move', methods=['POST'])
@series_staff_required
def move(assignment_id):
    """Move an assignment to another moderator, named by username."""
    if domain.assignment_or_none(assignment_id) is None:
        abort(404)
    from_id = posted_id(request.form, 'from')
    to_username = clean(request.form.get('to'))[:40]
    if not from_id or not to_username:
        return assignment_refused(from_id, _('Enter the username of the moderator to move it to. '
                                             'Nothing has changed.'), 422)
    try:
        assignment, moved = domain.move(staff(), assignment_id, from_id, to_username)
    except DomainError as error:
        if error.code == 'unknown_assignment':
            abort(404)
        return assignment_refused(from_id, refusal(error), 409 if error.code == 'assignment_changed' else 422)
    said = dict(centre=assignment.centre.number, unit=assignment.unit.code, username=assignment.moderator.username)
    flash(_('Centre %(centre)s’s unit %(unit)s is now assigned to %(username)s.', **said) if moved
          else _('Centre %(centre)s’s unit %(unit)s was already assigned to %(username)s.', **said))
    return redirect(back(request.form, from_id, assignment.moderator_id), 303)


@bp.route('/assignments/<int:assignment_id>/remove', methods=['POST'])
@series_staff_required
def remove(assignment_id):
    """Remove an assignment still held by the moderator the page showed."""
    from_id = posted_id(request.form, 'from')
    if not from_id:
        return assignment_refused(from_id, _('Nothing has been removed: send the form from the '
                                             'assignment’s page.'), 422)
    try:
        removed = domain.remove(staff(), assignment_id, from_id)
    except DomainError as error:
        return assignment_refused(from_id, refusal(error), 409)
    if removed is None:
        flash(_('That assignment had already been removed.'))
    else:
        flash(_('Centre %(centre)s’s unit %(unit)s is no longer assigned to %(username)s.',
                centre=removed.centre.number, unit=removed.unit.code, username=removed.moderator.username))
    return redirect(back(request.form, from_id), 303)


# --- Every assignment, and what still needs a moderator ---------------------------------------

def read_filters(args):
    """The filters from the query string, each held to what exists, and a
    message for a centre number that names no centre."""
    series_id = args.get('series', '')
    series = (Series.get_or_none(Series.id == int(series_id))
              if series_id.isascii() and series_id.isdigit() and len(series_id) < 10 else None)
    number = clean(args.get('centre'))[:10]
    centre = Centre.get_or_none(Centre.number == number) if Centre.number_is_valid(number) else None
    problem = _('There is no centre with the number “%(number)s”.', number=number) if number and not centre else None
    return series, centre, number, problem


@bp.route('/assignments', methods=['GET'])
@series_staff_required
def assignments():
    """Every assignment, filtered by series and centre, and the centres' units with entries and no moderator."""
    return assignments_page()


def assignments_page(refused=None, status=200):
    series, centre, number, problem = read_filters(request.args)
    page = page_number(request.args.get('page'))
    waiting_page = page_number(request.args.get('waiting_page'))
    if problem:
        rows, matching, waiting, waiting_count = [], 0, [], 0
    else:
        series_id, centre_id = series.id if series else None, centre.id if centre else None
        rows, matching = domain.all_assignments(series_id, centre_id, page, domain.PAGE_SIZE)
        waiting, waiting_count = domain.unassigned(series_id, centre_id, waiting_page, domain.PAGE_SIZE)
    return render('moderators/assignments.html', rows=rows, matching=matching, at_page=page,
                  pages=max(1, -(-matching // domain.PAGE_SIZE)), waiting=waiting, waiting_count=waiting_count,
                  at_waiting_page=waiting_page, waiting_pages=max(1, -(-waiting_count // domain.PAGE_SIZE)),
                  all_series=list(Series.select().order_by(Series.position, Series.name)),
                  series=series, centre_number=number if centre else '', typed_centre=number,
                  centre_problem=problem, refused=refused, status=status)


@bp.route('/assignments', methods=['POST'])
@series_staff_required
def assign_waiting():
    """Assign a centre's unit from the list of those without a moderator, to a moderator named by username."""
    username = clean(request.form.get('moderator'))[:40]
    account = Account.by_username(username) if username else None
    if account is None or account.kind != 'moderator':
        message = (str(REFUSALS['unknown_moderator']) % {'username': username} if username
                   else _('Enter the username of the moderator. Nothing has been assigned.'))
        return assignments_page(refused=message, status=422)
    try:
        assignment, created, _warning = domain.assign(staff(), account.id, clean(request.form.get('centre'))[:10],
                                                      posted_id(request.form, 'unit'))
    except DomainError as error:
        return assignments_page(refused=refusal(error), status=422)
    said = dict(centre=assignment.centre.number, unit=assignment.unit.code, username=account.username)
    flash(_('Centre %(centre)s’s unit %(unit)s is assigned to %(username)s.', **said) if created
          else _('Centre %(centre)s’s unit %(unit)s was already assigned to %(username)s.', **said))
    return redirect(url_for('.assignments', series=request.args.get('series') or None,
                            centre=request.args.get('centre') or None), 303)
