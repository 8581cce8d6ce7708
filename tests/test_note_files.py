"""Issue 8's last gaps: explanatory notes as files (SPEC 3.6 "a file or typed
text"), received, checked, named, downloaded and zipped as candidates' work
is; and an accepted opt-out from e-submission, which ends uploads for that
centre's unit on every side."""
import datetime
import io
import os
import re
import zipfile

import pytest

import jobs
import uploads
from models import AuditLog, CandidateFile, Request, db
from tests.test_uploads import files, form_upload, leftovers, live, submitted  # noqa: F401 (fixtures)

pytestmark = pytest.mark.db


def panel(client, world):
    return client.get(f'/internal-assessment/{world.unit.id}?show=samples').get_data(as_text=True)


def note_upload(client, unit_id, data, name, token=True):
    fields = {'file': (io.BytesIO(data), name)}
    if token:
        fields = {'csrf_token': client.token, **fields}
    return client.post(f'/internal-assessment/{unit_id}/note/files', data=fields, content_type='multipart/form-data')


def note_files():
    return [f for f in files() if f.entry_id is None]


def moderator_page(client, world):
    return client.get(f'/moderation/centres/{world.centre.id}/units/{world.unit.id}').get_data(as_text=True)


def test_a_note_file_without_javascript_is_checked_then_the_moderator_downloads_it(app, submitted, as_,
                                                                                   monkeypatch):
    client = as_('teacher')
    page = panel(client, submitted)
    assert 'Explanatory notes for the moderator' in page and 'No note files yet.' in page
    held = []
    monkeypatch.setattr(jobs, 'enqueue', held.append)  # the check waits, as it would for a worker
    response = note_upload(client, submitted.unit.id, b'%PDF-1.4 notes on 3002', '../Nodiadau <i>.PDF')
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert 'Nodiadau &lt;i&gt;.PDF received: it is being checked.' in page
    assert re.search(r'Nodiadau &lt;i&gt;.PDF\s*\([^)]*checking\)', page)
    (note,) = files()
    assert note.entry_id is None and (note.centre_id, note.unit_id) == (submitted.centre.id, submitted.unit.id)
    assert note.stored_name == '68999_NOTES_001.pdf' and note.original_name == 'Nodiadau <i>.PDF'
    with app.app_context():
        jobs.run_here(held[0].id)
    (note,) = files()
    assert note.state == 'available' and note.mime == 'application/pdf' and len(note.sha256) == 64
    assert 'available, not scanned' in panel(client, submitted)
    # the centre downloads its own, as an attachment
    own = client.get(f'/internal-assessment/{submitted.unit.id}/files/{note.id}')
    assert own.status_code == 200 and own.headers['Content-Disposition'].startswith('attachment;')
    # the moderator sees it beside the typed note and downloads it
    client.post(f'/internal-assessment/{submitted.unit.id}/note', data={'note': 'Typed as well.'})
    moderator = as_('moderator')
    page = moderator_page(moderator, submitted)
    assert 'Typed as well.' in page and 'Nodiadau &lt;i&gt;.PDF' in page
    response = moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}/files/{note.id}')
    assert response.status_code == 200 and response.data == b'%PDF-1.4 notes on 3002'
    assert response.mimetype == 'application/octet-stream'
    assert response.headers['Content-Disposition'].startswith('attachment; filename=68999_NOTES_001.pdf')
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    # by another unit's address: not found
    assert moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.other_unit.id}'
                         f'/files/{note.id}').status_code == 404
    with db.connection_context():
        (row,) = AuditLog.select().where(AuditLog.action == 'note_file.upload')
    assert row.centre_id == submitted.centre.id and '68999_NOTES_001.pdf' in row.after


def test_another_centres_note_file_is_not_found(app, submitted, as_):
    client = as_('teacher')
    panel(client, submitted)
    note_upload(client, submitted.unit.id, b'notes', 'notes.docx')
    (note,) = files()
    other = as_('other_admin')
    assert other.get(f'/internal-assessment/{submitted.unit.id}/files/{note.id}').status_code == 404
    other.get(f'/internal-assessment/{submitted.unit.id}')
    assert other.post(f'/internal-assessment/{submitted.unit.id}/files/{note.id}/delete').status_code == 404
    with db.connection_context():  # centre 50551's own note on the same unit, on disk
        theirs = CandidateFile.create(centre=submitted.other_centre.id, unit=submitted.unit.id,
                                      uploaded_by=submitted.other_admin.id, upload_key='t' * 20,
                                      original_name='theirs.txt', stored_name='50551_NOTES_001.txt',
                                      length=6, received=6, state='available')
    open(os.path.join(app.config['FILES_DIR'], theirs.stored_name), 'w').write('theirs')
    assert client.get(f'/internal-assessment/{submitted.unit.id}/files/{theirs.id}').status_code == 404
    assert client.post(f'/internal-assessment/{submitted.unit.id}/files/{theirs.id}/delete').status_code == 404
    assert 'theirs.txt' not in panel(client, submitted)
    moderator = as_('moderator')  # 68999's moderator, by 68999's address
    assert moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}'
                         f'/files/{theirs.id}').status_code == 404
    assert 'theirs.txt' not in moderator_page(moderator, submitted)
    assert [f.id for f in files()] == [note.id, theirs.id]


def test_a_note_file_before_submission_or_without_the_token_is_refused(app, world, as_):
    from models import Unit
    with db.connection_context():
        Unit.update(e_submission=True).where(Unit.id == world.unit.id).execute()
    client = as_('teacher')
    client.get(f'/internal-assessment/{world.unit.id}')
    early = note_upload(client, world.unit.id, b'notes', 'notes.txt')
    assert 'Centres are reminded not to upload' in client.get(early.location).get_data(as_text=True)
    assert note_upload(client, world.unit.id, b'notes', 'notes.txt', token=False).status_code in (303, 400)
    assert files() == [] and not leftovers(app)


def test_note_files_are_deleted_until_the_deadline_and_not_after(app, submitted, as_, monkeypatch):
    client = as_('teacher')
    panel(client, submitted)
    note_upload(client, submitted.unit.id, b'first', 'first.txt')
    note_upload(client, submitted.unit.id, b'second', 'second.txt')
    first, second = note_files()
    assert second.stored_name == '68999_NOTES_002.txt'
    deleted = client.post(f'/internal-assessment/{submitted.unit.id}/files/{first.id}/delete')
    assert 'first.txt deleted.' in client.get(deleted.location).get_data(as_text=True)
    assert [f.id for f in note_files()] == [second.id]
    assert not os.path.exists(os.path.join(app.config['FILES_DIR'], first.stored_name))
    monkeypatch.setattr(uploads, 'today', lambda: submitted.unit.deadline + datetime.timedelta(days=1))
    assert '>Delete<' not in panel(client, submitted)
    crafted = client.post(f'/internal-assessment/{submitted.unit.id}/files/{second.id}/delete')
    assert 'The deadline has passed' in client.get(crafted.location).get_data(as_text=True)
    assert [f.id for f in note_files()] == [second.id]
    note_upload(client, submitted.unit.id, b'third', 'third.txt')
    assert note_files()[-1].new_version
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'note_file.delete').count() == 1


def test_an_eicar_note_is_quarantined(app, submitted, as_, clamd_server):
    from tests.conftest import EICAR
    app.config['CLAMD_ADDRESS'] = clamd_server
    client = as_('teacher')
    panel(client, submitted)
    note_upload(client, submitted.unit.id, EICAR.encode(), 'notes.txt')
    (note,) = files()
    assert (note.state, note.problem) == ('refused', 'virus')
    assert not os.path.exists(os.path.join(app.config['FILES_DIR'], note.stored_name))
    assert not leftovers(app)
    assert 'refused: a virus was found in it' in panel(client, submitted)
    moderator = as_('moderator')
    assert moderator.get(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}'
                         f'/files/{note.id}').status_code == 404


def test_the_sample_zip_has_the_notes_in_their_own_folder(app, submitted, as_):
    client = as_('teacher')
    panel(client, submitted)
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'The essay.', 'essay.docx')
    note_upload(client, submitted.unit.id, b'About the sample.', 'notes.docx')
    work, note = files()
    moderator = as_('moderator')
    started = moderator.post(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}/zip')
    job_id = started.location.rstrip('/').rsplit('/', 1)[1]
    archive = zipfile.ZipFile(io.BytesIO(moderator.get(f'/moderation/zips/{job_id}/file').data))
    assert {name: archive.read(name) for name in archive.namelist()} == {
        work.stored_name: b'The essay.', 'notes/68999_NOTES_001.docx': b'About the sample.'}


def test_a_zip_of_notes_alone(app, submitted, as_):
    client = as_('teacher')
    panel(client, submitted)
    note_upload(client, submitted.unit.id, b'About the sample.', 'notes.docx')
    moderator = as_('moderator')
    page = moderator_page(moderator, submitted)
    assert 'DOWNLOAD THE WHOLE SAMPLE' in page and 'notes.docx' in page
    started = moderator.post(f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}/zip')
    job_id = started.location.rstrip('/').rsplit('/', 1)[1]
    archive = zipfile.ZipFile(io.BytesIO(moderator.get(f'/moderation/zips/{job_id}/file').data))
    assert archive.namelist() == ['notes/68999_NOTES_001.docx']


# --- An accepted opt-out ------------------------------------------------------------

OPTED_OUT = 'You have opted out of e-submission for this unit: send the sample to the moderator by post.'


def ask_to_opt_out(client, world):
    panel(client, world)
    client.post(f'/internal-assessment/{world.unit.id}/requests/opt-out', data={'reason': 'Work is on canvas.'})
    with db.connection_context():
        return Request.get(Request.kind == 'e_submission_opt_out', Request.centre == world.centre.id)


def test_until_the_board_accepts_the_opt_out_uploads_carry_on(app, submitted, as_):
    client = as_('teacher')
    ask_to_opt_out(client, submitted)
    page = panel(client, submitted)
    assert 'waiting for the board' in page and OPTED_OUT not in page and 'UPLOAD NOTE' in page
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'work', 'work.txt')
    note_upload(client, submitted.unit.id, b'notes', 'notes.txt')
    assert [f.state for f in files()] == ['available', 'available']
    rejected = ask_to_opt_out(as_('teacher'), submitted)
    staff = as_('staff')
    staff.get(f'/helpline/requests/{rejected.id}')
    staff.post(f'/helpline/requests/{rejected.id}/reject', data={'note': 'No.'})
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'more', 'more.txt')
    assert len(files()) == 3 and OPTED_OUT not in panel(client, submitted)


def test_an_accepted_opt_out_ends_uploads_for_that_centres_unit(app, submitted, as_, live):
    from tests.test_uploads import signed_in
    import base64
    client = as_('teacher')
    req = ask_to_opt_out(client, submitted)
    form_upload(client, submitted.unit.id, submitted.sampled[0], b'early work', 'early.txt')
    staff = as_('staff')
    staff.get(f'/helpline/requests/{req.id}')
    accepted = staff.post(f'/helpline/requests/{req.id}/confirm', data={'note': 'Agreed.'})
    assert accepted.status_code == 303
    with db.connection_context():
        assert Request.get_by_id(req.id).status == 'confirmed'
    page = panel(client, submitted)
    assert OPTED_OUT in page and 'accepted' in page
    assert 'Files uploaded before the opt-out stay with the moderator' in page and 'early.txt' in page
    assert '>UPLOAD<' not in page and 'UPLOAD NOTE' not in page and 'type="file"' not in page
    assert 'ASK TO OPT OUT' not in page
    # the plain form and the note form are refused in the server, with the words
    refused = form_upload(client, submitted.unit.id, submitted.sampled[0], b'work', 'work.txt')
    assert OPTED_OUT in client.get(refused.location).get_data(as_text=True)
    refused = note_upload(client, submitted.unit.id, b'notes', 'notes.txt')
    assert OPTED_OUT in client.get(refused.location).get_data(as_text=True)
    again = client.post(f'/internal-assessment/{submitted.unit.id}/requests/opt-out', data={'reason': 'again'})
    assert OPTED_OUT in client.get(again.location).get_data(as_text=True)
    # tus creation: 409 with the words
    http, token = signed_in(live, '68999JBR')
    meta = ','.join(f'{k} {base64.b64encode(v.encode()).decode()}' for k, v in
                    {'unit': str(submitted.unit.id), 'entry': str(submitted.sampled[0]), 'filename': 'a.txt'}.items())
    created = http.post(f'{live}/internal-assessment/uploads', headers={
        'X-CSRFToken': token, 'Tus-Resumable': '1.0.0', 'Upload-Length': '4', 'Upload-Metadata': meta})
    assert created.status_code == 409 and created.text == OPTED_OUT
    assert [f.original_name for f in files()] == ['early.txt'] and not leftovers(app)
    # the moderator is told
    assert 'The centre has opted out of e-submission for this unit' in moderator_page(as_('moderator'), submitted)
    # another centre's unit is untouched by 68999's opt-out
    with db.connection_context():
        from models import Centre, Marksheet, Unit
        assert uploads.needs_upload(Marksheet(Centre.get_by_id(submitted.other_centre.id),
                                              Unit.get_by_id(submitted.unit.id)))
        assert not uploads.needs_upload(Marksheet(Centre.get_by_id(submitted.centre.id),
                                                  Unit.get_by_id(submitted.unit.id)))


def test_two_tabs_uploading_notes_at_once_get_two_names(app, submitted):
    """Both compute 68999_NOTES_001 at once (PostgreSQL): the second moves on
    to 002 instead of failing on the unique name."""
    import threading
    from models import Account, Centre, Marksheet, Unit
    barrier, made, failed = threading.Barrier(2), [], []

    def one():
        try:
            with app.app_context(), db.connection_context():
                sheet = Marksheet(Centre.get_by_id(submitted.centre.id), Unit.get_by_id(submitted.unit.id))
                teacher = Account.get_by_id(submitted.teacher.id)
                barrier.wait()
                made.append(uploads.begin(sheet, None, teacher, 'notes.txt', 5).stored_name)
        except Exception as error:  # pragma: no cover - the failure this test is about
            failed.append(error)
    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed and sorted(made) == ['68999_NOTES_001.txt', '68999_NOTES_002.txt']


def test_note_files_on_s3_download_by_signed_link_and_zip(app, submitted, as_, s3_server):
    import requests
    config, s3 = s3_server
    app.config.update(config)
    client = as_('teacher')
    panel(client, submitted)
    note_upload(client, submitted.unit.id, b'Notes kept in the bucket.', 'notes.pdf')
    (note,) = files()
    assert note.state == 'available' and not leftovers(app)
    assert s3.get_object(Bucket=config['S3_BUCKET'], Key=note.stored_name)['Body'].read() == b'Notes kept in the bucket.'
    moderator = as_('moderator')
    unit_page = f'/moderation/centres/{submitted.centre.id}/units/{submitted.unit.id}'
    link = moderator.get(f'{unit_page}/files/{note.id}')
    assert link.status_code == 303
    fetched = requests.get(link.location)
    assert fetched.content == b'Notes kept in the bucket.'
    assert fetched.headers['Content-Disposition'].startswith('attachment;')
    started = moderator.post(unit_page + '/zip')
    job_id = started.location.rstrip('/').rsplit('/', 1)[1]
    archive = zipfile.ZipFile(io.BytesIO(moderator.get(f'/moderation/zips/{job_id}/file').data))
    assert archive.read(f'notes/{note.stored_name}') == b'Notes kept in the bucket.'
    client.post(f'/internal-assessment/{submitted.unit.id}/files/{note.id}/delete')
    assert files() == [] and 'Contents' not in s3.list_objects_v2(Bucket=config['S3_BUCKET'])


def test_a_note_file_over_the_size_limit_leaves_nothing(app, submitted, as_):
    app.config['UPLOAD_MAX_BYTES'] = 100 * 1024
    client = as_('teacher')
    panel(client, submitted)
    refused = note_upload(client, submitted.unit.id, os.urandom(300 * 1024), 'huge.pdf')
    assert 'That file is larger than 100.0 KB' in client.get(refused.location).get_data(as_text=True)
    assert files() == [] and not leftovers(app)
    assert not os.path.isdir(app.config['FILES_DIR']) or not os.listdir(app.config['FILES_DIR'])
