"""Background work. `enqueue()` is the only door to the queue: with no
REDIS_URL the job runs in-process, otherwise RQ takes it (QUALITY REL-4, REL-5).

A job is a row of ours (`models.Job`), written in the same transaction as
its cause; `enqueue()` is called after commit. If Redis is away the row
waits with `enqueued_at` empty and `sweep()` enqueues it later, exactly once.

E-mail has a queue of its own that workers empty first, so a password-reset
mail never waits behind a queue of PDF reports. In-process (no Redis), a
request hands its job to one background thread and answers at once; only
tests (JOBS_INLINE) and commands run jobs where they are asked for.
"""
import contextlib
import datetime
import itertools
import json
import logging
import os
import threading
from queue import PriorityQueue

from flask import current_app, has_app_context, has_request_context
from flask_babel import force_locale

from peewee import fn

from models import Job, db, utcnow

log = logging.getLogger(__name__)
RUNNERS = {}
JOB_TIMEOUT = 180  # seconds; PDFs render in well under this (PDF-1)
QUEUE_NAME = 'portal'
MAIL_QUEUE = 'mail'
QUEUES = (MAIL_QUEUE, QUEUE_NAME)  # in the order workers take from them
MAIL_KINDS = {'send_mail'}


def runner(kind):
    """Register the function that does the work of a kind of job."""
    def register(function):
        RUNNERS[kind] = function
        return function
    return register


def init_app(app):
    app.config.setdefault('JOBS_INLINE', app.testing)  # no Redis: run in the request, not a thread
    app.config.setdefault('REPORT_JOBS_PER_HOUR', 20)  # new reports one account may ask for
    app.config.setdefault('REPORT_KEEP_HOURS', 24)     # report files older than this are deleted
    app.extensions['rq_queue'] = None
    if app.config.get('REDIS_URL'):
        from redis import Redis
        from rq import Queue
        connection = Redis.from_url(app.config['REDIS_URL'], socket_connect_timeout=2,
                                    socket_timeout=5)
        app.extensions['rq_queue'] = Queue(QUEUE_NAME, connection=connection)
    from jobs import emails, imports, reports  # noqa: F401  register their runners


def record(kind, centre=None, account=None, language='en', **args):
    """Write the job row; call inside the transaction of the change that causes it."""
    return Job.create(kind=kind, args=json.dumps(args, sort_keys=True), centre=centre,
                      account=account, language=language)


def enqueue(job):
    """Hand a recorded job to the workers (or, with no Redis, to this
    process's job thread; inline in tests and commands)."""
    queue = current_app.extensions.get('rq_queue')
    if queue is None:
        if current_app.config['JOBS_INLINE'] or not has_request_context():
            run_here(job.id)
        else:
            in_background(job)
        return
    if job.kind in MAIL_KINDS:
        from rq import Queue
        queue = Queue(MAIL_QUEUE, connection=queue.connection)
    claimed = (Job.update(enqueued_at=utcnow())
               .where(Job.id == job.id, Job.enqueued_at.is_null()).execute())
    if not claimed:
        return
    from redis.exceptions import RedisError
    from rq import Retry
    try:
        queue.enqueue('jobs.run', job.id, job_id=f'portal-job-{job.id}',
                      retry=Retry(max=3, interval=[5, 30, 120]),
                      job_timeout=JOB_TIMEOUT, failure_ttl=7 * 86400)
    except RedisError:
        log.warning('Redis unavailable: job %s waits for the sweeper', job.id)
        Job.update(enqueued_at=None).where(Job.id == job.id).execute()


def sweep():
    """Enqueue every job that missed the queue (Redis was down), and again
    every job whose worker died without a word: its heartbeat stopped for
    three beats. Returns how many."""
    stale = utcnow() - datetime.timedelta(seconds=current_app.config['JOB_STALE_SECONDS'])
    lost = utcnow() - datetime.timedelta(seconds=3 * current_app.config['JOB_HEARTBEAT_SECONDS'])
    (Job.update(status='queued', enqueued_at=None, error='worker_lost')
     .where((Job.status == 'started') & (fn.COALESCE(Job.heartbeat_at, Job.started_at) < lost))
     .execute())
    (Job.update(status='queued', enqueued_at=None)
     .where((Job.status == 'queued') & (Job.enqueued_at < stale))
     .execute())
    waiting = list(Job.select().where(Job.status == 'queued', Job.enqueued_at.is_null()))
    for job in waiting:
        enqueue(job)
    return len(waiting)


_worker_app = None
_worker_lock = threading.Lock()


@contextlib.contextmanager
def app_context():
    """The app around a job: the caller's in-process, built once in a worker."""
    global _worker_app
    if has_app_context():
        yield current_app
        return
    with _worker_lock:
        if _worker_app is None:
            from app import create_app
            _worker_app = create_app()
    with _worker_app.app_context():
        with db.connection_context():
            yield _worker_app


def run(job_id):
    """Do a recorded job (RQ calls this by name). Raises on failure so RQ retries."""
    with app_context():
        job = Job.get_or_none(Job.id == job_id)
        if job is None or job.status == 'finished':
            return
        Job.update(status='started', progress=5, attempts=Job.attempts + 1, started_at=utcnow(),
                   heartbeat_at=utcnow(), error='').where(Job.id == job_id).execute()
        try:
            with force_locale(job.language), heartbeat(job_id, current_app.config['JOB_HEARTBEAT_SECONDS']):
                RUNNERS[job.kind](job)
        except Exception as error:
            Job.update(status='failed', error=f'{type(error).__name__}: {error}'[:500]).where(
                Job.id == job_id).execute()
            raise
        Job.update(status='finished', progress=100, finished_at=utcnow()).where(
            Job.id == job_id).execute()


@contextlib.contextmanager
def heartbeat(job_id, every):
    """While the job runs, a thread writes its heartbeat: if the worker is
    killed the beats stop, and the sweeper runs the job again (issue 11)."""
    stop = threading.Event()

    def beat():
        with db.connection_context():
            while not stop.wait(every):
                try:
                    Job.update(heartbeat_at=utcnow()).where(Job.id == job_id, Job.status == 'started').execute()
                except Exception:  # the database away for a moment: the next beat tries again
                    log.warning('heartbeat of job %s not written', job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f'heartbeat-{job_id}', daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(every + 5)


def run_here(job_id):
    """Run a job in this process. A failure is recorded on the job's row by
    `run` and logged here; whoever asked for it carries on."""
    try:
        run(job_id)
    except Exception:
        log.exception('job %s failed in-process', job_id)


_background = None  # (pid, PriorityQueue) of this process's job thread
_background_lock = threading.Lock()
_order = itertools.count()


def in_background(job):
    """Give the job to this web process's one job thread, so the request
    answers at once and no PDF is rendered inside a request; mail first, as
    the workers take it. The thread starts on first use (and again in a
    process forked after that)."""
    global _background
    with _background_lock:
        if _background is None or _background[0] != os.getpid():
            waiting = PriorityQueue()
            threading.Thread(target=work_through, args=(waiting,), name='portal-jobs',
                             daemon=True).start()
            _background = (os.getpid(), waiting)
    priority = 0 if job.kind in MAIL_KINDS else 1
    _background[1].put((priority, next(_order), job.id, current_app._get_current_object()))


def work_through(waiting):
    """The job thread: one job at a time, each in its app with a connection
    of its own; old report files are cleaned up as the worker would."""
    from jobs.reports import clean_reports_when_due
    while True:
        _, _, job_id, app = waiting.get()
        with app.app_context(), db.connection_context():
            run_here(job_id)
            clean_reports_when_due()


def set_progress(job, percent):
    Job.update(progress=percent).where(Job.id == job.id).execute()
