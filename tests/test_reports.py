"""Reports (SPEC 3.5) and background jobs (QUALITY REL-4, REL-5, PDF-1): a
real redis-server, a real RQ worker process, PDFs read back."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from redis import Redis
from rq import Queue

import jobs
import storage
from app import create_app
from tests.conftest import TEST_SECRET, PortalClient, free_port
from models import Candidate, Job, db
from tests import factories

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pdf_text(path):
    return subprocess.run(['pdftotext', '-layout', path, '-'], capture_output=True, text=True, check=True).stdout


def pdf_pages(path):
    info = subprocess.run(['pdfinfo', path], capture_output=True, text=True, check=True).stdout
    return int(re.search(r'Pages:\s+(\d+)', info).group(1))


def print_report(client, unit):
    client.get(f'/internal-assessment/reports/{unit.id}')
    response = client.post(f'/internal-assessment/reports/{unit.id}/pdf')
    assert response.status_code == 303
    return int(response.location.rsplit('/', 1)[1])


def download(client, job_id, tmp_path):
    response = client.get(f'/internal-assessment/reports/jobs/{job_id}/file')
    assert response.status_code == 200
    assert response.headers['Content-Disposition'].startswith('attachment; filename=candidate-details-68999-9611-L3.pdf')
    path = tmp_path / 'downloaded.pdf'
    path.write_bytes(response.data)
    return str(path)


def test_the_candidate_details_report_page_lists_candidates_in_number_order(world, as_):
    with db.connection_context():
        factories.complete(world.entries[:3], world.admin, 'D')
    html = as_('teacher').get(f'/internal-assessment/reports/{world.unit.id}').get_data(as_text=True)
    assert 'CANDIDATE DETAILS REPORT' in html and 'CENTRE: 68999' in html
    numbers = re.findall(r'<tr><td>\d+</td><td>(\d{4})</td>', html)
    assert numbers == sorted(c.number for c in world.candidates)
    first = world.candidates[0]
    assert f'<td>{first.dob.strftime("%d%m%y")}</td><td>D</td>' in html
    listing = as_('teacher').get('/internal-assessment/reports/').get_data(as_text=True)
    assert 'View/Print for LEVEL 3 QUALIFICATIONS JUNE 2017 CRIMINOLOGICAL THEORIES (9611/L3)' in listing


def test_print_in_process_gives_a_pdf_with_every_candidate_and_inert_names(world, as_, tmp_path):
    with db.connection_context():
        Candidate.update(surname='<img src=x onerror=alert(1)>', forename='{{7*7}}').where(
            Candidate.id == world.candidates[0].id).execute()
        factories.complete(world.entries, world.admin, 'PMD')
    client = as_('teacher')
    job_id = print_report(client, world.unit)
    page = client.get(f'/internal-assessment/reports/jobs/{job_id}').get_data(as_text=True)
    assert 'Your report is ready.' in page and 'DOWNLOAD THE PDF' in page
    path = download(client, job_id, tmp_path)
    text = pdf_text(path)
    assert all(c.number in text for c in world.candidates)
    assert '<img src=x onerror=alert(1)> {{7*7}}' in text
    assert 'CANDIDATE DETAILS REPORT' in text and 'Page 1 of 1' in text


def test_another_centre_cannot_see_or_download_our_report(world, as_, tmp_path):
    job_id = print_report(as_('teacher'), world.unit)
    other = as_('other_admin')
    assert other.get(f'/internal-assessment/reports/jobs/{job_id}').status_code == 404
    assert other.get(f'/internal-assessment/reports/jobs/{job_id}/file').status_code == 404


def test_the_pdf_fetcher_refuses_files_and_the_network(app):
    from jobs.reports import STATIC_BASE, static_only_fetcher
    with app.app_context():
        fetch = static_only_fetcher()
        assert fetch(STATIC_BASE + 'css/print.css').status == 200
        for url in ('file:///etc/passwd', 'http://127.0.0.1:1/', STATIC_BASE + '../app.py',
                    STATIC_BASE + '%2e%2e/app.py'):
            with pytest.raises(ValueError):
                fetch(url)


@pytest.fixture
def queued_app(tmp_path, redis_server):
    """The app as in production: jobs go to RQ on a real redis-server."""
    database = tmp_path / 'portal.db'
    config = {'DATABASE_URL': f'sqlite:///{database}', 'REDIS_URL': redis_server, 'SECRET_KEY': TEST_SECRET,
              'REPORTS_DIR': str(tmp_path / 'reports'), 'TESTING': True}
    Redis.from_url(redis_server).flushdb()
    application = create_app(config)
    application.test_client_class = PortalClient
    storage.migrate()
    with db.connection_context():
        world = factories.build_world(candidates=300)
        factories.complete(world.entries, world.admin, 'PPMMD')
    yield application, world, config
    db.close()


def start_worker(config):
    env = dict(os.environ, DATABASE_URL=config['DATABASE_URL'], REDIS_URL=config['REDIS_URL'],
               SECRET_KEY=config['SECRET_KEY'], FLASK_REPORTS_DIR=config['REPORTS_DIR'], PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, '-m', 'jobs.worker'], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(job_id, statuses=('finished', 'failed'), seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with db.connection_context():
            job = Job.get_by_id(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f'job {job_id} still {job.status} after {seconds}s')


def test_a_worker_process_renders_the_pdf_and_the_page_follows_it(queued_app, tmp_path):
    application, world, config = queued_app
    client = application.test_client()
    client.get(client.login(world.teacher.username).location)
    job_id = print_report(client, world.unit)
    waiting = client.get(f'/internal-assessment/reports/jobs/{job_id}')
    assert 'Preparing your report' in waiting.get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in waiting.get_data(as_text=True)
    worker = start_worker(config)
    try:
        job = wait_for(job_id)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode(errors='replace')
    assert job.status == 'finished', output[-2000:]
    poll = client.get(f'/internal-assessment/reports/jobs/{job_id}',
                      headers={'HX-Request': 'true', 'X-Background': '1'})
    assert poll.status_code == 286  # htmx stops polling
    assert 'DOWNLOAD THE PDF' in poll.get_data(as_text=True)
    path = download(client, job_id, tmp_path)
    text = pdf_text(path)
    assert all(c.number in text for c in world.candidates)
    pages = pdf_pages(path)
    assert 6 <= pages <= 12, pages  # 300 rows, about 40 to an A4 page
    assert f'Page {pages} of {pages}' in text
    assert text.count('Cand No.') == pages  # the table header repeats on every page


def test_with_redis_down_printing_still_succeeds_and_the_sweeper_enqueues_once(queued_app, redis_server):
    application, world, config = queued_app
    application.extensions['rq_queue'] = Queue(jobs.QUEUE_NAME, connection=Redis(
        host='127.0.0.1', port=free_port(), socket_connect_timeout=0.5))
    client = application.test_client()
    client.get(client.login(world.teacher.username).location)
    job_id = print_report(client, world.unit)
    with db.connection_context():
        job = Job.get_by_id(job_id)
        assert (job.status, job.enqueued_at) == ('queued', None)
    assert 'will start as soon as it is available' in client.get(
        f'/internal-assessment/reports/jobs/{job_id}').get_data(as_text=True)
    live = Queue(jobs.QUEUE_NAME, connection=Redis.from_url(redis_server))
    application.extensions['rq_queue'] = live
    with application.app_context(), db.connection_context():
        assert jobs.sweep() == 1
        assert jobs.sweep() == 0
    assert live.count == 1 and live.job_ids == [f'portal-job-{job_id}']


def test_a_report_whose_worker_died_says_so_and_can_be_asked_for_again(world, as_):
    import datetime
    client = as_('teacher')
    with db.connection_context():
        job = Job.create(kind='candidate_report', centre=world.centre.id, account=world.teacher.id,
                         status='started', args=f'{{"unit": {world.unit.id}}}',
                         created_at=datetime.datetime.utcnow() - datetime.timedelta(minutes=10))
    poll = client.get(f'/internal-assessment/reports/jobs/{job.id}', headers={'HX-Request': 'true', 'X-Background': '1'})
    html = poll.get_data(as_text=True)
    assert poll.status_code == 286 and 'hx-trigger' not in html
    assert 'has not been produced yet' in html and 'PRINT THIS REPORT' in html


def test_the_sweeper_runs_again_a_job_whose_worker_vanished(queued_app, redis_server):
    import datetime
    application, world, config = queued_app
    live = Queue(jobs.QUEUE_NAME, connection=Redis.from_url(redis_server))
    application.extensions['rq_queue'] = live
    long_ago = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
    with application.app_context(), db.connection_context():
        lost = Job.create(kind='candidate_report', centre=world.centre.id, status='started',
                          args=f'{{"unit": {world.unit.id}}}', enqueued_at=long_ago, started_at=long_ago)
        busy = Job.create(kind='candidate_report', centre=world.centre.id, status='started',
                          args=f'{{"unit": {world.unit.id}}}', enqueued_at=datetime.datetime.utcnow(),
                          started_at=datetime.datetime.utcnow())
        assert jobs.sweep() == 1 and jobs.sweep() == 0
        assert Job.get_by_id(lost.id).status == 'queued' and Job.get_by_id(busy.id).status == 'started'
    assert live.job_ids == [f'portal-job-{lost.id}']
