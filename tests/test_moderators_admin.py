"""The board's series staff run moderators and their assignments to centres'
units (issue 9 point 5): the list, a new moderator invited by e-mail,
details, deactivation, assigning, moving and removing; refusals change
nothing; the centre's VIEW MODERATOR DETAILS and the moderator's own
workspace follow a move at once."""
import re

import pytest
from playhouse.shortcuts import model_to_dict

import demo
import moderators
from models import (Account, AuditLog, Centre, Job, Marksheet, ModeratorAssignment, Outbox, Token, Unit, db)
from tests import factories

pytestmark = pytest.mark.db
BASE = '/board/moderators'


@pytest.fixture
def board(world):
    """A second moderator (mod2), a deactivated one (mod3); mod1 has centre 68999's 9611/L3."""
    with db.connection_context():
        world.mod2 = demo.make_account('mod2', 'moderator', factories.PASSWORD, contact_name='Mr O Ther',
                                       email='o.ther@example.org', postal_address='1 HIGH ST\nSWANSEA\nSA1 1AA',
                                       totp_secret=factories.TOTP_SECRET)
        world.mod3 = demo.make_account('mod3', 'moderator', factories.PASSWORD, contact_name='Ms Gone',
                                       active=False)
        world.assignment = ModeratorAssignment.get(ModeratorAssignment.moderator == world.moderator.id)
    return world


def text(response):
    return response.get_data(as_text=True)


def error_beside(html, field):
    found = re.search(rf'<span class="error" id="{field}-error">([^<]*)</span>', html)
    return found.group(1) if found else None


def state():
    """Everything a refused change must leave as it was."""
    with db.connection_context():
        return ([model_to_dict(a, recurse=False) for a in Account.select().order_by(Account.id)],
                [model_to_dict(a, recurse=False) for a in ModeratorAssignment.select().order_by(ModeratorAssignment.id)],
                [m.count() for m in (Outbox.select(), Job.select(), Token.select(),
                                     AuditLog.select().where(~AuditLog.action.startswith('auth.')))])


def holder(centre, unit):
    """The username of the moderator assigned a centre's unit, or None."""
    with db.connection_context():
        found = (ModeratorAssignment.select(ModeratorAssignment, Account).join(Account)
                 .where(ModeratorAssignment.centre == centre.id, ModeratorAssignment.unit == unit.id).get_or_none())
        return found.moderator.username if found else None


def audit(action):
    with db.connection_context():
        return [(row.target, *row.details) for row in AuditLog.select().where(AuditLog.action == action)
                .order_by(AuditLog.id)]


NEW = {'username': 'mod7', 'contact_name': 'Dr A Seven', 'email': 'a.seven@example.org',
       'postal_address': '7 SEVEN ROAD\r\n\r\n  NEWPORT  \r\nNP7 7AA', 'language': 'en'}


# --- Who may come in -------------------------------------------------------------------

@pytest.mark.parametrize('who', ['staff', 'moderator', 'admin', 'teacher'])
def test_everyone_but_series_staff_is_refused(board, as_, who):
    client = as_(who)
    for url in (BASE + '/', BASE + '/new', f'{BASE}/{board.moderator.id}', BASE + '/assignments'):
        assert client.get(url).status_code == 403, url
    before = state()
    assert client.post(BASE + '/new', data=NEW).status_code == 403
    assert client.post(f'{BASE}/assignments/{board.assignment.id}/move',
                       data={'from': board.moderator.id, 'to': 'mod2'}).status_code == 403
    assert state() == before


def test_anonymous_is_sent_to_sign_in(board, client):
    response = client.get(BASE + '/')
    assert response.status_code in (302, 303) and '/login' in response.location


# --- The list --------------------------------------------------------------------------

def test_the_list_shows_every_moderator_with_their_assignments_counted(board, as_):
    page = text(as_('series_staff').get(BASE + '/'))
    assert '3 moderators' in page
    row = re.search(r'<tr><td><a[^>]*>MOD1</a>.*?</tr>', page, re.S).group(0)
    assert 'Mrs. M Walters' in row and '245 WESTERN AVE' in row and '<td>1</td>' in row
    assert re.search(r'MOD3</a>.*?No \(deactivated\)', page, re.S)


def test_the_list_is_searched_by_name_or_username(board, as_):
    client = as_('series_staff')
    page = text(client.get(BASE + '/?q=walters'))
    assert 'MOD1' in page and 'MOD2' not in page and '1 moderator' in page
    page = text(client.get(BASE + '/?q=mod2'))
    assert 'MOD2' in page and 'MOD1' not in page
    assert 'No moderator matches.' in text(client.get(BASE + '/?q=nobody'))


def test_the_list_pages_and_reads_the_same_queries_however_many_moderators(board, as_, monkeypatch):
    client = as_('series_staff')
    seen = []
    execute = db.obj.execute_sql

    def counting(sql, *args, **kwargs):
        seen.append(sql)
        return execute(sql, *args, **kwargs)

    def queries(url):
        seen.clear()
        monkeypatch.setattr(db.obj, 'execute_sql', counting)
        try:
            response = client.get(url)
        finally:
            monkeypatch.setattr(db.obj, 'execute_sql', execute)
        assert response.status_code == 200
        return len(seen), text(response)

    few, _ = queries(BASE + '/')
    with db.connection_context():
        Account.insert_many([{'username': f'BULK{n:03d}', 'kind': 'moderator', 'contact_name': f'Bulk {n:03d}',
                              'email': f'b{n}@example.org'} for n in range(120)]).execute()
        ModeratorAssignment.create(centre=board.other_centre, unit=board.other_unit,
                                   moderator=Account.by_username('BULK000'))
    many, page = queries(BASE + '/')
    assert many == few
    assert '123 moderators' in page and 'page 1 of 3' in page
    assert page.count('<tr><td><a') == 50
    _, last = queries(BASE + '/?page=3&sort=newest')
    assert last.count('<tr><td><a') == 23
    _, odd = queries(BASE + '/?page=%C2%B2&sort=<script>')  # a superscript two, a hostile sort: page 1 by name
    assert 'page 1 of 3' in odd and '<script>' not in odd


# --- A new moderator ----------------------------------------------------------------------

def test_a_new_moderator_is_created_without_a_password_and_invited_by_email(app, board, as_):
    client = as_('series_staff')
    assert 'New moderator' in text(client.get(BASE + '/new'))
    response = client.post(BASE + '/new', data=NEW)
    assert response.status_code == 303
    page = text(client.get(response.location))
    assert 'Moderator MOD7 created' in page and 'a.seven@example.org' in page
    with db.connection_context():
        account = Account.by_username('mod7')
        assert (account.kind, account.active, account.password_hash, account.centre_id) == ('moderator', True, '', None)
        assert account.postal_address == '7 SEVEN ROAD\nNEWPORT\nNP7 7AA'
        mail = Outbox.get(Outbox.to == 'a.seven@example.org')
    assert 'MOD7' in mail.body and '/welcome#' in mail.body and 'Dear Dr A Seven' in mail.body
    assert 'Internal Assessment Portal.' in mail.body and 'Portal for' not in mail.body  # no centre to name
    assert factories.delivered_token(app, mail)  # the link, as delivered
    [(target, before, after)] = audit('moderator.create')
    assert target == f'account:{account.id}' and after['username'] == 'MOD7' and after['email'] == NEW['email']


def test_the_invited_moderator_sets_a_password_and_must_enrol_the_second_factor(app, board, as_):
    as_('series_staff').post(BASE + '/new', data=NEW)
    with db.connection_context():
        mail = Outbox.get(Outbox.to == 'a.seven@example.org')
    token = factories.delivered_token(app, mail)
    client = app.test_client()
    client.get('/welcome')
    client.post('/welcome', data={'token': token})
    response = client.post('/welcome', data={'token': token, 'password': 'Moderate2017x',
                                             'confirmation': 'Moderate2017x'})
    assert response.status_code == 303
    assert client.login('mod7', 'Moderate2017x').status_code == 303
    for url in ('/', '/moderation/'):  # nothing opens until the authenticator is set up
        response = client.get(url)
        assert response.status_code == 303 and response.location.endswith('/account/second-factor')


def bad_new_moderators():
    yield 'username', {'username': '7mod'}, 'Use 3 to 40 letters'
    yield 'username', {'username': 'MOD1'}, 'MOD1 is taken'      # mod1 exists: case does not matter
    yield 'username', {'username': '68999'}, 'Use 3 to 40 letters'
    yield 'contact_name', {'contact_name': '  '}, 'Enter the moderator’s name.'
    yield 'contact_name', {'contact_name': 'x' * 201}, 'Use at most 200 characters.'
    yield 'email', {'email': ''}, 'Enter an e-mail address'
    yield 'email', {'email': 'not-an-address'}, 'name@example.org'
    yield 'postal_address', {'postal_address': ' \r\n '}, 'Enter the postal address'
    yield 'postal_address', {'postal_address': 'x' * 1001}, 'Use at most 1000 characters.'


@pytest.mark.parametrize('field,change,said', list(bad_new_moderators()))
def test_a_new_moderator_with_a_field_that_cannot_be_used_is_refused_and_nothing_is_written(
        board, as_, field, change, said):
    client = as_('series_staff')
    before = state()
    response = client.post(BASE + '/new', data=dict(NEW, **change))
    assert response.status_code == 422
    page = text(response)
    assert 'Nothing has been created' in page
    assert said in error_beside(page, field)
    assert state() == before


def test_a_new_moderator_sent_twice_is_created_once(board, as_):
    client = as_('series_staff')
    assert client.post(BASE + '/new', data=NEW).status_code == 303
    before = state()
    second = client.post(BASE + '/new', data=NEW)
    assert second.status_code == 422 and 'MOD7 is taken' in text(second)
    assert state() == before


def test_hostile_text_is_shown_inert(board, as_):
    client = as_('series_staff')
    hostile = '<img src=x onerror=alert(1)> {{7*7}} hx-get="/x"'
    response = client.post(BASE + '/new', data=dict(NEW, contact_name=hostile, postal_address=hostile))
    assert response.status_code == 303
    assert client.post(response.location + '/assignments', data={'centre': '50551', 'unit': str(board.unit.id)}
                       ).status_code == 303
    for url in (BASE + '/', BASE + '/?q=img', response.location, BASE + '/assignments'):
        page = text(client.get(url))
        assert '<img src=x' not in page and '&lt;img src=x onerror=alert(1)&gt; {{7*7}}' in page


# --- Details and deactivation --------------------------------------------------------------

def test_a_moderators_details_are_changed_and_audited(board, as_):
    client = as_('series_staff')
    url = f'{BASE}/{board.mod2.id}'
    page = text(client.get(url))
    assert 'Mr O Ther' in page and '1 HIGH ST' in page
    response = client.post(url, data={'contact_name': 'Mr O Other', 'email': 'other@example.org',
                                      'postal_address': '2 LOW ST\nSWANSEA', 'username': 'HACKER', 'kind': 'staff'})
    assert response.status_code == 303
    assert 'Changes saved.' in text(client.get(response.location))
    with db.connection_context():
        account = Account.get_by_id(board.mod2.id)
    assert (account.username, account.kind, account.contact_name, account.email, account.postal_address) == (
        'MOD2', 'moderator', 'Mr O Other', 'other@example.org', '2 LOW ST\nSWANSEA')
    [(target, before, after)] = audit('moderator.update')
    assert before['email'] == 'o.ther@example.org' and after['email'] == 'other@example.org'


def test_bad_details_are_refused_beside_the_field_and_nothing_changes(board, as_):
    client = as_('series_staff')
    before = state()
    response = client.post(f'{BASE}/{board.mod2.id}', data={'contact_name': 'Mr O Ther', 'email': 'nope',
                                                            'postal_address': '1 HIGH ST'})
    assert response.status_code == 422
    assert 'name@example.org' in error_beside(text(response), 'email')
    assert state() == before


def test_a_page_for_an_account_that_is_not_a_moderator_is_not_found(board, as_):
    client = as_('series_staff')
    for account in (board.teacher, board.series_staff, board.admin):
        assert client.get(f'{BASE}/{account.id}').status_code == 404
        assert client.post(f'{BASE}/{account.id}', data={'contact_name': 'X', 'email': 'x@example.org',
                                                         'postal_address': 'X'}).status_code == 404
    assert client.get(f'{BASE}/99999999999').status_code == 404


def test_deactivating_a_moderator_signs_them_out_and_reactivating_lets_them_back(board, as_):
    moderator = as_('moderator')
    assert moderator.get('/moderation/').status_code == 200
    client = as_('series_staff')
    url = f'{BASE}/{board.moderator.id}/active'
    response = client.post(url, data={'active': 'no'})
    assert response.status_code == 303
    assert 'MOD1 is deactivated and signed out everywhere.' in text(client.get(response.location))
    gone = moderator.get('/moderation/')
    assert gone.status_code in (302, 303) and '/login' in gone.location
    assert 'was already deactivated' in text(client.get(client.post(url, data={'active': 'no'}).location))
    assert client.post(url, data={'active': 'maybe'}).status_code == 422
    assert client.post(url, data={'active': 'yes'}).status_code == 303
    with db.connection_context():
        assert Account.get_by_id(board.moderator.id).active
    assert [(b, a) for _, b, a in audit('moderator.update')] == [({'active': True}, {'active': False}),
                                                                 ({'active': False}, {'active': True})]
    assert as_('moderator').get('/moderation/').status_code == 200


# --- Assigning ------------------------------------------------------------------------------

def assign(client, moderator, centre, unit):
    return client.post(f'{BASE}/{moderator.id}/assignments', data={'centre': centre, 'unit': str(unit)})


def test_a_moderators_page_lists_their_assignments_and_offers_every_unit_by_series(board, as_):
    page = text(as_('series_staff').get(f'{BASE}/{board.moderator.id}'))
    assignments = page[page.index('id="assignments"'):page.index('id="assign"')]
    assert '68999 EXAMPLE HIGH SCHOOL' in assignments and 'LEVEL 3 QUALIFICATIONS JUNE 2017' in assignments
    assert '9611/L3 CRIMINOLOGICAL THEORIES' in assignments
    assert '<optgroup label="GCSE JUNE 2017">' in page
    assert f'<option value="{board.marks_unit.id}">C700U3 SPOKEN LANGUAGE</option>' in page


def test_a_centres_unit_is_assigned_once_even_when_sent_twice(board, as_):
    client = as_('series_staff')
    response = assign(client, board.mod2, '50551', board.unit.id)
    assert response.status_code == 303
    assert 'Centre 50551’s unit 9611/L3 is assigned to MOD2.' in text(client.get(response.location))
    second = assign(client, board.mod2, '50551', board.unit.id)  # the same form, from another tab
    assert second.status_code == 303
    assert 'was already assigned to MOD2' in text(client.get(second.location))
    with db.connection_context():
        assert ModeratorAssignment.select().where(ModeratorAssignment.centre == board.other_centre.id).count() == 1
    [(target, before, after)] = audit('assignment.create')
    assert target == f'unit:{board.unit.id}' and after == {'moderator': 'MOD2', 'centre': '50551', 'unit': '9611/L3'}
    page = text(client.get(f'{BASE}/{board.mod2.id}'))
    assert '50551 THE CASTLE SCHOOL' in page


def test_a_centre_with_no_entries_for_the_unit_is_assigned_with_a_warning(board, as_):
    client = as_('series_staff')
    response = assign(client, board.mod2, '50551', board.marks_unit.id)
    assert response.status_code == 303
    assert 'Centre 50551 has no entries for C700U3 yet' in text(client.get(response.location))
    assert holder(board.other_centre, board.marks_unit) == 'MOD2'


def test_a_unit_already_held_by_another_moderator_says_who_and_offers_a_move(board, as_):
    client = as_('series_staff')
    before = state()
    response = assign(client, board.mod2, '68999', board.unit.id)
    assert response.status_code == 422
    page = text(response)
    assert 'already assigned to MOD1 (Mrs. M Walters)' in page
    assert state() == before
    offer = re.search(r'<div class="panel" id="offer-move">.*?</div>', page, re.S).group(0)
    action = re.search(r'action="([^"]+)"', offer).group(1)
    fields = dict(re.findall(r'name="(from|to|back)" value="([^"]*)"', offer))
    assert fields == {'from': str(board.moderator.id), 'to': 'MOD2', 'back': 'to'}
    moved = client.post(action, data=fields)
    assert moved.status_code == 303 and moved.location.endswith(f'{BASE}/{board.mod2.id}')
    assert 'is now assigned to MOD2' in text(client.get(moved.location))
    assert holder(board.centre, board.unit) == 'MOD2'


def refused_assignments(board):
    yield 'unknown centre', board.mod2, '12345', board.unit.id, 'There is no centre with the number “12345”.'
    yield 'not a centre number', board.mod2, '<b>', board.unit.id, 'There is no centre with the number “&lt;b&gt;”.'
    yield 'forged unit', board.mod2, '50551', 999999, 'Choose a unit from the list.'
    yield 'no unit', board.mod2, '50551', '', 'Choose a unit from the list.'
    yield 'deactivated moderator', board.mod3, '50551', board.unit.id, 'MOD3 is deactivated'
    yield 'not a moderator', board.teacher, '50551', board.unit.id, 'That account is not a moderator’s.'
    yield 'helpline staff', board.staff, '50551', board.unit.id, 'That account is not a moderator’s.'


@pytest.mark.parametrize('case', range(7))
def test_a_bad_assignment_is_refused_and_nothing_changes(board, as_, case):
    _name, account, centre, unit, said = list(refused_assignments(board))[case]
    client = as_('series_staff')
    before = state()
    response = assign(client, account, centre, unit)
    assert response.status_code == 422
    assert said in text(response) and 'Nothing has' in text(response)
    assert state() == before


# --- Moving and removing ------------------------------------------------------------------

def unit_url(world, centre=None, unit=None):
    return f'/moderation/centres/{(centre or world.centre).id}/units/{(unit or world.unit).id}'


def move(client, world, to, from_=None, back=None):
    data = {'from': str((from_ or world.moderator).id), 'to': to}
    if back:
        data['back'] = back
    return client.post(f'{BASE}/assignments/{world.assignment.id}/move', data=data)


def test_a_moved_assignment_opens_for_the_new_moderator_only(board, as_):
    old = as_('moderator')
    assert old.get(unit_url(board)).status_code == 200
    response = move(as_('series_staff'), board, 'mod2')
    assert response.status_code == 303
    assert old.get(unit_url(board)).status_code == 404
    assert 'CRIMINOLOGICAL' not in text(old.get('/moderation/'))
    new = as_('mod2')  # the board fixture's world is the one as_ signs in from
    assert new.get(unit_url(board)).status_code == 200
    assert '9611/L3' in text(new.get('/moderation/'))
    [(target, before, after)] = audit('assignment.move')
    assert target == f'unit:{board.unit.id}'
    assert before == {'moderator': 'MOD1'} and after['moderator'] == 'MOD2' and after['centre'] == '68999'


def test_view_moderator_details_shows_the_moderator_the_assignment_names_now(board, as_):
    with db.connection_context():
        factories.complete(board.entries, board.admin)
        Marksheet(Centre.get_by_id(board.centre.id), Unit.get_by_id(board.unit.id)).submit(
            Account.get_by_id(board.admin.id))
    centre = as_('admin')
    url = f'/internal-assessment/{board.unit.id}/moderator'
    page = text(centre.get(url))
    assert 'Mrs. M Walters' in page and '245 WESTERN AVE' in page
    assert move(as_('series_staff'), board, 'MOD2').status_code == 303
    page = text(centre.get(url))
    assert 'Mr O Ther' in page and '1 HIGH ST' in page and 'SWANSEA' in page
    assert 'Walters' not in page and 'WESTERN' not in page


def test_a_move_sent_from_two_tabs_moves_once(board, as_):
    client = as_('series_staff')
    assert move(client, board, 'mod2').status_code == 303
    again = move(client, board, 'mod2')  # the same move again: it is done, said, nothing more
    assert again.status_code == 303 and 'was already assigned to MOD2' in text(client.get(again.location))
    assert len(audit('assignment.move')) == 1
    with db.connection_context():
        demo.make_account('mod4', 'moderator', factories.PASSWORD, contact_name='Four')
    before = state()
    stale = move(client, board, 'mod4')  # a tab still showing MOD1 as the holder
    assert stale.status_code == 409
    assert 'now assigned to MOD2 (someone changed it' in text(stale)
    assert state() == before and holder(board.centre, board.unit) == 'MOD2'


@pytest.mark.parametrize('to,said', [('', 'Enter the username of the moderator to move it to.'),
                                     ('nobody', 'There is no moderator with the username “nobody”.'),
                                     ('68999JBR', 'There is no moderator with the username “68999JBR”.'),
                                     ('helpdesk1', 'There is no moderator with the username “helpdesk1”.'),
                                     ('mod3', 'MOD3 is deactivated')])
def test_a_move_to_someone_who_cannot_moderate_is_refused_and_nothing_changes(board, as_, to, said):
    client = as_('series_staff')
    before = state()
    response = move(client, board, to)
    assert response.status_code == 422
    assert said in text(response)
    assert state() == before


def test_moves_and_removals_of_an_assignment_that_does_not_exist_are_not_found(board, as_):
    client = as_('series_staff')
    assert client.post(f'{BASE}/assignments/999999/move', data={'from': board.moderator.id, 'to': 'mod2'}
                       ).status_code == 404
    assert client.post(f'{BASE}/assignments/99999999999/move', data={}).status_code == 404


def test_an_assignment_is_removed_once_and_a_stale_removal_changes_nothing(board, as_):
    client = as_('series_staff')
    assert move(client, board, 'mod2').status_code == 303
    url = f'{BASE}/assignments/{board.assignment.id}/remove'
    before = state()
    stale = client.post(url, data={'from': str(board.moderator.id)})  # a tab that still shows MOD1
    assert stale.status_code == 409 and 'now assigned to MOD2' in text(stale)
    assert state() == before
    assert client.post(url, data={}).status_code == 422
    response = client.post(url, data={'from': str(board.mod2.id)})
    assert response.status_code == 303
    assert 'no longer assigned to MOD2' in text(client.get(response.location))
    assert holder(board.centre, board.unit) is None
    again = client.post(url, data={'from': str(board.mod2.id)})
    assert again.status_code == 303 and 'already been removed' in text(client.get(again.location))
    [(target, before_row, after)] = audit('assignment.remove')
    assert before_row == {'moderator': 'MOD2', 'centre': '68999', 'unit': '9611/L3'} and after is None


# --- Every assignment, and what is unassigned -------------------------------------------------

def test_the_assignments_list_filters_by_series_and_centre_and_shows_what_is_unassigned(board, as_):
    client = as_('series_staff')
    page = text(client.get(BASE + '/assignments'))
    assigned = page[page.index('id="assigned"'):]
    waiting = page[page.index('id="waiting"'):page.index('id="assigned"')]
    assert '1 assignment' in assigned and 'MOD1' in assigned
    assert '3 centre units without a moderator' in waiting  # 68999's 9613/L3 and C700U3, 50551's 9611/L3
    assert '50551 THE CASTLE SCHOOL' in waiting and '9613/L3' in waiting and 'C700U3' in waiting
    gcse = text(client.get(f'{BASE}/assignments?series={board.marks_unit.series_id}'))
    assert '1 centre unit without a moderator' in gcse and 'No assignment matches.' in gcse
    castle = text(client.get(BASE + '/assignments?centre=50551'))
    assert '1 centre unit without a moderator' in castle and '9611/L3' in castle and 'No assignment matches.' in castle
    unknown = client.get(BASE + '/assignments?centre=12345&series=abc')
    assert unknown.status_code == 200 and 'There is no centre with the number “12345”.' in text(unknown)


def test_a_unit_is_assigned_from_the_unassigned_list(board, as_):
    client = as_('series_staff')
    url = f'{BASE}/assignments?centre=50551'
    response = client.post(url, data={'moderator': 'mod2', 'centre': '50551', 'unit': str(board.unit.id)})
    assert response.status_code == 303
    page = text(client.get(response.location))
    assert 'Centre 50551’s unit 9611/L3 is assigned to MOD2.' in page
    assert '0 centre units without a moderator' in page
    before = state()
    for data, said in (({'moderator': '', 'centre': '50551', 'unit': str(board.other_unit.id)}, 'Enter the username'),
                       ({'moderator': '68999', 'centre': '50551', 'unit': str(board.other_unit.id)}, '“68999”'),
                       ({'moderator': 'mod1', 'centre': '50551', 'unit': str(board.unit.id)},
                        'already assigned to MOD2')):
        refused = client.post(url, data=data)
        assert refused.status_code == 422 and said in text(refused)
    assert state() == before


def test_every_form_carries_a_csrf_token_and_a_post_without_one_is_refused(board, as_):
    client = as_('series_staff')
    for url in (BASE + '/new', f'{BASE}/{board.moderator.id}', BASE + '/assignments'):
        page = text(client.get(url))
        assert len(re.findall(r'<form[^>]*method="post"', page)) == page.count('name="csrf_token"')
    before = state()
    assert client.post(BASE + '/new', data=NEW, csrf=False).status_code == 400
    assert state() == before


def test_the_assignments_page_and_a_moderators_page_read_the_same_queries_however_many_rows(board, as_, monkeypatch):
    client = as_('series_staff')
    seen = []
    execute = db.obj.execute_sql

    def counting(sql, *args, **kwargs):
        seen.append(sql)
        return execute(sql, *args, **kwargs)

    def queries(url):
        seen.clear()
        monkeypatch.setattr(db.obj, 'execute_sql', counting)
        try:
            assert client.get(url).status_code == 200
        finally:
            monkeypatch.setattr(db.obj, 'execute_sql', execute)
        return len(seen)

    urls = (BASE + '/assignments', f'{BASE}/{board.moderator.id}')
    few = [queries(url) for url in urls]
    with db.connection_context():  # 60 more centres, each with entries for 9611/L3; half assigned to mod1
        for n in range(60):
            centre = demo.make_centre(f'{70000 + n}', f'SCHOOL {n}')
            demo.enter(demo.make_candidates(centre, 2, 5001, seed=n), Unit.get_by_id(board.unit.id))
            if n % 2:
                ModeratorAssignment.create(centre=centre, unit=board.unit.id, moderator=board.moderator.id)
    assert [queries(url) for url in urls] == few
    page = text(client.get(BASE + '/assignments'))
    assert '31 assignments' in page and '33 centre units without a moderator' in page  # 30 and the world's 3
    monkeypatch.setattr(moderators, 'PAGE_SIZE', 10)
    page = text(client.get(BASE + '/assignments?page=4&waiting_page=2'))
    assert '31 assignments – page 4 of 4' in page and '33 centre units without a moderator – page 2 of 4' in page
    assigned = page[page.index('id="assigned"'):]
    assert assigned.count('<tr><td>') == 1 and '70059 SCHOOL 59' in assigned
    waiting = page[page.index('id="waiting"'):page.index('id="assigned"')]
    assert waiting.count('<tr><td>') == 10
    assert 'href="/board/moderators/assignments?page=3&amp;waiting_page=2#assigned"' in assigned
