"""Backups with a restore that is tested (issue 11, point 6): what was saved
after the backup is gone, what was there before is back, and a backup taken
while another connection writes is consistent. SQLite always; PostgreSQL
(pg_dump, pg_restore) when PORTAL_TEST_DB=postgres (marked `db`)."""
import sqlite3
import threading

import pytest
from peewee import IntegerField, Model

from models import Outcome, db

pytestmark = pytest.mark.db


def outcomes():
    with db.connection_context():
        return {o.entry_id: o.value for o in Outcome.select()}


def save(client, world, entry, value, version=0):
    response = client.htmx(f'/internal-assessment/{world.unit.id}/entries/{entry.id}',
                           {f'value-{entry.id}': value, f'version-{entry.id}': version})
    assert response.status_code == 200, response.status_code
    return response


def test_restore_brings_back_the_data_of_the_backup_and_drops_later_changes(app, world, as_, tmp_path):
    teacher = as_('teacher')
    first, second = world.entries[0], world.entries[1]
    save(teacher, world, first, 'M')
    runner = app.test_cli_runner()
    result = runner.invoke(args=['backup', str(tmp_path / 'before.backup')])
    assert result.exit_code == 0, result.output
    save(teacher, world, second, 'D')  # after the backup: to be lost
    with db.connection_context():
        Outcome.update(value='P').where(Outcome.entry == first.id).execute()
    assert outcomes() == {first.id: 'P', second.id: 'D'}

    result = runner.invoke(args=['restore', str(tmp_path / 'before.backup'), '--yes'])
    assert result.exit_code == 0, result.output
    assert outcomes() == {first.id: 'M'}
    page = teacher.get(f'/internal-assessment/{world.unit.id}').get_data(as_text=True)
    assert page.count('selected>Merit') + page.count('selected="selected">Merit') + page.count('value="M" selected') >= 1


def test_restore_refuses_a_file_that_is_not_a_backup_of_the_portal(app, world, tmp_path):
    if not app.config['DATABASE_URL'].startswith('sqlite'):
        pytest.skip('the SQLite checks')
    other = tmp_path / 'other.db'
    sqlite3.connect(other).execute('CREATE TABLE t (x)').connection.commit()
    (tmp_path / 'junk.db').write_bytes(b'not a database at all' * 100)
    runner = app.test_cli_runner()
    for path, said in ((other, 'no schema_migration table'), (tmp_path / 'junk.db', 'not a SQLite database')):
        result = runner.invoke(args=['restore', str(path)])
        assert result.exit_code != 0 and said in result.output, result.output
    assert len(outcomes()) == 0 and world.entries  # the database is as it was


def test_postgres_restore_needs_yes(app, world, tmp_path):
    if app.config['DATABASE_URL'].startswith('sqlite'):
        pytest.skip('PostgreSQL only: run with PORTAL_TEST_DB=postgres')
    runner = app.test_cli_runner()
    assert runner.invoke(args=['backup', str(tmp_path / 'b.dump')]).exit_code == 0
    result = runner.invoke(args=['restore', str(tmp_path / 'b.dump')])
    assert result.exit_code != 0 and '--yes' in result.output


class Pair(Model):
    """Rows written two at a time, in one transaction: a consistent copy has each k twice."""
    k = IntegerField()

    class Meta:
        database = db
        table_name = 'backup_test_pair'


def test_a_backup_taken_while_another_connection_writes_is_consistent(app, world, tmp_path):
    with db.connection_context():
        db.create_tables([Pair])
    stop, written = threading.Event(), []

    def writer():
        with db.connection_context():
            k = 0
            while not stop.is_set():
                with db.atomic():
                    Pair.create(k=k)
                    Pair.create(k=k)
                written.append(k)
                k += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            pass
        result = app.test_cli_runner().invoke(args=['backup', str(tmp_path / 'live.backup')])
        assert result.exit_code == 0, result.output
        during = len(written)
    finally:
        stop.set()
        thread.join(30)
    assert during < len(written) or during >= 50  # the writer was at work around the backup
    result = app.test_cli_runner().invoke(args=['restore', str(tmp_path / 'live.backup'), '--yes'])
    assert result.exit_code == 0, result.output
    with db.connection_context():
        counts = [row[1] for row in db.execute_sql('SELECT k, COUNT(*) FROM backup_test_pair GROUP BY k').fetchall()]
    assert counts and set(counts) == {2}, 'a transaction was copied half-done'
    assert len(counts) >= 50
