"""P-6: uploading one large file (1 GiB by default) through the running
portal, against copying the same file on the same disk.

    .venv/bin/python bench/run.py --only uploads

* (a) tus 1.0 as the browser's tus-js-client does it (static/js/upload.js):
  POST /internal-assessment/uploads, then PATCH pieces of 50 MiB;
* (b) the plain form without JavaScript: one multipart POST to
  /internal-assessment/<unit>/entries/<entry>/files, csrf_token first.

The client is `requests`, and every body is streamed from the file in
1 MiB blocks (an object with a length and an iterator: requests sends a
Content-Length and urllib3 one `sendall` per block), never the bytes of the
whole file. gunicorn runs as in the Procfile, with 1 worker of 4 threads,
on a demo database where 6051/E1 (an e-submission unit) is submitted for
centre 68999. While a file goes up, a thread reads the worker's VmRSS from
/proc every 50 ms (and VmHWM, the kernel's own peak, reset before each
upload); the worker's utime + stime before and after give its CPU. After
the last byte the portal's check job (sha256 of the whole file, its type)
runs on the worker's job thread: it is timed apart, and the stored file's
sha256 is compared with the source's.
"""
import contextlib
import hashlib
import os
import shutil
import threading
import time
import uuid

from bench import server, world
from bench.httpclient import BenchError, csrf_token, process_cpu_seconds

MIB = 1024 * 1024
GIB = 1024 * MIB
BLOCK = MIB              # the client reads and sends 1 MiB at a time
PIECE = 50 * MIB         # tus-js-client's chunkSize in static/js/upload.js
UNIT_CODE = '6051/E1'    # e-submission
CENTRE = '68999'
USERNAME = '68999JBR'
SAMPLE_EVERY = 0.05      # seconds between VmRSS readings
CHECK_TIMEOUT = 120      # seconds to wait for the check job
HTTP_TIMEOUT = (10, 300)  # connect, read (a 50 MiB piece is fsynced before the answer)


# --- bodies streamed from the file ------------------------------------------------

class FileSlice:
    """Bytes [start, start + length) of a file, for requests: `len()` gives
    the Content-Length, iterating reads 1 MiB at a time."""

    def __init__(self, path, start, length, head=b'', tail=b''):
        self.path, self.start, self.length, self.head, self.tail = path, start, length, head, tail

    def __len__(self):
        return len(self.head) + self.length + len(self.tail)

    def __iter__(self):
        if self.head:
            yield self.head
        with open(self.path, 'rb') as handle:
            handle.seek(self.start)
            left = self.length
            while left:
                block = handle.read(min(BLOCK, left))
                if not block:
                    raise BenchError(f'{self.path} is shorter than expected')
                left -= len(block)
                yield block
        if self.tail:
            yield self.tail


def multipart_body(path, size, token, filename):
    """(content type, body): the csrf_token part, then the file part
    streamed from disk, then the closing boundary; the length is known in
    advance."""
    boundary = f'----portal-bench-{uuid.uuid4().hex}'
    head = (f'--{boundary}\r\n'
            'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f'{token}\r\n'
            f'--{boundary}\r\n'
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            'Content-Type: application/octet-stream\r\n\r\n').encode()
    tail = f'\r\n--{boundary}--\r\n'.encode()
    return f'multipart/form-data; boundary={boundary}', FileSlice(path, 0, size, head, tail)


# --- measuring the server ------------------------------------------------------------

def status_kib(pid, field):
    """A `field:   1234 kB` line of /proc/<pid>/status, in KiB (0 if gone)."""
    try:
        with open(f'/proc/{pid}/status') as handle:
            for line in handle:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def reset_peak(pid):
    """Writing 5 to clear_refs resets VmHWM (Linux >= 4.0); False if refused."""
    try:
        with open(f'/proc/{pid}/clear_refs', 'w') as handle:
            handle.write('5')
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """VmRSS of the worker(s), summed, every 50 ms, with the time of each
    reading: `peak(start, end)` is the highest between two moments (the
    upload, then its check job)."""

    def __init__(self, pids):
        super().__init__(name='rss-sampler', daemon=True)
        self.pids = list(pids)
        self.samples = []             # (perf_counter, KiB)
        self.stopping = threading.Event()

    def read(self):
        return sum(status_kib(pid, 'VmRSS') for pid in self.pids)

    def run(self):
        while True:
            self.samples.append((time.perf_counter(), self.read()))
            if self.stopping.wait(SAMPLE_EVERY):
                break
        self.samples.append((time.perf_counter(), self.read()))

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)

    def peak(self, start, end):
        inside = [kib for at, kib in self.samples if start <= at <= end]
        return max(inside) if inside else 0


class Phase:
    """Wall time, the worker's CPU and RSS over one part of an upload."""

    def __init__(self, wall, server_cpu, client_cpu, rss_peak_kib):
        self.wall, self.server_cpu, self.client_cpu, self.rss_peak_kib = (
            wall, server_cpu, client_cpu, rss_peak_kib)


class Measured:
    """One upload: the HTTP part, then the check job."""

    def __init__(self, name):
        self.name = name
        self.key = None
        self.copies = (None, None)      # seconds of the disk copies just before and after
        self.upload = self.check = None
        self.baseline_kib = 0
        self.hwm_kib = None
        self.requests = 0
        self.whole = None
        self.server_sha_ok = None
        self.state = self.stored_name = None
        self.notes = []

    def growth_mib(self):
        """Peak sampled VmRSS over the upload and its check job, less the baseline."""
        return (max(self.upload.rss_peak_kib, self.check.rss_peak_kib if self.check else 0)
                - self.baseline_kib) / 1024

    def worst_growth_mib(self):
        return max(self.growth_mib(), self.hwm_growth_mib() or 0.0)

    def copy_seconds(self):
        """The mean of the copies just before and after this upload."""
        return sum(self.copies) / len(self.copies)

    def hwm_growth_mib(self):
        return None if self.hwm_kib is None else (self.hwm_kib - self.baseline_kib) / 1024


# --- the world -----------------------------------------------------------------------------

def build(tmp):
    """A demo database with 6051/E1 submitted for centre 68999; the sampled
    entries of that marksheet (ids), the unit's id."""
    from models import Account, Centre, Entry, Marksheet, SampleMember, Unit, db
    path = os.path.join(tmp, 'uploads.db')
    world.demo_database(path, REDIS_URL=None)
    with db.connection_context():
        centre = Centre.get(Centre.number == CENTRE)
        unit = Unit.get(Unit.code == UNIT_CODE)
        teacher = Account.get(Account.username == USERNAME)
        Marksheet(centre, unit).submit(teacher)
        sampled = [m.entry_id for m in (SampleMember.select().join(Entry)
                                        .where(Entry.centre == centre, Entry.unit == unit)
                                        .order_by(Entry.id))]
        unit_id = unit.id
    db.close()
    if not sampled:
        raise BenchError(f'no sample for {UNIT_CODE} after submitting')
    return path, unit_id, sampled


def make_source(path, size):
    """`size` bytes of os.urandom, fsynced (so its write-back does not fall
    on the measurements); returns the sha256."""
    digest = hashlib.sha256()
    with open(path, 'wb') as handle:
        left = size
        while left:
            block = os.urandom(min(4 * MIB, left))
            digest.update(block)
            handle.write(block)
            left -= len(block)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(4 * MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def disk_copy(source, target):
    """shutil.copyfile to the same filesystem, then fsync: seconds."""
    start = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, 'rb+') as handle:
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - start
    os.unlink(target)
    return seconds


@contextlib.contextmanager
def environment(**names):
    """os.environ entries for the gunicorn about to start (None: unset),
    then as before."""
    saved = {name: os.environ.get(name) for name in names}
    for name, value in names.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the client ----------------------------------------------------------------------------

class Uploader:
    """A signed-in requests.Session on the running portal."""

    def __init__(self, port, unit_id):
        import requests
        self.base = f'http://127.0.0.1:{port}'
        self.unit_id = unit_id
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy: 127.0.0.1 only
        page = self.session.get(self.base + '/login', timeout=HTTP_TIMEOUT).text
        answer = self.session.post(self.base + '/login', timeout=HTTP_TIMEOUT, data={
            'username': USERNAME, 'password': world.PASSWORD, 'csrf_token': csrf_token(page)})
        if answer.status_code != 200 or 'Signed in as' not in answer.text:
            raise BenchError(f'sign-in as {USERNAME} failed (HTTP {answer.status_code})')
        self.token = csrf_token(answer.text)  # a fresh session after sign-in: its own token

    def tus(self, path, size, entry_id, filename):
        """Creation, then PATCH pieces of 50 MiB; returns (upload key, requests made)."""
        import base64

        def b64(text):
            return base64.b64encode(str(text).encode()).decode()

        headers = {'Tus-Resumable': '1.0.0', 'X-CSRFToken': self.token}
        created = self.session.post(self.base + '/internal-assessment/uploads', timeout=HTTP_TIMEOUT,
                                    headers=dict(headers, **{
                                        'Upload-Length': str(size),
                                        'Upload-Metadata': f'unit {b64(self.unit_id)},entry {b64(entry_id)},'
                                                           f'filename {b64(filename)}'}))
        if created.status_code != 201:
            raise BenchError(f'tus creation answered {created.status_code}: {created.text[:200]}')
        location = created.headers['Location']
        key = location.rstrip('/').rsplit('/', 1)[-1]
        offset, made = 0, 1
        while offset < size:
            piece = min(PIECE, size - offset)
            answer = self.session.patch(
                self.base + location, data=FileSlice(path, offset, piece), timeout=HTTP_TIMEOUT,
                headers=dict(headers, **{'Content-Type': 'application/offset+octet-stream',
                                         'Upload-Offset': str(offset)}))
            made += 1
            if answer.status_code != 204:
                raise BenchError(f'tus PATCH at {offset} answered {answer.status_code}: {answer.text[:200]}')
            offset = int(answer.headers['Upload-Offset'])
        return key, made

    def form(self, path, size, entry_id, filename):
        """One multipart POST, streamed; the portal answers 303 to the samples."""
        content_type, body = multipart_body(path, size, self.token, filename)
        answer = self.session.post(
            f'{self.base}/internal-assessment/{self.unit_id}/entries/{entry_id}/files', data=body,
            headers={'Content-Type': content_type}, allow_redirects=False, timeout=HTTP_TIMEOUT)
        if answer.status_code != 303:
            raise BenchError(f'form upload answered {answer.status_code}: {answer.text[:200]}')
        return answer.headers.get('Location', ''), 1


def wait_for_check(find, deadline_seconds=CHECK_TIMEOUT):
    """The CandidateFile once its check job has finished (or None)."""
    from models import db
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with db.connection_context():
            upload = find()
        if upload is not None and upload.state in ('available', 'refused'):
            return upload
        time.sleep(0.1)
    return None


def measure(name, gunicorn, action, find, source, source_sha, files_dir):
    """Run one upload under the sampler; then wait for its check job and
    compare the stored file with the source."""
    pids = gunicorn.worker_pids()
    result = Measured(name)
    hwm_reset = all(reset_peak(pid) for pid in pids)
    sampler = RssSampler(pids)
    sampler.start()
    time.sleep(0.2)  # a few readings before the first byte: the baseline
    result.baseline_kib = max(kib for _at, kib in sampler.samples)
    cpu0, client0, start = process_cpu_seconds(pids), time.process_time(), time.perf_counter()
    try:
        _key, result.requests = action()
        sent = time.perf_counter()
        cpu1, client1 = process_cpu_seconds(pids), time.process_time()
        result.upload = Phase(sent - start, cpu1 - cpu0, client1 - client0, sampler.peak(start, sent))
        upload = wait_for_check(find)
        checked = time.perf_counter()
        cpu2 = process_cpu_seconds(pids)
        result.check = Phase(checked - sent, cpu2 - cpu1, 0.0, sampler.peak(sent, checked))
    finally:
        sampler.stop()
    if hwm_reset:
        result.hwm_kib = sum(status_kib(pid, 'VmHWM') for pid in pids)
    if sorted(gunicorn.worker_pids()) != sorted(pids):
        result.notes.append('the gunicorn worker was replaced during the upload')
    if upload is None:
        result.notes.append(f'the check job did not finish within {CHECK_TIMEOUT} s')
        return result
    result.state, result.stored_name = upload.state, upload.stored_name
    if upload.state != 'available':
        result.notes.append(f'refused by the check: {upload.problem}')
        return result
    stored = os.path.join(files_dir, upload.stored_name)
    result.whole = os.path.getsize(stored) == os.path.getsize(source) and sha256_of(stored) == source_sha
    result.server_sha_ok = upload.sha256 == source_sha
    os.unlink(stored)  # 1 GiB less on the disk before the next one
    return result


# --- where the time goes: the same bytes without the portal -------------------------

def sink(environ, start_response):
    """A WSGI app for gunicorn (`bench.uploads:sink`): reads the body in
    1 MiB blocks like the portal; /write also writes it to a file in
    BENCH_SINK_DIR and fsyncs it at the end, anything else throws it away."""
    stream, received = environ['wsgi.input'], 0
    target = None
    if environ.get('PATH_INFO') == '/write' and environ.get('REQUEST_METHOD') == 'POST':
        target = open(os.path.join(os.environ['BENCH_SINK_DIR'], f'sink-{uuid.uuid4().hex}.bin'), 'wb')
    try:
        while True:
            block = stream.read(BLOCK)
            if not block:
                break
            received += len(block)
            if target:
                target.write(block)
        if target:
            target.flush()
            os.fsync(target.fileno())
    finally:
        if target:
            target.close()
            os.unlink(target.name)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [str(received).encode()]


class SinkGunicorn(server.Gunicorn):
    @property
    def command(self):
        return super().command[:-1] + ['bench.uploads:sink']


def sink_floor(tmp, source, size):
    """{'discard'|'write': (wall s, worker CPU s, client CPU s)}: one POST of
    the whole file to gunicorn (1 worker, 4 threads) running `sink`."""
    import requests
    gunicorn = SinkGunicorn(os.path.join(tmp, 'unused.db'), world.SECRET,
                            os.path.join(tmp, 'gunicorn-sink.log'), workers=1, threads=4)
    out = {}
    with environment(BENCH_SINK_DIR=tmp):
        gunicorn.start()
    try:
        session = requests.Session()
        session.trust_env = False
        pids = gunicorn.worker_pids()
        for name in ('discard', 'write'):
            cpu0, client0, start = process_cpu_seconds(pids), time.process_time(), time.perf_counter()
            answer = session.post(f'http://127.0.0.1:{gunicorn.port}/{name}', data=FileSlice(source, 0, size),
                                  timeout=HTTP_TIMEOUT)
            if answer.status_code != 200 or answer.text != str(size):
                raise BenchError(f'sink {name} answered {answer.status_code} {answer.text[:100]}')
            out[name] = (time.perf_counter() - start, process_cpu_seconds(pids) - cpu0,
                         time.process_time() - client0)
    finally:
        gunicorn.stop()
    return out


class PieceStream:
    """What request.stream gives receive(): read(n) of one piece of the file."""

    def __init__(self, handle, length):
        self.handle, self.left = handle, length

    def read(self, size):
        block = self.handle.read(min(size, self.left))
        self.left -= len(block)
        return block


def receive_in_process(tmp, source, size, entry_id):
    """uploads.receive() alone, no HTTP: the file in 50 MiB pieces from the
    page cache into a part file, as the tus PATCHes do (lock, write, sha256,
    fsync per piece, the offset recorded). Returns (wall s, CPU s, sha256
    alone s)."""
    import uploads as portal_uploads
    from models import Account, CandidateFile, Entry, db
    store = portal_uploads.Store(os.path.join(tmp, 'in-process-parts'), os.path.join(tmp, 'in-process-files'))
    with db.connection_context():
        entry = Entry.get_by_id(entry_id)
        name = f'bench-{uuid.uuid4().hex}'
        upload = CandidateFile.create(entry=entry.id, centre=entry.centre_id,
                                      uploaded_by=Account.get(Account.username == USERNAME),
                                      upload_key=name, stored_name=name,
                                      original_name='in-process.bin', length=size)
        store.create(upload)
        cpu0, start = time.process_time(), time.perf_counter()
        with open(source, 'rb') as handle:
            offset = 0
            while offset < size:
                piece = min(PIECE, size - offset)
                offset = portal_uploads.receive(store, upload, PieceStream(handle, piece), offset, piece)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        store.discard(upload)
        CandidateFile.delete().where(CandidateFile.id == upload.id).execute()
    start = time.perf_counter()
    sha256_of(source)
    return wall, cpu, time.perf_counter() - start


PATHS = {'tus': 'tus, 50 MiB PATCHes', 'form': 'form, one multipart POST'}


def run(tmp, size, rounds=2):
    """Everything, bounded: set-up, then `rounds` of tus and form in ABBA
    order with a disk copy before, between and after every upload, then
    where the time goes. Returns a dict of figures."""
    from models import CandidateFile

    began = time.perf_counter()
    db_path, unit_id, sampled = build(tmp)
    uploads_dir, files_dir = os.path.join(tmp, 'uploads-in'), os.path.join(tmp, 'files')
    source, copy = os.path.join(tmp, 'source.bin'), os.path.join(tmp, 'copy.bin')
    gunicorn = server.Gunicorn(db_path, world.SECRET, os.path.join(tmp, 'gunicorn-uploads.log'),
                               workers=1, threads=4)
    runs, copies = [], []
    inside = floor = None
    try:
        start = time.perf_counter()
        source_sha = make_source(source, size)
        made_in = time.perf_counter() - start
        # Local folders in the temporary directory, never a bucket or a scanner
        # from the caller's environment: the figure is the local disk's.
        with environment(FLASK_UPLOADS_DIR=uploads_dir, FLASK_FILES_DIR=files_dir, S3_BUCKET=None,
                         FLASK_S3_BUCKET=None, CLAMD_ADDRESS=None, FLASK_CLAMD_ADDRESS=None):
            gunicorn.start()
        client = Uploader(gunicorn.port, unit_id)
        entries = {'tus': sampled[0], 'form': sampled[1 % len(sampled)]}
        senders = {'tus': client.tus, 'form': client.form}

        def newest(entry_id, after_id):
            return lambda: (CandidateFile.select().where(CandidateFile.entry == entry_id,
                                                         CandidateFile.id > after_id)
                            .order_by(CandidateFile.id.desc()).first())

        def last_id():
            from models import db
            with db.connection_context():
                found = CandidateFile.select().order_by(CandidateFile.id.desc()).first()
            return found.id if found else 0

        # Warm-up: 1 MiB through each path, so the baseline has every import and
        # first-use cache in it; it also proves both paths work before 1 GiB.
        warm = os.path.join(tmp, 'warm.bin')
        warm_sha = make_source(warm, MIB)
        for key in PATHS:
            before = last_id()
            senders[key](warm, MIB, entries[key], 'warm-up.bin')
            done = wait_for_check(newest(entries[key], before), 30)
            if done is None or done.state != 'available' or done.sha256 != warm_sha:
                raise BenchError(f'warm-up through {key} did not arrive whole '
                                 f'({done.state if done else "no check"}); see gunicorn-uploads.log')
        os.unlink(warm)

        order = [key for turn in range(rounds) for key in (('tus', 'form') if turn % 2 == 0 else ('form', 'tus'))]
        copies.append(disk_copy(source, copy))
        for key in order:
            before = last_id()
            result = measure(PATHS[key], gunicorn,
                             lambda key=key: senders[key](source, size, entries[key], 'work.bin'),
                             newest(entries[key], before), source, source_sha, files_dir)
            result.key = key
            copies.append(disk_copy(source, copy))
            result.copies = (copies[-2], copies[-1])  # the copies just before and after
            runs.append(result)
        gunicorn.stop()
        inside = receive_in_process(tmp, source, size, entries['tus'])
        floor = sink_floor(tmp, source, size)
    finally:
        gunicorn.stop()
        for path in (source, copy):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        shutil.rmtree(uploads_dir, ignore_errors=True)
        shutil.rmtree(files_dir, ignore_errors=True)
    return {'size': size, 'copies': copies, 'runs': runs, 'made_in': made_in,
            'in_process': inside, 'sink': floor, 'seconds': time.perf_counter() - began}


# --- the whole sample as one zip, against Info-ZIP's `zip` ---------------------------

ZIP_UNIT_CODE = '9613/L3'  # 144 outcomes entered for centre 68999 in the demo: a sample of 20
ZIP_FILES = 20
ZIP_FILE_MIB = 10


def zip_world(tmp, file_mib=ZIP_FILE_MIB):
    """A fresh demo database where 9613/L3 is an e-submission unit, submitted
    for centre 68999 (a sample of 20), and every sampled candidate has one
    available file of `file_mib` MiB of os.urandom, put in place as demo.py's
    add_uploaded_work does (begin, the part written and fsynced, check).
    Returns (app, centre id, unit id, {stored name: (bytes, crc32)})."""
    import zlib

    import uploads as portal_uploads
    from models import Account, Centre, Marksheet, Unit, db
    app = world.demo_database(os.path.join(tmp, 'zip.db'), REDIS_URL=None, S3_BUCKET=None, CLAMD_ADDRESS=None,
                              UPLOADS_DIR=os.path.join(tmp, 'zip-parts'),
                              FILES_DIR=os.path.join(tmp, 'zip-files'),
                              REPORTS_DIR=os.path.join(tmp, 'zip-reports'))
    expected = {}
    with app.app_context(), db.connection_context():
        centre = Centre.get(Centre.number == CENTRE)
        unit = Unit.get(Unit.code == ZIP_UNIT_CODE)
        Unit.update(e_submission=True).where(Unit.id == unit.id).execute()
        unit = Unit.get_by_id(unit.id)
        sheet = Marksheet(centre, unit)
        sheet.submit(Account.by_username(CENTRE))
        teacher = Account.by_username(USERNAME)
        store = portal_uploads.store_of(app.config)
        for number, entry in enumerate(sheet.sampled_entries(), start=1):
            size = file_mib * MIB
            upload = portal_uploads.begin(sheet, entry, teacher, f'work {number}.bin', size)
            crc = 0
            with open(store.part(upload), 'wb') as out:
                for _block in range(file_mib):
                    block = os.urandom(MIB)
                    crc = zlib.crc32(block, crc)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())  # no write-back falls on the timings
            upload.received = size
            portal_uploads.check(store, upload)
            expected[upload.stored_name] = (size, crc)
        centre_id, unit_id = centre.id, unit.id
    db.close()
    return app, centre_id, unit_id, expected


def zip_members(path):
    """{name: (bytes, crc32)} of a zip's members, from its central directory."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        return {info.filename: (info.file_size, info.CRC) for info in archive.infolist()
                if info.compress_type == zipfile.ZIP_STORED}, len(archive.infolist())


def children_cpu():
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def zip_sample_run(tmp, file_mib=ZIP_FILE_MIB, rounds=3):
    """uploads.zip_sample() in-process against `zip -0 -q` on the same files,
    `rounds` of each in ABBA order, the output deleted after every run.
    Returns a dict of figures; every output's members are checked (names,
    sizes, CRC-32) against the files. Then, once, `cat` of the same files
    into one file: the bytes copied with no zip at all."""
    import subprocess

    import uploads as portal_uploads
    from models import Centre, Marksheet, Unit, db
    began = time.perf_counter()
    app, centre_id, unit_id, expected = zip_world(tmp, file_mib)
    built = time.perf_counter() - began
    files_dir = app.config['FILES_DIR']
    out_dir = os.path.join(tmp, 'zip-out')
    os.makedirs(out_dir, exist_ok=True)
    zip_command = shutil.which('zip')
    runs = {'zip_sample': [], 'zip': []}
    problems = [] if len(expected) == ZIP_FILES else [f'the sample has {len(expected)} members, not {ZIP_FILES}']
    with app.app_context(), db.connection_context():
        sheet = Marksheet(Centre.get_by_id(centre_id), Unit.get_by_id(unit_id))
        store = portal_uploads.store_of(app.config)
        names = [f.stored_name for fs in portal_uploads.files_of(sheet).values() for f in fs]

        def product(path):
            done = []
            cpu0, start = time.process_time(), time.perf_counter()
            count = portal_uploads.zip_sample(store, sheet, path, lambda d, total: done.append(d))
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            if count != len(expected) or len(done) != count:
                problems.append(f'zip_sample returned {count} and reported progress {len(done)} times '
                                f'for {len(expected)} files')
            return wall, cpu

        def info_zip(path):
            cpu0, start = children_cpu(), time.perf_counter()
            subprocess.run([zip_command, '-0', '-q', path, *names], cwd=files_dir, check=True)
            return time.perf_counter() - start, children_cpu() - cpu0

        order = [key for turn in range(rounds)
                 for key in (('zip_sample', 'zip') if turn % 2 == 0 else ('zip', 'zip_sample'))]
        if zip_command is None:
            order = [key for key in order if key == 'zip_sample']
            problems.append('no `zip` command (Debian package zip): only zip_sample was timed')
        for number, key in enumerate(order):
            path = os.path.join(out_dir, f'{key}-{number}.zip')
            wall, cpu = (product if key == 'zip_sample' else info_zip)(path)
            members, count = zip_members(path)
            size = os.path.getsize(path)
            if members != expected or count != len(expected):
                problems.append(f'{key} run {number + 1}: members differ from the files '
                                f'({count} members, {len(set(members) & set(expected))} of '
                                f'{len(expected)} names right, sizes and CRC-32 '
                                f'{"equal" if members == expected else "not all equal"})')
            runs[key].append((wall, cpu, size, members == expected))
            os.unlink(path)  # its dirty pages go with it, before the next run
        # The floor: the same bytes concatenated into one file, no zip at all.
        path = os.path.join(out_dir, 'cat.bin')
        cpu0, start = children_cpu(), time.perf_counter()
        with open(path, 'wb') as out:
            subprocess.run(['cat', *names], cwd=files_dir, stdout=out, check=True)
        floor = (time.perf_counter() - start, children_cpu() - cpu0)
        os.unlink(path)
    db.close()
    shutil.rmtree(out_dir, ignore_errors=True)
    for folder in ('zip-parts', 'zip-files', 'zip-reports'):
        shutil.rmtree(os.path.join(tmp, folder), ignore_errors=True)
    return {'files': len(expected), 'bytes': sum(s for s, _crc in expected.values()), 'runs': runs,
            'floor': floor, 'problems': problems, 'built': built, 'zip_version': zip_version(zip_command),
            'seconds': time.perf_counter() - began}


def zip_version(command):
    import subprocess
    if not command:
        return None
    try:
        text = subprocess.run([command, '-v'], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return '?'
    for line in text.splitlines():
        if line.startswith('This is Zip'):
            return line.split(',')[0].replace('This is ', '')
    return '?'


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def zip_report(report, tmp, rounds=3):
    """The zip figure, printed with `report` (bench/run.py's uploads section)."""
    figures = zip_sample_run(tmp, rounds=rounds)
    runs, files, mib = figures['runs'], figures['files'], figures['bytes'] / MIB
    report()
    report(f'ZIP  the whole sample as one zip: unit {ZIP_UNIT_CODE} of centre {CENTRE} made e-submission and '
           f'submitted (sample of {files}), one file of {ZIP_FILE_MIB} MiB of os.urandom per sampled candidate '
           f'({mib:.0f} MiB in all, fsynced, in the page cache); uploads.zip_sample() in-process against '
           f'`zip -0 -q` ({figures["zip_version"] or "missing"}) on the same files, {rounds} round(s) in ABBA '
           f'order, each output deleted before the next (set-up {figures["built"]:.1f} s)')
    for key, label in (('zip_sample', 'uploads.zip_sample()'), ('zip', 'zip -0 -q')):
        if not runs[key]:
            continue
        walls = [wall for wall, _cpu, _size, _ok in runs[key]]
        report(f'  {label:<22} ' + ', '.join(f'{wall:.3f} s' for wall in walls)
               + f'; median {median(walls):.3f} s ({mib / median(walls):.0f} MiB/s), CPU '
               + '/'.join(f'{cpu:.2f}' for _wall, cpu, _size, _ok in runs[key]) + ' s; zip of '
               + f'{runs[key][0][2]:,} bytes; members = the files (names, sizes, CRC-32): '
               + ('yes' if all(ok for _wall, _cpu, _size, ok in runs[key]) else 'NO'))
    floor_wall, floor_cpu = figures['floor']
    report(f'  {"cat, no zip at all":<22} {floor_wall:.3f} s ({mib / floor_wall:.0f} MiB/s), CPU {floor_cpu:.2f} s '
           f'(once, after the rest)')
    for problem in figures['problems']:
        report(f'  !! {problem}')
    if runs['zip_sample'] and runs['zip']:
        ours = median([wall for wall, _cpu, _size, _ok in runs['zip_sample']])
        theirs = median([wall for wall, _cpu, _size, _ok in runs['zip']])
        report(f'ZIP  zip of a {files}-candidate sample ÷ `zip` of the same files   ratio {ours / theirs:.2f}   '
               f'({ours:.3f} s vs {theirs:.3f} s, medians; below 1 is faster than zip)   no goal set')
    report(f'(zip: {figures["seconds"]:.0f} s in all)')
