"""In-process benchmarks on large centres: P-3 (SQL per request as the
centre grows) and submission with sample generation for 2,000 candidates."""
import time

from bench.httpclient import BenchError, csrf_token
from bench.web import rows_state

ENDPOINTS = ('marksheet (20 rows)', 'marksheet (Rows: All)', 'overview', 'save', 'report page')


class TestClientTeacher:
    """A teacher signed in through the Flask test client (real CSRF)."""

    def __init__(self, app, username, password):
        self.client = app.test_client()
        page = self.client.get('/login').get_data(as_text=True)
        response = self.client.post('/login', data={
            'username': username, 'password': password, 'csrf_token': csrf_token(page)},
            follow_redirects=True)
        html = response.get_data(as_text=True)
        if response.status_code != 200 or 'Signed in as' not in html:
            raise BenchError(f'test-client sign-in as {username} failed ({response.status_code})')
        self.token = csrf_token(html)  # a new session, a new token

    def get(self, path):
        return self.client.get(path)

    def save(self, unit_id, entry_id, value, version):
        return self.client.post(
            f'/internal-assessment/{unit_id}/entries/{entry_id}',
            data={f'value-{entry_id}': value, f'version-{entry_id}': str(version)},
            headers={'HX-Request': 'true', 'X-CSRFToken': self.token,
                     'HX-Current-URL': f'http://localhost/internal-assessment/{unit_id}'})


def measure_requests(app, counter, sized, password, repeat=3):
    """{endpoint: figures} for one centre. Queries are counted on the first
    request; the time is the fastest of `repeat` (the machine is shared)."""
    teacher = TestClientTeacher(app, sized.username, password)
    unit_id = sized.unit.id
    out = {}

    def measure(name, call):
        times, first = [], None
        for turn in range(repeat):
            with counter.counting():
                start = time.perf_counter()
                response = call()
                times.append(time.perf_counter() - start)
            body = response.get_data()
            if response.status_code != 200:
                raise BenchError(f'{name} for {sized.size} candidates answered {response.status_code}')
            if turn == 0:
                first = body
                out[name] = {'queries': counter.count, 'statements': len(counter.statements),
                             'status': response.status_code, 'kinds': counter.kinds(),
                             'repeated': counter.repeated(), 'briefs': counter.briefs(),
                             'bytes': len(body)}
        out[name]['ms'] = min(times) * 1000
        return first

    measure('marksheet (20 rows)', lambda: teacher.get(f'/internal-assessment/{unit_id}'))
    page = measure('marksheet (Rows: All)',
                   lambda: teacher.get(f'/internal-assessment/{unit_id}?rows=all'))
    measure('overview', lambda: teacher.get('/internal-assessment/'))
    state = rows_state(page)
    entry_id = next(e for e, (version, value) in sorted(state.items()) if value in ('P', 'M'))

    def save():
        version, value = state[entry_id]
        response = teacher.save(unit_id, entry_id, 'M' if value == 'P' else 'P', version)
        row = rows_state(response.get_data()).get(entry_id)
        if row is None or row[0] != version + 1:
            raise BenchError('a counted save did not change the outcome')
        state[entry_id] = row
        return response

    measure('save', save)
    measure('report page', lambda: teacher.get(f'/internal-assessment/reports/{unit_id}'))
    return out


def submit_and_sample(counter, sized, app):
    """Marksheet.preview_sample() and Marksheet.submit() for a complete centre,
    and the PREVIEW SAMPLE page that shows the preview."""
    from models import Marksheet, SampleMember, Entry
    sheet = Marksheet(sized.centre, sized.unit)
    figures = {}
    with counter.counting():
        start = time.perf_counter()
        preview = sheet.preview_sample()
        figures['preview'] = (time.perf_counter() - start, counter.count)
    with counter.counting():
        start = time.perf_counter()
        submission, created, _ = sheet.submit(sized.teacher)
        figures['submit'] = (time.perf_counter() - start, counter.count)
    if not created:
        raise BenchError('the benchmark centre was submitted already')
    sample = (SampleMember.select().join(Entry)
              .where(Entry.centre == sized.centre, Entry.unit == sized.unit).count())
    figures['sample'] = sample
    figures['preview_sample'] = len(preview)
    return figures


def preview_page(app, counter, sized, password):
    """GET .../submit (PREVIEW SAMPLE) through the test client, before submitting."""
    teacher = TestClientTeacher(app, sized.username, password)
    with counter.counting():
        start = time.perf_counter()
        response = teacher.get(f'/internal-assessment/{sized.unit.id}/submit')
        elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise BenchError(f'preview page answered {response.status_code}')
    return elapsed, counter.count, counter.repeated()
