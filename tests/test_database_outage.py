"""Issue 11: while the database restarts, answers are the app's own page
(rendered without it), in the user's language, with Retry-After; an inline
save says "not saved" in the cell and is tried again by the page."""
from tests.conftest import TEST_SECRET, free_port

from app import create_app


def unreachable_app(tmp_path):
    # A PostgreSQL address where nothing listens: every connection fails as in a restart.
    return create_app({'DATABASE_URL': f'postgresql://portal@127.0.0.1:{free_port()}/portal',
                       'SECRET_KEY': TEST_SECRET, 'TESTING': True, 'MAIL_FOLDER': str(tmp_path)})


def test_a_page_says_the_service_is_away_for_a_moment_without_the_database(tmp_path):
    client = unreachable_app(tmp_path).test_client()
    response = client.get('/login', headers={'Accept-Language': 'en'})
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers['Retry-After'] == '3'
    assert 'The service is unavailable for a moment' in html and 'Nothing was saved' in html
    assert '<html lang="en">' in html


def test_the_page_is_in_welsh_for_a_welsh_browser(tmp_path):
    client = unreachable_app(tmp_path).test_client()
    html = client.get('/', headers={'Accept-Language': 'cy'}).get_data(as_text=True)
    assert '<html lang="cy">' in html and 'The service is unavailable' not in html


def test_an_inline_save_says_not_saved_and_asks_to_be_retried(tmp_path):
    client = unreachable_app(tmp_path).test_client()
    response = client.post('/internal-assessment/1/entries/1', data={'value-1': 'P', 'version-1': '0'},
                           headers={'HX-Request': 'true'})
    assert response.status_code == 503 and response.headers['Retry-After'] == '3'
    assert 'Not saved: the service is busy for a moment' in response.get_data(as_text=True)
    assert 'Not%20saved' in response.headers['X-Portal-Message']


def test_healthz_says_what_is_down_for_the_load_balancer(tmp_path):
    response = unreachable_app(tmp_path).test_client().get('/healthz')
    body = response.get_json()
    assert response.status_code == 503 and body['status'] == 'unavailable'
    assert body['database']['ok'] is False and body['storage']['ok'] is True


def test_healthz_reports_the_queue_and_its_oldest_waiting_job(app, world, redis_server):
    import datetime
    from redis import Redis
    from rq import Queue
    import jobs
    from models import Job, db
    app.config['REDIS_URL'] = redis_server
    app.extensions['rq_queue'] = Queue(jobs.QUEUE_NAME, connection=Redis.from_url(redis_server))
    with db.connection_context():
        Job.create(kind='candidate_report', created_at=datetime.datetime.utcnow() - datetime.timedelta(minutes=2))
    response = app.test_client().get('/healthz')
    body = response.get_json()
    assert response.status_code == 200 and body['status'] == 'ok'
    assert body['database']['jobs_waiting'] == 1 and 110 <= body['database']['oldest_waiting_seconds'] <= 180
    assert body['redis']['configured'] is True and body['redis']['queued'] == {'mail': 0, 'portal': 0}
    Redis.from_url(redis_server).connection_pool.disconnect()
