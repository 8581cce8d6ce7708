"""The full-stack benchmarks on gunicorn: P-1 (grade save), P-2 (save
response size), P-4 (marksheet pages), each against /bench/bare."""
import itertools
import re

from bench.httpclient import (BenchError, Browser, Connection, get_request, load,
                              new_session_cookie, post_request)

ROW_RE = re.compile(rb'<tr id="entry-(\d+)".*?</tr>', re.S)
VERSION_RE = re.compile(rb'name="version-(\d+)" value="(\d+)"')
SELECTED_RE = re.compile(rb'<option value="([PMDA])" selected>')


def rows_state(html):
    """{entry_id: [version, value]} from marksheet rows (page or save response)."""
    state = {}
    for match in ROW_RE.finditer(html):
        row = match.group(0)
        version = VERSION_RE.search(row)
        if version is None:  # a submitted marksheet has no inputs
            continue
        selected = SELECTED_RE.search(row)
        state[int(match.group(1))] = [int(version.group(2)),
                                      selected.group(1).decode() if selected else None]
    return state


class Client:
    """A signed-in teacher on the running server: cookie, token, unit."""

    def __init__(self, port, username, password, unit_id):
        self.port, self.unit_id = port, unit_id
        self.browser = Browser(port).sign_in(username, password)
        self.cookie = self.browser.session_cookie
        self.token = self.browser.csrf
        self.marksheet_path = f'/internal-assessment/{unit_id}'

    def marksheet_state(self):
        status, page = self.browser.get(self.marksheet_path + '?rows=all')
        if status != 200:
            raise BenchError(f'marksheet answered {status}')
        state = rows_state(page.encode())
        if not state:
            raise BenchError('no editable rows on the marksheet (submitted already?)')
        return state

    def save_request(self, entry_id, value, version, cookie):
        body = f'value-{entry_id}={value}&version-{entry_id}={version}'.encode()
        return post_request(
            f'{self.marksheet_path}/entries/{entry_id}', body, cookie,
            headers=('HX-Request: true', f'HX-Target: entry-{entry_id}',
                     f'HX-Trigger-Name: value-{entry_id}',
                     f'HX-Current-URL: http://127.0.0.1:{self.port}{self.marksheet_path}',
                     f'X-CSRFToken: {self.token}'))


class SaveWorker:
    """One thread's grade saves: cycles over its own entries, alternating
    Pass and Merit, always sending the version the last answer showed."""

    def __init__(self, client, state):
        self.client = client
        self.state = state            # {entry_id: [version, value]}, this thread's only
        self.order = itertools.cycle(sorted(state))
        self.conn = Connection(client.port)
        self.cookie = client.cookie
        self.noop = 0
        self.conflicts = 0

    def __call__(self):
        entry_id = next(self.order)
        version, value = self.state[entry_id]
        new = 'M' if value == 'P' else 'P'
        status, head, body = self.conn.request(
            self.client.save_request(entry_id, new, version, self.cookie))
        self.cookie = new_session_cookie(head, self.cookie)
        row = rows_state(body).get(entry_id)
        if row is None:
            raise BenchError(f'save of entry {entry_id} answered {status} without its row')
        if status == 200 and row[0] == version:
            self.noop += 1
        if status == 409:
            self.conflicts += 1
        self.state[entry_id] = row
        return status, len(body)


class GetWorker:
    def __init__(self, port, path, cookie=None):
        self.conn = Connection(port)
        self.path = path
        self.cookie = cookie

    def __call__(self):
        status, head, body = self.conn.request(get_request(self.path, self.cookie))
        if self.cookie:
            self.cookie = new_session_cookie(head, self.cookie)
        return status, len(body)


def one_save(client, state):
    """P-2: one real grade change; returns (status, header bytes, body bytes, body)."""
    entry_id = min(e for e, (v, value) in state.items() if value in ('P', 'M'))
    version, value = state[entry_id]
    new = 'M' if value == 'P' else 'P'
    conn = Connection(client.port)
    try:
        status, head, body = conn.request(client.save_request(entry_id, new, version, client.cookie))
    finally:
        conn.close()
    if status != 200:
        raise BenchError(f'grade save answered {status}')
    state[entry_id] = rows_state(body)[entry_id]
    return status, len(head), len(body), body


def switch_language(client, lang):
    """English | Cymraeg, as the masthead's buttons do; the session keeps it."""
    status, page = client.browser.post('/language', {'lang': lang, 'csrf_token': client.token})
    if status != 200 or f'<html lang="{lang}"' not in page:
        raise BenchError(f'language switch to {lang} answered {status}')
    client.cookie = client.browser.session_cookie
    return client


def page_size(port, path, cookie=None):
    conn = Connection(port)
    try:
        status, head, body = conn.request(get_request(path, cookie))
    finally:
        conn.close()
    return status, len(head), len(body), body


def interleaved(targets, threads, seconds, rounds, warmup, server_pids):
    """Run each target for `seconds` in all, split into `rounds` turns taken
    in ABBA order, so that drift in the machine's load (other processes on
    the two cores) falls on every target alike. `targets` is
    [(name, factory)]; a factory(index) returns thread `index`'s callable and
    may return the same object every round (save workers keep their versions)."""
    from bench.httpclient import Result
    parts = {name: [] for name, _factory in targets}
    for turn in range(rounds):
        order = targets if turn % 2 == 0 else list(reversed(targets))
        for name, factory in order:
            parts[name].append(load(name, factory, threads=threads, seconds=seconds / rounds,
                                    warmup=warmup, server_pids=server_pids))
    return {name: Result.merged(results) for name, results in parts.items()}


def save_target(client, state, threads):
    """A factory of save workers, each with its own share of the entries,
    kept across rounds; `.workers` to read the no-op and conflict counts."""
    ids = sorted(state)
    workers = [SaveWorker(client, {e: state[e] for e in ids[i::threads]}) for i in range(threads)]

    def factory(index):
        return workers[index]
    factory.workers = workers
    return factory


def get_target(port, path, cookie=None):
    def factory(_index):
        return GetWorker(port, path, cookie)
    return factory
