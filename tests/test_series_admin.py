"""Series and units (issue 9, points 1 and 2): the first staff accounts from
an empty database, e-submission worked out from the unit code, and the
series staff's screens for series and units, with every refusal said."""
import csv
import json
import re

import pytest

import series as domain
import storage
from models import Account, AuditLog, Outcome, Series, Token, Unit, db
from tests import factories

NEW_PASSWORD = 'Fresh2026staffpw'


def text(response):
    return response.get_data(as_text=True)


def error_beside(html, field):
    found = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', html)
    return found.group(1) if found else None


def count(model, *where):
    with db.connection_context():
        query = model.select()
        return (query.where(*where) if where else query).count()


# --- create-staff ----------------------------------------------------------------------

def link_in(output):
    found = re.search(r'(https?://\S+?)(/welcome)#([A-Za-z0-9_-]+)', output)
    assert found, output
    return found


@pytest.mark.db
def test_create_staff_on_an_empty_database_gives_a_link_to_set_the_password_then_enrol(app):
    storage.migrate()  # nothing pending: the database is migrated and empty, no demo
    assert count(Account) == 0
    result = app.test_cli_runner().invoke(args=['create-staff', 'jane.s', '--role', 'series',
                                                '--email', 'jane@wjec.example', '--name', 'Jane  Smith'])
    assert result.exit_code == 0, result.output
    assert 'JANE.S created' in result.output
    found = link_in(result.output)
    assert found.group(1) == app.config['PUBLIC_URL'].rstrip('/')
    with db.connection_context():
        account = Account.by_username('jane.s')
        assert (account.kind, account.staff_roles, account.password_hash, account.active) == ('staff', 'series', '', True)
        assert (account.email, account.contact_name) == ('jane@wjec.example', 'Jane Smith')
        assert AuditLog.get(AuditLog.action == 'account.create').target == f'account:{account.id}'

    client = app.test_client()
    assert client.get('/welcome').status_code == 200
    assert client.post('/welcome', data={'token': found.group(3)}).status_code == 200
    response = client.post('/welcome', data={'token': found.group(3), 'password': NEW_PASSWORD,
                                             'confirmation': NEW_PASSWORD})
    assert response.status_code == 303
    assert client.post('/welcome', data={'token': found.group(3)}).status_code == 410  # once only

    response = client.login('JANE.S', NEW_PASSWORD)
    assert response.status_code == 303
    response = client.get(response.location)
    assert response.status_code == 303 and response.location.endswith('/account/second-factor')
    assert client.get('/board/series').location.endswith('/account/second-factor')
    assert 'authenticator' in text(client.get('/account/second-factor')).lower()


@pytest.mark.db
def test_create_staff_adds_a_role_to_an_existing_staff_account_and_says_so(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=['create-staff', 'desk2', '--role', 'helpline']).exit_code == 0
    result = runner.invoke(args=['create-staff', 'DESK2', '--role', 'series'])
    assert result.exit_code == 0 and 'role series added' in result.output
    link_in(result.output)
    with db.connection_context():
        account = Account.by_username('desk2')
        assert account.has_staff_role('series') and account.has_staff_role('helpline')
        assert Token.select().where(Token.account == account, Token.used_at.is_null()).count() == 2
    assert count(Account) == 1
    both = runner.invoke(args=['create-staff', 'both1', '--role', 'series', '--role', 'helpline'])
    assert both.exit_code == 0
    with db.connection_context():
        assert Account.by_username('both1').staff_roles == 'helpline series'


@pytest.mark.db
@pytest.mark.parametrize('args, said', [
    (['create-staff', 'x y', '--role', 'series'], 'cannot be a staff username'),
    (['create-staff', '1abc', '--role', 'series'], 'cannot be a staff username'),
    (['create-staff', 'ab', '--role', 'series'], 'cannot be a staff username'),
    (['create-staff', 'abc', '--role', 'boss'], "'boss' is not one of"),
    (['create-staff', 'abc'], "Missing option '--role'"),
    (['create-staff', 'abc', '--role', 'series', '--email', 'not-an-address'], 'is not an e-mail address'),
])
def test_create_staff_refuses_bad_input_with_a_message_and_creates_nothing(app, args, said):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert said in result.output
    assert count(Account) == 0 and count(Token) == 0


@pytest.mark.db
def test_create_staff_will_not_turn_another_kind_of_account_into_staff(app, world):
    result = app.test_cli_runner().invoke(args=['create-staff', 'mod1', '--role', 'series'])
    assert result.exit_code != 0 and 'MOD1 is a moderator account, not a staff account' in result.output
    with db.connection_context():
        assert Account.by_username('mod1').staff_roles == '' and Token.select().count() == 0



@pytest.mark.db
def test_create_staff_refuses_a_deactivated_staff_account(app, world):
    with db.connection_context():
        Account.update(active=False).where(Account.id == world.series_staff.id).execute()
    result = app.test_cli_runner().invoke(args=['create-staff', 'series1', '--role', 'helpline'])
    assert result.exit_code != 0 and 'SERIES1 is deactivated' in result.output
    with db.connection_context():
        assert Account.by_username('series1').staff_roles == 'series' and Token.select().count() == 0


# --- E-submission by code -----------------------------------------------------------------

def csv_codes():
    """Every code named in the board's list, with U/N pairs as both variants."""
    with open(domain.E_SUBMISSION_CSV, newline='') as handle:
        rows = list(csv.DictReader(handle))
    codes = []
    for row in rows:
        for code in (row['unit_code_from'], row['unit_code_to']):
            codes.append(code)
            codes.extend(domain.variants(code))
    return sorted(set(codes))


@pytest.mark.parametrize('code', csv_codes())
def test_every_code_in_the_board_list_needs_e_submission(code):
    assert domain.needs_e_submission(code)
    assert domain.code_problem(code) is None  # and has a form the unit screens accept


@pytest.mark.parametrize('code', [
    '6052/E1', '6051/E1', '6080/E2', '6300/E3', '6600/01', '6659/02', '6407/E1',  # numeric ranges on the base
    'p933ca', ' P933CA ', '6300QC/CCL-2', '6430QC/CCL-3', '951301/51', '951301/W1', '979101',
    '5909U2', '5909N2', '5909U2/N2', '5409N2', '4563UA', '4563NA', 'E819U3', '4573U4',
    '5962U1', '5962U9', '5962UA', '5962UQ', '5962N5', '5962NQ',  # through the last character
    '4963U1', '4963UM', '4963NM', '4963U1/N1', '4963UK/NK',
])
def test_codes_covered_by_the_list(code):
    assert domain.needs_e_submission(code)


@pytest.mark.parametrize('code', [
    '9611/L3', '9613/L3', 'C700U3', '', '6050/E1', '6081/E1', '6660/01', '6300QC/CCL-1', '951301/52',
    '979101/W1', '5909U3', '5909N3', '5909U2/N3', '4573N2', 'E819N2', 'E309U3', '5962UR', '5962U0',
    '4963UN', '4963NZ', '1234U1', 'P933CB', '60', '60521/E1', '6052E1',
])
def test_codes_not_covered_by_the_list(code):
    assert not domain.needs_e_submission(code)


def test_the_list_is_read_once():
    domain.needs_e_submission('6052/E1')
    before = domain.e_submission_rules.cache_info().misses
    for code in ('6052/E1', 'C700U3', '5962UQ'):
        domain.needs_e_submission(code)
    assert domain.e_submission_rules.cache_info().misses == before


@pytest.mark.parametrize('code', ['9611/L3', '0700/02', 'C700U3', '5409U2/N2', '982201/W1', '6300QC/CCL-2',
                                  '6052/E1', 'P90CCA', 'E819U2', '4563UA/NA'])
def test_the_board_code_forms_are_accepted(code):
    assert domain.code_problem(code) is None


@pytest.mark.parametrize('code', ['9611 /L3', 'ABC', '9611/', '9611//L3', '<b>9611</b>', '96111/L3', 'C70U3X9Z',
                                  '9611/L3L3', '6052/E1-', 'X' * 21])
def test_other_code_forms_are_refused(code):
    assert domain.code_problem(code) is not None


def test_the_demo_codes_have_the_board_forms():
    for code in ('9611/L3', '9613/L3', '9614/L3', '9615/L3', '6051/E1', '6052/E1', 'C700U3'):
        assert domain.code_problem(code) is None


# --- Series screens -------------------------------------------------------------------------

@pytest.fixture
def staff(as_):
    return as_('series_staff')


SERIES = {'name': 'GCE JUNE 2026', 'name_cy': 'TAG MEHEFIN 2026', 'results_day': '2026-08-13'}


@pytest.mark.db
def test_series_staff_list_create_and_change_a_series(world, staff):
    page = text(staff.get('/board/series'))
    assert 'LEVEL 3 QUALIFICATIONS JUNE 2017' in page and 'New series' in page and '17/08/2017' in page
    response = staff.post('/board/series/new', data=SERIES)
    assert response.status_code == 303
    with db.connection_context():
        created = Series.get(Series.name == 'GCE JUNE 2026')
        assert created.name_cy == 'TAG MEHEFIN 2026' and str(created.results_day) == '2026-08-13'
        row = AuditLog.get(AuditLog.action == 'series.create')
        assert row.actor_id == world.series_staff.id and json.loads(row.after)['results_day'] == '2026-08-13'
    page = text(staff.get(response.location))
    assert 'GCE JUNE 2026' in page and 'New unit' in page and 'This series has no units yet.' in page

    response = staff.post(f'/board/series/{created.id}', data=dict(SERIES, results_day='14/08/2026'))
    assert response.status_code == 303
    with db.connection_context():
        assert str(Series.get_by_id(created.id).results_day) == '2026-08-14'
        row = AuditLog.get(AuditLog.action == 'series.update')
        assert json.loads(row.before)['results_day'] == '2026-08-13'
        assert json.loads(row.after)['results_day'] == '2026-08-14'
    assert 'TAG MEHEFIN 2026' in text(staff.get('/board/series'))


@pytest.mark.db
@pytest.mark.parametrize('form, field, said', [
    ({'name': ''}, 'name', 'cannot be left empty'),
    ({'name': 'level 3 qualifications june 2017'}, 'name', 'There is already a series called'),
    ({'results_day': '31/02/2026'}, 'results_day', 'Enter a date'),
    ({'results_day': 'tomorrow'}, 'results_day', 'Enter a date'),
    ({'name_cy': 'W' * 201}, 'name_cy', 'at most 200'),
])
def test_a_bad_series_is_refused_beside_its_field_and_nothing_is_saved(world, staff, form, field, said):
    before = count(Series)
    response = staff.post('/board/series/new', data=dict(SERIES, **form))
    assert response.status_code == 422
    html = text(response)
    assert said in error_beside(html, field)
    assert f'aria-describedby="{field}-error"' in html
    assert 'value="TAG MEHEFIN 2026"' in html or field == 'name_cy'  # the user's input is kept
    assert count(Series) == before and count(AuditLog, AuditLog.action.startswith('series.')) == 0


@pytest.mark.db
def test_renaming_a_series_to_another_series_name_is_refused(world, staff):
    response = staff.post(f'/board/series/{world.series.id}', data={'name': 'gcse june 2017'})
    assert response.status_code == 422 and 'There is already a series' in error_beside(text(response), 'name')
    with db.connection_context():
        assert Series.get_by_id(world.series.id).name == 'LEVEL 3 QUALIFICATIONS JUNE 2017'


@pytest.mark.db
def test_forged_series_and_unit_ids_answer_404(world, staff):
    for url in ('/board/series/999999', '/board/series/999999/units/new', '/board/units/999999'):
        assert staff.get(url).status_code == 404
        assert staff.post(url, data=SERIES).status_code == 404
    assert staff.get('/board/series/abc').status_code == 404
    assert count(Series) == 2 and count(Unit) == 3


@pytest.mark.db
@pytest.mark.parametrize('who', ['staff', 'admin', 'teacher', 'moderator'])
def test_only_series_staff_open_the_series_screens(world, as_, who):
    client = as_(who)
    assert client.get('/board/series').status_code == 403
    assert client.post('/board/series/new', data=SERIES).status_code == 403
    assert count(Series) == 2


# --- Unit screens -----------------------------------------------------------------------------

UNIT = {'code': '5409u2/n2', 'title': 'HOSPITALITY AND CATERING UNIT 2', 'title_cy': 'LLETYGARWCH AC ARLWYO UNED 2',
        'suite': 'VOCATIONAL AWARDS', 'scheme': 'marks', 'max_mark': '60', 'deadline': '2026-05-05',
        'e_submission': 'list'}


@pytest.mark.db
def test_a_unit_is_created_with_e_submission_from_the_list(world, staff):
    page = text(staff.get(f'/board/series/{world.series.id}/units/new'))
    assert 'value="list" checked' in page and 'LEVEL 3' in page
    response = staff.post(f'/board/series/{world.series.id}/units/new', data=UNIT)
    assert response.status_code == 303
    with db.connection_context():
        unit = Unit.get(Unit.code == '5409U2/N2')
        assert (unit.series_id, unit.scheme, unit.max_mark, unit.e_submission) == (world.series.id, 'marks', 60, True)
        assert unit.title_cy == 'LLETYGARWCH AC ARLWYO UNED 2' and str(unit.deadline) == '2026-05-05'
        row = AuditLog.get(AuditLog.action == 'unit.create')
        assert row.target == f'unit:{unit.id}' and json.loads(row.after)['code'] == '5409U2/N2'
    page = text(staff.get(response.location))
    assert 'says 5409U2/N2 needs e-submission' in page and 'This unit follows the list' in page
    series_page = text(staff.get(f'/board/series/{world.series.id}'))
    assert '5409U2/N2' in series_page and 'Marks 0 to 60' in series_page


@pytest.mark.db
def test_e_submission_can_be_overridden_and_the_override_is_visible(world, staff):
    response = staff.post(f'/board/series/{world.series.id}/units/new',
                          data=dict(UNIT, code='9616/L3', scheme='grades', max_mark='', e_submission='yes'))
    assert response.status_code == 303
    with db.connection_context():
        unit = Unit.get(Unit.code == '9616/L3')
        assert unit.e_submission is True and unit.max_mark is None
    page = text(staff.get(response.location))
    assert 'does not include 9616/L3' in page and 'This unit overrides the list' in page
    assert 'value="yes" checked' in page
    staff.post(f'/board/units/{unit.id}', data=dict(UNIT, code='9616/L3', scheme='grades', e_submission='list'))
    with db.connection_context():
        assert Unit.get_by_id(unit.id).e_submission is False


@pytest.mark.db
@pytest.mark.parametrize('form, field, said', [
    ({'code': '9611/L3'}, 'code', 'already has a unit 9611/L3'),
    ({'code': '9611 /L3'}, 'code', 'board’s forms'),
    ({'code': 'NOT A CODE'}, 'code', 'board’s forms'),
    ({'code': ''}, 'code', 'cannot be left empty'),
    ({'title': ''}, 'title', 'cannot be left empty'),
    ({'suite': 'ASTROLOGY'}, 'suite', 'Choose the suite'),
    ({'scheme': 'stars'}, 'scheme', 'Choose grades or marks'),
    ({'max_mark': ''}, 'max_mark', 'Enter the maximum mark'),
    ({'max_mark': '0'}, 'max_mark', 'Enter the maximum mark'),
    ({'max_mark': '-5'}, 'max_mark', 'Enter the maximum mark'),
    ({'max_mark': '½'}, 'max_mark', 'Enter the maximum mark'),
    ({'deadline': '2026-13-01'}, 'deadline', 'Enter a date'),
])
def test_a_bad_unit_is_refused_beside_its_field_and_nothing_is_saved(world, staff, form, field, said):
    response = staff.post(f'/board/series/{world.series.id}/units/new', data=dict(UNIT, **form))
    assert response.status_code == 422
    html = text(response)
    assert said in error_beside(html, field), html
    assert 'value="HOSPITALITY AND CATERING UNIT 2"' in html or field == 'title'
    assert count(Unit) == 3 and count(AuditLog, AuditLog.action.startswith('unit.')) == 0


@pytest.mark.db
def test_the_same_code_may_be_used_in_another_series(world, staff):
    response = staff.post(f'/board/series/{world.marks_unit.series_id}/units/new', data=dict(UNIT, code='9611/L3'))
    assert response.status_code == 303
    assert count(Unit, Unit.code == '9611/L3') == 2


@pytest.mark.db
def test_a_unit_without_outcomes_may_change_its_scheme(world, staff):
    unit = world.other_unit  # entries, but no outcomes
    response = staff.post(f'/board/units/{unit.id}', data=dict(UNIT, code='9613/L3', scheme='marks', max_mark='50'))
    assert response.status_code == 303
    with db.connection_context():
        changed = Unit.get_by_id(unit.id)
        assert (changed.scheme, changed.max_mark, changed.title) == ('marks', 50, UNIT['title'])
        row = AuditLog.get(AuditLog.action == 'unit.update')
        assert json.loads(row.before)['scheme'] == 'grades' and json.loads(row.after)['scheme'] == 'marks'


def unit_form(unit, **changes):
    with db.connection_context():
        values = domain.unit_values(Unit.get_by_id(unit.id))
    return dict(values, **changes)


@pytest.mark.db
@pytest.mark.parametrize('changes', [
    {'scheme': 'grades', 'max_mark': ''},  # marks to grades
    {'max_mark': '30'},                    # below marks already entered
    {'max_mark': '50'},                    # any change of the maximum
])
def test_a_unit_with_outcomes_cannot_change_its_scheme_or_maximum(world, staff, changes):
    unit = world.marks_unit
    factories.complete(world.marks_entries[:3], world.admin, values=['35', '38', '40'])
    response = staff.post(f'/board/units/{unit.id}', data=unit_form(unit, title='CHANGED TITLE', **changes))
    assert response.status_code == 422
    html = text(response)
    assert 'scheme and maximum mark can no longer change' in error_beside(html, 'scheme')
    assert 'value="CHANGED TITLE"' in html  # what was typed is kept
    with db.connection_context():
        kept = Unit.get_by_id(unit.id)
        assert (kept.scheme, kept.max_mark, kept.title) == ('marks', 40, 'SPOKEN LANGUAGE')  # nothing half-saved
    assert count(AuditLog, AuditLog.action == 'unit.update') == 0


@pytest.mark.db
def test_a_grades_unit_with_outcomes_cannot_become_marks_but_other_details_change(world, staff):
    unit = world.unit
    factories.complete(world.entries[:1], world.admin)
    page = text(staff.get(f'/board/units/{unit.id}'))
    assert 'can no longer change' in page
    response = staff.post(f'/board/units/{unit.id}', data=unit_form(unit, scheme='marks', max_mark='60'))
    assert response.status_code == 422
    response = staff.post(f'/board/units/{unit.id}', data=unit_form(unit, title_cy='DAMCANIAETHAU TROSEDDEGOL',
                                                                     deadline='2017-05-20'))
    assert response.status_code == 303
    with db.connection_context():
        kept = Unit.get_by_id(unit.id)
        assert (kept.scheme, kept.title_cy, str(kept.deadline)) == ('grades', 'DAMCANIAETHAU TROSEDDEGOL', '2017-05-20')
        assert Outcome.select().count() == 1


@pytest.mark.db
def test_a_unit_cannot_take_the_code_of_another_unit_in_its_series(world, staff):
    response = staff.post(f'/board/units/{world.other_unit.id}', data=unit_form(world.other_unit, code='9611/L3'))
    assert response.status_code == 422 and 'already has a unit 9611/L3' in error_beside(text(response), 'code')
    with db.connection_context():
        assert Unit.get_by_id(world.other_unit.id).code == '9613/L3'


@pytest.mark.db
def test_hostile_names_and_titles_are_inert(world, staff, as_):
    hostile = {'name': '<img src=x onerror=alert(1)>', 'name_cy': '{{7*7}} " hx-get="/logout', 'results_day': ''}
    response = staff.post('/board/series/new', data=hostile)
    assert response.status_code == 303
    response = staff.post(response.location + '/units/new',
                          data=dict(UNIT, title='<script>alert(1)</script>', title_cy="{{ 7*7 }}' hx-post='/logout"))
    assert response.status_code == 303
    with db.connection_context():
        series_id = Series.get(Series.name == hostile['name']).id
    for url in ('/board/series', response.location, f'/board/series/{series_id}'):
        page = text(staff.get(url))
        assert '<img src=x' not in page and '<script>alert' not in page and ' hx-get="/logout' not in page
        assert "' hx-post='/logout" not in page and '>49<' not in page and ' 49 ' not in page
        assert '&lt;' in page


# --- Welsh titles where the centre sees them --------------------------------------------------

@pytest.mark.db
def test_welsh_pages_show_the_welsh_names_of_series_and_units(world, as_):
    with db.connection_context():
        Series.update(name_cy='CYMWYSTERAU LEFEL 3 MEHEFIN 2017').where(Series.id == world.series.id).execute()
        Unit.update(title_cy='DAMCANIAETHAU TROSEDDEGOL').where(Unit.id == world.unit.id).execute()
    teacher = as_('teacher')
    english = text(teacher.get('/internal-assessment/'))
    assert 'LEVEL 3 QUALIFICATIONS JUNE 2017 CRIMINOLOGICAL THEORIES (9611/L3)' in english
    assert 'CYMWYSTERAU' not in english
    teacher.post('/language', data={'lang': 'cy'})
    welsh = text(teacher.get('/internal-assessment/'))
    assert 'CYMWYSTERAU LEFEL 3 MEHEFIN 2017 DAMCANIAETHAU TROSEDDEGOL (9611/L3)' in welsh
    assert 'CYMWYSTERAU LEFEL 3 MEHEFIN 2017 <span lang="en">SOCIAL CONTROL</span> (9613/L3)' in welsh  # no Welsh title: the English one, marked so
    heading = re.search(r'<h1>([^<]*)</h1>', text(teacher.get(f'/internal-assessment/{world.unit.id}'))).group(1)
    assert heading.startswith('CYMWYSTERAU LEFEL 3 MEHEFIN 2017 DAMCANIAETHAU TROSEDDEGOL (9611/L3)')


@pytest.mark.db
def test_the_demo_has_welsh_names_for_its_series_and_units(app):
    import demo
    with db.connection_context():
        demo.load(factories.PASSWORD)
        assert Series.get(Series.name == 'LEVEL 3 QUALIFICATIONS JUNE 2017').name_in('cy') == 'CYMWYSTERAU LEFEL 3 MEHEFIN 2017'
        assert Series.get(Series.name == 'ENTRY PATHWAYS JANUARY 2021').name_in('cy') == 'LLWYBRAU MYNEDIAD IONAWR 2021'
        assert all(unit.title_cy and unit.title_in('cy') != unit.title_in('en') for unit in Unit.select())


# --- Two tabs, and the line saying what the list says ------------------------------------------

@pytest.mark.db
def test_a_unit_form_opened_before_another_change_does_not_overwrite_it(world, staff):
    unit = world.other_unit
    first_tab, second_tab = unit_form(unit), unit_form(unit)
    assert staff.post(f'/board/units/{unit.id}', data=dict(first_tab, title='FIRST TAB')).status_code == 303
    assert staff.post(f'/board/units/{unit.id}', data=dict(first_tab, title='FIRST TAB')).status_code == 303  # a retry
    response = staff.post(f'/board/units/{unit.id}', data=dict(second_tab, deadline='2017-06-01'))
    assert response.status_code == 409
    html = text(response)
    assert 'someone else changed these details' in html and 'FIRST TAB' in html  # what is saved now
    assert 'value="2017-06-01"' in html  # the user's change is kept in the form
    with db.connection_context():
        kept = Unit.get_by_id(unit.id)
        assert (kept.title, str(kept.deadline)) == ('FIRST TAB', '2017-05-15')
    assert count(AuditLog, AuditLog.action == 'unit.update') == 1
    seen = re.search(r'name="seen" value="([0-9a-f]+)"', html).group(1)  # saving again means it
    response = staff.post(f'/board/units/{unit.id}', data=dict(second_tab, deadline='2017-06-01', seen=seen))
    assert response.status_code == 303
    with db.connection_context():
        assert str(Unit.get_by_id(unit.id).deadline) == '2017-06-01'


@pytest.mark.db
def test_a_series_form_opened_before_another_change_does_not_overwrite_it(world, staff):
    with db.connection_context():
        first_tab = second_tab = domain.series_values(Series.get_by_id(world.series.id))
    assert staff.post(f'/board/series/{world.series.id}', data=dict(first_tab, name_cy='UN')).status_code == 303
    response = staff.post(f'/board/series/{world.series.id}', data=dict(second_tab, name_cy='DAU'))
    assert response.status_code == 409 and 'someone else changed' in text(response)
    with db.connection_context():
        assert Series.get_by_id(world.series.id).name_cy == 'UN'


@pytest.mark.db
def test_the_new_unit_form_says_what_the_list_says_for_a_typed_code(world, staff):
    fragment = staff.get('/board/units/e-submission-rule?code=6052/e1', headers={'HX-Request': 'true'})
    assert fragment.status_code == 200
    assert 'says 6052/E1 needs e-submission' in text(fragment) and '<html' not in text(fragment)
    assert 'does not include C700U3' in text(staff.get('/board/units/e-submission-rule?code=C700U3',
                                                       headers={'HX-Request': 'true'}))
    assert 'e-submission' not in text(staff.get('/board/units/e-submission-rule?code=%3Cb%3E',
                                                headers={'HX-Request': 'true'})).replace('id="e-submission-rule"', '')
    # without JavaScript: a form sent back for a problem says it too
    response = staff.post(f'/board/series/{world.series.id}/units/new', data=dict(UNIT, code='6052/E1', title=''))
    assert response.status_code == 422 and 'says 6052/E1 needs e-submission' in text(response)
    assert staff.get('/board/units/e-submission-rule?code=6052/E1').status_code == 200
