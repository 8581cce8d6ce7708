"""Account Admin: the primary account creates secondary accounts and amends
their details and facility permissions (SPEC 3.8, seed Appendix 1; QUALITY
AC-2, AC-3, AUTH-1, AUTH-4, SESS-1, XSS-1)."""
import os
import re

import pytest
from playhouse.shortcuts import model_to_dict

from models import Account, AuditLog, FacilityGrant, Job, Outbox, Token, UnitGrant, db
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.db

NEW_PASSWORD = 'Chalkboard2017x'
HOSTILE = '<img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def mail_folder(app, tmp_path):
    """Invitations land in this test's own folder (no MAIL_SERVER: .eml files)."""
    app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')
    return app.config['MAIL_FOLDER']


def page_of(account):
    return f'/account-admin/accounts/{account.id}'


def create(client, initials='ABC', **fields):
    data = {'initials': initials, 'contact_name': 'Ms A Teacher', 'email': 'abc@example.org', 'language': 'en'}
    return client.post('/account-admin/accounts', data=dict(data, **fields))


def details(**fields):
    """A Save Changes form for a user account, as the page posts it."""
    form = {'current_password': PASSWORD, 'new_password': '', 'confirmation': '', 'language': 'en',
            'contact_name': 'Mr J Brown', 'job_title': 'Head of Social Sciences',
            'email': 'jbrown@example.org', 'active': 'yes',
            'facility-FAQ': 'yes', 'facility-CW_LEVEL_3': 'yes', 'all-CW_LEVEL_3': 'yes'}
    form.update(fields)
    return {k: v for k, v in form.items() if v is not None}


def snapshot(account):
    """Everything a refused save or create must leave as it was."""
    with db.connection_context():
        return (model_to_dict(Account.get_by_id(account.id), recurse=False),
                [model_to_dict(g, recurse=False) for g in FacilityGrant.select().order_by(FacilityGrant.id)],
                [model_to_dict(g, recurse=False) for g in UnitGrant.select().order_by(UnitGrant.id)],
                [m.count() for m in (Account.select(), Outbox.select(), Job.select(), Token.select(),
                                     AuditLog.select().where(~AuditLog.action.startswith('auth.')))])


def text(response):
    return response.get_data(as_text=True)


def error_beside(html, field):
    found = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', html)
    return found.group(1) if found else None


def invitation_token(app, email):
    with db.connection_context():
        mail = Outbox.select().where(Outbox.to == email).order_by(Outbox.id.desc()).get()
    return factories.delivered_token(app, mail)


def accept_invitation(app, token, password=NEW_PASSWORD):
    client = app.test_client()
    assert client.get('/welcome').status_code == 200
    assert client.post('/welcome', data={'token': token}).status_code == 200
    assert client.post('/welcome', data={'token': token, 'password': password,
                                         'confirmation': password}).status_code == 303
    return client


def new_teacher(app, admin, initials='ABC'):
    """68999ABC, created by the administrator, with the password chosen from the invitation."""
    assert create(admin, initials, email=f'{initials.lower()}@example.org').status_code == 303
    accept_invitation(app, invitation_token(app, f'{initials.lower()}@example.org'))
    with db.connection_context():
        return Account.by_username(f'68999{initials}')


def signed_in(app, username, password=NEW_PASSWORD):
    client = app.test_client()
    response = client.login(username, password)
    assert response.status_code == 303
    client.get(response.location)
    return client


# --- The page and the new account -------------------------------------------

def test_the_page_lists_the_centres_accounts_with_the_seeds_form(world, as_):
    html = text(as_('admin').get('/account-admin/'))
    for words in ('Account Admin', 'Account to Edit:', 'EXAMPLE HIGH SCHOOL (68999) - Administrator',
                  'EXAMPLE HIGH SCHOOL (68999JBR) - User', '>VIEW<', 'Add New User Account', '(3 chars max)',
                  'CREATE NEW ACCOUNT', 'Secure Website administrators can create additional user accounts.',
                  'restricted to primary account holders only', 'name="csrf_token"'):
        assert words in html
    assert '50551' not in html and 'mod1' not in html.lower()
    assert html.index('(68999) - Administrator') < html.index('(68999JBR) - User')


def test_only_the_administrator_has_the_menu_link(as_):
    assert 'href="/account-admin/"' in text(as_('admin').get('/'))
    assert 'href="/account-admin/"' not in text(as_('teacher').get('/'))


def test_view_opens_the_chosen_account_and_nothing_of_another_centre(world, as_):
    admin = as_('admin')
    response = admin.get(f'/account-admin/?account={world.teacher.id}')
    assert response.status_code == 302 and response.location.endswith(page_of(world.teacher))
    html = text(admin.get(response.location))
    assert 'Account Details: (68999JBR) - User' in html
    assert 'INFO: The account details will not be amended unless you "Save Changes"' in html
    for other in (world.other_teacher.id, world.other_admin.id, world.moderator.id, 999999, 'x', '', 10 ** 30):
        assert admin.get(f'/account-admin/?account={other}').status_code == 404
    assert admin.get(f'/account-admin/accounts/{10 ** 30}').status_code == 404


def test_an_inactive_account_is_marked_in_the_list(world, as_):
    with db.connection_context():
        Account.update(active=False).where(Account.id == world.teacher_no_units.id).execute()
    assert 'EXAMPLE HIGH SCHOOL (68999NON) - User (inactive)' in text(as_('admin').get('/account-admin/'))


def test_creating_an_account_e_mails_an_invitation_to_set_its_password(app, world, as_, mail_folder):
    admin = as_('admin')
    response = create(admin, 'abc', email='new.teacher@example.org')
    with db.connection_context():
        account = Account.by_username('68999ABC')
        assert (account.kind, account.centre_id, account.password_hash, account.email) == (
            'user', world.centre.id, '', 'new.teacher@example.org')
        mail = Outbox.get(Outbox.to == 'new.teacher@example.org')
        assert AuditLog.select().where(AuditLog.action == 'account.create',
                                       AuditLog.target == f'account:{account.id}').exists()
    assert response.status_code == 303 and response.location.endswith(page_of(account))
    assert ('Account 68999ABC created. An invitation to set a password has been e-mailed to '
            'new.teacher@example.org.') in text(admin.get(response.location))
    assert '68999ABC' in mail.body and '/welcome#' in mail.body and mail.state == 'sent'
    emls = os.listdir(mail_folder)
    assert len(emls) == 1 and '68999ABC' in open(os.path.join(mail_folder, emls[0])).read()
    assert app.test_client().login('68999ABC', '').status_code == 401  # no password until one is chosen
    accept_invitation(app, invitation_token(app, 'new.teacher@example.org'))
    assert app.test_client().login('68999ABC', NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize('initials', ['ABCD', 'A-B', '', 'Ä1', '<b>'])
def test_a_username_of_the_wrong_form_is_refused_beside_the_field(world, as_, initials):
    admin = as_('admin')
    before = snapshot(world.admin)
    response = create(admin, initials)
    assert response.status_code == 422
    assert error_beside(text(response), 'initials') == 'Add 1 to 3 letters or digits after the centre number.'
    assert snapshot(world.admin) == before


def test_a_taken_username_is_refused_whatever_the_case(world, as_):
    admin = as_('admin')
    before = snapshot(world.admin)
    response = create(admin, 'jbr')
    assert response.status_code == 422
    assert error_beside(text(response), 'initials') == '68999JBR is taken: choose other characters.'
    assert snapshot(world.admin) == before


@pytest.mark.parametrize('field, value', [
    ('email', ''), ('email', 'not-an-address'), ('email', 'a@b'), ('email', 'x' * 250 + '@example.org'),
    ('contact_name', 'x' * 201)])
def test_a_new_account_needs_a_good_e_mail_and_name(world, as_, field, value):
    admin = as_('admin')
    before = snapshot(world.admin)
    response = create(admin, **{field: value})
    assert response.status_code == 422 and error_beside(text(response), field)
    assert snapshot(world.admin) == before


# --- Permissions take effect at the next request -----------------------------

def test_granting_one_paper_shows_exactly_that_unit_and_revoking_it_refuses_the_next_save(app, world, as_):
    admin = as_('admin')
    teacher = new_teacher(app, admin)
    response = admin.post(page_of(teacher), data=details(**{
        'all-CW_LEVEL_3': None, 'facility-FAQ': None, 'unit-CW_LEVEL_3': str(world.unit.id)}))
    assert response.status_code == 303
    assert 'Changes saved.' in text(admin.get(response.location))
    with db.connection_context():
        grants = [(g.facility, g.all_papers) for g in FacilityGrant.select().where(FacilityGrant.account == teacher.id)]
        units = [g.unit_id for g in UnitGrant.select().where(UnitGrant.account == teacher.id)]
        change = AuditLog.get(AuditLog.action == 'permission.change')
    assert grants == [('CW_LEVEL_3', False)] and units == [world.unit.id]
    assert str(world.unit.id) in change.after and change.actor_id == world.admin.id

    client = signed_in(app, '68999ABC')
    overview = text(client.get('/internal-assessment/'))
    assert '9611/L3' in overview and '9613/L3' not in overview and 'C700U3' not in overview
    assert client.get(f'/internal-assessment/{world.other_unit.id}').status_code == 404
    entry = world.entries[0]
    saved = client.htmx(f'/internal-assessment/{world.unit.id}/entries/{entry.id}',
                        {f'value-{entry.id}': 'P', f'version-{entry.id}': 0})
    assert saved.status_code == 200

    assert admin.post(page_of(teacher), data=details(**{
        'facility-CW_LEVEL_3': 'no', 'all-CW_LEVEL_3': None})).status_code == 303
    refused = client.htmx(f'/internal-assessment/{world.unit.id}/entries/{entry.id}',
                          {f'value-{entry.id}': 'M', f'version-{entry.id}': 1})
    assert refused.status_code == 403


def test_all_papers_opens_every_unit_of_the_suite(app, world, as_):
    admin = as_('admin')
    teacher = new_teacher(app, admin)
    assert admin.post(page_of(teacher), data=details()).status_code == 303
    overview = text(signed_in(app, '68999ABC').get('/internal-assessment/'))
    assert '9611/L3' in overview and '9613/L3' in overview and 'C700U3' not in overview
    with db.connection_context():
        assert {(g.facility, g.all_papers) for g in FacilityGrant.select().where(
            FacilityGrant.account == teacher.id)} == {('CW_LEVEL_3', True), ('FAQ', False)}


def test_the_form_shows_the_facilities_and_the_centres_papers(world, as_):
    html = text(as_('admin').get(page_of(world.teacher_one_unit)))
    for words in ('Current Administrator Password:', 'New User Password:', 'Confirmation:', 'Preferred Language:',
                  'Contact Name:', 'Job Title:', 'Coursework Marks (ENTRY PATHWAYS):', 'Coursework Marks (WELSH BAC):',
                  'All papers', 'SAVE CHANGES'):
        assert words in html
    assert re.search(rf'name="unit-CW_LEVEL_3" value="{world.other_unit.id}" checked', html)
    assert re.search(rf'name="unit-CW_LEVEL_3" value="{world.unit.id}">', html)
    assert re.search(rf'name="unit-CW_GCSE" value="{world.marks_unit.id}">', html)
    assert 'Entry Upload:</th><td colspan="3">Primary account only' in html
    assert 'name="facility-ENTRY_UPLOAD"' not in html


def test_the_administrators_own_account_has_no_permissions_and_cannot_be_deactivated(world, as_):
    admin = as_('admin')
    html = text(admin.get(page_of(world.admin)))
    assert 'Account Details: (68999) - Administrator' in html
    assert 'name="facility-' not in html and 'name="active"' not in html
    form = {'current_password': PASSWORD, 'language': 'en', 'job_title': 'Exams Officer',
            'active': 'no', 'facility-CW_GCE': 'yes'}
    assert admin.post(page_of(world.admin), data=form).status_code == 303
    with db.connection_context():
        me = Account.get_by_id(world.admin.id)
        assert me.active and me.job_title == 'Exams Officer'
        assert not FacilityGrant.select().where(FacilityGrant.account == me.id).exists()
    assert admin.get('/account-admin/').status_code == 200


def test_the_administrators_new_own_password_keeps_this_session_only(app, world, as_):
    admin, elsewhere = as_('admin'), as_('admin')
    form = {'current_password': PASSWORD, 'new_password': NEW_PASSWORD, 'confirmation': NEW_PASSWORD,
            'language': 'en'}
    assert admin.post(page_of(world.admin), data=form).status_code == 303
    assert admin.get('/account-admin/').status_code == 200
    assert elsewhere.get('/account-admin/').status_code == 303
    assert app.test_client().login('68999', NEW_PASSWORD).status_code == 303


# --- Refusals: beside the field, and nothing written --------------------------

def test_a_wrong_administrator_password_changes_nothing(world, as_):
    admin = as_('admin')
    before = snapshot(world.teacher)
    response = admin.post(page_of(world.teacher), data=details(
        current_password='Wrong2017pw', contact_name='Changed', **{'facility-CW_LEVEL_3': 'no'}))
    assert response.status_code == 422
    assert error_beside(text(response), 'current_password') == \
        'Enter your own current administrator password to save changes.'
    assert snapshot(world.teacher) == before


@pytest.mark.parametrize('password, confirmation, message', [
    ('abc123', 'abc123', 'Use at least 8 characters.'),
    ('onlyletters', 'onlyletters', 'Use both letters and numbers.'),
    ('password1', 'password1', 'That password is too common'),
    ('68999jbr', '68999jbr', 'Do not use your username, your centre number or the name of the board in it.'),
    (NEW_PASSWORD, NEW_PASSWORD + 'x', 'The two passwords do not match.'),
    ('Ab1' * 43, 'Ab1' * 43, 'Use at most 128 characters.'),
    ('', NEW_PASSWORD, 'Use at least 8 characters.'),
])
def test_a_weak_or_mismatched_new_password_is_refused_beside_the_field(world, as_, password, confirmation, message):
    admin = as_('admin')
    before = snapshot(world.teacher)
    response = admin.post(page_of(world.teacher), data=details(new_password=password, confirmation=confirmation))
    assert response.status_code == 422
    assert message in error_beside(text(response), 'new_password')
    assert snapshot(world.teacher) == before


@pytest.mark.parametrize('field, value', [
    ('email', 'not-an-address'), ('email', 'x' * 250 + '@example.org'),
    ('contact_name', 'x' * 201), ('job_title', 'x' * 201)])
def test_over_long_or_malformed_details_are_refused_beside_the_field(world, as_, field, value):
    admin = as_('admin')
    before = snapshot(world.teacher)
    response = admin.post(page_of(world.teacher), data=details(**{field: value}))
    assert response.status_code == 422 and error_beside(text(response), field)
    assert snapshot(world.teacher) == before


@pytest.mark.parametrize('forged, message', [
    ({'facility-ENTRY_UPLOAD': 'yes'}, 'Entry Upload is for the primary account only and cannot be granted.'),
    ({'facility-ACCOUNT_ADMIN': 'yes'}, 'Account Admin is for the primary account only and cannot be granted.'),
    ({'facility-SUPERUSER': 'yes'}, 'That facility does not exist.'),
])
def test_a_forged_facility_is_refused(world, as_, forged, message):
    admin = as_('admin')
    before = snapshot(world.teacher)
    response = admin.post(page_of(world.teacher), data=details(**forged))
    assert response.status_code == 422 and message in text(response)
    assert snapshot(world.teacher) == before


@pytest.mark.parametrize('unit', ['marks_unit', 'forged', 'not a number'])
def test_papers_of_another_suite_or_forged_ones_are_refused(world, as_, unit):
    admin = as_('admin')
    unit_id = {'marks_unit': str(world.marks_unit.id), 'forged': '999999'}.get(unit, unit)
    before = snapshot(world.teacher)
    response = admin.post(page_of(world.teacher), data=details(**{
        'all-CW_LEVEL_3': None, 'unit-CW_LEVEL_3': [str(world.unit.id), unit_id]}))
    assert response.status_code == 422
    assert error_beside(text(response), 'facility-CW_LEVEL_3') == 'Choose papers from this list only.'
    assert snapshot(world.teacher) == before


def test_yes_without_papers_asks_for_them(world, as_):
    admin = as_('admin')
    response = admin.post(page_of(world.teacher), data=details(**{'all-CW_LEVEL_3': None}))
    assert response.status_code == 422
    assert 'Tick All papers' in error_beside(text(response), 'facility-CW_LEVEL_3')


def test_another_centres_account_is_not_found(world, as_):
    admin = as_('admin')
    before = snapshot(world.other_teacher)
    for account in (world.other_teacher, world.other_admin, world.moderator, world.staff):
        assert admin.get(page_of(account)).status_code == 404
        assert admin.post(page_of(account), data=details(contact_name='Taken over')).status_code == 404
    assert snapshot(world.other_teacher) == before


def test_fields_outside_the_form_are_ignored(world, as_):
    admin = as_('admin')
    form = details(kind='administrator', centre=str(world.other_centre.id), username='50551ZZZ',
                   session_secret='99', password_hash='x', id=str(world.other_teacher.id),
                   account=str(world.other_teacher.id))
    assert admin.post(page_of(world.teacher), data=form).status_code == 303
    with db.connection_context():
        teacher = Account.get_by_id(world.teacher.id)
        other = Account.get_by_id(world.other_teacher.id)
    assert (teacher.kind, teacher.centre_id, teacher.username, teacher.session_secret) == (
        'user', world.centre.id, '68999JBR', world.teacher.session_secret)
    assert teacher.password_hash == world.teacher.password_hash and teacher.contact_name == 'Mr J Brown'
    assert other.contact_name == world.other_teacher.contact_name


def test_a_save_without_csrf_is_refused(world, as_):
    before = snapshot(world.teacher)
    response = as_('admin').post(page_of(world.teacher), data=details(contact_name='No token'), csrf=False)
    assert response.status_code == 400 and snapshot(world.teacher) == before


@pytest.mark.parametrize('role', ['teacher', 'moderator', 'staff'])
def test_only_the_primary_account_may_use_account_admin(world, as_, role):
    client = as_(role)
    assert client.get('/account-admin/').status_code == 403
    assert client.get(page_of(world.teacher)).status_code == 403
    assert client.post(page_of(world.teacher), data=details()).status_code == 403
    assert create(client).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get('/account-admin/')
    assert response.status_code == 303 and '/login' in response.location


# --- Output: escaped, and never a password ------------------------------------

def test_hostile_contact_names_and_job_titles_are_shown_escaped(world, as_):
    admin = as_('admin')
    assert admin.post(page_of(world.teacher), data=details(contact_name=HOSTILE, job_title=HOSTILE)).status_code == 303
    html = text(admin.get(page_of(world.teacher)))
    assert HOSTILE not in html and html.count('&lt;img src=x onerror=alert(1)&gt;') == 2
    response = create(admin, 'XSS', contact_name=HOSTILE)
    assert HOSTILE not in text(admin.get(response.location))


def test_the_administrator_never_sees_a_password_or_hash(app, world, as_):
    admin = as_('admin')
    pages = [admin.get('/account-admin/'), admin.get(page_of(world.teacher)), admin.get(page_of(world.admin)),
             admin.post(page_of(world.teacher), data=details(new_password=NEW_PASSWORD, confirmation=NEW_PASSWORD)),
             admin.post(page_of(world.teacher), data=details(new_password=NEW_PASSWORD, confirmation='x')),
             admin.get(page_of(world.teacher)), create(admin, 'PWD')]
    for response in pages:
        html = text(response)
        assert '$argon2' not in html and NEW_PASSWORD not in html and PASSWORD not in html
    with db.connection_context():
        for row in AuditLog.select():
            assert '$argon2' not in row.before + row.after and NEW_PASSWORD not in row.before + row.after
        assert AuditLog.select().where(AuditLog.action == 'account.update',
                                       AuditLog.after.contains('"password_changed": true')).exists()
    assert signed_in(app, '68999JBR', NEW_PASSWORD)


# --- Sessions end at the next request (SESS-1) --------------------------------

def test_deactivating_ends_the_users_session_at_their_next_request(app, world, as_):
    teacher = as_('teacher')
    assert teacher.get('/internal-assessment/').status_code == 200
    assert as_('admin').post(page_of(world.teacher), data=details(active='no')).status_code == 303
    response = teacher.get('/internal-assessment/')
    assert response.status_code == 303 and '/login' in response.location
    assert app.test_client().login('68999JBR').status_code == 401


def test_deactivation_also_ends_an_htmx_session(world, as_):
    teacher = as_('teacher')
    admin = as_('admin')
    assert admin.post(page_of(world.teacher), data=details(active='no')).status_code == 303
    entry = world.entries[0]
    response = teacher.htmx(f'/internal-assessment/{world.unit.id}/entries/{entry.id}',
                            {f'value-{entry.id}': 'P', f'version-{entry.id}': 0})
    assert response.status_code == 401 and response.headers['HX-Redirect'].startswith('/login')
    assert admin.post(page_of(world.teacher), data=details(active='yes')).status_code == 303
    assert 'EXAMPLE HIGH SCHOOL (68999JBR) - User (inactive)' not in text(admin.get('/account-admin/'))


def test_a_new_password_set_by_the_administrator_ends_the_users_sessions(app, world, as_):
    teacher = as_('teacher')
    assert as_('admin').post(page_of(world.teacher), data=details(
        new_password=NEW_PASSWORD, confirmation=NEW_PASSWORD)).status_code == 303
    assert teacher.get('/internal-assessment/').status_code == 303
    assert app.test_client().login('68999JBR').status_code == 401
    assert app.test_client().login('68999JBR', NEW_PASSWORD).status_code == 303


def test_the_preferred_language_is_saved_and_a_forged_one_ignored(world, as_):
    admin = as_('admin')
    assert admin.post(page_of(world.teacher), data=details(language='cy')).status_code == 303
    assert admin.post(page_of(world.teacher), data=details(language='xx')).status_code == 303
    with db.connection_context():
        assert Account.get_by_id(world.teacher.id).language == 'cy'


def test_a_refused_save_shows_the_permissions_as_posted(world, as_):
    response = as_('admin').post(page_of(world.teacher), data=details(**{
        'current_password': '', 'facility-FAQ': None, 'facility-CW_LEVEL_3': 'no', 'all-CW_LEVEL_3': None}))
    assert response.status_code == 422
    assert '<option value="yes" selected>' not in text(response).split('facility-CW_LEVEL_3')[1].split('</select>')[0]


def test_the_eo_details_cannot_be_changed_past_the_board_from_account_admin(world, as_):
    admin = as_('admin')
    with db.connection_context():
        Account.update(contact_name='Mr J Bryant', email='eo@example.org').where(Account.id == world.admin.id).execute()
    page = admin.get(f'/account-admin/accounts/{world.admin.id}').get_data(as_text=True)
    assert 'change them in Manage Centre' in page and 'name="email"' not in page
    admin.post(f'/account-admin/accounts/{world.admin.id}', data={
        'current_password': PASSWORD, 'contact_name': 'Someone Else', 'email': 'attacker@example.org',
        'job_title': 'Exams Officer', 'language': 'en'})
    with db.connection_context():
        after = Account.get_by_id(world.admin.id)
    assert (after.contact_name, after.email, after.job_title) == ('Mr J Bryant', 'eo@example.org', 'Exams Officer')
