"""The RQ worker (Procfile `worker`): builds the app once, preloads
WeasyPrint before forking, runs the scheduler for retries, sweeps jobs
that were recorded while Redis was away, and deletes old report files.
It takes e-mail first: a password-reset mail never waits behind reports.
If Redis goes away the worker waits for it and carries on: it never exits
(a supervisor such as honcho would otherwise stop every process with it)."""
import threading
import time

import weasyprint  # noqa: F401  preloaded so each forked job starts fast
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

import jobs
from app import create_app
from jobs.reports import clean_reports_when_due

REDIS_RETRY_SECONDS = 2


def sweep_forever(every):
    """Every heartbeat: jobs whose worker was lost run again within a minute."""
    while True:
        with jobs.app_context():
            try:
                jobs.sweep()
            except Exception:  # Redis or the database away: try again later
                jobs.log.exception('sweep failed')
            clean_reports_when_due()  # at most hourly
        time.sleep(every)


def main():
    app = create_app({'DATABASE_POOL': False})
    jobs._worker_app = app
    threading.Thread(target=sweep_forever, args=(app.config['JOB_HEARTBEAT_SECONDS'],), daemon=True).start()
    while not work(app.config['REDIS_URL']):
        time.sleep(REDIS_RETRY_SECONDS)


def work(redis_url):
    """Work until told to stop (True), or until Redis is lost (False: the
    caller waits and starts again; a job cut short is run again by the
    sweeper, as for a worker that died)."""
    connection = Redis.from_url(redis_url, socket_connect_timeout=2, health_check_interval=10)
    try:
        # RQ takes from the first queue that has work: mail before reports.
        Worker([Queue(name, connection=connection) for name in jobs.QUEUES], connection=connection).work(
            with_scheduler=True)
        return True
    except RedisError:
        jobs.log.warning('Redis unavailable: the worker waits for it', exc_info=True)
        return False
    finally:
        connection.close()


if __name__ == '__main__':
    main()
