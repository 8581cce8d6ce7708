"""Account Admin: the primary account creates secondary accounts and amends
their details and facility permissions (SPEC 3.8; seed Appendix 1).
Administrators never see a password; nothing changes until Save Changes."""

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from peewee import IntegrityError

import access
import jobs
import passwords
from blueprints import EMAIL_MAX, NAME_MAX, auth, email_problem, name_problem, render
from models import (FACILITIES, LANGUAGES, PRIMARY_ONLY_FACILITIES, Account, AuditLog, Entry,
                    FacilityGrant, Series, Unit, UnitGrant, writing)

bp = Blueprint('account_admin', __name__, url_prefix='/account-admin')

SUITE_OF = {code: suite for code, _label, suite in FACILITIES}
KIND_WORDS = {'administrator': _l('Administrator'), 'user': _l('User')}
# The seed's facility names, translatable (models.FACILITIES holds the codes).
FACILITY_NAMES = {
    'FAQ': _l('FAQ'),
    'RESOURCES': _l('Resources PDF download'),
    'PAST_PAPERS': _l('Past Papers / Marking Schemes'),
    'CIRCULARS': _l('Circulars'),
    'ITEM_LEVEL_DATA': _l('Item Level Data'),
    'ACCESS_ARRANGEMENTS': _l('Access Arrangements Online / Modified Papers'),
    'GCE_NOMINATED_TEXTS': _l('GCE English Nominated Texts'),
    'GCSE_SCIENCE': _l('GCSE Science Assessment'),
    'CW_GCE': _l('Coursework Marks (GCE)'),
    'CW_GCSE': _l('Coursework Marks (GCSE)'),
    'CW_FUNCTIONAL_SKILLS': _l('Coursework Marks (FUNCTIONAL SKILLS)'),
    'CW_ENTRY_PATHWAYS': _l('Coursework Marks (ENTRY PATHWAYS)'),
    'CW_WELSH_BAC': _l('Coursework Marks (WELSH BAC)'),
    'CW_ENTRY_LEVEL': _l('Coursework Marks (ENTRY LEVEL)'),
    'CW_LEVEL_3': _l('Coursework Marks (LEVEL 3 APPLIED)'),
    'CW_VOCATIONAL': _l('Coursework Marks (VOCATIONAL AWARDS)'),
    'CW_MODERN_LANGUAGES': _l('Coursework Marks (MODERN LANGUAGES)'),
    'CW_WORK_WELSH': _l('Coursework Marks (WORK WELSH)'),
    'CW_HSCCC': _l('Coursework Marks (HSCCC)'),
    'ENTRY_UPLOAD': _l('Entry Upload'),
    'POST_RESULTS': _l('Post Results Services'),
    'ACCOUNT_ADMIN': _l('Account Admin'),
}


def account_for(account_id):
    """An account of the signed-in centre, or 404 (AC-2)."""
    account = None
    if 0 < account_id < 2 ** 31:  # beyond an integer key: not found, not a database error
        account = Account.get_or_none(Account.id == account_id, Account.centre == current_user.centre_id)
    if account is None:
        abort(404)
    return account


def centre_accounts():
    return list(Account.select().where(Account.centre == current_user.centre_id)
                .order_by(Account.kind, Account.username))


def account_label(account):
    """`THE CASTLE SCHOOL (50551JBR) - User`, as the seed lists accounts."""
    label = f'{current_user.centre.name} ({account.username}) - {KIND_WORDS[account.kind]}'
    return label if account.active else label + ' ' + _('(inactive)')


def centre_papers():
    """{suite: [units]} the centre has entries for: the papers an administrator can pick."""
    units = (Unit.select(Unit, Series).join(Series).switch(Unit)
             .where(Unit.id.in_(Entry.select(Entry.unit).where(Entry.centre == current_user.centre_id)))
             .order_by(Series.position, Series.name, Unit.code))
    papers = {}
    for unit in units:
        papers.setdefault(unit.suite, []).append(unit)
    return papers


def field_errors(values, require_email):
    """Messages for the contact fields, keyed by field name."""
    errors = {name: problem for name in ('contact_name', 'job_title')
              if (problem := name_problem(values[name], required=False))}
    if not values['email'] and require_email:
        errors['email'] = _('Enter an e-mail address: the invitation to set a password is sent to it.')
    elif problem := email_problem(values['email'], required=False):
        errors['email'] = problem
    return errors


def contact_values(form, language='en'):
    """The contact fields and language from a form, trimmed (a language not offered keeps `language`)."""
    return {'contact_name': form.get('contact_name', '').strip()[:NAME_MAX + 1],
            'job_title': form.get('job_title', '').strip()[:NAME_MAX + 1],
            'email': form.get('email', '').strip()[:EMAIL_MAX + 1],
            'language': form.get('language') if form.get('language') in LANGUAGES else language}


# --- Account Admin: the list, and a new user account --------------------------

@bp.route('/')
@access.roles_required('administrator')
def index():
    """Account to Edit (VIEW) and Add New User Account."""
    if 'account' in request.args:
        chosen = request.args['account']
        chosen = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 12 else 0
        return redirect(url_for('.edit', account_id=account_for(chosen).id))
    return index_page({}, {})


def index_page(values, errors, status=200):
    return render('account_admin/index.html', accounts=centre_accounts(), account_label=account_label,
                  values=values, errors=errors, status=status)


@bp.route('/accounts', methods=['POST'])
@access.roles_required('administrator')
def create():
    """CREATE NEW ACCOUNT: the holder is e-mailed a link to set their own password."""
    values = dict(contact_values(request.form), initials=request.form.get('initials', '').strip()[:10])
    centre = current_user.centre
    username = centre.number + values['initials'].upper()
    errors, account, job = field_errors(values, require_email=True), None, None
    if Account.username_form_error('user', username, centre.number):
        errors['initials'] = _('Add 1 to 3 letters or digits after the centre number.')
    elif Account.by_username(username):
        errors['initials'] = _('%(username)s is taken: choose other characters.', username=username)
    if not errors:
        try:
            account, job = create_account(username, values)
        except IntegrityError:  # created by another request a moment ago
            errors['initials'] = _('%(username)s is taken: choose other characters.', username=username)
    if errors:
        return index_page(values, errors, status=422)
    if job:
        jobs.enqueue(job)
    flash(_('Account %(username)s created. An invitation to set a password has been e-mailed to %(email)s.',
            username=username, email=values['email']))
    return redirect(url_for('.edit', account_id=account.id), 303)


def create_account(username, values):
    """The account, its audit row and its invitation, in one transaction; returns (account, mail job)."""
    actor, acting_for = access.acting_ids()
    with writing():
        account = Account.create(username=username, kind='user', centre=current_user.centre,
                                 password_hash='', contact_name=values['contact_name'],
                                 email=values['email'], language=values['language'])
        AuditLog.record(actor, 'account.create', f'account:{account.id}',
                        after={'username': username, 'kind': 'user', 'contact_name': values['contact_name'],
                               'email': values['email'], 'language': values['language']},
                        centre=current_user.centre_id, acting_for=acting_for)
        return account, auth.invite(account)


# --- Account Details: amend an account ----------------------------------------

def current_permissions(account):
    """{facility: (all papers, {unit ids})} as granted now."""
    granted = {g.facility: (g.all_papers, set()) for g in
               FacilityGrant.select().where(FacilityGrant.account == account.id)}
    suite_facility = {suite: code for code, suite in SUITE_OF.items() if suite}
    for grant in UnitGrant.select(UnitGrant, Unit).join(Unit).where(UnitGrant.account == account.id):
        code = suite_facility.get(grant.unit.suite)
        if code in granted:
            granted[code][1].add(grant.unit_id)
    return granted


def posted_permissions(form, papers):
    """({facility: (all papers, {unit ids})} set to Yes, {field: message})."""
    chosen, errors = {}, {}
    for key in form:
        prefix, _dash, code = key.partition('-')
        if prefix in ('facility', 'all', 'unit') and code not in SUITE_OF:
            errors['facilities'] = (_('%(facility)s is for the primary account only and cannot be granted.',
                                      facility=FACILITY_NAMES[code]) if code in PRIMARY_ONLY_FACILITIES
                                    else _('That facility does not exist.'))
    for code, suite in SUITE_OF.items():
        if form.get(f'facility-{code}') != 'yes':
            continue
        all_papers = bool(suite) and form.get(f'all-{code}') == 'yes'
        picked = set(form.getlist(f'unit-{code}')) if suite else set()
        offered = {str(unit.id) for unit in papers.get(suite, [])}
        if not picked <= offered:
            errors[f'facility-{code}'] = _('Choose papers from this list only.')
        elif suite and not all_papers and not picked:
            errors[f'facility-{code}'] = _('Tick All papers, or choose the papers this account may open.')
        chosen[code] = (all_papers, set() if all_papers else {int(i) for i in picked if i in offered})
    return chosen, errors


def summary(permissions):
    """Grants as plain data for the audit log."""
    return {code: 'all papers' if all_papers else (sorted(units) if SUITE_OF.get(code) else 'yes')
            for code, (all_papers, units) in sorted(permissions.items())}


def administrator_password_error(password):
    """None if the administrator's own password verifies (AUTH-3 counts failures)."""
    return auth.own_password_problem(password, _('Enter your own current administrator password to save changes.'))


def edit_page(account, values, permissions, errors, status=200):
    papers = centre_papers() if account.kind == 'user' else {}
    return render('account_admin/edit.html', account=account, accounts=centre_accounts(),
                  account_label=account_label, values=values, permissions=permissions, papers=papers,
                  facilities=FACILITIES, facility_names=FACILITY_NAMES,
                  primary_only=PRIMARY_ONLY_FACILITIES, errors=errors, status=status)


@bp.route('/accounts/<int:account_id>')
@access.roles_required('administrator')
def edit(account_id):
    """Account Details: the current details and permissions, never a password."""
    account = account_for(account_id)
    values = {'contact_name': account.contact_name, 'job_title': account.job_title,
              'email': account.email, 'language': account.language, 'active': account.active}
    return edit_page(account, values, current_permissions(account), {})


@bp.route('/accounts/<int:account_id>', methods=['POST'])
@access.roles_required('administrator')
def save(account_id):
    """Save Changes: only with the administrator's own password, only the form's fields (AC-3)."""
    account = account_for(account_id)
    form = request.form
    values = dict(contact_values(form, account.language), active=account.active)
    if account.kind == 'administrator':  # the EO's name and e-mail change only through the board (SPEC 3.9)
        values.update(contact_name=account.contact_name, email=account.email)
    if account.kind == 'user' and form.get('active') in ('yes', 'no'):
        values['active'] = form['active'] == 'yes'
    errors = field_errors(values, require_email=False)
    permissions = None
    if account.kind == 'user':
        permissions, permission_errors = posted_permissions(form, centre_papers())
        errors.update(permission_errors)
    new_password = form.get('new_password', '')
    if new_password or form.get('confirmation'):
        problems = auth.password_problems(new_password, form.get('confirmation', ''), account)
        if problems:
            errors['new_password'] = ' '.join(problems)
    wrong = administrator_password_error(form.get('current_password', ''))
    if wrong:
        errors['current_password'] = wrong
    if errors:
        shown = current_permissions(account) if permissions is None else permissions
        return edit_page(account, values, shown, errors, status=422)
    save_account(account, values, permissions, new_password[:passwords.MAX_LENGTH])
    flash(_('Changes saved.'))
    return redirect(url_for('.edit', account_id=account.id), 303)


def save_account(account, values, permissions, new_password):
    """Details, grants and password in one transaction; sessions end on a new password or deactivation."""
    actor, acting_for = access.acting_ids()
    fields = ('contact_name', 'job_title', 'email', 'language', 'active')
    before = {name: getattr(account, name) for name in fields}
    after = {name: values[name] for name in fields}
    changes = {name: values[name] for name in fields}
    own = account.id == current_user.id
    with writing():
        Account.update(**changes).where(Account.id == account.id).execute()
        if new_password:
            Account.set_password(account.id, passwords.hash_password(new_password))
        elif before['active'] and not after['active']:
            Account.end_sessions(account.id)
        if after != before or new_password:
            AuditLog.record(actor, 'account.update', f'account:{account.id}', before=before,
                            after=dict(after, password_changed=bool(new_password)),
                            centre=current_user.centre_id, acting_for=acting_for)
        if permissions is not None:
            replace_grants(account, permissions, actor, acting_for)
    if own and new_password:  # this browser carries on; every other session ends
        access.sign_in(Account.get_by_id(account.id))


def replace_grants(account, permissions, actor, acting_for):
    """Make the account's FacilityGrant and UnitGrant rows match the form (call in a transaction)."""
    before = current_permissions(account)
    if summary(before) == summary(permissions):
        return
    FacilityGrant.delete().where(FacilityGrant.account == account.id).execute()
    UnitGrant.delete().where(UnitGrant.account == account.id).execute()
    for code, (all_papers, units) in permissions.items():
        FacilityGrant.create(account=account.id, facility=code, all_papers=all_papers)
        for unit_id in sorted(units):
            UnitGrant.create(account=account.id, unit=unit_id)
    AuditLog.record(actor, 'permission.change', f'account:{account.id}', before=summary(before),
                    after=summary(permissions), centre=current_user.centre_id, acting_for=acting_for)
