"""Account Admin as the exams officer clicks it: create a teacher's account,
grant one Level 3 unit, the teacher accepts the e-mailed invitation and saves
an outcome; the grant is revoked while the teacher's marksheet is open and the
next inline save is refused. And the same forms with JavaScript off."""
import email
import email.policy
import pathlib
import re

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.pages import in_db, missing_row_ids, outcome_of, switch_language

TEACHER_PASSWORD = 'Abc2024secret'
LEVEL_3 = 'Coursework Marks (LEVEL 3 APPLIED):'
PATHWAYS = 'Coursework Marks (ENTRY PATHWAYS):'
OTHER_UNITS = ('9613/L3', '9614/L3', '9615/L3', '6051/E1', '6052/E1', 'C700U3')



def grants_of(username):
    """({facility: all papers}, {unit codes granted one by one}) of an account."""
    from models import Account, FacilityGrant, Unit, UnitGrant

    def read():
        account = Account.by_username(username)
        facilities = {g.facility: g.all_papers for g in
                      FacilityGrant.select().where(FacilityGrant.account == account)}
        units = {g.unit.code for g in
                 UnitGrant.select(UnitGrant, Unit).join(Unit).where(UnitGrant.account == account)}
        return facilities, units
    return in_db(read)



def open_account_admin(portal, page, snap, step):
    """The header link beside "Signed in as"."""
    page.locator('.account').get_by_role('link', name='Account Admin').click()
    page.wait_for_url(portal.url + '/account-admin/')
    expect(page.get_by_role('heading', name='Account Admin', exact=True)).to_be_visible()
    snap(page, step)


def create_account(portal, page, snap, initials, name, address):
    """Add New User Account; returns the new account's id from the page it lands on."""
    expect(page.get_by_role('heading', name='Add New User Account')).to_be_visible()
    form = page.locator('form', has=page.get_by_role('button', name='CREATE NEW ACCOUNT'))
    expect(form.locator('strong')).to_have_text('68999')  # the centre number is fixed
    initials_box = form.get_by_label('New Account Name:')
    expect(initials_box).to_have_attribute('maxlength', '3')
    initials_box.fill(initials)
    form.get_by_label('Contact Name:').fill(name)
    form.get_by_label('E-mail:').fill(address)
    snap(page, f'create-{initials}-filled')
    form.get_by_role('button', name='CREATE NEW ACCOUNT').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/account-admin/accounts/\d+$'))
    username = '68999' + initials.upper()
    expect(page.get_by_role('heading', name=f'Account Details: ({username}) - User')).to_be_visible()
    expect(page.locator('p.flash')).to_have_text(
        f'Account {username} created. An invitation to set a password has been e-mailed to {address}.')
    expect(page.locator('#account option:checked')).to_have_text(f'EXAMPLE HIGH SCHOOL ({username}) - User')
    snap(page, f'created-{username}')
    return int(page.url.rsplit('/', 1)[1])


def facility_row(page, label):
    return page.locator('table.grid tbody tr').filter(has=page.get_by_label(label, exact=True))


def save_changes(page, snap, step):
    page.get_by_label('Current Administrator Password:').fill(PASSWORD)
    snap(page, f'{step}-before-save')
    page.get_by_role('button', name='SAVE CHANGES').click()
    expect(page.locator('p.flash')).to_have_text('Changes saved.')
    snap(page, step)


def invitation_link(portal, address):
    """The /welcome#<token> link from the .eml the app wrote; the Outbox row has it hidden."""
    from models import Outbox
    mail = in_db(lambda: Outbox.get(Outbox.to == address))
    assert mail.state == 'sent' and mail.key.startswith('invite-')
    files = list(pathlib.Path(portal.app.config['MAIL_FOLDER']).glob('*.eml'))
    assert [f.name for f in files] == [f'{mail.key}.eml']
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message['To'] == address
    body = message.get_content()
    assert 'Username: 68999ABC' in body and 'Dear Alex Brown,' in body
    links = re.findall(r'https?://\S+/welcome#([A-Za-z0-9_-]+)', body)
    assert len(links) == 1 and links[0] not in mail.body and links[0] in body.split('copy this one:')[1]
    return '/welcome#' + links[0]


def test_exams_officer_grants_one_unit_then_revokes_it(portal, page, new_context, snap, tmp_path):
    portal.app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')  # this test's mail only
    dialogs = []
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))

    # 1. The exams officer opens Account Admin.
    portal.sign_in(page, '68999', snap)
    open_account_admin(portal, page, snap, 'account-admin')
    expect(page.get_by_label('Account to Edit:')).to_be_visible()
    options = page.locator('#account option')
    expect(options.filter(has_text='EXAMPLE HIGH SCHOOL (68999JBR) - User')).to_have_count(1)
    expect(options.filter(has_text='EXAMPLE HIGH SCHOOL (68999) - Administrator')).to_have_count(1)
    expect(options.filter(has_text='50551')).to_have_count(0)  # another centre's accounts

    # 2. Create 68999ABC.
    abc_id = create_account(portal, page, snap, 'abc', 'Alex Brown', 'abc@example.org')
    assert grants_of('68999ABC') == ({}, set())

    # 3. Grant only 9611/L3.
    level3 = facility_row(page, LEVEL_3)
    expect(page.get_by_label(LEVEL_3, exact=True)).to_have_value('no')
    papers = level3.get_by_role('checkbox', name=re.compile(r'^\d{4}\/L3 '))
    expect(papers).to_have_count(4)
    page.get_by_label(LEVEL_3, exact=True).select_option(label='Yes')
    all_papers = level3.get_by_role('checkbox', name=re.compile('^All papers'))
    expect(all_papers).not_to_be_checked()
    level3.get_by_role('checkbox', name=re.compile(r'^9611\/L3 ')).check()
    save_changes(page, snap, 'granted-9611')
    expect(page.get_by_role('heading', name='Account Details: (68999ABC) - User')).to_be_visible()
    expect(page.get_by_label(LEVEL_3, exact=True)).to_have_value('yes')
    expect(all_papers).not_to_be_checked()
    expect(level3.get_by_role('checkbox', name=re.compile(r'^9611\/L3 '))).to_be_checked()
    expect(level3.get_by_role('checkbox', checked=True)).to_have_count(1)
    assert grants_of('68999ABC') == ({'CW_LEVEL_3': False}, {'9611/L3'})

    # 4. Alex opens the invitation in their own browser and chooses a password.
    path = invitation_link(portal, 'abc@example.org')
    teacher = new_context().new_page()
    teacher.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    teacher.goto(portal.url + path)
    expect(teacher.get_by_role('heading', name='Choose your password')).to_be_visible()
    expect(teacher.get_by_text('Account: 68999ABC')).to_be_visible()
    assert '#' not in teacher.url and path.split('#')[1] not in teacher.url  # the token left the address bar
    snap(teacher, 'welcome')
    teacher.get_by_label('New password').fill(TEACHER_PASSWORD)
    teacher.get_by_label('Confirmation').fill(TEACHER_PASSWORD)
    teacher.get_by_role('button', name='SET PASSWORD').click()
    teacher.wait_for_url(portal.url + '/login')
    expect(teacher.locator('p.flash')).to_have_text('Your password has been set. Sign in with it now.')
    snap(teacher, 'password-set')
    teacher.fill('#username', '68999ABC')
    teacher.fill('#password', TEACHER_PASSWORD)
    teacher.get_by_role('button', name='LOGIN').click()
    teacher.wait_for_url(portal.url + '/')
    expect(teacher.locator('.account')).to_contain_text('Signed in as 68999ABC')
    expect(teacher.locator('.account').get_by_role('link', name='Account Admin')).to_have_count(0)
    snap(teacher, 'home-68999ABC')

    # 5. Exactly one unit, 9611/L3; save one outcome inline.
    portal.open_overview(teacher, snap)
    expect(teacher.locator('table.units tbody tr')).to_have_count(1)
    expect(portal.unit_row(teacher, '9611/L3')).to_have_count(1)
    expect(teacher.locator('details.series')).to_have_count(1)
    for code in OTHER_UNITS:
        expect(teacher.get_by_text(f'({code})')).to_have_count(0)
    expect(teacher.get_by_text('ENTRY PATHWAYS')).to_have_count(0)
    unit_id = portal.open_unit(teacher, '9611/L3', snap)
    counts = teacher.locator(f'#counts-{unit_id}')
    expect(counts).to_have_text('ENTER OUTCOMES (0 DONE, 144 LEFT)')
    first = missing_row_ids(teacher)[0]
    with teacher.expect_response(lambda r: r.url.endswith(f'/entries/{first}')
                                 and r.request.method == 'POST') as saved:
        teacher.select_option(f'select[name="value-{first}"]', label='Merit')
    assert saved.value.status == 200
    expect(teacher.locator(f'#entry-{first} span.saved')).to_have_text('Saved')
    expect(teacher.locator(f'#entry-{first}')).not_to_have_class(re.compile(r'\bmissing\b'))
    expect(teacher.locator(f'select[name="value-{first}"]')).to_have_value('M')
    expect(counts).to_have_text('ENTER OUTCOMES (1 DONE, 143 LEFT)')
    snap(teacher, 'first-outcome-saved')
    assert outcome_of(first) == ('M', '68999ABC')

    # 6. The exams officer revokes Coursework Marks (LEVEL 3 APPLIED).
    open_account_admin(portal, page, snap, 'account-admin-again')
    page.get_by_label('Account to Edit:').select_option(label='EXAMPLE HIGH SCHOOL (68999ABC) - User')
    page.get_by_role('button', name='VIEW').click()
    page.wait_for_url(f'{portal.url}/account-admin/accounts/{abc_id}')
    expect(page.get_by_label(LEVEL_3, exact=True)).to_have_value('yes')
    snap(page, 'abc-account')
    page.get_by_label(LEVEL_3, exact=True).select_option(label='No')
    save_changes(page, snap, 'revoked')
    expect(page.get_by_label(LEVEL_3, exact=True)).to_have_value('no')
    expect(facility_row(page, LEVEL_3).get_by_role('checkbox', checked=True)).to_have_count(0)
    assert grants_of('68999ABC') == ({}, set())

    # 7. Alex's open marksheet: the next inline save is refused.
    second = missing_row_ids(teacher)[0]
    assert second != first
    with teacher.expect_response(lambda r: r.url.endswith(f'/entries/{second}')
                                 and r.request.method == 'POST') as refused:
        teacher.select_option(f'select[name="value-{second}"]', label='Distinction')
    assert refused.value.status == 403
    row = teacher.locator(f'#entry-{second}')
    expect(row).to_have_class(re.compile(r'\bproblem\b'))  # marked as not saved
    expect(row.locator('span.error')).to_have_text('Not saved: your account can no longer change this. Reload the page.')
    expect(row.locator('span.saved')).to_have_count(0)
    expect(counts).to_have_text('ENTER OUTCOMES (1 DONE, 143 LEFT)')
    snap(teacher, 'save-refused')
    assert outcome_of(second) is None
    assert outcome_of(first) == ('M', '68999ABC')

    reloaded = teacher.reload()
    assert reloaded.status == 403
    expect(teacher.get_by_role('heading', name='Not available to this account')).to_be_visible()
    expect(teacher.locator('table.marksheet')).to_have_count(0)
    menu = teacher.get_by_role('navigation', name='Main menu')
    expect(menu.get_by_role('link', name='INTERNAL ASSESSMENT')).to_have_count(0)
    snap(teacher, 'marksheet-forbidden')
    teacher.locator('#main').get_by_role('link', name='HOME').click()
    teacher.wait_for_url(portal.url + '/')
    expect(teacher.locator('.account')).to_contain_text('Signed in as 68999ABC')
    expect(menu.get_by_role('link', name='INTERNAL ASSESSMENT')).to_have_count(0)
    snap(teacher, 'home-without-internal-assessment')
    assert teacher.goto(f'{portal.url}/internal-assessment/').status == 403
    assert outcome_of(second) is None
    assert dialogs == []


def test_account_admin_forms_work_without_javascript(portal, new_context, snap, tmp_path):
    portal.app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')
    page = new_context(java_script_enabled=False).new_page()
    portal.sign_in(page, '68999', snap)
    assert page.evaluate('document.documentElement.classList.contains("js")') is False
    open_account_admin(portal, page, snap, 'account-admin')
    xyz_id = create_account(portal, page, snap, 'xyz', 'Xavier Young', 'xyz@example.org')

    pathways = facility_row(page, PATHWAYS)
    expect(pathways.get_by_role('checkbox', name=re.compile(r'^\d{4}\/E1 '))).to_have_count(2)
    page.get_by_label(PATHWAYS, exact=True).select_option(label='Yes')
    pathways.get_by_role('checkbox', name=re.compile('^All papers')).check()
    save_changes(page, snap, 'granted-all-pathways')
    expect(page.get_by_label(PATHWAYS, exact=True)).to_have_value('yes')
    expect(pathways.get_by_role('checkbox', name=re.compile('^All papers'))).to_be_checked()
    expect(page.get_by_label(LEVEL_3, exact=True)).to_have_value('no')
    assert grants_of('68999XYZ') == ({'CW_ENTRY_PATHWAYS': True}, set())

    from models import Account
    codes = in_db(lambda: sorted(u.code for u in Account.by_username('68999XYZ').permitted_units()))
    assert codes == ['6051/E1', '6052/E1']

    # Account to Edit's VIEW is a plain GET form too.
    page.get_by_label('Account to Edit:').select_option(label='EXAMPLE HIGH SCHOOL (68999JBR) - User')
    page.get_by_role('button', name='VIEW').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/account-admin/accounts/\d+$'))
    assert not page.url.endswith(f'/{xyz_id}')
    expect(page.get_by_role('heading', name='Account Details: (68999JBR) - User')).to_be_visible()
    snap(page, 'view-68999JBR')
    switch_language(page, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(page, 'view-68999JBR-cy')
