"""IAMIS upload (SPEC 3.6; issue 8 points 1-2; QUALITY UP-1, UP-2): tus 1.0
against tuspy as an independent client on a real server, the plain form
without JavaScript, ownership, checks, download and delete."""
import base64
import datetime
import hashlib
import io
import os
import re
import threading

import pytest
import requests
from tusclient import client as tus_client
from tusclient.uploader import uploader as tus_uploader
from werkzeug.serving import make_server

import uploads
from models import CandidateFile, Marksheet, SampleMember, Unit, db
from tests import factories
from tests.conftest import free_port

pytestmark = pytest.mark.db


@pytest.fixture
def submitted(app, world):
    """World's unit needs e-submission, every outcome is in, and it is submitted."""
    world.unit.deadline = datetime.date.today() + datetime.timedelta(days=7)
    with db.connection_context():
        Unit.update(e_submission=True, deadline=world.unit.deadline).where(
            Unit.id.in_([world.unit.id, world.other_unit.id])).execute()
        factories.complete(world.entries, world.admin)
        sheet = Marksheet(world.centre, Unit.get_by_id(world.unit.id))
        sheet.submit(world.admin)
        sampled = [m.entry_id for m in SampleMember.select().join(
            SampleMember.entry.rel_model).where(SampleMember.entry.in_([e.id for e in world.entries]))]
    world.sampled = sorted(sampled)
    world.unsampled = sorted(set(e.id for e in world.entries) - set(sampled))
    return world


@pytest.fixture
def live(app):
    """The app on a real HTTP server (tuspy speaks HTTP), stopped after."""
    server = make_server('127.0.0.1', free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_port}'
    server.shutdown()


def signed_in(base, username):
    """A requests session signed in, and its CSRF token."""
    http = requests.Session()
    page = http.get(base + '/login').text
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    http.post(base + '/login', data={'username': username, 'password': factories.PASSWORD, 'csrf_token': token})
    page = http.get(base + '/internal-assessment/').text
    return http, re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


class Sha256Uploader(tus_uploader.Uploader):
    """tuspy sends sha1 checksums; the board asks for sha256."""
    CHECKSUM_ALGORITHM_PAIR = ('sha256', hashlib.sha256)


def tus_for(base, http, token):
    cookie = '; '.join(f'{c.name}={c.value}' for c in http.cookies)
    return tus_client.TusClient(base + '/internal-assessment/uploads',
                                headers={'Cookie': cookie, 'X-CSRFToken': token})


def leftovers(app):
    """Part files left in the uploads folder."""
    folder = app.config['UPLOADS_DIR']
    return os.listdir(folder) if os.path.isdir(folder) else []


def files(**where):
    with db.connection_context():
        return list(CandidateFile.select().filter(**where).order_by(CandidateFile.id))


def test_up1_a_tus_upload_in_pieces_arrives_whole_and_is_checked(app, submitted, live, tmp_path):
    http, token = signed_in(live, '68999JBR')
    data = os.urandom(3 * 1024 * 1024 + 17)
    uploader = Sha256Uploader(
        client=tus_for(live, http, token), file_stream=io.BytesIO(data), chunk_size=1024 * 1024, upload_checksum=True,
        metadata={'unit': str(submitted.unit.id), 'entry': str(submitted.sampled[0]),
                  'filename': '../../etc/passwd <script>.MP4'})
    uploader.upload()
    (upload,) = files()
    assert upload.state == 'available' and not upload.scanned  # no scanner: "available, not scanned"
    assert upload.sha256 == hashlib.sha256(data).hexdigest() and upload.length == len(data)
    assert re.fullmatch(r'68999_\d{4}_001\.mp4', upload.stored_name)  # the board's rule, whatever the name
    assert upload.original_name == 'passwd <script>.MP4'
    stored = os.path.join(app.config['FILES_DIR'], upload.stored_name)
    assert open(stored, 'rb').read() == data
    assert not leftovers(app)  # no part left behind
    page = http.get(f'{live}/internal-assessment/{submitted.unit.id}?show=samples').text
    assert 'passwd &lt;script&gt;.MP4' in page and 'available, not scanned' in page


def test_up1_an_interrupted_upload_resumes_from_the_last_byte_the_server_holds(app, submitted, live):
    http, token = signed_in(live, '68999JBR')
    data = os.urandom(2 * 1024 * 1024 + 5)
    headers = {'X-CSRFToken': token, 'Tus-Resumable': '1.0.0'}
    meta = ','.join(f'{k} {base64.b64encode(v.encode()).decode()}' for k, v in
                    {'unit': str(submitted.unit.id), 'entry': str(submitted.sampled[0]), 'filename': 'talk.wav'}.items())
    created = http.post(f'{live}/internal-assessment/uploads', headers={
        **headers, 'Upload-Length': str(len(data)), 'Upload-Metadata': meta})
    assert created.status_code == 201
    url = live + created.headers['Location']
    first = http.patch(url, data=data[:1000000], headers={
        **headers, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0'})
    assert first.status_code == 204 and first.headers['Upload-Offset'] == '1000000'
    # the laptop closed: a new client asks where it stands and carries on (tuspy, resuming by URL)
    assert http.head(url, headers=headers).headers['Upload-Offset'] == '1000000'
    stale = http.patch(url, data=data[:10], headers={
        **headers, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0'})
    assert stale.status_code == 409 and stale.headers['Upload-Offset'] == '1000000'
    bad = http.patch(url, data=data[1000000:1001000], headers={
        **headers, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '1000000',
        'Upload-Checksum': 'sha256 ' + base64.b64encode(hashlib.sha256(b'other').digest()).decode()})
    assert bad.status_code == 460 and http.head(url, headers=headers).headers['Upload-Offset'] == '1000000'
    uploader = tus_for(live, http, token).uploader(file_stream=io.BytesIO(data), url=url,  # sha1: tus's own
                                                   chunk_size=512 * 1024, upload_checksum=True)
    uploader.upload()
    (upload,) = files()
    assert upload.state == 'available' and upload.sha256 == hashlib.sha256(data).hexdigest()


def test_up1_uploads_belong_to_their_account(app, submitted, live):
    http, token = signed_in(live, '68999JBR')
    uploader = tus_for(live, http, token).uploader(
        file_stream=io.BytesIO(b'x' * 100), chunk_size=10,
        metadata={'unit': str(submitted.unit.id), 'entry': str(submitted.sampled[0]), 'filename': 'a.txt'})
    uploader.upload_chunk()
    url = uploader.url
    other, other_token = signed_in(live, '68999')  # the same centre's exams officer: still not theirs
    head = {'X-CSRFToken': other_token, 'Tus-Resumable': '1.0.0'}
    assert other.head(url, headers=head).status_code == 404
    assert other.patch(url, data=b'y', headers={**head, 'Content-Type': 'application/offset+octet-stream',
                                               'Upload-Offset': '10'}).status_code == 404
    assert other.delete(url, headers=head).status_code == 404
    assert http.delete(url, headers={'X-CSRFToken': token, 'Tus-Resumable': '1.0.0'}).status_code == 204
    assert files() == [] and not leftovers(app)


@pytest.mark.parametrize('case', ['not_in_sample', 'other_centre', 'not_e_submission', 'too_large', 'no_token'])
def test_up1_uploads_that_are_refused(app, submitted, live, case):
    http, token = signed_in(live, '68999JBR')
    unit, entry, length = submitted.unit.id, submitted.sampled[0], 100
    if case == 'not_in_sample':
        entry = submitted.unsampled[0]
    elif case == 'other_centre':
        entry = submitted.other_centre_entries[0].id
    elif case == 'not_e_submission':
        with db.connection_context():
            Unit.update(e_submission=False).where(Unit.id == unit).execute()
    elif case == 'too_large':
        length = app.config['UPLOAD_MAX_BYTES'] + 1
    meta = f'unit {base64.b64encode(str(unit).encode()).decode()},entry {base64.b64encode(str(entry).encode()).decode()}'
    headers = {'Tus-Resumable': '1.0.0', 'Upload-Length': str(length), 'Upload-Metadata': meta}
    if case != 'no_token':
        headers['X-CSRFToken'] = token
    response = http.post(f'{live}/internal-assessment/uploads', headers=headers)
    assert response.status_code == {'not_in_sample': 409, 'other_centre': 404, 'not_e_submission': 404,
                                    'too_large': 413, 'no_token': 400}[case]
    assert files() == [] and not leftovers(app)


def test_up1_no_upload_before_submission(app, world, as_):
    with db.connection_context():
        Unit.update(e_submission=True).where(Unit.id == world.unit.id).execute()
    page = as_('teacher').get(f'/internal-assessment/{world.unit.id}').get_data(as_text=True)
    assert 'Centres are reminded not to upload any files until outcomes are submitted' in page
    client = as_('teacher')
    client.get(f'/internal-assessment/{world.unit.id}')
    response = client.post(f'/internal-assessment/{world.unit.id}/entries/{world.entries[0].id}/files',
                           data={'csrf_token': client.token, 'file': (io.BytesIO(b'work'), 'essay.docx')},
                           content_type='multipart/form-data')
    assert response.status_code == 303
    assert 'Centres are reminded not to upload' in client.get(response.location).get_data(as_text=True)
    assert files() == []


def form_upload(client, unit_id, entry_id, data, name, token=True):
    fields = {'file': (io.BytesIO(data), name)}
    if token:
        fields = {'csrf_token': client.token, **fields}
    return client.post(f'/internal-assessment/{unit_id}/entries/{entry_id}/files', data=fields,
                       content_type='multipart/form-data')


def test_up1_without_javascript_the_form_streams_the_file(app, submitted, as_):
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    data = os.urandom(3 * 1024 * 1024)  # larger than the 2 MB form limit: uploads have their own
    response = form_upload(client, submitted.unit.id, submitted.sampled[1], data, 'Gwaith Siân 🎉.pdf')
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert 'Gwaith Siân 🎉.pdf received: it is being checked.' in page
    (upload,) = files()
    assert upload.state == 'available' and upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.stored_name.endswith('_001.pdf') and upload.original_name == 'Gwaith Siân 🎉.pdf'
    missing = form_upload(client, submitted.unit.id, submitted.sampled[1], b'x', 'x.txt', token=False)
    assert missing.status_code == 400 and len(files()) == 1


def test_up2_an_uploaded_page_downloads_and_never_renders(app, submitted, as_):
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'<html><script>alert(1)</script></html>',
                '<script>.html')
    (upload,) = files()
    assert upload.mime == 'text/html'  # sniffed, recorded, and still never served as a page
    response = client.get(f'/internal-assessment/{submitted.unit.id}/files/{upload.id}')
    assert response.status_code == 200 and response.mimetype == 'application/octet-stream'
    assert response.headers['Content-Disposition'].startswith('attachment;')
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert as_('other_admin').get(f'/internal-assessment/{submitted.unit.id}/files/{upload.id}').status_code == 404


def test_delete_until_the_deadline_then_new_versions(app, submitted, as_, monkeypatch):
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'first', 'one.txt')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'second', 'two.txt')
    first, second = files()
    assert client.post(f'/internal-assessment/{submitted.unit.id}/files/{first.id}/delete').status_code == 303
    assert [f.id for f in files()] == [second.id]
    monkeypatch.setattr(uploads, 'today', lambda: submitted.unit.deadline + datetime.timedelta(days=1))
    page = client.get(f'/internal-assessment/{submitted.unit.id}?show=samples').get_data(as_text=True)
    assert '>Delete<' not in page
    crafted = client.post(f'/internal-assessment/{submitted.unit.id}/files/{second.id}/delete')
    assert 'The deadline has passed: files can no longer be deleted' in client.get(crafted.location).get_data(as_text=True)
    assert [f.id for f in files()] == [second.id]
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'third', 'three.txt')
    assert files()[-1].new_version
    assert 'NEW/CORRECT VERSION' in client.get(f'/internal-assessment/{submitted.unit.id}?show=samples').get_data(as_text=True)


def test_up1_clamd_refuses_the_eicar_file_and_passes_clean_work(app, submitted, as_, clamd_server):
    from tests.conftest import EICAR
    app.config['CLAMD_ADDRESS'] = clamd_server
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    form_upload(client, submitted.unit.id, submitted.sampled[0], EICAR.encode(), 'homework.txt')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'An essay on crime.', 'essay.txt')
    infected, clean = files()
    assert (infected.state, infected.problem) == ('refused', 'virus')
    assert (clean.state, clean.scanned) == ('available', True)
    assert not os.path.exists(os.path.join(app.config['FILES_DIR'], infected.stored_name))  # quarantined: gone
    page = client.get(f'/internal-assessment/{submitted.unit.id}?show=samples').get_data(as_text=True)
    assert 'refused: a virus was found in it' in page and 'available, not scanned' not in page


def test_up1_a_scanner_that_cannot_answer_never_lets_a_file_through(app, submitted, as_):
    from models import Job
    app.config['CLAMD_ADDRESS'] = f'127.0.0.1:{free_port()}'  # nobody listening
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'work', 'work.txt')
    (upload,) = files()
    assert upload.state == 'checking'  # not available, not refused: the job fails and is tried again
    with db.connection_context():
        assert Job.get(Job.kind == 'check_file').status == 'failed'


def test_storage_on_a_real_s3_server_with_short_lived_signed_links(app, submitted, as_, s3_server, monkeypatch):
    config, s3 = s3_server
    app.config.update(config)
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    data = os.urandom(6 * 1024 * 1024)  # more than one S3 part
    form_upload(client, submitted.unit.id, submitted.sampled[0], data, 'video.mp4')
    (upload,) = files()
    assert upload.state == 'available'
    stored = s3.get_object(Bucket=config['S3_BUCKET'], Key=upload.stored_name)['Body'].read()
    assert hashlib.sha256(stored).hexdigest() == upload.sha256 == hashlib.sha256(data).hexdigest()
    assert not os.path.exists(os.path.join(app.config['FILES_DIR'], upload.stored_name))  # not kept locally
    assert not leftovers(app)
    response = client.get(f'/internal-assessment/{submitted.unit.id}/files/{upload.id}')
    assert response.status_code == 303
    link = response.location
    fetched = requests.get(link)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers['Content-Disposition'].startswith('attachment;')
    assert fetched.headers['Content-Type'] == 'application/octet-stream'
    tampered = link.replace('X-Amz-Signature=', 'X-Amz-Signature=0')
    assert requests.get(tampered).status_code == 403
    monkeypatch.setattr(uploads.S3Store, 'LINK_SECONDS', 1)
    short = client.get(f'/internal-assessment/{submitted.unit.id}/files/{upload.id}').location
    import time
    time.sleep(2.5)
    assert requests.get(short).status_code == 403  # expired
    assert as_('other_admin').get(f'/internal-assessment/{submitted.unit.id}/files/{upload.id}').status_code == 404
    client.post(f'/internal-assessment/{submitted.unit.id}/files/{upload.id}/delete')
    assert files() == []
    assert 'Contents' not in s3.list_objects_v2(Bucket=config['S3_BUCKET'])


def test_up2_the_assigned_moderator_downloads_the_work(app, submitted, as_):
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'The essay.', 'essay.docx')
    (upload,) = files()
    moderator = as_('moderator')
    page = moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}').get_data(as_text=True)
    assert 'essay.docx' in page and 'available, not scanned' in page
    response = moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}/files/{upload.id}')
    assert response.status_code == 200 and response.data == b'The essay.'
    assert response.headers['Content-Disposition'].startswith('attachment;')
    # by another unit's address, or another centre's: not found
    assert moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.other_unit.id}'
                         f'/files/{upload.id}').status_code == 404
    assert moderator.get(f'/moderation/centres/{submitted.other_centre.id}/units/{submitted.unit.id}'
                         f'/files/{upload.id}').status_code == 404


def test_the_explanatory_note_reaches_the_moderator(app, submitted, as_):
    from models import AuditLog, ExplanatoryNote
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    too_long = client.post(f'/internal-assessment/{submitted.unit.id}/note', data={'note': 'x' * 10001})
    assert 'The note is too long' in client.get(too_long.location).get_data(as_text=True)
    saved = client.post(f'/internal-assessment/{submitted.unit.id}/note',
                        data={'note': 'Candidate 3002 worked <b>with</b> a scribe.'})
    assert 'The explanatory note has been saved' in client.get(saved.location).get_data(as_text=True)
    page = as_('moderator').get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}').get_data(as_text=True)
    assert 'Candidate 3002 worked &lt;b&gt;with&lt;/b&gt; a scribe.' in page
    other = as_('other_admin')
    other.get(f'/internal-assessment/{submitted.unit.id}')
    other.post(f'/internal-assessment/{submitted.unit.id}/note', data={'note': 'ours'})  # their own unit: not submitted
    with db.connection_context():
        assert [n.text for n in ExplanatoryNote.select()] == ['Candidate 3002 worked <b>with</b> a scribe.']
        assert AuditLog.select().where(AuditLog.action == 'note.save').count() == 1


@pytest.mark.parametrize('kind, code', [('opt-out', 'e_submission_opt_out'), ('file-deletion', 'file_deletion')])
def test_the_centre_asks_the_board_to_opt_out_or_delete_a_cohort(app, submitted, as_, kind, code):
    from models import Request
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    empty = client.post(f'/internal-assessment/{submitted.unit.id}/requests/{kind}', data={'reason': '  '})
    assert 'Say why' in client.get(empty.location).get_data(as_text=True)
    asked = client.post(f'/internal-assessment/{submitted.unit.id}/requests/{kind}',
                        data={'reason': 'We uploaded the Year 10 work against this unit.'})
    page = client.get(asked.location).get_data(as_text=True)
    assert 'Your request has been sent to the board' in page and 'waiting for the board' in page
    again = client.post(f'/internal-assessment/{submitted.unit.id}/requests/{kind}', data={'reason': 'again'})
    assert 'already with the board' in client.get(again.location).get_data(as_text=True)
    with db.connection_context():
        (req,) = Request.select().where(Request.kind == code)
    assert (req.centre_id, req.unit_id, req.info['reason']) == (
        submitted.centre.id, submitted.unit.id, 'We uploaded the Year 10 work against this unit.')
    staff = as_('staff')  # the helpline sees it in its queue
    assert 'We uploaded the Year 10 work' in staff.get(f'/helpline/requests/{req.id}').get_data(as_text=True)
    other = as_('other_admin')  # another centre asks for itself, never for us
    other.get(f'/internal-assessment/{submitted.unit.id}')
    other.post(f'/internal-assessment/{submitted.unit.id}/requests/{kind}', data={'reason': 'x'})
    with db.connection_context():
        assert Request.select().where(Request.kind == code, Request.centre == submitted.centre.id).count() == 1
        assert not Request.select().where(Request.kind == code, Request.centre == submitted.other_centre.id,
                                          Request.status != 'pending').exists()


def test_the_moderator_downloads_the_whole_sample_as_a_zip(app, submitted, as_):
    import zipfile
    client = as_('teacher')
    client.get(f'/internal-assessment/{submitted.unit.id}?show=samples')
    works = {}
    for entry_id in submitted.sampled[:3]:
        data = os.urandom(100 * 1024)
        form_upload(client, submitted.unit.id, entry_id, data, 'work.bin')
        works[files()[-1].stored_name] = data
    moderator = as_('moderator')
    unit_page = f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}'
    assert 'DOWNLOAD THE WHOLE SAMPLE' in moderator.get(unit_page).get_data(as_text=True)
    started = moderator.post(unit_page + '/zip')
    assert started.status_code == 303
    page = moderator.get(started.location).get_data(as_text=True)
    assert 'The zip of the sample is ready.' in page
    job_id = started.location.rstrip('/').rsplit('/', 1)[1]
    response = moderator.get(f'/moderation/zips/{job_id}/file')
    assert response.status_code == 200 and response.mimetype == 'application/zip'
    assert response.headers['Content-Disposition'].startswith('attachment; filename=sample-68999-9611-L3.zip')
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {name: archive.read(name) for name in archive.namelist()} == works
    assert as_('teacher').get(f'/moderation/zips/{job_id}/file').status_code == 403  # not a moderator
    with db.connection_context():  # a job of someone else's is not found
        from models import Job
        Job.update(account=submitted.staff.id).where(Job.id == int(job_id)).execute()
    assert moderator.get(f'/moderation/zips/{job_id}/file').status_code == 404


def test_the_demo_has_a_submitted_e_submission_unit_with_work(app):
    import demo
    from models import ExplanatoryNote, Submission
    with db.connection_context():
        demo.load('Demo2017pass')
        demo.add_uploaded_work(uploads.store_of(app.config))
        (submission,) = Submission.select().join(Unit).where(Unit.code == '6052/E1')
        stored = [f for f in CandidateFile.select() if f.state == 'available']
        assert len(stored) == 2 and ExplanatoryNote.select().count() == 1
    for upload in stored:
        assert os.path.getsize(os.path.join(app.config['FILES_DIR'], upload.stored_name)) == upload.length


def test_an_account_may_not_pile_up_unfinished_uploads(app, submitted, live, monkeypatch):
    monkeypatch.setattr(uploads, 'UNFINISHED_MAX', 3)
    http, token = signed_in(live, '68999JBR')
    meta = ','.join(f'{k} {base64.b64encode(v.encode()).decode()}' for k, v in
                    {'unit': str(submitted.unit.id), 'entry': str(submitted.sampled[0]), 'filename': 'a.mp4'}.items())
    headers = {'X-CSRFToken': token, 'Tus-Resumable': '1.0.0', 'Upload-Length': '1000', 'Upload-Metadata': meta}
    for _ in range(3):
        assert http.post(f'{live}/internal-assessment/uploads', headers=headers).status_code == 201
    refused = http.post(f'{live}/internal-assessment/uploads', headers=headers)
    assert refused.status_code == 429 and 'stopped part-way' in refused.text
    assert len(files()) == 3


def test_work_for_a_further_sample_is_due_by_its_own_date(app, submitted, as_, monkeypatch):
    from models import FurtherSample
    due = submitted.unit.deadline + datetime.timedelta(days=30)
    entry_id = submitted.unsampled[0]
    with db.connection_context():
        further = FurtherSample.create(centre=submitted.centre.id, unit=submitted.unit.id, moderator=submitted.moderator.id,
                                       reason='To see the middle of the range', due=due)
        SampleMember.create(entry=entry_id, reason='moderator', further_sample=further)
    monkeypatch.setattr(uploads, 'today', lambda: submitted.unit.deadline + datetime.timedelta(days=1))
    client = as_('teacher')
    page = client.get(f'/internal-assessment/{submitted.unit.id}?show=samples').get_data(as_text=True)
    assert f"work due by {due.strftime('%d/%m/%Y')}; the moderator asks because: To see the middle of the range" in page
    form_upload(client, submitted.unit.id, entry_id, b'late but in time', 'work.txt')
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'after the deadline', 'late.txt')
    further_file, late_file = files()
    assert not further_file.new_version and late_file.new_version
    client.post(f'/internal-assessment/{submitted.unit.id}/files/{further_file.id}/delete')
    client.post(f'/internal-assessment/{submitted.unit.id}/files/{late_file.id}/delete')
    assert [f.id for f in files()] == [late_file.id]  # the further sample's file could go; the late one cannot
