"""/healthz for the load balancer and the supervisor (issue 11): the
database, Redis, the queue's depth and its oldest waiting job, and file
storage. 200 when this machine can serve, 503 when it cannot. It says
nothing about centres or people, so it needs no sign-in."""
import os
import time

from flask import Blueprint, current_app, jsonify

from models import Job, db, utcnow

bp = Blueprint('health', __name__)


@bp.route('/healthz')
def healthz():
    checks = {'database': check(database), 'redis': check(redis_queue), 'storage': check(storage)}
    healthy = all(c['ok'] for name, c in checks.items() if name != 'redis' or current_app.config['REDIS_URL'])
    response = jsonify(status='ok' if healthy else 'unavailable', **checks)
    response.status_code = 200 if healthy else 503
    return response


def check(probe):
    started = time.monotonic()
    try:
        result = probe() or {}
        result['ok'] = True
    except Exception as error:  # whatever failed is the answer
        result = {'ok': False, 'error': type(error).__name__}
    result['ms'] = round((time.monotonic() - started) * 1000, 1)
    return result


def database():
    db.execute_sql('SELECT 1')
    waiting = Job.select().where(Job.status == 'queued').order_by(Job.created_at).first()
    return {'jobs_waiting': Job.select().where(Job.status == 'queued').count(),
            'oldest_waiting_seconds': round((utcnow() - waiting.created_at).total_seconds()) if waiting else 0}


def redis_queue():
    queue = current_app.extensions.get('rq_queue')
    if queue is None:
        return {'configured': False}
    from rq import Queue
    import jobs
    queue.connection.ping()
    return {'configured': True,
            'queued': {name: Queue(name, connection=queue.connection).count for name in jobs.QUEUES}}


def storage():
    config = current_app.config
    if config.get('S3_BUCKET'):
        import uploads
        store = uploads.store_of(config)
        store.client.head_bucket(Bucket=store.bucket)
        return {'kind': 's3'}
    for folder in (config['UPLOADS_DIR'], config['FILES_DIR']):
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(folder)
    return {'kind': 'local'}
