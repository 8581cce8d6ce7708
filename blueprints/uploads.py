"""IAMIS upload: sampled candidates' work, resumable with tus 1.0 (core,
creation, termination, checksum with sha256), or one plain form post
without JavaScript; download and delete (SPEC 3.6; QUALITY UP-1, UP-2).

Every upload belongs to the account, centre, unit and candidate that made
it: another account's upload key answers 404. Bytes are read from the
request in blocks straight into the part file, never held whole."""
import base64
import binascii
import hashlib
import os
from urllib.parse import quote

from flask import (Blueprint, abort, current_app, flash, make_response, redirect, request, send_file,
                   url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from wtforms import ValidationError

import jobs
import requests_queue
import uploads
from access import acting_ids, internal_assessment_required, marksheet_for
from blueprints import AUDIT_WORDS
from extensions import csrf
from models import CandidateFile, DomainError, writing

bp = Blueprint('uploads', __name__, url_prefix='/internal-assessment')
TUS_VERSION = '1.0.0'
CHECKSUMS = {'sha256': hashlib.sha256, 'sha1': hashlib.sha1}  # tus requires sha1; sha256 is ours
PROBLEMS = {
    'not_e_submission': _l('This unit does not need e-submission: there is nothing to upload.'),
    'opted_out': _l('You have opted out of e-submission for this unit: send the sample to the moderator by post.'),
    'upload_too_early': _l('Centres are reminded not to upload any files until outcomes are submitted '
                           'and samples generated.'),
    'unknown_entry': _l('That candidate is not on this marksheet.'),
    'not_in_sample': _l('Upload work only for candidates in the sample.'),
    'too_large': _l('That file is larger than %(size)s, the most one file may be.'),
    'offset_mismatch': _l('The upload was out of step: it will carry on from what the server holds.'),
    'too_long': _l('More was sent than the file\'s size said.'),
    'checksum_mismatch': _l('A piece of the file arrived damaged and was not kept; it is sent again.'),
    'upload_busy': _l('This file is already being received in another window.'),
    'upload_finished': _l('This file has been received already.'),
    'deadline_passed': _l('The deadline has passed: files can no longer be deleted. Upload a further '
                          'file instead; it is marked NEW/CORRECT VERSION.'),
    'no_file': _l('Choose a file to upload.'),
    'bad_form': _l('The upload form was not complete. Reload the page and try again.'),
    'note_too_long': _l('The note is too long: use at most %(maximum)s characters. Nothing was saved.'),
    'too_many_unfinished': _l('You have %(maximum)s uploads that stopped part-way: carry on with them or '
                              'delete them before starting more.'),
    'reason_missing': _l('Say why, in at most %(maximum)s characters: nothing has been sent to the board.'),
    'request_waiting': _l('A request like this for this unit is already with the board: you will be e-mailed '
                          'its decision.'),
}
# The audit log's words for what happens here (the centre's log on the helpline's pages).
AUDIT_WORDS.update({
    'note_file.upload': _l('Explanatory note for the moderator uploaded as a file'),
    'note_file.delete': _l('Explanatory note file deleted'),
})
CENTRE_REQUESTS = {'file-deletion': 'file_deletion', 'opt-out': 'e_submission_opt_out'}
REASON_MAX = 1000
STATUS = {'too_many_unfinished': 429, 'not_e_submission': 404, 'opted_out': 409, 'upload_too_early': 409, 'unknown_entry': 404, 'not_in_sample': 409,
          'too_large': 413, 'offset_mismatch': 409, 'too_long': 413, 'checksum_mismatch': 460,
          'upload_busy': 423, 'upload_finished': 409, 'deadline_passed': 409, 'no_file': 422,
          'bad_form': 400}


def problem_text(code, **params):
    return str(PROBLEMS[code]) % dict(params, size=human_size(current_app.config['UPLOAD_MAX_BYTES']))


def human_size(size):
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if size < 1024 or unit == 'GB':
            return f'{size:.0f} {unit}' if unit == 'bytes' else f'{size:.1f} {unit}'
        size /= 1024


def store():
    return uploads.store_of(current_app.config)


def back_to_samples(unit_id):
    return redirect(url_for('internal_assessment.marksheet', unit_id=unit_id, show='samples'), 303)


def allow_large_body():
    """This request may carry a file: the app's 2 MB limit is for forms."""
    request.max_content_length = current_app.config['UPLOAD_MAX_BYTES'] + 1024 * 1024


# --- tus 1.0 -------------------------------------------------------------------

def tus(status, **headers):
    response = make_response('', status)
    response.headers['Tus-Resumable'] = TUS_VERSION
    response.headers['Cache-Control'] = 'no-store'
    for name, value in headers.items():
        response.headers[name.replace('_', '-')] = str(value)
    return response


def tus_refusal(error):
    """A refusal the client can act on: the status, and the words in a header."""
    response = tus(STATUS.get(error.code, 400))
    words = problem_text(error.code, **error.params)
    response.headers['X-Portal-Message'] = quote(words)  # as access.refuse does
    response.set_data(words)
    return response


def metadata():
    """Upload-Metadata: `key base64value,key base64value`."""
    found = {}
    for pair in (request.headers.get('Upload-Metadata') or '').split(','):
        key, _, value = pair.strip().partition(' ')
        if key:
            try:
                found[key] = base64.b64decode(value, validate=True).decode('utf-8')[:500]
            except (binascii.Error, UnicodeDecodeError):
                found[key] = ''
    return found


def number(text):
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 19 else None


@bp.route('/uploads', methods=['OPTIONS'])
def tus_options():
    return tus(204, Tus_Version=TUS_VERSION, Tus_Extension='creation,termination,checksum',
               Tus_Checksum_Algorithm=','.join(CHECKSUMS), Tus_Max_Size=current_app.config['UPLOAD_MAX_BYTES'])


def header_token():
    """tus requests carry the CSRF token in X-CSRFToken (as htmx does); the
    form is never parsed, so a large body is not read before the view."""
    try:
        validate_csrf(request.headers.get('X-CSRFToken', ''))
    except ValidationError:
        abort(400)


@bp.route('/uploads', methods=['POST'])
@csrf.exempt  # header_token() instead
@internal_assessment_required
def tus_create():
    """Creation: Upload-Length and metadata naming the unit, the entry and the file."""
    header_token()
    info = metadata()
    length = number(request.headers.get('Upload-Length'))
    unit_id, entry_id = number(info.get('unit')), number(info.get('entry'))
    if length is None or unit_id is None or entry_id is None:
        return tus(400)
    if length > current_app.config['UPLOAD_MAX_BYTES']:
        return tus_refusal(DomainError('too_large'))
    sheet = marksheet_for(unit_id)
    try:
        entry = uploads.check_may_upload(sheet, entry_id)
        upload = start(sheet, entry, info.get('filename', ''), length)
    except DomainError as error:
        return tus_refusal(error)
    if length == 0:
        finish(upload)
    return tus(201, Location=url_for('.tus_upload', key=upload.upload_key, _external=False), Upload_Offset=0)


def start(sheet, entry, filename, length):
    """A new upload and its empty part file; `entry` None: an explanatory note's file."""
    actor, acting_for = acting_ids()
    upload = uploads.begin(sheet, entry, acting_for or actor, filename, length)
    store().create(upload)
    return upload


def finish(upload):
    with writing():
        job = uploads.finished(upload, *acting_ids())
    if job:
        jobs.enqueue(job)


def own_upload(key):
    """The signed-in account's upload with this key, or 404."""
    actor, acting_for = acting_ids()
    upload = (CandidateFile.get_or_none(CandidateFile.upload_key == key,
                                        CandidateFile.uploaded_by == (acting_for or actor).id)
              if key and len(key) < 64 else None)
    if upload is None:
        abort(404)
    return upload


@bp.route('/uploads/<key>', methods=['HEAD'])
@internal_assessment_required
def tus_upload(key):
    """Where the upload stands: the offset to carry on from."""
    upload = own_upload(key)
    return tus(200, Upload_Offset=store().offset(upload), Upload_Length=upload.length)


@bp.route('/uploads/<key>', methods=['PATCH'])
@csrf.exempt  # header_token() instead
@internal_assessment_required
def tus_patch(key):
    """A piece at Upload-Offset; with Upload-Checksum, a damaged piece is refused (460)."""
    header_token()
    upload = own_upload(key)
    if request.mimetype != 'application/offset+octet-stream':
        return tus(415)
    offset = number(request.headers.get('Upload-Offset'))
    if offset is None:
        return tus(400)
    checksum = None
    if request.headers.get('Upload-Checksum'):
        algorithm, _, value = request.headers['Upload-Checksum'].partition(' ')
        if algorithm not in CHECKSUMS:
            return tus(400)
        try:
            checksum = (CHECKSUMS[algorithm], base64.b64decode(value, validate=True))
        except binascii.Error:
            return tus(400)
    allow_large_body()
    try:
        received = uploads.receive(store(), upload, request.stream, offset, request.content_length, checksum)
    except DomainError as error:
        response = tus_refusal(error)
        response.headers['Upload-Offset'] = str(store().offset(upload))
        return response
    except ClientDisconnected:
        return tus(400)
    if received == upload.length:
        finish(upload)
    return tus(204, Upload_Offset=received)


@bp.route('/uploads/<key>', methods=['DELETE'])
@csrf.exempt  # header_token() instead
@internal_assessment_required
def tus_terminate(key):
    """Termination: an unfinished upload is given up and its bytes removed."""
    header_token()
    upload = own_upload(key)
    if upload.state != 'uploading':
        return tus_refusal(DomainError('upload_finished'))
    CandidateFile.delete().where(CandidateFile.id == upload.id).execute()
    store().discard(upload)
    return tus(204)


# --- Without JavaScript: one form post, streamed -----------------------------

@bp.route('/<int:unit_id>/entries/<int:entry_id>/files', methods=['POST'])
@csrf.exempt  # checked below, from the form's first field, before any file byte is read
@internal_assessment_required
def upload_form(unit_id, entry_id):
    """The plain form: multipart read as it arrives, the file streamed into
    its part file (never held in memory, never spooled to /tmp)."""
    sheet = marksheet_for(unit_id)
    try:
        entry = uploads.check_may_upload(sheet, entry_id)
        upload = streamed_upload(sheet, entry)
    except DomainError as error:
        if error.code == 'unknown_entry':
            abort(404)  # another centre's or unit's candidate (AC-2)
        flash(problem_text(error.code, **error.params), 'error')
        return back_to_samples(unit_id)
    finish(upload)
    flash(_('%(name)s received: it is being checked.', name=upload.original_name))
    return back_to_samples(unit_id)


@bp.route('/<int:unit_id>/note/files', methods=['POST'])
@csrf.exempt  # checked in streamed_upload, from the form's first field, before any file byte is read
@internal_assessment_required
def upload_note_file(unit_id):
    """An explanatory note for the moderator as a file (a PDF, a Word
    document, anything), after submission: streamed and checked as work is."""
    sheet = marksheet_for(unit_id)
    try:
        uploads.check_may_upload_here(sheet)
        upload = streamed_upload(sheet, None)
    except DomainError as error:
        flash(problem_text(error.code, **error.params), 'error')
        return back_to_samples(unit_id)
    finish(upload)
    flash(_('%(name)s received: it is being checked.', name=upload.original_name))
    return back_to_samples(unit_id)


def streamed_upload(sheet, entry):
    """Read the multipart body event by event: the CSRF token must come
    before the file; the file goes block by block to its part file (a
    candidate's work, or with `entry` None an explanatory note's file)."""
    allow_large_body()
    boundary = request.mimetype_params.get('boundary', '').encode()
    length = request.content_length
    if request.mimetype != 'multipart/form-data' or not boundary or length is None:
        raise DomainError('bad_form')
    if length > current_app.config['UPLOAD_MAX_BYTES'] + 64 * 1024:
        raise DomainError('too_large')
    decoder = MultipartDecoder(boundary, max_form_memory_size=2 * uploads.BLOCK)  # one block at a time
    fields, upload, handle, stream = {}, None, None, request.stream
    current = None
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData):
                chunk = stream.read(uploads.BLOCK)
                decoder.receive_data(chunk or None)
            elif isinstance(event, Field):
                current, fields[event.name] = event.name, b''
            elif isinstance(event, File):
                check_token(fields)
                current = None
                if event.name != 'file' or upload is not None or not event.filename:
                    raise DomainError('no_file')
                upload = start(sheet, entry, event.filename, length)
                handle = open(store().part(upload), 'r+b')
            elif isinstance(event, Data):
                if current is not None:
                    if len(fields[current]) + len(event.data) > 4096:
                        raise DomainError('bad_form')
                    fields[current] += event.data
                elif handle is not None:
                    handle.write(event.data)
                    if handle.tell() > current_app.config['UPLOAD_MAX_BYTES']:
                        raise DomainError('too_large')
            elif isinstance(event, Epilogue):
                break
    except (DomainError, ClientDisconnected, RequestEntityTooLarge, ValueError) as error:
        if handle:
            handle.close()
        if upload is not None:
            CandidateFile.delete().where(CandidateFile.id == upload.id).execute()
            store().discard(upload)
        if isinstance(error, RequestEntityTooLarge):
            raise DomainError('too_large')
        raise error if isinstance(error, DomainError) else DomainError('bad_form')
    if upload is None:
        check_token(fields)
        raise DomainError('no_file')
    handle.flush()
    os.fsync(handle.fileno())
    size = handle.tell()
    handle.close()
    CandidateFile.update(length=size, received=size).where(CandidateFile.id == upload.id).execute()
    upload.length = upload.received = size
    return upload


def check_token(fields):
    try:
        validate_csrf(fields.get('csrf_token', b'').decode(errors='replace'))
    except ValidationError:
        abort(400)


@bp.route('/<int:unit_id>/note', methods=['POST'])
@internal_assessment_required
def note(unit_id):
    """The explanatory note for the moderator, typed; after submission."""
    sheet = marksheet_for(unit_id)
    if not sheet.unit.e_submission or sheet.submission() is None:
        flash(problem_text('not_e_submission' if not sheet.unit.e_submission else 'upload_too_early'), 'error')
        return back_to_samples(unit_id)
    try:
        saved = uploads.save_note(sheet, request.form.get('note', ''), *acting_ids())
    except DomainError as error:
        flash(problem_text(error.code, **error.params), 'error')
        return back_to_samples(unit_id)
    flash(_('The explanatory note has been saved: the moderator can read it.') if saved else _('Nothing has changed.'))
    return back_to_samples(unit_id)


@bp.route('/<int:unit_id>/requests/<any("file-deletion", "opt-out"):kind>', methods=['POST'])
@internal_assessment_required
def ask_the_board(unit_id, kind):
    """The centre asks the board to delete a whole cohort's files uploaded
    against the wrong unit (after submission), or to opt out of e-submission
    for the unit, with its reason; the helpline decides and e-mails the centre."""
    sheet = marksheet_for(unit_id)
    kind = CENTRE_REQUESTS[kind]
    if not sheet.unit.e_submission or (kind == 'file_deletion' and sheet.submission() is None):
        abort(404)
    if kind == 'e_submission_opt_out' and not uploads.needs_upload(sheet):
        flash(problem_text('opted_out'), 'error')  # accepted already: nothing to ask
        return back_to_samples(unit_id)
    reason = ' '.join((request.form.get('reason') or '').split())
    if not reason or len(reason) > REASON_MAX:
        flash(problem_text('reason_missing', maximum=REASON_MAX), 'error')
        return back_to_samples(unit_id)
    actor, acting_for = acting_ids()
    try:
        requests_queue.record_centre_request(kind, sheet.centre, sheet.unit, reason, acting_for or actor)
    except DomainError as error:
        flash(problem_text(error.code), 'error')
        return back_to_samples(unit_id)
    flash(_('Your request has been sent to the board. You will be e-mailed its decision.'))
    return back_to_samples(unit_id)


# --- The files: download and delete --------------------------------------------

def file_of(sheet, file_id):
    """A file of this marksheet's centre and unit (work or a note), or 404."""
    upload = uploads.file_of(sheet.centre.id, sheet.unit.id, file_id)
    if upload is None:
        abort(404)
    return upload


@bp.route('/<int:unit_id>/files/<int:file_id>')
@internal_assessment_required
def download(unit_id, file_id):
    """Always an attachment, with nosniff: an uploaded page never renders."""
    return send_candidate_file(file_of(marksheet_for(unit_id), file_id))


def send_candidate_file(upload):
    """An available file as an attachment: a signed link (S3) or streamed."""
    if upload.state != 'available':
        abort(404)
    files = store()
    link = files.signed_link(upload, upload.stored_name)
    if link:  # S3: a link that works for a minute, an attachment there too
        return redirect(link, 303)
    if not os.path.isfile(files.final(upload)):
        abort(404)
    response = send_file(files.final(upload), mimetype='application/octet-stream', as_attachment=True,
                         download_name=upload.stored_name)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    return response


@bp.route('/<int:unit_id>/files/<int:file_id>/delete', methods=['POST'])
@internal_assessment_required
def delete(unit_id, file_id):
    """Delete until the unit's deadline (refused in the server after it)."""
    sheet = marksheet_for(unit_id)
    upload = file_of(sheet, file_id)
    try:
        uploads.delete(store(), upload, sheet, *acting_ids())
    except DomainError as error:
        flash(problem_text(error.code), 'error')
        return back_to_samples(unit_id)
    flash(_('%(name)s deleted.', name=upload.original_name))
    return back_to_samples(unit_id)


def init_app(app):
    """The upload panel's words and sizes."""
    app.jinja_env.globals.update(file_state=file_state, file_size=human_size,
                                 upload_limit=lambda: human_size(app.config['UPLOAD_MAX_BYTES']),
                                 past_deadline=uploads.after_deadline, needs_upload=uploads.needs_upload,
                                 note_files_of=uploads.note_files_of)


FILE_STATES = {'uploading': _l('uploading'), 'checking': _l('checking'),
               'available': _l('available'), 'available_unscanned': _l('available, not scanned'),
               'refused': _l('refused')}
REFUSALS = {'virus': _l('a virus was found in it'), 'incomplete': _l('it did not arrive whole')}


def file_state(upload):
    """The state of a file in plain words."""
    if upload.state == 'available' and not upload.scanned:
        return str(FILE_STATES['available_unscanned'])
    if upload.state == 'refused':
        return str(FILE_STATES['refused']) + ': ' + str(REFUSALS.get(upload.problem, upload.problem))
    return str(FILE_STATES[upload.state])
