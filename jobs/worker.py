"""The RQ worker (Procfile `worker`): builds the app once, preloads
WeasyPrint before forking, runs the scheduler for retries, sweeps jobs
that were recorded while Redis was away, and deletes old report files.
It takes e-mail first: a password-reset mail never waits behind reports."""
import threading
import time

import weasyprint  # noqa: F401  preloaded so each forked job starts fast
from redis import Redis
from rq import Queue, Worker

import jobs
from app import create_app
from jobs.reports import clean_reports_when_due

SWEEP_SECONDS = 30


def sweep_forever():
    while True:
        with jobs.app_context():
            try:
                jobs.sweep()
            except Exception:  # Redis or the database away: try again later
                jobs.log.exception('sweep failed')
            clean_reports_when_due()  # at most hourly
        time.sleep(SWEEP_SECONDS)


def main():
    app = create_app({'DATABASE_POOL': False})
    jobs._worker_app = app
    connection = Redis.from_url(app.config['REDIS_URL'])
    threading.Thread(target=sweep_forever, daemon=True).start()
    # RQ takes from the first queue that has work: mail before reports.
    Worker([Queue(name, connection=connection) for name in jobs.QUEUES], connection=connection).work(
        with_scheduler=True)


if __name__ == '__main__':
    main()
