"""Prometheus metrics at /metrics (issue 11, point 6): the counts move when
people save, submit and sign in; the page is refused to anyone not allowed;
labels name endpoints, never URLs with ids."""
import re

import pytest

from models import Job, db, utcnow
from tests.factories import complete

LOCAL = {'REMOTE_ADDR': '127.0.0.1'}  # werkzeug's test client's own default, said here
ELSEWHERE = {'REMOTE_ADDR': '203.0.113.9'}


def scrape(client, environ=LOCAL, **kwargs):
    response = client.get('/metrics', environ_base=environ, **kwargs)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def value(text, name, **labels):
    """The sample's value, 0 when it is not there yet."""
    for line in text.splitlines():
        found = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
        if not found or found.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ''))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(found.group(3))
    return 0.0


def test_a_save_counts_as_a_grade_save_and_a_request_of_its_endpoint(world, as_, client):
    before = scrape(client)
    teacher = as_('teacher')
    entry = world.entries[0]
    response = teacher.htmx(f'/internal-assessment/{world.unit.id}/entries/{entry.id}',
                            {f'value-{entry.id}': 'P', f'version-{entry.id}': 0})
    assert response.status_code == 200
    after = scrape(client)
    endpoint = 'internal_assessment.save_outcome'
    assert value(after, 'portal_grade_saves_total', endpoint=endpoint) == \
        value(before, 'portal_grade_saves_total', endpoint=endpoint) + 1
    assert value(after, 'portal_requests_total', endpoint=endpoint, method='POST', status='200') == \
        value(before, 'portal_requests_total', endpoint=endpoint, method='POST', status='200') + 1
    assert value(after, 'portal_request_seconds_count', endpoint=endpoint) == \
        value(before, 'portal_request_seconds_count', endpoint=endpoint) + 1
    assert 'portal_request_seconds_bucket{endpoint="internal_assessment.save_outcome",le="0.1"}' in after


def test_a_failed_sign_in_counts_as_a_failure_not_a_success(world, client, app):
    before = scrape(client)
    other = app.test_client()
    other.get('/login')
    assert other.post('/login', data={'username': world.teacher.username, 'password': 'wrong-Pass1'}).status_code == 401
    after = scrape(client)
    assert value(after, 'portal_sign_ins_total', result='failure') == \
        value(before, 'portal_sign_ins_total', result='failure') + 1
    assert value(after, 'portal_sign_ins_total', result='success') == \
        value(before, 'portal_sign_ins_total', result='success')
    app.test_client().login(world.teacher.username)
    assert value(scrape(client), 'portal_sign_ins_total', result='success') == \
        value(before, 'portal_sign_ins_total', result='success') + 1


def test_a_submission_counts(world, as_, client):
    with db.connection_context():
        complete(world.entries, world.admin, 'PPMMD')
    before = value(scrape(client), 'portal_submissions_total')
    response = as_('teacher').post(f'/internal-assessment/{world.unit.id}/submit')
    assert response.status_code == 303 and 'show=samples' in response.location
    assert value(scrape(client), 'portal_submissions_total') == before + 1


def test_request_labels_never_carry_ids_from_the_url(world, as_, client):
    teacher = as_('teacher')
    teacher.get(f'/internal-assessment/{world.unit.id}')
    teacher.get('/no/such/page/123456789')
    text = scrape(client)
    assert 'endpoint="internal_assessment.marksheet"' in text
    assert 'endpoint="<unmatched>"' in text
    endpoints = set(re.findall(r'endpoint="([^"]*)"', text))
    assert endpoints and all(re.fullmatch(r'[a-z_]+\.[a-z_]+|static|<unmatched>|other', e) for e in endpoints), endpoints
    assert '123456789' not in text and '/internal-assessment/' not in text


def test_queue_depth_and_the_oldest_waiting_job_are_read_when_scraped(world, client):
    with db.connection_context():
        Job.create(kind='candidate_report', status='queued', created_at=utcnow().replace(microsecond=0)
                   - __import__('datetime').timedelta(minutes=5))
    text = scrape(client)
    assert value(text, 'portal_queue_depth', queue='jobs') == 1
    assert 295 <= value(text, 'portal_oldest_waiting_job_seconds') < 400


@pytest.mark.parametrize('environ,headers', [
    (ELSEWHERE, {}),                                          # not an allowed address
    (LOCAL, {'X-Forwarded-For': '203.0.113.9'}),              # through a proxy not declared with PROXY_HOPS
    (ELSEWHERE, {'Authorization': 'Bearer not-the-token'}),   # a wrong token
])
def test_metrics_are_refused_to_others_as_if_there_were_none(client, environ, headers):
    response = client.get('/metrics', environ_base=environ, headers=headers)
    assert response.status_code == 404
    assert 'portal_requests_total' not in response.get_data(as_text=True)


def test_a_bearer_token_or_an_allowed_network_lets_a_scraper_in(app, client):
    app.config.update(METRICS_TOKEN='scrape-secret-0123456789', METRICS_ALLOW='10.0.0.0/8')
    assert client.get('/metrics', environ_base=LOCAL).status_code == 404  # no longer allowed by address
    assert client.get('/metrics', environ_base=ELSEWHERE,
                      headers={'Authorization': 'Bearer scrape-secret-0123456789'}).status_code == 200
    assert client.get('/metrics', environ_base={'REMOTE_ADDR': '10.20.30.40'}).status_code == 200


def test_with_redis_the_queue_depth_is_rqs(app, world, client, redis_server):
    from redis import Redis
    from rq import Queue
    import jobs
    connection = Redis.from_url(redis_server)
    connection.flushdb()
    queue = Queue(jobs.QUEUE_NAME, connection=connection)
    app.extensions['rq_queue'] = queue
    for n in range(3):
        queue.enqueue('jobs.run', n)
    Queue(jobs.MAIL_QUEUE, connection=connection).enqueue('jobs.run', 99)
    text = scrape(client)
    assert value(text, 'portal_queue_depth', queue=jobs.QUEUE_NAME) == 3
    assert value(text, 'portal_queue_depth', queue=jobs.MAIL_QUEUE) == 1
    connection.flushdb()
