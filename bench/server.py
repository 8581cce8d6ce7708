"""Start and stop the gunicorn under test (127.0.0.1 only, by its own pid)."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, database_path, secret, log_path, workers=2, threads=4):
        self.database_path = database_path
        self.secret = secret
        self.log_path = log_path
        self.workers, self.threads = workers, threads
        self.port = None
        self.process = None
        self._log = None

    @property
    def command(self):
        gunicorn = os.path.join(os.path.dirname(sys.executable), 'gunicorn')
        return [gunicorn, '--workers', str(self.workers), '--threads', str(self.threads),
                '--bind', f'127.0.0.1:{self.port}', 'bench.wsgi:app']

    def start(self, timeout=30):
        self.port = free_port()
        env = dict(os.environ, DATABASE_URL=f'sqlite:///{self.database_path}',
                   SECRET_KEY=self.secret, PYTHONDONTWRITEBYTECODE='1')
        env.pop('REDIS_URL', None)  # jobs in-process; the benchmarks need no Redis
        self._log = open(self.log_path, 'ab')
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'gunicorn exited ({self.process.returncode}); see {self.log_path}')
            try:
                with urllib.request.urlopen(f'http://127.0.0.1:{self.port}/bench/bare',
                                            timeout=2) as response:
                    if response.status == 200 and len(self.worker_pids()) >= self.workers:
                        return self
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f'gunicorn did not answer within {timeout} s; see {self.log_path}')

    def worker_pids(self):
        """The master's children (the workers), read from /proc."""
        if self.process is None:
            return []
        pids = []
        for name in os.listdir('/proc'):
            if not name.isdigit():
                continue
            try:
                with open(f'/proc/{name}/stat') as handle:
                    ppid = int(handle.read().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.process.pid:
                pids.append(int(name))
        return pids

    def server_pids(self):
        return [self.process.pid] + self.worker_pids()

    def stop(self, timeout=15):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn stops its workers
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log:
            self._log.close()
            self._log = None
