"""Uploading sampled candidates' work (SPEC 3.6; issue 8; QUALITY UP-1,
UP-2): who may upload what, the board's names for files, receiving pieces
at the right offset, and the check after the last byte. Below the views:
the tus blueprint and the plain form both come through here.

Bytes arrive in `<UPLOADS_DIR>/<upload_key>.part`, one writer at a time
(an exclusive lock on the file), each piece fsynced before the offset is
recorded; a piece whose checksum is wrong is cut back off. When the last
byte is in, a job checks the file (its sha256, its type, a virus scan when
a scanner is configured) and renames it into FILES_DIR under its stored
name, or refuses it and says why.
"""
import contextlib
import datetime
import fcntl
import hashlib
import os
import re
import secrets

from peewee import JOIN, IntegrityError

from models import (AuditLog, CandidateFile, DomainError, Entry, ExplanatoryNote, Request, SampleMember, Submission,
                    db, utcnow, writing)

BLOCK = 1024 * 1024
UNFINISHED_MAX = 50  # uploads one account may have started and not finished


def today():
    """The date that decides the deadline (one place, for tests to freeze)."""
    return datetime.date.today()


def opted_out(sheet):
    """True once the board has accepted the centre's request to opt out of
    e-submission for the unit: its sample goes to the moderator by post."""
    return Request.select().where(Request.kind == 'e_submission_opt_out', Request.centre == sheet.centre.id,
                                  Request.unit == sheet.unit.id, Request.status == 'confirmed').exists()


def needs_upload(sheet):
    """The one answer to "does this centre upload work for this unit?": the
    unit needs e-submission and the centre has not been let off it. Every
    view (the upload panel, the upload routes, the moderator's page) asks here."""
    return bool(sheet.unit.e_submission) and not opted_out(sheet)


def check_may_upload_here(sheet):
    """Files may be uploaded for this centre's unit now, or DomainError:
    'not_e_submission', 'opted_out', 'upload_too_early'."""
    if not needs_upload(sheet):
        raise DomainError('opted_out' if sheet.unit.e_submission else 'not_e_submission')
    if not Submission.select().where(Submission.centre == sheet.centre, Submission.unit == sheet.unit).exists():
        raise DomainError('upload_too_early')


def check_may_upload(sheet, entry_id):
    """The sampled entry of this marksheet that work may be uploaded for, or
    DomainError: 'unknown_entry', those of `check_may_upload_here`,
    'not_in_sample'."""
    entry = sheet.entry(entry_id)  # tenancy first: another centre's id says nothing more
    if entry is None:
        raise DomainError('unknown_entry')
    check_may_upload_here(sheet)
    if not SampleMember.select().where(SampleMember.entry == entry.id).exists():
        raise DomainError('not_in_sample')
    return entry


def deadline_for(unit, member=None):
    """The last day files can be deleted: the unit's deadline, or a further
    sample's due date when the moderator asked for the work later."""
    further = member.further_sample if member is not None and member.further_sample_id else None
    days = [day for day in (unit.deadline, further.due if further else None) if day]
    return max(days) if days else None


def member_of(entry_id):
    from models import FurtherSample
    if entry_id is None:  # an explanatory note's file: the unit's deadline alone
        return None
    return (SampleMember.select(SampleMember, FurtherSample)
            .join(FurtherSample, JOIN.LEFT_OUTER, attr='further_sample')
            .where(SampleMember.entry == entry_id).first())


def after_deadline(unit, member=None):
    deadline = deadline_for(unit, member)
    return deadline is not None and today() > deadline


def extension(name):
    """The original name's extension, if it is a plain one: `.mp4`, `.docx`."""
    found = re.search(r'\.([A-Za-z0-9]{1,10})$', name or '')
    return '.' + found.group(1).lower() if found else ''


def display_name(name):
    """The original name, for display only: no path, no control characters."""
    name = re.split(r'[\\/]', name or '')[-1]
    name = ''.join(c for c in name if c.isprintable()).strip()
    return name[:200] or 'file'


def begin(sheet, entry, account, original_name, length):
    """Record a new upload (state 'uploading'), the store then makes its
    empty part file. `entry` None: an explanatory note's file for the unit.
    The stored name follows the board's rule: centre number, candidate
    number (or NOTES), a sequence, the extension; nothing of the original
    name."""
    with writing():
        unfinished = CandidateFile.select().where(CandidateFile.uploaded_by == account,
                                                  CandidateFile.state == 'uploading').count()
        if unfinished >= UNFINISHED_MAX:
            raise DomainError('too_many_unfinished', maximum=UNFINISHED_MAX)
        if entry is not None:
            taken = CandidateFile.select().where(CandidateFile.entry == entry.id).count()
            stem = f'{sheet.centre.number}_{entry.candidate.number}'
        else:
            taken = CandidateFile.select().where(CandidateFile.centre == sheet.centre.id,
                                                 CandidateFile.entry.is_null()).count()
            stem = f'{sheet.centre.number}_NOTES'
        new_version = after_deadline(sheet.unit, member_of(entry.id if entry else None))
        for sequence in range(taken + 1, taken + 1000):
            stored = f'{stem}_{sequence:03d}{extension(original_name)}'
            if CandidateFile.select().where(CandidateFile.stored_name == stored).exists():
                continue
            try:
                with db.atomic():  # a savepoint: another tab taking this name this moment moves us on
                    return CandidateFile.create(entry=entry.id if entry else None, centre=sheet.centre.id,
                                                unit=sheet.unit.id, uploaded_by=account,
                                                upload_key=secrets.token_urlsafe(24), stored_name=stored,
                                                original_name=display_name(original_name), length=length,
                                                new_version=new_version)
            except IntegrityError:
                continue
    raise DomainError('upload_busy')


class Store:
    """Where bytes live: parts being received, and finished files. A local
    folder (shared storage when several machines serve the site)."""

    def __init__(self, uploads_dir, files_dir):
        self.uploads_dir, self.files_dir = uploads_dir, files_dir
        os.makedirs(uploads_dir, exist_ok=True)
        os.makedirs(files_dir, exist_ok=True)

    def part(self, upload):
        return os.path.join(self.uploads_dir, upload.upload_key + '.part')

    def final(self, upload):
        return os.path.join(self.files_dir, upload.stored_name)

    def create(self, upload):
        with open(self.part(upload), 'xb'):
            pass

    @contextlib.contextmanager
    def writing(self, upload):
        """The part file, opened for appending by one request at a time."""
        with open(self.part(upload), 'r+b') as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DomainError('upload_busy')
            yield handle

    def offset(self, upload):
        try:
            return os.path.getsize(self.part(upload))
        except FileNotFoundError:
            return upload.received

    def discard(self, upload):
        for path in (self.part(upload), self.final(upload)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def commit(self, upload):
        """The finished part becomes the stored file, atomically."""
        os.replace(self.part(upload), self.final(upload))

    def signed_link(self, upload, download_name):
        """A short-lived link to download from, or None: served by the app."""
        return None

    def open(self, upload):
        """The stored file, for reading."""
        return open(self.final(upload), 'rb')


class S3Store(Store):
    """Finished files in an S3-compatible bucket, shared by every web machine
    and worker; downloads are short-lived signed links. Parts being received
    stay in UPLOADS_DIR (a shared volume, or a load balancer that keeps an
    upload's requests on one machine)."""
    LINK_SECONDS = 60

    def __init__(self, uploads_dir, config):
        import boto3
        from botocore.config import Config
        super().__init__(uploads_dir, uploads_dir)
        self.bucket = config['S3_BUCKET']
        self.client = boto3.client(
            's3', endpoint_url=config.get('S3_ENDPOINT_URL'), region_name=config.get('S3_REGION') or 'us-east-1',
            aws_access_key_id=config.get('S3_ACCESS_KEY'), aws_secret_access_key=config.get('S3_SECRET_KEY'),
            config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}))

    def final(self, upload):
        return None  # not on this machine

    def commit(self, upload):
        """Streamed to the bucket in parts (boto3's multipart upload), then the local part goes."""
        self.client.upload_file(self.part(upload), self.bucket, upload.stored_name)
        os.unlink(self.part(upload))

    def discard(self, upload):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.part(upload))
        self.client.delete_object(Bucket=self.bucket, Key=upload.stored_name)

    def open(self, upload):
        return contextlib.closing(self.client.get_object(Bucket=self.bucket, Key=upload.stored_name)['Body'])

    def signed_link(self, upload, download_name):
        return self.client.generate_presigned_url('get_object', ExpiresIn=self.LINK_SECONDS, Params={
            'Bucket': self.bucket, 'Key': upload.stored_name,
            'ResponseContentDisposition': f'attachment; filename="{download_name}"',
            'ResponseContentType': 'application/octet-stream'})


def receive(store, upload, stream, offset, length_of_piece=None, checksum=None):
    """Append a piece at `offset`; returns the new offset. `checksum` is
    (hash constructor, expected digest) of the piece. Raises
    DomainError: 'offset_mismatch' (nothing written), 'too_long', or
    'checksum_mismatch' (the piece is cut back off)."""
    if upload.state != 'uploading':
        raise DomainError('upload_finished')
    with store.writing(upload) as handle:
        start = os.fstat(handle.fileno()).st_size
        if offset != start:
            raise DomainError('offset_mismatch', offset=start)
        handle.seek(start)
        digest = checksum[0]() if checksum else None  # the check job hashes the whole file anyway
        written = 0
        try:
            while True:
                block = stream.read(BLOCK)
                if not block:
                    break
                written += len(block)
                if start + written > upload.length:
                    raise DomainError('too_long')
                if digest:
                    digest.update(block)
                handle.write(block)
            if checksum is not None and digest.digest() != checksum[1]:
                raise DomainError('checksum_mismatch')
            if length_of_piece is not None and written != length_of_piece:
                raise DomainError('piece_cut_short')
        except DomainError as error:
            if error.code != 'piece_cut_short':  # a dropped connection keeps what arrived
                handle.truncate(start)
                handle.flush()
                os.fsync(handle.fileno())
                raise
        except Exception:  # the connection dropped mid-piece: keep what arrived, say how much
            handle.flush()
            os.fsync(handle.fileno())
            CandidateFile.update(received=start + written).where(CandidateFile.id == upload.id).execute()
            raise
        handle.flush()
        os.fsync(handle.fileno())
        received = start + written
    CandidateFile.update(received=received).where(CandidateFile.id == upload.id).execute()
    upload.received = received
    return received


def finished(upload, actor=None, acting_for=None):
    """The last byte is in: the check job (call in a transaction; enqueue it
    after). A note file received is audited (`actor`, `acting_for`)."""
    import jobs
    moved = (CandidateFile.update(state='checking', finished_at=utcnow())
             .where(CandidateFile.id == upload.id, CandidateFile.state == 'uploading').execute())
    if moved and upload.entry_id is None and actor is not None:
        AuditLog.record(actor, 'note_file.upload', f'unit:{upload.unit_id}', acting_for=acting_for,
                        after={'file': upload.original_name, 'stored_as': upload.stored_name},
                        centre=upload.centre_id)
    return jobs.record('check_file', centre=upload.centre_id, file=upload.id) if moved else None


SNIFFED = [(b'%PDF-', 'application/pdf'), (b'PK\x03\x04', 'application/zip'),
           (b'\x89PNG', 'image/png'), (b'\xff\xd8\xff', 'image/jpeg'), (b'GIF8', 'image/gif'),
           (b'ID3', 'audio/mpeg'), (b'RIFF', 'audio/wav'), (b'OggS', 'audio/ogg'),
           (b'\x1aE\xdf\xa3', 'video/webm'), (b'\xd0\xcf\x11\xe0', 'application/msword')]


def sniff(head):
    """The file's type from its first bytes (what it is, not what it is called)."""
    if head[4:8] == b'ftyp':
        return 'video/mp4'
    for magic, kind in SNIFFED:
        if head.startswith(magic):
            return kind
    stripped = head.lstrip().lower()
    if stripped.startswith((b'<!doctype html', b'<html', b'<script', b'<svg')):
        return 'text/html'
    try:
        head.decode('utf-8')
        return 'text/plain'
    except UnicodeDecodeError:
        return 'application/octet-stream'


def check(store, upload, scan=None):
    """The job's work: the whole file's sha256 and type, a virus scan when
    `scan` is given (a function of the path: None if clean, else the name of
    what it found), then the file is kept, or refused with why."""
    path = store.part(upload)
    if os.path.getsize(path) != upload.length:
        return refuse(store, upload, 'incomplete')
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        head = handle.read(512)
        digest.update(head)
        for block in iter(lambda: handle.read(BLOCK), b''):
            digest.update(block)
    found = scan(path) if scan else None
    if found:
        return refuse(store, upload, 'virus', sha256=digest.hexdigest())
    store.commit(upload)
    CandidateFile.update(state='available', sha256=digest.hexdigest(), mime=sniff(head),
                         scanned=scan is not None).where(CandidateFile.id == upload.id).execute()


def clamd_scanner(address):
    """A scan function for clamd's INSTREAM command at `host:port`: None if
    clean, else the name of what it found. Raises if clamd cannot answer (the
    job then fails and is tried again: a file is never passed unscanned)."""
    import socket
    import struct
    host, _, port = address.rpartition(':')

    def scan(path):
        with socket.create_connection((host, int(port)), timeout=120) as connection:
            connection.sendall(b'zINSTREAM\0')
            with open(path, 'rb') as handle:
                for block in iter(lambda: handle.read(65536), b''):
                    connection.sendall(struct.pack('!I', len(block)) + block)
            connection.sendall(struct.pack('!I', 0))
            reply = b''
            while not reply.endswith(b'\0'):
                more = connection.recv(4096)
                if not more:
                    break
                reply += more
        answer = reply.rstrip(b'\0').decode(errors='replace')
        if answer.endswith(' OK'):
            return None
        if answer.endswith(' FOUND'):
            return answer.split(':', 1)[-1].rsplit(' ', 1)[0].strip()[:100]
        raise RuntimeError(f'clamd: {answer[:200]}')
    return scan


def refuse(store, upload, problem, **fields):
    store.discard(upload)
    CandidateFile.update(state='refused', problem=problem, **fields).where(CandidateFile.id == upload.id).execute()


def delete(store, upload, sheet, actor=None, acting_for=None):
    """Delete a file until the unit's deadline, never after (in the server);
    an upload that stopped part-way can always be given up. Deleting a note
    file is audited (`actor`, `acting_for`)."""
    if upload.state != 'uploading' and after_deadline(sheet.unit, member_of(upload.entry_id)):
        raise DomainError('deadline_passed')
    with writing():
        deleted = CandidateFile.delete().where(CandidateFile.id == upload.id).execute()
        if deleted and upload.entry_id is None and actor is not None:
            AuditLog.record(actor, 'note_file.delete', f'unit:{sheet.unit.id}',
                            before={'file': upload.original_name, 'stored_as': upload.stored_name},
                            centre=sheet.centre.id, acting_for=acting_for)
    store.discard(upload)


def file_of(centre_id, unit_id, file_id):
    """A file of this centre's unit, a candidate's or an explanatory note's,
    or None: the one query both sides (centre, moderator) find a file by."""
    return (CandidateFile.select(CandidateFile).join(Entry, JOIN.LEFT_OUTER)
            .where(CandidateFile.id == file_id, CandidateFile.centre == centre_id,
                   (Entry.unit == unit_id) | (CandidateFile.entry.is_null() & (CandidateFile.unit == unit_id)))
            .get_or_none())


def note_files_of(sheet):
    """The centre's explanatory notes as files for the unit, oldest first."""
    return list(CandidateFile.select().where(CandidateFile.centre == sheet.centre.id,
                                             CandidateFile.unit == sheet.unit.id, CandidateFile.entry.is_null())
                .order_by(CandidateFile.id))


def note_of(sheet):
    return ExplanatoryNote.get_or_none(ExplanatoryNote.centre == sheet.centre, ExplanatoryNote.unit == sheet.unit)


def save_note(sheet, text, actor, acting_for=None):
    """The centre's explanatory note for the moderator: written or changed
    (an empty one is removed), audited with before and after."""
    text = (text or '').replace('\r\n', '\n').strip()
    if len(text) > ExplanatoryNote.MAX_LENGTH:
        raise DomainError('note_too_long', maximum=ExplanatoryNote.MAX_LENGTH)
    with writing():
        note = note_of(sheet)
        before = note.text if note else ''
        if text == before:
            return False
        if not text:
            note.delete_instance()
        elif note:
            ExplanatoryNote.update(text=text, written_by=acting_for or actor, written_at=utcnow()).where(
                ExplanatoryNote.id == note.id).execute()
        else:
            ExplanatoryNote.create(centre=sheet.centre, unit=sheet.unit, text=text, written_by=acting_for or actor)
        AuditLog.record(actor, 'note.save', f'unit:{sheet.unit.id}', before=before, after=text,
                        centre=sheet.centre, acting_for=acting_for)
    return True


def requests_of(sheet):
    """The centre's file-deletion and opt-out requests for the unit, newest first."""
    from models import Request
    return list(Request.select().where(Request.centre == sheet.centre, Request.unit == sheet.unit,
                                       Request.kind.in_(['file_deletion', 'e_submission_opt_out']))
                .order_by(Request.created_at.desc()))


def files_of(sheet):
    """{entry id: [files]} of a marksheet's sampled candidates, in one query."""
    out = {}
    for upload in (CandidateFile.select().join(Entry)
                   .where(Entry.centre == sheet.centre, Entry.unit == sheet.unit)
                   .order_by(CandidateFile.id)):
        out.setdefault(upload.entry_id, []).append(upload)
    return out



def zip_sample(store, sheet, path, progress=None):
    """Every available file of the sample's candidates, and the centre's
    explanatory notes as files in `notes/`, in one zip at `path` (stored, not compressed: video and documents are compressed already),
    written beside it and renamed: never half a zip. Returns how many files."""
    import tempfile
    import zipfile
    members = {e.id for e in sheet.sampled_entries()}
    uploads = [(f.stored_name, f) for entry_id, fs in files_of(sheet).items() if entry_id in members
               for f in fs if f.state == 'available']
    uploads += [('notes/' + f.stored_name, f) for f in note_files_of(sheet) if f.state == 'available']
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix='.part')
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, 'w', zipfile.ZIP_STORED, allowZip64=True) as archive:
            for done, (name, upload) in enumerate(uploads, start=1):
                member = zipfile.ZipInfo(name, date_time=upload.uploaded_at.timetuple()[:6])
                member.external_attr = 0o644 << 16  # readable by whoever unpacks it, dated when it was uploaded
                with store.open(upload) as source, archive.open(member, 'w', force_zip64=True) as out:
                    for block in iter(lambda: source.read(BLOCK), b''):
                        out.write(block)
                if progress:
                    progress(done, len(uploads))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return len(uploads)


def store_of(config):
    """S3 when a bucket is configured, else local folders."""
    if config.get('S3_BUCKET'):
        return S3Store(config['UPLOADS_DIR'], config)
    return Store(config['UPLOADS_DIR'], config['FILES_DIR'])


def register_job():
    import jobs

    @jobs.runner('check_file')
    def check_file(job):
        """After the last byte: checksum, type, virus scan when configured."""
        from flask import current_app
        upload = CandidateFile.get_or_none(CandidateFile.id == job.arguments['file'])
        if upload is None or upload.state != 'checking':
            return
        address = current_app.config.get('CLAMD_ADDRESS')
        check(store_of(current_app.config), upload, clamd_scanner(address) if address else None)

    @jobs.runner('sample_zip')
    def sample_zip(job):
        """The whole sample's files in one zip, for the moderator."""
        from flask import current_app
        from models import Centre, Job, Marksheet, Unit
        sheet = Marksheet(Centre.get_by_id(job.centre_id), Unit.get_by_id(job.arguments['unit']))
        path = os.path.join(current_app.config['REPORTS_DIR'], f'sample-{job.id}.zip')
        zip_sample(store_of(current_app.config), sheet, path,
                   lambda done, total: jobs.set_progress(job, 5 + int(90 * done / total)))
        Job.update(result_path=path).where(Job.id == job.id).execute()


register_job()
