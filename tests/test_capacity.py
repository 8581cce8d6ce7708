"""Issue 11, capacity: the cheaper grade save and marksheet behave as before."""
import pytest

from models import db

pytestmark = pytest.mark.db


def url(unit, *parts):
    return '/'.join([f'/internal-assessment/{unit.id}', *map(str, parts)])


def test_a_second_request_within_a_minute_sends_no_cookie(world, as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['seen_at'] -= 61
    first = client.get(url(world.unit))
    assert first.status_code == 200 and 'session=' in first.headers.get('Set-Cookie', '')
    with client.session_transaction() as session:
        seen = session['seen_at']
    again = client.get(url(world.unit))
    assert again.status_code == 200 and 'Set-Cookie' not in again.headers
    saved = client.htmx(url(world.unit, 'entries', world.entries[0].id),
                        {f'value-{world.entries[0].id}': 'P', f'version-{world.entries[0].id}': '0'})
    assert saved.status_code == 200 and 'Set-Cookie' not in saved.headers
    with client.session_transaction() as session:
        assert session['seen_at'] == seen


def test_the_idle_limit_still_counts_from_the_last_minute(world, as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['seen_at'] -= 19 * 60 + 59  # the last write: 19 min 59 s ago, still signed in
    assert client.get(url(world.unit)).status_code == 200
    with client.session_transaction() as session:
        session['seen_at'] -= 20 * 60 + 1  # that request counted; 20 minutes idle since ends it
    response = client.get(url(world.unit))
    assert response.status_code == 303 and 'expired=1' in response.location



class Statements:
    """The SQL statements run through peewee while inside (QUALITY P-3)."""

    def __enter__(self):
        self.sql, self.original = [], db.obj.execute_sql

        def recording(sql, params=None, *args, **kwargs):
            self.sql.append(sql)
            return self.original(sql, params, *args, **kwargs)
        db.obj.execute_sql = recording
        return self

    def __exit__(self, *exc):
        db.obj.execute_sql = self.original


def test_the_marksheet_loads_its_unit_and_series_in_one_query(world, as_):
    client = as_('teacher')
    client.get(url(world.unit))  # anything read once per process is read
    with Statements() as run:
        html = client.get(url(world.unit)).get_data(as_text=True)
    assert world.unit.series.name_in('en') in html
    assert not [sql for sql in run.sql if ' FROM "series" ' in sql + ' ' and ' JOIN ' not in sql]
    assert len(run.sql) <= 7  # account, grants, unit with series, rows, matching, counts, submission


def counts_in(response):
    import re
    return re.search(r'\((\d+) DONE, (\d+) LEFT\)', response.get_data(as_text=True)).groups()


def test_a_grade_save_reads_its_row_and_the_counts_in_one_query(world, as_):
    client = as_('teacher')
    entry = world.entries[0]
    address = url(world.unit, 'entries', entry.id)
    total = str(len(world.entries))
    with Statements() as run:
        first = client.htmx(address, {f'value-{entry.id}': 'P', f'version-{entry.id}': '0'})
    assert first.status_code == 200 and counts_in(first) == ('1', str(int(total) - 1))
    # account, grants, unit, the row with its counts, the write, the audit row: no COUNT afterwards
    # (on PostgreSQL also the marksheet's advisory lock, REL-3)
    statements = [sql for sql in run.sql if 'pg_advisory_xact_lock' not in sql]
    assert len(statements) <= 6 and statements[-1].startswith('INSERT')
    changed = client.htmx(address, {f'value-{entry.id}': 'M', f'version-{entry.id}': '1'})
    assert changed.status_code == 200 and counts_in(changed) == ('1', str(int(total) - 1))
    cleared = client.htmx(address, {f'value-{entry.id}': '', f'version-{entry.id}': '2'})
    assert cleared.status_code == 200 and counts_in(cleared) == ('0', total)
    again = client.htmx(address, {f'value-{entry.id}': '', f'version-{entry.id}': '0'})
    assert again.status_code == 200 and counts_in(again) == ('0', total)


def rows_alone(app, world, unit):
    """Every row of the marksheet rendered one at a time, as the saved fragment renders it."""
    from flask import render_template

    from blueprints.internal_assessment import row_words
    from models import Marksheet
    with app.test_request_context(), db.connection_context():
        sheet = Marksheet(world.centre, unit)
        rows, _matching = sheet.rows(per_page=None)
        submission = sheet.submission()
        return ''.join(render_template('internal_assessment/_row.html', row=row, unit=unit, sheet=sheet,
                                       submission=submission, words=row_words(), error=None, typed=None) + '\n'
                       for row in rows)


def page_rows(html):
    return html.split('hx-sync="this:queue all">\n', 1)[1].split('\n</tbody>', 1)[0]


def test_the_page_renders_its_rows_exactly_as_one_row_alone(app, world, as_):
    from models import Entry
    with db.connection_context():
        Entry.update(withdrawn=True).where(Entry.id == world.entries[2].id).execute()
    client = as_('teacher')
    for entry, value in zip(world.entries[:5], 'PMDAP'):
        assert client.htmx(url(world.unit, 'entries', entry.id), {f'value-{entry.id}': value, f'version-{entry.id}': '0'}).status_code == 200
    html = client.get(url(world.unit) + '?rows=all').get_data(as_text=True)
    alone = rows_alone(app, world, world.unit)
    assert page_rows(html) == alone and alone.count('<tr id="entry-') == len(world.entries)
    for entry in world.entries[5:]:
        client.htmx(url(world.unit, 'entries', entry.id), {f'value-{entry.id}': 'P', f'version-{entry.id}': '0'})
    assert client.post(url(world.unit, 'submit')).status_code == 303
    html = client.get(url(world.unit) + '?rows=all').get_data(as_text=True)
    alone = rows_alone(app, world, world.unit)
    assert page_rows(html) == alone and 'In the sample' in alone
    nothing = client.get(url(world.unit) + '?search=NOBODYCALLEDTHIS').get_data(as_text=True)
    assert page_rows(nothing) == '<tr><td colspan="4">No candidates match.</td></tr>'
