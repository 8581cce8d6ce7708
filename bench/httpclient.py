"""A small HTTP client for the benchmarks: only 127.0.0.1, bounded loops.

* `Browser`: urllib with a cookie jar, for signing in (CSRF token from the
  page's `hx-headers`) and one-off requests.
* `Connection`: one keep-alive HTTP/1.1 connection over a raw socket, cheap
  enough per request that the client takes as little as possible of the
  two cores it shares with the server.
* `load()`: N threads, each on its own connection, for a fixed time after a
  warm-up; returns completed requests per second and latencies.
"""
import http.cookiejar
import os
import re
import socket
import threading
import time
import urllib.parse
import urllib.request

HOST = '127.0.0.1'
CSRF_RE = re.compile(r'"X-CSRFToken":\s*"([^"]+)"')
SET_SESSION_RE = re.compile(rb'\r\nSet-Cookie: session=([^;\r\n]*)', re.I)


class BenchError(RuntimeError):
    """The product did not answer as the benchmark needs."""


class Browser:
    """Sign in like a browser; keeps the session cookie and the CSRF token."""

    def __init__(self, port):
        self.base = f'http://{HOST}:{port}'
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar),
            urllib.request.ProxyHandler({}))  # never a proxy: 127.0.0.1 only
        self.csrf = None

    def get(self, path, headers=None):
        request = urllib.request.Request(self.base + path, headers=headers or {})
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.read().decode('utf-8')

    def post(self, path, fields, headers=None):
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode('utf-8')
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode('utf-8', 'replace')

    def sign_in(self, username, password):
        _status, page = self.get('/login')
        token = csrf_token(page)
        status, page = self.post('/login', {'username': username, 'password': password,
                                            'csrf_token': token})
        if status != 200 or 'Signed in as' not in page:
            raise BenchError(f'sign-in as {username} failed (HTTP {status})')
        # Signing in starts a fresh session (SESS-3), so the token from the
        # login page is gone: take the new one from the page we landed on.
        self.csrf = csrf_token(page)
        return self

    @property
    def session_cookie(self):
        for cookie in self.jar:
            if cookie.name == 'session':
                return cookie.value
        raise BenchError('no session cookie after sign-in')


def csrf_token(page):
    match = CSRF_RE.search(page)
    if not match:
        raise BenchError('no X-CSRFToken in hx-headers of the page')
    return match.group(1)


class Connection:
    """One keep-alive connection; `request()` returns (status, head, body)."""

    def __init__(self, port, timeout=30, requests_per_connection=10):
        self.port = port
        self.timeout = timeout
        # A keep-alive connection stays with the gunicorn worker that accepted
        # it; opening a new one every few requests lets both workers share
        # the load, at a tenth of the cost of a connection per request.
        self.requests_per_connection = requests_per_connection
        self.used = 0
        self.sock = None
        self.buffer = b''

    def _connect(self):
        self.used = 0
        self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b''

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, raw):
        last = self.requests_per_connection and self.used + 1 >= self.requests_per_connection
        if last:
            raw = raw.replace(b'\r\n', b'\r\nConnection: close\r\n', 1)
        for attempt in (1, 2):  # a server may close an idle keep-alive connection
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(raw)
                response = self._read_response()
                self.used += 1
                if last:
                    self.close()
                return response
            except (ConnectionError, BrokenPipeError, socket.timeout, EOFError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError('unreachable')

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('connection closed')
        self.buffer += chunk

    def _read_response(self):
        while b'\r\n\r\n' not in self.buffer:
            self._recv()
        end = self.buffer.index(b'\r\n\r\n') + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b'\r\ncontent-length:')
        if at < 0:
            if b'transfer-encoding: chunked' in lower:
                raise BenchError('chunked responses are not handled by the bench client')
            length = 0
        else:
            length = int(lower[at + 17:lower.index(b'\r\n', at + 2)].strip())
        while len(self.buffer) < length:
            self._recv()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if b'\r\nconnection: close' in lower:
            self.close()
        return status, head, body


def get_request(path, cookie=None, headers=()):
    lines = [f'GET {path} HTTP/1.1', f'Host: {HOST}', 'Accept: text/html']
    if cookie:
        lines.append(f'Cookie: session={cookie}')
    lines.extend(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


def post_request(path, body, cookie=None, headers=()):
    data = urllib.parse.urlencode(body).encode() if isinstance(body, dict) else body
    lines = [f'POST {path} HTTP/1.1', f'Host: {HOST}', 'Accept: text/html',
             'Content-Type: application/x-www-form-urlencoded',
             f'Content-Length: {len(data)}']
    if cookie:
        lines.append(f'Cookie: session={cookie}')
    lines.extend(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + data


def new_session_cookie(head, cookie):
    """The browser keeps the newest session cookie the server set."""
    match = SET_SESSION_RE.search(head)
    return match.group(1).decode() if match else cookie


# --- Load --------------------------------------------------------------------

class Result:
    def __init__(self, name, threads, seconds):
        self.name, self.threads, self.seconds = name, threads, seconds
        self.count = 0
        self.statuses = {}
        self.latencies = []
        self.client_cpu = 0.0
        self.server_cpu = None
        self.errors = []
        self.body_bytes = 0

    @classmethod
    def merged(cls, results):
        """Rounds of the same target, run in turn with others, as one result."""
        first = results[0]
        total = cls(first.name, first.threads, sum(r.seconds for r in results))
        for r in results:
            total.count += r.count
            total.latencies.extend(r.latencies)
            total.client_cpu += r.client_cpu
            total.errors.extend(r.errors)
            total.body_bytes += r.body_bytes
            for status, n in r.statuses.items():
                total.statuses[status] = total.statuses.get(status, 0) + n
        cpus = [r.server_cpu for r in results]
        total.server_cpu = None if None in cpus else sum(cpus)
        total.rounds = [r.rps for r in results]
        return total

    @property
    def rps(self):
        """Requests answered 2xx per second of the measured window."""
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p):
        if not self.latencies:
            return float('nan')
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def ok(self):
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def describe(self):
        bad = {s: n for s, n in self.statuses.items() if not 200 <= s < 300}
        text = (f'{self.rps:.1f} req/s ({self.count} in {self.seconds:.1f} s, {self.threads} threads, '
                f'p50 {self.percentile(50) * 1000:.1f} ms, p95 {self.percentile(95) * 1000:.1f} ms')
        if self.server_cpu is not None and self.count:
            text += f', server CPU {self.server_cpu / self.count * 1000:.2f} ms/req'
        text += ')'
        if bad:
            text += f' non-2xx: {bad}'
        if self.errors:
            text += f' errors: {len(self.errors)} ({self.errors[0]})'
        return text


def process_cpu_seconds(pids):
    """utime + stime of processes (seconds), for server CPU per request."""
    ticks = os.sysconf('SC_CLK_TCK')
    total = 0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def load(name, worker_factory, threads=4, seconds=8.0, warmup=1.0, max_requests=200_000,
         server_pids=None):
    """Run `threads` workers for `warmup` + `seconds`; count what completes in
    the measured window. `worker_factory(index)` returns a callable that
    makes ONE request and returns (status, body_length)."""
    result = Result(name, threads, seconds)
    lock = threading.Lock()
    start_gate = threading.Barrier(threads + 1)
    window = {}

    def body(index):
        try:
            make_one = worker_factory(index)
        except Exception as error:  # noqa: BLE001  reported, never hidden
            with lock:
                result.errors.append(f'{type(error).__name__}: {error}')
            start_gate.wait()
            return
        start_gate.wait()
        begin, end = window['begin'], window['end']
        count, statuses, latencies, body_bytes = 0, {}, [], 0
        requests_made = 0
        while requests_made < max_requests:
            t0 = time.perf_counter()
            if t0 >= end:
                break
            try:
                status, length = make_one()
            except Exception as error:  # noqa: BLE001
                with lock:
                    result.errors.append(f'{type(error).__name__}: {error}')
                break
            t1 = time.perf_counter()
            requests_made += 1
            if begin <= t0 and t1 <= end:
                count += 1
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(t1 - t0)
                body_bytes += length
        with lock:
            result.count += count
            result.latencies.extend(latencies)
            result.body_bytes += body_bytes
            for status, n in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + n

    workers = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    now = time.perf_counter()
    window['begin'] = now + warmup
    window['end'] = now + warmup + seconds
    start_gate.wait()
    # Sample CPU at the window's edges.
    time.sleep(max(0.0, window['begin'] - time.perf_counter()))
    cpu0 = time.process_time()
    server0 = process_cpu_seconds(server_pids()) if server_pids else None
    time.sleep(max(0.0, window['end'] - time.perf_counter()))
    cpu1 = time.process_time()
    server1 = process_cpu_seconds(server_pids()) if server_pids else None
    for worker in workers:
        worker.join(timeout=max(30.0, seconds))
    result.client_cpu = cpu1 - cpu0
    if server0 is not None:
        result.server_cpu = server1 - server0
    # Requests straddling the window edge are not counted: the window is the
    # time during which every counted request both started and finished.
    return result
