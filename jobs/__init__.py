"""Background work. `enqueue()` is the only door to the queue: with no
REDIS_URL the job runs in-process, otherwise RQ takes it (QUALITY REL-4, REL-5).

A job is a row of ours (`models.Job`), written in the same transaction as
its cause; `enqueue()` is called after commit. If Redis is away the row
waits with `enqueued_at` empty and `sweep()` enqueues it later, exactly once.
"""
import contextlib
import datetime
import json
import logging
import threading

from flask import current_app, has_app_context
from flask_babel import force_locale

from models import Job, db, utcnow

log = logging.getLogger(__name__)
RUNNERS = {}
JOB_TIMEOUT = 180  # seconds; PDFs render in well under this (PDF-1)
QUEUE_NAME = 'portal'


def runner(kind):
    """Register the function that does the work of a kind of job."""
    def register(function):
        RUNNERS[kind] = function
        return function
    return register


def init_app(app):
    app.extensions['rq_queue'] = None
    if app.config.get('REDIS_URL'):
        from redis import Redis
        from rq import Queue
        connection = Redis.from_url(app.config['REDIS_URL'], socket_connect_timeout=2,
                                    socket_timeout=5)
        app.extensions['rq_queue'] = Queue(QUEUE_NAME, connection=connection)
    from jobs import emails, reports  # noqa: F401  register their runners


def record(kind, centre=None, account=None, language='en', **args):
    """Write the job row; call inside the transaction of the change that causes it."""
    return Job.create(kind=kind, args=json.dumps(args), centre=centre, account=account,
                      language=language)


def enqueue(job):
    """Hand a recorded job to the workers (or run it now, with no Redis)."""
    queue = current_app.extensions.get('rq_queue')
    if queue is None:
        try:
            run(job.id)
        except Exception:  # recorded on the job row; the request still succeeds
            log.exception('job %s failed in-process', job.id)
        return
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
    every job whose worker died without a word. Returns how many."""
    stale = utcnow() - datetime.timedelta(seconds=current_app.config['JOB_STALE_SECONDS'])
    (Job.update(status='queued', enqueued_at=None)
     .where(((Job.status == 'started') & (Job.started_at < stale))
            | ((Job.status == 'queued') & (Job.enqueued_at < stale)))
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
                   error='').where(Job.id == job_id).execute()
        try:
            with force_locale(job.language):
                RUNNERS[job.kind](job)
        except Exception as error:
            Job.update(status='failed', error=f'{type(error).__name__}: {error}'[:500]).where(
                Job.id == job_id).execute()
            raise
        Job.update(status='finished', progress=100, finished_at=utcnow()).where(
            Job.id == job_id).execute()


def set_progress(job, percent):
    Job.update(progress=percent).where(Job.id == job.id).execute()
