"""Deny by default (QUALITY AC-1, AC-2): every route in app.url_map, as every
role and as another centre. Nothing answers 500; nothing leaks across centres."""
import json
import os

import pytest

from models import Account, CandidateFile, Job, Outbox, Request, db

ROLES = ['anonymous', 'admin', 'teacher', 'teacher_one_unit', 'teacher_no_units',
         'other_admin', 'other_teacher', 'moderator', 'other_moderator', 'staff', 'series_staff', 'deactivated']
PUBLIC = {'auth.login', 'auth.logout', 'auth.help', 'auth.forgotten_password', 'auth.language', 'static',
          'auth.sign_in_code', 'auth.reset', 'auth.welcome', 'health.healthz'}
CENTRE_AREAS = ('internal_assessment.', 'samples.', 'reports.', 'uploads.')
SERIES_AREAS = ('series_admin.', 'imports.', 'moderators.', 'entries.')  # after CENTRE_ENTRIES
CENTRE_ENTRIES = {'entries.index', 'entries.enter', 'entries.withdraw', 'entries.cancel'}


@pytest.fixture
def job(app, world, tmp_path):
    report = tmp_path / 'report.pdf'
    report.write_bytes(b'%PDF-1.4 test')
    with db.connection_context():
        return Job.create(kind='candidate_report', centre=world.centre.id, account=world.teacher.id,
                          status='finished', result_path=str(report),
                          args=json.dumps({'unit': world.unit.id}))


def routes(app, world, job):
    with db.connection_context():
        mail = Outbox.create(key='test-mail', to='someone@example.org', subject='Hello', body='Hi')
    values = {'mail_id': mail.id, 'unit_id': world.unit.id, 'entry_id': world.entries[0].id, 'job_id': job.id,
              'filename': 'css/portal.css'}
    with db.connection_context():
        values['request_id'] = Request.create(kind='eo_change', centre=world.centre.id, details=json.dumps(
            {'route': 'portal', 'new_name': 'A New Officer', 'new_email': 'new.eo@example.org'})).id
    values['account_id'] = world.teacher.id  # Account Admin: a user of centre 68999
    with db.connection_context():  # a file of centre 68999's unit, on disk
        upload = CandidateFile.create(entry=world.entries[0].id, centre=world.centre.id, uploaded_by=world.teacher.id,
                                      upload_key='k' * 20, original_name='a.txt', stored_name='68999_3001_001.txt',
                                      length=1, received=1, state='available')
    os.makedirs(app.config['FILES_DIR'], exist_ok=True)
    open(os.path.join(app.config['FILES_DIR'], upload.stored_name), 'w').write('a')
    values['file_id'], values['key'], values['kind'] = upload.id, upload.upload_key, 'opt-out'
    values['centre_id'] = world.centre.id
    with db.connection_context():  # an import with problems (imports: series staff only)
        from models import ImportBatch
        values['batch_id'] = ImportBatch.create(
            kind='centres', account=world.series_staff.id, stored_path='/nonexistent/centres.csv', state='invalid',
            report='{"problems": [[2, "name", "required", ""]], "counts": {}, "fatal": false}').id
    values['import_kind'] = 'centres'
    with db.connection_context():  # the board's moderators: world.moderator and its assignment of 68999's unit
        from models import ModeratorAssignment
        values['moderator_id'] = world.moderator.id
        values['assignment_id'] = ModeratorAssignment.get(ModeratorAssignment.moderator == world.moderator.id).id
    values['series_id'] = world.series.id  # series_admin: a series of the world
    with db.connection_context():  # a pending new entry of centre 68999 (ENTRIES), for the queue and a cancel
        from models import EntryChange
        values['change_id'] = EntryChange.create(centre=world.centre.id, candidate=world.candidates[-1].id,
                                                 unit=world.marks_unit.id, kind='enter',
                                                 requested_by=world.admin.id).id
    with db.connection_context():  # a service notice on show (blueprints/notices.py)
        from models import ServiceNotice
        values['notice_id'] = ServiceNotice.create(text_en='Notice', text_cy='Hysbysiad', set_by=world.staff.id).id
    for rule in app.url_map.iter_rules():
        url = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods & {'GET', 'POST'}):
            yield rule, url, method


@pytest.fixture
def moderation_world(world):
    """A moderator of centre 50551 only (world.moderator has 68999's world.unit),
    and 68999's completed report on world.unit, past its results day."""
    import demo
    from models import ModeratorAssignment, ModeratorReport, utcnow
    from tests import factories
    with db.connection_context():
        world.other_moderator = demo.make_account('mod2', 'moderator', factories.PASSWORD,
                                                  totp_secret=factories.TOTP_SECRET)
        ModeratorAssignment.create(centre=world.other_centre, unit=world.unit, moderator=world.other_moderator)
        ModeratorReport.create(centre=world.centre, unit=world.unit, moderator=world.moderator, tasks='T',
                               accuracy='A', administration='A', comments='C', completed_at=utcnow())
    return world


RESULTS = {'moderation.results', 'moderation.result', 'moderation.print_result', 'moderation.result_job',
           'moderation.result_file'}


def expected_in_moderation(role, rule):
    """The moderator's workspace and the centre's RESULTS (blueprints/moderation.py)."""
    if rule.endpoint in RESULTS:  # centre accounts with Internal Assessment
        if role in ('moderator', 'other_moderator', 'staff', 'series_staff', 'teacher_no_units'):
            return 'denied'
        if rule.endpoint == 'moderation.results':
            return 'open'
        if 'job_id' in rule.arguments:  # the fixture's job is a candidate details report: not one of these
            return 'denied'
        return 'open' if role in ('admin', 'teacher') else 'denied'  # the report is 68999's, on world.unit
    if rule.endpoint == 'moderation.index':
        return 'open' if role in ('moderator', 'other_moderator') else 'denied'
    if rule.endpoint in ('moderation.candidate_file', 'moderation.sample_zip'):  # world.unit is not submitted
        return 'denied'
    if rule.endpoint in ('moderation.zip_job', 'moderation.zip_file'):  # the fixture's job is not a zip of theirs
        return 'denied'
    # centre 68999's world.unit: assigned to world.moderator; another moderator's ids answer 404
    return 'open' if role == 'moderator' else 'denied'


def expected(role, rule):
    """'open', 'login' (sent to sign in) or 'denied' (403/404)."""
    if rule.endpoint.startswith('metrics.'):  # by address or token, never by role: see test_every_route_as
        return 'denied'
    if rule.endpoint.startswith('moderation.') and role not in ('anonymous', 'deactivated'):
        return expected_in_moderation(role, rule)
    if role == 'other_moderator':  # everywhere else, a moderator like any other
        role = 'moderator'
    if rule.endpoint in PUBLIC:
        return 'open'
    if role in ('anonymous', 'deactivated'):  # a deactivated account's session is over
        return 'login'
    if rule.endpoint == 'uploads.ask_the_board':  # world.unit does not need e-submission: 404 for everyone
        return 'denied'
    if rule.endpoint == 'auth.enrol':  # the second factor: staff and moderators only
        return 'open' if role in ('staff', 'series_staff', 'moderator') else 'denied'
    if rule.endpoint in CENTRE_ENTRIES:  # ENTRIES: the exams officer's own centre
        if role == 'other_admin':  # 68999's entry and change ids answer 404
            return 'denied' if {'entry_id', 'change_id'} & set(rule.arguments) else 'open'
        return 'open' if role == 'admin' else 'denied'
    if rule.endpoint.startswith(SERIES_AREAS):  # the board's series staff only
        return 'open' if role == 'series_staff' else 'denied'
    if rule.endpoint in ('impersonation.stop', 'impersonation.changes'):  # nobody is acting here
        return 'open' if rule.endpoint == 'impersonation.stop' else 'denied'
    if rule.endpoint == 'impersonation.start':  # an empty form names no account: 404 even for staff
        return 'denied'
    if rule.endpoint.startswith(('centres.', 'impersonation.')):
        return 'open' if role == 'staff' else 'denied'
    if rule.endpoint.startswith('outbox.'):
        return 'open' if role == 'staff' else 'denied'
    if rule.endpoint.startswith('notices.'):  # the service banner: helpline staff
        return 'open' if role == 'staff' else 'denied'
    if rule.endpoint.startswith('helpline.'):
        return 'open' if role == 'staff' else 'denied'
    if rule.endpoint.startswith('centre_profile.'):
        return 'open' if role in ('admin', 'other_admin') else 'denied'
    if rule.endpoint.startswith('account_admin.'):  # another centre's account id: 404
        if role == 'other_admin':
            return 'denied' if 'account_id' in rule.arguments else 'open'
        return 'open' if role == 'admin' else 'denied'
    if rule.endpoint.startswith(CENTRE_AREAS):
        if role in ('moderator', 'staff', 'series_staff', 'teacher_no_units'):
            return 'denied'
        if role == 'teacher_one_unit':  # world.unit is not one of its units
            return 'open' if rule.endpoint in ('internal_assessment.overview', 'internal_assessment.guide',
                                               'reports.index', 'uploads.tus_create') else 'denied'
        if role in ('other_admin', 'other_teacher'):  # their own marksheet of the same unit, but not our ids
            return 'denied' if {'entry_id', 'job_id', 'file_id'} & set(rule.arguments) else 'open'
    return 'open'


@pytest.mark.parametrize('role', ROLES)
def test_every_route_as(role, app, moderation_world, job):
    world = moderation_world
    # /metrics opens to addresses in METRICS_ALLOW (default the machine itself,
    # 127.0.0.1 and ::1) or a bearer token, whoever is signed in. Werkzeug's
    # test client comes from 127.0.0.1, so that address is taken out here and
    # every role, anonymous included, must get 404 (tests/test_metrics.py
    # checks the allowed address and the token).
    app.config.update(METRICS_ALLOW='', METRICS_TOKEN=None)
    checked = 0
    for rule, url, method in routes(app, world, job):
        client = app.test_client()
        if role == 'deactivated':
            client.get(client.login(world.teacher.username).location)
            with db.connection_context():
                Account.update(active=False).where(Account.id == world.teacher.id).execute()
        elif role != 'anonymous':
            client.get(client.login(getattr(world, role).username).location)
        response = client.open(url, method=method, data={}, headers={'HX-Request': 'true'} if 'entries' in url else {})
        if role == 'deactivated':
            with db.connection_context():
                Account.update(active=True).where(Account.id == world.teacher.id).execute()
        want = expected(role, rule)
        where = f'{method} {url} as {role}: {response.status_code}'
        assert response.status_code != 500, where
        if want == 'login':
            assert response.status_code in (302, 303, 401), where
            assert '/login' in (response.headers.get('Location', '') + response.headers.get('HX-Redirect', '')), where
        elif want == 'denied':
            assert response.status_code in (403, 404), where
        else:
            assert response.status_code < 403 or response.status_code in (409, 422), where
        checked += 1
    assert checked > 20


def test_another_centres_entries_never_appear(world, as_):
    page = as_('other_admin').get(f'/internal-assessment/{world.unit.id}?rows=all').get_data(as_text=True)
    ours = {c.number for c in world.candidates}
    assert page.count('<tr id="entry-') == 5
    assert not any(f'<td>{n}</td>' in page for n in ours)


def test_state_never_changes_on_get(app):
    for rule in app.url_map.iter_rules():
        if 'GET' in rule.methods:
            name = rule.endpoint.split('.')[-1]
            assert name not in ('logout', 'save_outcome', 'save_page', 'toggle', 'print_report'), rule
