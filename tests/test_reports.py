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
from tests.conftest import TEST_SECRET, PortalClient, free_port, start_redis
from models import Candidate, Job, Marksheet, Outbox, Outcome, db
from tests import factories

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLL = {'HX-Request': 'true', 'X-Background': '1'}  # as the job page's htmx polling asks


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
    # issue 10 point 8: a tagged PDF, so headings and table headers reach a screen reader
    info = subprocess.run(['pdfinfo', str(path)], capture_output=True, text=True).stdout
    assert re.search(r'Tagged:\s+yes', info), info


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
              'REPORTS_DIR': str(tmp_path / 'reports'), 'MAIL_FOLDER': str(tmp_path / 'mail'), 'TESTING': True}
    Redis.from_url(redis_server).flushdb()
    application = create_app(config)
    application.test_client_class = PortalClient
    storage.migrate()
    with db.connection_context():
        world = factories.build_world(candidates=300)
        factories.complete(world.entries, world.admin, 'PPMMD')
    yield application, world, config
    db.close()


def start_worker(config, **settings):
    env = dict(os.environ, DATABASE_URL=config['DATABASE_URL'], REDIS_URL=config['REDIS_URL'],
               SECRET_KEY=config['SECRET_KEY'], FLASK_REPORTS_DIR=config['REPORTS_DIR'],
               FLASK_MAIL_FOLDER=config['MAIL_FOLDER'], PYTHONPATH=ROOT,
               **{f'FLASK_{name}': str(value) for name, value in settings.items()})
    return subprocess.Popen([sys.executable, '-m', 'jobs.worker'], cwd=ROOT, env=env, start_new_session=True,
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


# --- One report per change, a limit per account, mail first, old files go ----

def change_an_outcome(world, value):
    """A teacher changes the first candidate's outcome, as the marksheet does."""
    with db.connection_context():
        entry = world.entries[0]
        outcome = Outcome.get_or_none(Outcome.entry == entry.id)
        Marksheet(world.centre, world.unit).save_outcome(entry.id, value, outcome.version if outcome else 0,
                                                         world.teacher)


def report_jobs():
    with db.connection_context():
        return Job.select().where(Job.kind == 'candidate_report').count()


@pytest.mark.db
def test_asking_again_for_an_unchanged_report_gives_the_same_one_and_any_change_a_new_one(world, as_):
    with db.connection_context():
        factories.complete(world.entries, world.admin, 'PMD')
    teacher, admin = as_('teacher'), as_('admin')
    first = print_report(teacher, world.unit)
    assert print_report(teacher, world.unit) == first  # a second click
    assert print_report(admin, world.unit) == first    # another teacher of the centre
    assert report_jobs() == 1
    change_an_outcome(world, 'A')
    changed = print_report(teacher, world.unit)
    assert changed != first and print_report(teacher, world.unit) == changed
    assert 'Your report is ready.' in teacher.get(f'/internal-assessment/reports/jobs/{changed}').get_data(as_text=True)
    teacher.post('/language', data={'lang': 'cy', 'next': '/'})
    welsh = print_report(teacher, world.unit)
    assert welsh not in (first, changed)
    teacher.post('/language', data={'lang': 'en', 'next': '/'})
    with db.connection_context():
        os.unlink(Job.get_by_id(changed).result_path)  # gone from the disk: printed again
    assert print_report(teacher, world.unit) not in (first, changed, welsh)
    assert report_jobs() == 4


def test_a_report_still_on_its_way_is_not_asked_for_twice(queued_app, redis_server):
    application, world, config = queued_app
    client = application.test_client()
    client.get(client.login(world.teacher.username).location)
    job_id = print_report(client, world.unit)
    assert print_report(client, world.unit) == job_id
    live = Queue(jobs.QUEUE_NAME, connection=Redis.from_url(redis_server))
    assert live.job_ids == [f'portal-job-{job_id}']


@pytest.mark.db
def test_an_account_over_its_hourly_limit_is_told_to_wait_and_nothing_is_recorded(app, world, as_):
    app.config['REPORT_JOBS_PER_HOUR'] = 2
    with db.connection_context():
        factories.complete(world.entries, world.admin, 'PMD')
    teacher = as_('teacher')
    first = print_report(teacher, world.unit)
    assert print_report(teacher, world.unit) == first  # the same report again does not count
    change_an_outcome(world, 'A')
    second = print_report(teacher, world.unit)
    assert print_report(teacher, world.unit) == second  # nor at the limit
    change_an_outcome(world, 'P')
    refused = teacher.post(f'/internal-assessment/reports/{world.unit.id}/pdf')
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and int(refused.headers['Retry-After']) > 0
    assert 'You have asked for 2 new reports in the last hour' in html
    assert re.search(r'Please wait \d+ minutes?, then print this report again.', html)
    assert 'The reports you have already asked for are still available.' in html
    assert f'/internal-assessment/reports/jobs/{second}"' in html
    assert report_jobs() == 2
    assert print_report(as_('admin'), world.unit) not in (first, second)  # another account's own limit


def test_a_password_reset_mail_goes_before_the_reports_already_waiting(queued_app, redis_server):
    application, world, config = queued_app
    with application.test_request_context(), db.connection_context():
        from jobs import emails
        waiting = [jobs.record('candidate_report', centre=world.centre.id, account=world.teacher.id,
                               unit=world.unit.id, copy=n) for n in range(3)]
        for job in waiting:
            jobs.enqueue(job)
        mail = emails.queue('reset-after-reports', 'j.brown@example.org', 'reset', 'en', secret='a-token',
                            account=world.teacher, page='https://portal.invalid/reset')
        jobs.enqueue(mail)
    connection = Redis.from_url(redis_server)
    assert Queue(jobs.MAIL_QUEUE, connection=connection).job_ids == [f'portal-job-{mail.id}']
    assert len(Queue(jobs.QUEUE_NAME, connection=connection).job_ids) == 3
    worker = start_worker(config)
    try:
        done = [wait_for(job.id) for job in waiting]
        sent = wait_for(mail.id)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode(errors='replace')
    assert sent.status == 'finished' and all(job.status == 'finished' for job in done), output[-2000:]
    with db.connection_context():
        assert Outbox.get(Outbox.key == 'reset-after-reports').state == 'sent'
    assert all(sent.finished_at <= job.started_at for job in done)  # asked for last, sent first


def follow(client, job_id, seconds=90):
    """Poll the report's page as htmx does, until it says it is done."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        poll = client.get(f'/internal-assessment/reports/jobs/{job_id}', headers=POLL)
        if poll.status_code == 286:
            return poll.get_data(as_text=True)
        time.sleep(0.2)
    raise AssertionError(f'report {job_id} not done after {seconds}s')


def test_with_no_redis_a_report_is_made_beside_the_request_and_the_page_follows_it(
        app, world, as_, tmp_path, monkeypatch):
    import threading
    app.config['JOBS_INLINE'] = False  # as `make run` serves: no Redis, not testing
    with db.connection_context():
        factories.complete(world.entries, world.admin, 'PMD')
    go_on = threading.Event()  # the report waits until the page has been seen
    render = jobs.RUNNERS['candidate_report']
    monkeypatch.setitem(jobs.RUNNERS, 'candidate_report', lambda job: go_on.wait(10) and render(job))
    client = as_('teacher')
    job_id = print_report(client, world.unit)  # answered while the report is still to come
    assert 'Preparing your report' in client.get(f'/internal-assessment/reports/jobs/{job_id}').get_data(as_text=True)
    go_on.set()
    assert 'DOWNLOAD THE PDF' in follow(client, job_id)
    text = pdf_text(download(client, job_id, tmp_path))
    assert all(c.number in text for c in world.candidates)


def test_with_no_redis_a_report_that_fails_says_so_and_is_logged(app, world, as_, tmp_path, caplog):
    app.config['JOBS_INLINE'] = False
    not_a_folder = tmp_path / 'not-a-folder'
    not_a_folder.write_text('')
    app.config['REPORTS_DIR'] = str(not_a_folder)
    client = as_('teacher')
    job_id = print_report(client, world.unit)
    assert 'The report could not be produced.' in follow(client, job_id)
    with db.connection_context():
        assert 'Error' in Job.get_by_id(job_id).error
    assert f'job {job_id} failed in-process' in caplog.text


def age(path, days):
    then = time.time() - days * 86400
    os.utime(path, (then, then), follow_symlinks=False)


@pytest.mark.db
def test_old_report_files_are_deleted_and_their_page_offers_to_print_again(app, world, as_, tmp_path):
    import datetime
    from jobs.reports import clean_reports_command
    with db.connection_context():
        factories.complete(world.entries, world.admin, 'PMD')
    client = as_('teacher')
    old = print_report(client, world.unit)
    change_an_outcome(world, 'A')
    recent = print_report(client, world.unit)
    with db.connection_context():
        old_path, recent_path = Job.get_by_id(old).result_path, Job.get_by_id(recent).result_path
        Job.update(finished_at=datetime.datetime.utcnow() - datetime.timedelta(days=2)).where(Job.id == old).execute()
    age(old_path, 2)
    reports_dir = os.path.dirname(old_path)
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    kept = outside / 'candidate-report-999.pdf'
    kept.write_bytes(b'%PDF-1.4 not ours to delete')
    age(kept, 30)
    os.symlink(kept, os.path.join(reports_dir, 'candidate-report-999.pdf'))
    age(os.path.join(reports_dir, 'candidate-report-999.pdf'), 30)
    notes = os.path.join(reports_dir, 'notes.txt')
    open(notes, 'w').close()
    age(notes, 30)
    result = app.test_cli_runner().invoke(clean_reports_command)
    assert result.exit_code == 0 and 'old report files deleted: 1' in result.output, result.output
    assert not os.path.exists(old_path) and os.path.exists(recent_path)
    assert kept.exists() and os.path.islink(os.path.join(reports_dir, 'candidate-report-999.pdf'))
    assert os.path.exists(notes)
    page = client.get(f'/internal-assessment/reports/jobs/{old}', headers=POLL)
    html = page.get_data(as_text=True)
    assert page.status_code == 286 and 'This report has expired: reports are kept for 24 hours.' in html
    assert 'PRINT THIS REPORT' in html and 'DOWNLOAD THE PDF' not in html
    assert client.get(f'/internal-assessment/reports/jobs/{old}/file').status_code == 404
    assert 'DOWNLOAD THE PDF' in client.get(f'/internal-assessment/reports/jobs/{recent}').get_data(as_text=True)


def test_the_worker_deletes_old_report_files_on_its_own(queued_app):
    import datetime
    application, world, config = queued_app
    os.makedirs(config['REPORTS_DIR'])
    path = os.path.join(config['REPORTS_DIR'], 'candidate-report-1.pdf')
    with open(path, 'wb') as out:
        out.write(b'%PDF-1.4 an old report')
    age(path, 2)
    long_ago = datetime.datetime.utcnow() - datetime.timedelta(days=2)
    with db.connection_context():
        job = Job.create(kind='candidate_report', centre=world.centre.id, account=world.teacher.id,
                         status='finished', args=f'{{"unit": {world.unit.id}}}', result_path=path,
                         created_at=long_ago, finished_at=long_ago)
    worker = start_worker(config)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and os.path.exists(path):
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode(errors='replace')
    assert not os.path.exists(path), output[-2000:]
    client = application.test_client()
    client.get(client.login(world.teacher.username).location)
    assert 'This report has expired' in client.get(f'/internal-assessment/reports/jobs/{job.id}').get_data(as_text=True)


def test_the_worker_waits_for_redis_and_carries_on(tmp_path):
    """Issue 11: Redis stopped while the worker runs a report: the worker does
    not exit (under honcho that stopped every process); once Redis is back it
    takes the next job by itself, with no restart by hand."""
    port = free_port()
    redis = start_redis(port)
    url = f'redis://127.0.0.1:{port}/0'
    config = {'DATABASE_URL': f'sqlite:///{tmp_path / "portal.db"}', 'REDIS_URL': url, 'SECRET_KEY': TEST_SECRET,
              'REPORTS_DIR': str(tmp_path / 'reports'), 'MAIL_FOLDER': str(tmp_path / 'mail'), 'TESTING': True}
    application = create_app(config)
    application.test_client_class = PortalClient
    storage.migrate()
    with db.connection_context():
        world = factories.build_world(candidates=300)
        factories.complete(world.entries, world.admin, 'PPMMD')
    client = application.test_client()
    client.get(client.login(world.teacher.username).location)
    worker = start_worker(config)
    try:
        first = print_report(client, world.unit)
        wait_for(first, statuses=('started', 'finished'))
        redis.kill()  # mid-report, or just after it
        redis.wait(10)
        assert wait_for(first).status == 'finished'
        time.sleep(4)
        assert worker.poll() is None, 'the worker exited when Redis went away'
        redis = start_redis(port)
        with db.connection_context():  # another teacher's report, asked for while Redis is back
            Job.delete().execute()
        second = print_report(client, world.unit)
        assert wait_for(second, seconds=60).status == 'finished'
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode(errors='replace')
        redis.kill()
        db.close()
    assert 'Redis unavailable' in output or 'Retrying' in output or 'onnection' in output, output[-2000:]


def test_a_report_whose_worker_was_killed_is_tried_again_by_a_live_worker(queued_app):
    """Issue 11: the whole worker (and its work-horse) killed mid-report: within
    a minute (three missed heartbeats) the page says it is being tried again,
    and a live worker takes it; before, the page said "Preparing" for five minutes."""
    application, world, config = queued_app
    application.config['JOB_HEARTBEAT_SECONDS'] = 1
    client = application.test_client()
    client.get(client.login(world.teacher.username).location)
    doomed = start_worker(config, JOB_HEARTBEAT_SECONDS=1)
    job_id = print_report(client, world.unit)
    try:
        wait_for(job_id, statuses=('started',))
    finally:  # the work-horse is in a session of its own: kill it, then its worker
        subprocess.run(['pkill', '-KILL', '-P', str(doomed.pid)])
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    with db.connection_context():
        assert Job.get_by_id(job_id).status == 'started'  # nobody said anything: the beats stop
    time.sleep(3.5)
    with application.app_context(), db.connection_context():
        jobs.sweep()  # as a live worker's sweeper does every beat
    page = client.get(f'/internal-assessment/reports/jobs/{job_id}').get_data(as_text=True)
    assert 'it is being tried again' in page and 'hx-trigger="every 1s"' in page
    live = start_worker(config, JOB_HEARTBEAT_SECONDS=1)
    try:
        job = wait_for(job_id, seconds=60)
    finally:
        os.killpg(live.pid, signal.SIGTERM)
        output = live.communicate(timeout=30)[0].decode(errors='replace')
    assert job.status == 'finished' and job.attempts == 2, output[-2000:]
    assert 'DOWNLOAD THE PDF' in client.get(f'/internal-assessment/reports/jobs/{job_id}').get_data(as_text=True)
