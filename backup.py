"""Backups and restore of the database named by DATABASE_URL (issue 11,
point 6): `flask --app app backup DEST` and `flask --app app restore SRC`.

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`), which
copies a consistent snapshot while the app keeps writing; restore checks the
file opens, passes `PRAGMA quick_check` and has the migrations table, then
copies it into place through the same API (so the WAL and other connections
stay coherent). PostgreSQL: `pg_dump --format=custom` (one snapshot) and
`pg_restore --clean --if-exists`; the URL's host, port, user, password and
database go to them in the environment (PGHOST...), never on the command
line, where `ps` would show them to every user of the machine.
"""
import os
import shutil
import sqlite3
import subprocess
from urllib.parse import unquote, urlparse

MIGRATIONS_TABLE = 'schema_migration'  # playhouse.migrations.Runner's


class BackupError(Exception):
    """Said to the operator as it is."""


def is_sqlite(url):
    return url.split(':', 1)[0].split('+')[0] in ('sqlite', 'sqliteext')


def sqlite_path(url):
    path = url.split(':', 1)[1]
    return path[3:] if path.startswith('///') else path


def backup(url, dest):
    """Write a backup of the database at `url` to the file `dest`."""
    dest = os.path.abspath(dest)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    partial = dest + '.partial'
    if is_sqlite(url):
        source = sqlite3.connect(sqlite_path(url), timeout=30)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target, pages=1024)  # steps, so writers are not held up for the whole copy
            finally:
                target.close()
        finally:
            source.close()
    else:
        run_pg(url, [pg_tool('pg_dump'), '--format=custom', '--no-owner', '--file', partial])
    with open(partial, 'rb') as written:
        os.fsync(written.fileno())
    os.replace(partial, dest)
    return dest


def restore(url, source):
    """Put the backup `source` in place of the database at `url`."""
    if not os.path.isfile(source):
        raise BackupError(f'{source}: no such file')
    if is_sqlite(url):
        check_sqlite_backup(source)
        backup_copy = sqlite3.connect(f'file:{source}?mode=ro', uri=True)
        try:
            target = sqlite3.connect(sqlite_path(url), timeout=30)
            try:
                backup_copy.backup(target)
            finally:
                target.close()
        finally:
            backup_copy.close()
    else:
        run_pg(url, [pg_tool('pg_restore'), '--clean', '--if-exists', '--no-owner', '--single-transaction',
                     '--dbname', database_name(url), source])


def check_sqlite_backup(source):
    try:
        connection = sqlite3.connect(f'file:{source}?mode=ro', uri=True)
        try:
            ok = connection.execute('PRAGMA quick_check').fetchone()[0]
            has_migrations = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)).fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as problem:
        raise BackupError(f'{source} is not a SQLite database: {problem}')
    if ok != 'ok':
        raise BackupError(f'{source} is damaged: {ok}')
    if not has_migrations:
        raise BackupError(f'{source} is not a backup of this portal: it has no {MIGRATIONS_TABLE} table')


def pg_tool(name):
    folder = os.environ.get('PG_BIN')  # a particular PostgreSQL's tools, when several are installed
    found = os.path.join(folder, name) if folder else shutil.which(name)
    if not found or not os.path.exists(found):
        raise BackupError(f'{name} is not installed (install postgresql-client, or set PG_BIN)')
    return found


def database_name(url):
    return unquote(urlparse(url).path.lstrip('/'))


def pg_environment(url):
    """The URL's parts as libpq's environment variables."""
    parts = urlparse(url.replace('+pool', '', 1))
    env = dict(os.environ)
    for name, value in (('PGHOST', parts.hostname), ('PGPORT', parts.port), ('PGUSER', parts.username),
                        ('PGPASSWORD', parts.password), ('PGDATABASE', database_name(url))):
        if value:
            env[name] = unquote(str(value))
    return env


def run_pg(url, command):
    finished = subprocess.run(command, env=pg_environment(url), capture_output=True, text=True)
    if finished.returncode != 0:
        raise BackupError(f'{os.path.basename(command[0])} failed: {finished.stderr.strip()[-2000:]}')
