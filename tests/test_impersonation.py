"""Helpline staff acting as a centre's account, safe by design (SPEC 3.10;
issue 7 point 3; QUALITY IMP-1..3, SESS-3, AC-1). Each rule has a test."""
import datetime
import itertools
import json
from types import SimpleNamespace

import pytest

import access
import impersonation
from models import Account, AuditLog, Outcome, Submission, db
from tests import factories

pytestmark = pytest.mark.db


def start(client, account, reason='The exams officer asked us to check a grade', code=None):
    client.get(f'/helpline/impersonation/accounts/{account.id}')
    return client.post('/helpline/impersonation/start', data={
        'account': account.id, 'reason': reason, 'ticket': 'T-123',
        'code': code or factories.second_factor_code('helpdesk1')})


def acting(as_, world, who='teacher'):
    staff = as_('staff')
    response = start(staff, getattr(world, who))
    assert response.status_code == 303, response.get_data(as_text=True)
    staff.get(response.location)
    return staff


def save(client, world, entry, value='P', htmx=False):
    data = {f'value-{entry.id}': value, f'version-{entry.id}': '0'}
    if htmx:
        return client.htmx(f'/internal-assessment/{world.unit.id}/entries/{entry.id}', data)
    return client.post(f'/internal-assessment/{world.unit.id}', data=data)


def audit(action):
    with db.connection_context():
        return list(AuditLog.select().where(AuditLog.action == action))


# --- who may act as whom: one pure function, a full matrix ---------------------

KINDS = ('administrator', 'user', 'moderator', 'staff')


@pytest.mark.parametrize('staff_kind, staff_active, target_kind, target_active, roles',
                         list(itertools.product(KINDS, (True, False), KINDS, (True, False),
                                                ('helpline', 'series', 'series helpline'))))
def test_imp1_who_may_act_as_whom(staff_kind, staff_active, target_kind, target_active, roles):
    from models import Account
    staff = Account(id=1, kind=staff_kind, active=staff_active, staff_roles=roles)
    target = Account(id=2, kind=target_kind, active=target_active, staff_roles=roles)
    allowed = (staff_kind == 'staff' and 'helpline' in roles and staff_active
               and target_kind in ('administrator', 'user') and target_active)
    assert impersonation.may_act_as(staff, target) is allowed
    assert not impersonation.may_act_as(staff, staff)  # never oneself
    assert not impersonation.may_act_as(None, target) and not impersonation.may_act_as(staff, None)


def test_imp1_start_and_stop_are_posts_with_csrf(app, world, as_):
    staff = as_('staff')
    assert staff.get('/helpline/impersonation/start').status_code == 405
    assert staff.get('/helpline/impersonation/stop').status_code == 405
    no_token = staff.post('/helpline/impersonation/start', csrf=False, data={
        'account': world.teacher.id, 'reason': 'x', 'code': factories.second_factor_code('helpdesk1')})
    assert no_token.status_code == 400 and audit('impersonation.start') == []


@pytest.mark.parametrize('who', ['staff', 'moderator', 'other_staff'])
def test_imp1_never_as_staff_or_moderators(app, world, as_, who):
    with db.connection_context():
        target = {'staff': world.staff, 'moderator': world.moderator}.get(who) or factories.demo.make_account(
            'helpdesk2', 'staff', factories.PASSWORD)
    staff = as_('staff')
    assert staff.get(f'/helpline/impersonation/accounts/{target.id}').status_code == 403
    refused = start(staff, target)
    assert refused.status_code == 403
    assert 'The helpline can act only as an active centre account.' in refused.get_data(as_text=True)
    assert audit('impersonation.start') == []


def test_imp1_never_as_an_inactive_account_or_one_that_does_not_exist(app, world, as_):
    with db.connection_context():
        Account.update(active=False).where(Account.id == world.teacher_no_units.id).execute()
    staff = as_('staff')
    assert start(staff, world.teacher_no_units).status_code == 403
    staff.get('/helpline/centres/')
    missing = staff.post('/helpline/impersonation/start', data={'account': '999999', 'reason': 'x', 'code': '1'})
    assert missing.status_code == 404
    forged = staff.post('/helpline/impersonation/start', data={'account': '１２', 'reason': 'x', 'code': '1'})
    assert forged.status_code == 404
    assert staff.get('/helpline/centres/999999').status_code == 404


def test_imp1_a_reason_and_a_fresh_code_are_required(app, world, as_):
    staff = as_('staff')
    no_reason = start(staff, world.teacher, reason='  ')
    assert no_reason.status_code == 422 and 'Say why you are acting' in no_reason.get_data(as_text=True)
    wrong = start(staff, world.teacher, code='000000' if factories.second_factor_code('helpdesk1') != '000000' else '111111')
    assert wrong.status_code == 422 and 'That code is not right' in wrong.get_data(as_text=True)
    import pyotp
    code = pyotp.TOTP(factories.TOTP_SECRET).now()
    with db.connection_context():  # the code the staff member signed in with, replayed
        Account.update(totp_last_step=int(datetime.datetime.now().timestamp() // 30) + 1).where(
            Account.id == world.staff.id).execute()
    replayed = staff.post('/helpline/impersonation/start', data={'account': world.teacher.id, 'reason': 'x', 'code': code})
    assert replayed.status_code == 422 and audit('impersonation.start') == []


def test_imp1_no_nesting_and_the_staff_console_is_closed_while_acting(app, world, as_):
    staff = acting(as_, world)
    assert staff.post('/helpline/impersonation/start', data={
        'account': world.admin.id, 'reason': 'again', 'code': factories.second_factor_code('helpdesk1')}).status_code == 403
    assert staff.get('/helpline/centres/').status_code == 403
    assert staff.get('/staff/outbox/').status_code == 403
    assert len(audit('impersonation.start')) == 1


def test_sess3_a_fresh_session_at_start_and_at_stop_and_old_cookies_die(app, world, as_):
    staff = as_('staff')
    before = staff.get_cookie('session').value
    token_before = staff.token
    staff.get(start(staff, world.teacher).location)
    during = staff.get_cookie('session').value
    assert during != before and staff.token != token_before
    page = staff.get('/internal-assessment/').get_data(as_text=True)
    assert 'HELPDESK1 is acting as 68999JBR' in page and 'read-only' in page
    staff.post('/helpline/impersonation/stop')
    after = staff.get_cookie('session').value
    assert after not in (before, during)
    # a stale cookie, acting or from before, is dead: the secret changed at start and stop
    for stale in (before, during):
        replay = app.test_client()
        replay.set_cookie('session', stale)
        response = replay.get('/internal-assessment/')
        assert response.status_code in (302, 303) and '/login' in response.location


def test_imp2_read_only_until_switched_with_a_reason(app, world, as_):
    staff = acting(as_, world)
    entry = world.entries[0]
    page = staff.get(f'/internal-assessment/{world.unit.id}')
    assert page.status_code == 200  # sees what the teacher sees
    refused = save(staff, world, entry)
    assert refused.status_code == 403 and 'acting as 68999JBR read-only' in refused.get_data(as_text=True)
    by_htmx = save(staff, world, entry, htmx=True)
    assert by_htmx.status_code == 403 and 'read-only' in by_htmx.headers['X-Portal-Message'].replace('%20', ' ')
    with db.connection_context():
        assert not Outcome.select().where(Outcome.entry == entry.id).exists()
    staff.post('/helpline/impersonation/changes', data={'reason': ' '})
    assert audit('impersonation.changes') == []
    staff.post('/helpline/impersonation/changes', data={'reason': 'The teacher asked us to enter Pass'})
    assert save(staff, world, entry, htmx=True).status_code == 200
    with db.connection_context():
        outcome = Outcome.get(Outcome.entry == entry.id)
        row = AuditLog.get(AuditLog.action == 'outcome.set')
    assert outcome.value == 'P'
    assert (row.actor_id, row.acting_for_id) == (world.staff.id, world.teacher.id)  # both names
    assert json.loads(audit('impersonation.changes')[0].after) == {'reason': 'The teacher asked us to enter Pass'}


def test_imp2_never_accounts_passwords_e_mails_or_grants(app, world, as_):
    staff = acting(as_, world, 'admin')
    staff.post('/helpline/impersonation/changes', data={'reason': 'Asked to fix a teacher account'})
    for path, data in ((f'/account-admin/accounts/{world.teacher.id}',
                        {'current_password': 'x', 'new_password': 'NewPass2024x', 'confirmation': 'NewPass2024x',
                         'email': 'evil@example.org'}),
                       ('/account-admin/accounts', {'suffix': 'EVL', 'email': 'evil@example.org'}),
                       ('/centre/', {'eo_name': 'Evil', 'eo_email': 'evil@example.org'}),
                       ('/account/second-factor', {'password': 'x', 'code': '1'})):
        response = staff.post(path, data=data)
        assert response.status_code == 403, path
        assert 'cannot change accounts, passwords' in response.get_data(as_text=True), path
    with db.connection_context():
        assert Account.get_by_id(world.teacher.id).email == world.teacher.email
        assert not Account.select().where(Account.username == '68999EVL').exists()


def test_imp2_submission_only_when_the_centre_asked_in_writing(app, world, as_):
    with db.connection_context():
        factories.complete(world.entries, world.admin)
    staff = acting(as_, world, 'admin')
    staff.post('/helpline/impersonation/changes', data={'reason': 'Letter from the centre'})
    assert 'The centre asked us in writing' in staff.get(f'/internal-assessment/{world.unit.id}/submit').get_data(as_text=True)
    refused = staff.post(f'/internal-assessment/{world.unit.id}/submit', data={})
    assert refused.status_code == 403 and 'asked in writing' in refused.get_data(as_text=True)
    with db.connection_context():
        assert not Submission.select().exists()
    done = staff.post(f'/internal-assessment/{world.unit.id}/submit', data={'asked_in_writing': '1'})
    assert done.status_code == 303
    with db.connection_context():
        submission = Submission.get()
    assert submission.submitted_by_id == world.admin.id
    assert len(audit('impersonation.submit_asked_in_writing')) == 1


def test_imp2_thirty_minutes_at_most_then_writes_are_refused(app, world, as_, monkeypatch):
    assert impersonation.LIMIT == datetime.timedelta(minutes=30)
    monkeypatch.setattr(impersonation, 'LIMIT', datetime.timedelta(seconds=1))  # a frozen clock would idle out too
    staff = acting(as_, world)
    staff.post('/helpline/impersonation/changes', data={'reason': 'fix'})
    import time
    time.sleep(1.1)
    response = save(staff, world, world.entries[1], htmx=True)
    assert response.status_code == 403  # the fragment refuses: the staff member has no marksheet
    (ended,) = audit('impersonation.end')
    assert json.loads(ended.after) == {'why': 'time_limit'} and ended.centre_id == world.centre.id
    page = staff.get('/').get_data(as_text=True)
    assert 'is acting as' not in page


@pytest.mark.parametrize('revoke', ['staff_deactivated', 'staff_no_longer_staff', 'target_deactivated'])
def test_imp2_revoking_the_role_or_the_account_ends_it_at_once(app, world, as_, revoke):
    staff = acting(as_, world)
    staff.post('/helpline/impersonation/changes', data={'reason': 'fix'})
    with db.connection_context():
        if revoke == 'target_deactivated':
            Account.update(active=False).where(Account.id == world.teacher.id).execute()
        elif revoke == 'staff_deactivated':
            Account.update(active=False).where(Account.id == world.staff.id).execute()
        else:  # the role removed: the account becomes a moderator's
            Account.update(kind='moderator').where(Account.id == world.staff.id).execute()
    response = save(staff, world, world.entries[2])
    assert response.status_code in (302, 303, 403)
    with db.connection_context():
        assert not Outcome.select().where(Outcome.entry == world.entries[2].id).exists()


def test_signing_out_while_acting_stops_and_signs_out_the_staff_member(app, world, as_):
    teacher = as_('teacher')
    staff = acting(as_, world)
    staff.post('/logout')
    (stop,) = audit('impersonation.stop')
    (out,) = audit('auth.sign_out')
    assert (stop.actor_id, stop.acting_for_id, out.actor_id) == (world.staff.id, world.teacher.id, world.staff.id)
    assert staff.get('/').status_code in (302, 303)
    assert teacher.get('/internal-assessment/').status_code == 200


def test_imp2_the_idle_timeout_still_applies(app, world, as_, monkeypatch):
    staff = acting(as_, world)
    later = datetime.datetime.utcnow() + datetime.timedelta(minutes=21)
    monkeypatch.setattr(access, 'utcnow', lambda: later)
    response = staff.get('/internal-assessment/')
    assert response.status_code in (302, 303) and '/login' in response.location


def test_imp2_acting_changes_nothing_of_the_account(app, world, as_):
    with db.connection_context():
        before = Account.get_by_id(world.teacher.id)
    staff = acting(as_, world)
    staff.post('/language', data={'lang': 'cy', 'next': '/'})
    staff.get('/internal-assessment/')
    staff.post('/helpline/impersonation/stop')
    with db.connection_context():
        after = Account.get_by_id(world.teacher.id)
    assert (after.last_sign_in_at, after.language, after.session_secret, after.password_hash) == (
        before.last_sign_in_at, before.language, before.session_secret, before.password_hash)


@pytest.mark.parametrize('who', ['admin', 'teacher'])
def test_imp3_the_banner_is_on_every_full_page(app, world, as_, who):
    staff = acting(as_, world, who)
    checked = 0
    for rule in app.url_map.iter_rules():
        if 'GET' not in rule.methods or rule.arguments - {'unit_id'} or rule.endpoint == 'static':
            continue
        url = rule.build({'unit_id': world.unit.id} if 'unit_id' in rule.arguments else {}, append_unknown=False)[1]
        response = staff.get(url)
        assert response.status_code != 500, url
        if response.status_code == 200 and response.mimetype == 'text/html':
            page = response.get_data(as_text=True)
            assert f'HELPDESK1 is acting as {getattr(world, who).username}' in page, url
            assert 'STOP ACTING' in page, url
            checked += 1
    assert checked >= 5


def test_imp3_every_post_of_the_centre_screens_is_refused_while_read_only(app, world, as_):
    staff = acting(as_, world, 'admin')
    values = {'unit_id': world.unit.id, 'entry_id': world.entries[0].id, 'account_id': world.teacher.id,
              'job_id': 1, 'request_id': 1, 'mail_id': 1, 'centre_id': world.centre.id, 'file_id': 1, 'key': 'k',
              'kind': 'opt-out'}
    refused = 0
    for rule in app.url_map.iter_rules():
        if 'POST' not in rule.methods or rule.endpoint in access.IMPERSONATION_CONTROLS:
            continue
        url = rule.build({k: values.get(k, 1) for k in rule.arguments}, append_unknown=False)[1]
        response = staff.post(url, data={})
        assert response.status_code in (403, 404), f'{url}: {response.status_code}'
        refused += 1
    assert refused > 10
    with db.connection_context():
        written = AuditLog.select().where(AuditLog.action.not_in(
            ['auth.sign_in', 'impersonation.start', 'auth.sign_in_code_failed'])).count()
    assert written == 0


def test_imp3_the_centre_sees_what_the_helpline_did_with_both_names(app, world, as_):
    staff = acting(as_, world)
    staff.post('/helpline/impersonation/changes', data={'reason': 'Teacher on the phone asked for Pass'})
    save(staff, world, world.entries[0], htmx=True)
    staff.post('/helpline/impersonation/stop')
    history = as_('admin').get('/centre/helpline-history').get_data(as_text=True)
    assert 'The helpline acted on your behalf' in history
    for words in ('HELPDESK1 (helpline) acting as 68999JBR', 'The helpline started acting for the centre',
                  'Why: The exams officer asked us to check a grade', 'ticket T-123',
                  'The helpline switched to making changes', 'Why: Teacher on the phone asked for Pass',
                  'Outcome changed', 'The helpline stopped acting for the centre',
                  f'{world.candidates[0].number} {world.candidates[0].display_name} (9611/L3)<br>– → Pass'):
        assert words in history, words
    other = as_('other_admin').get('/centre/helpline-history').get_data(as_text=True)
    assert 'HELPDESK1' not in other  # another centre sees none of it
    assert as_('teacher').get('/centre/helpline-history').status_code == 403


def test_the_console_finds_a_centre_and_shows_what_it_has(app, world, as_):
    as_('admin')  # a sign-in, for the audit log
    staff = as_('staff')
    for query in ('68999', 'example high', '6899'):
        page = staff.get(f'/helpline/centres/?q={query}').get_data(as_text=True)
        assert f'/helpline/centres/{world.centre.id}' in page and '50551' not in page, query
    assert 'No centre has that number or name.' in staff.get('/helpline/centres/?q=zzz').get_data(as_text=True)
    with db.connection_context():
        factories.complete(world.entries[:3], world.admin)
    page = staff.get(f'/helpline/centres/{world.centre.id}').get_data(as_text=True)
    assert '68999JBR' in page and 'ACT AS 68999JBR' in page and '$argon2' not in page
    assert '3 done, 27 left' in page and 'Not yet' in page
    assert 'Signed in' in page and '<td>68999</td>' in page  # the audit log, with who
    filtered = staff.get(f'/helpline/centres/{world.centre.id}?account={world.other_admin.id}&unit=abc&since=x')
    assert filtered.status_code == 200


def test_imp2_read_only_refuses_tus_patch_and_delete_too(app, world, as_):
    """Not only POST writes: a tus PATCH or DELETE on the account's upload is refused while read-only."""
    from models import CandidateFile
    with db.connection_context():
        upload = CandidateFile.create(entry=world.entries[0].id, centre=world.centre.id, uploaded_by=world.teacher.id,
                                      upload_key='teacher-upload-key', original_name='a.txt',
                                      stored_name='68999_3001_001.txt', length=10)
    staff = acting(as_, world)
    headers = {'Tus-Resumable': '1.0.0', 'X-CSRFToken': staff.token, 'Upload-Offset': '0',
               'Content-Type': 'application/offset+octet-stream'}
    for method in ('PATCH', 'DELETE'):
        response = staff.open(f'/internal-assessment/uploads/{upload.upload_key}', method=method, data=b'x' * 10,
                              headers=headers)
        assert response.status_code == 403, method
    with db.connection_context():
        assert CandidateFile.get_by_id(upload.id).received == 0
