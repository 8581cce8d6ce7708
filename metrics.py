"""Prometheus metrics at /metrics, for operators (issue 11, point 6).

Requests, latency and 5xx errors are labelled by the endpoint's name
(`internal_assessment.save_outcome`), never by the URL, so ids never become
labels. Grade saves, submissions and sign-ins are counted as their audit rows
are written (`AuditLog.recorded`), so they mean what the audit log means.
Queue depth and the age of the oldest waiting job are read when scraped.

Not public: only from an address in METRICS_ALLOW (default the machine
itself) or with `Authorization: Bearer <METRICS_TOKEN>`; anything else gets
404. Behind a proxy that is not declared with PROXY_HOPS every request comes
from the proxy's address, so a request that carries X-Forwarded-For is never
let in by address, only by token.

Several gunicorn processes: set PROMETHEUS_MULTIPROC_DIR (an empty folder,
emptied at each start) and each process writes its values there; a scrape
adds them up (prometheus_client's multiprocess mode). Otherwise one
in-process registry.
"""
import hmac
import ipaddress
import os
import time

from flask import Blueprint, Response, abort, current_app, g, has_request_context, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily

MULTIPROCESS = bool(os.environ.get('PROMETHEUS_MULTIPROC_DIR'))
# In multiprocess mode values go to files whatever the registry; the scrape
# reads them with a fresh registry (below).
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter('portal_requests_total', 'HTTP requests by endpoint, method and status',
                   ['endpoint', 'method', 'status'], registry=REGISTRY)
LATENCY = Histogram('portal_request_seconds', 'Time to answer a request, by endpoint', ['endpoint'],
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10), registry=REGISTRY)
ERRORS = Counter('portal_errors_total', 'Responses with a 5xx status, by endpoint', ['endpoint'],
                 registry=REGISTRY)
SAVES = Counter('portal_grade_saves_total', 'Outcomes saved (one per outcome changed), by endpoint',
                ['endpoint'], registry=REGISTRY)
SUBMISSIONS = Counter('portal_submissions_total', 'Units submitted', registry=REGISTRY)
SIGN_INS = Counter('portal_sign_ins_total', 'Sign-in attempts by result', ['result'], registry=REGISTRY)

SIGN_IN_ACTIONS = {'auth.sign_in': 'success', 'auth.sign_in_failed': 'failure',
                   'auth.sign_in_code_failed': 'failure', 'auth.sign_in_throttled': 'throttled'}
UNMATCHED = '<unmatched>'  # a URL no route answers: one label, whatever was asked

bp = Blueprint('metrics', __name__)


def init_app(app):
    app.config.setdefault('METRICS_ALLOW', os.environ.get('METRICS_ALLOW', '127.0.0.1,::1'))
    app.config.setdefault('METRICS_TOKEN', os.environ.get('METRICS_TOKEN') or None)
    app.before_request(started)
    app.after_request(finished)
    app.register_blueprint(bp)
    from models import AuditLog
    AuditLog.recorded = staticmethod(audit_recorded)


def started():
    g.metrics_started = time.perf_counter()


def finished(response):
    began = g.pop('metrics_started', None)
    endpoint = request.endpoint or UNMATCHED
    if began is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - began)
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    if response.status_code >= 500:
        ERRORS.labels(endpoint).inc()
    return response


def audit_recorded(action):
    """Called by AuditLog.record: the audit rows that are also counts."""
    if action == 'outcome.set':
        SAVES.labels((request.endpoint if has_request_context() else None) or 'other').inc()
    elif action == 'unit.submit':
        SUBMISSIONS.inc()
    elif action in SIGN_IN_ACTIONS:
        SIGN_INS.labels(SIGN_IN_ACTIONS[action]).inc()


class QueueCollector:
    """Queue depth and the oldest waiting job's age, read at scrape time."""

    def collect(self):
        from models import Job, fn, utcnow
        depth = GaugeMetricFamily('portal_queue_depth', 'Jobs waiting, by queue (RQ when Redis is configured, '
                                  'else the job table)', labels=['queue'])
        queue = current_app.extensions.get('rq_queue')
        if queue is not None:
            from rq import Queue
            import jobs
            try:
                for name in jobs.QUEUES:
                    depth.add_metric([name], Queue(name, connection=queue.connection).count)
            except Exception:  # Redis away: the job table still says what waits
                queue = None
        if queue is None:
            depth.add_metric(['jobs'], Job.select().where(Job.status == 'queued').count())
        yield depth
        oldest = Job.select(fn.MIN(Job.created_at)).where(Job.status == 'queued').scalar()
        if isinstance(oldest, str):  # SQLite may hand back text
            import datetime
            oldest = datetime.datetime.fromisoformat(oldest)
        age = GaugeMetricFamily('portal_oldest_waiting_job_seconds', 'Age of the oldest job still waiting to run')
        age.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0)
        yield age


def allowed():
    token = current_app.config.get('METRICS_TOKEN')
    given = request.headers.get('Authorization', '')
    if token and given.startswith('Bearer ') and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    if 'X-Forwarded-For' in request.headers and not int(current_app.config.get('PROXY_HOPS') or 0):
        return False  # through an undeclared proxy: the address is the proxy's
    try:
        address = ipaddress.ip_address(request.remote_addr or '')
    except ValueError:
        return False
    for item in str(current_app.config.get('METRICS_ALLOW') or '').split(','):
        item = item.strip()
        if item:
            try:
                if address in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                continue
    return False


@bp.route('/metrics')
def metrics():
    if not allowed():
        abort(404)
    registry = REGISTRY
    if MULTIPROCESS:
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    now = CollectorRegistry()  # per scrape: read from this process's database and Redis
    now.register(QueueCollector())
    body = generate_latest(registry) + generate_latest(now)
    return Response(body, mimetype=CONTENT_TYPE_LATEST, headers={'Cache-Control': 'no-store'})
