"""Where data lives: the database bound from DATABASE_URL (SQLite in
instance/ by default) and the migrations that shape it."""
import os

from playhouse.db_url import connect
from playhouse.migrations import Runner

from models import db

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'migrations')
SQLITE_PRAGMAS = {'journal_mode': 'wal', 'foreign_keys': 1,
                  'synchronous': 'normal', 'busy_timeout': 5000}


def bind_database(app):
    url = app.config['DATABASE_URL'] or 'sqlite:///' + os.path.join(app.instance_path, 'portal.db')
    app.config['DATABASE_URL'] = url
    # Pooled: a request takes an open connection instead of connecting and
    # setting pragmas each time (bench/README.md, P-1). Workers fork a
    # process per job, so they keep plain connections (DATABASE_POOL off).
    scheme, rest = url.split(':', 1)
    if app.config['DATABASE_POOL'] and '+pool' not in scheme:
        scheme += '+pool'
    options = {}
    if '+pool' in scheme:
        options.update(max_connections=32, stale_timeout=300)
        if scheme.startswith('sqlite'):  # a pooled connection moves between threads, one at a time
            options['check_same_thread'] = False
    if scheme.startswith('sqlite'):
        options['pragmas'] = SQLITE_PRAGMAS
    database = connect(f'{scheme}:{rest}', **options)
    db.initialize(database)
    return database


def open_database():
    from flask import request
    if request.endpoint == 'health.healthz':
        return  # it asks the database itself, and says so when it cannot
    db.connect(reuse_if_open=True)


def close_database(exc=None):
    if not db.is_closed():
        db.close()


def migrate():
    """Apply pending migrations; returns their names."""
    with db.connection_context():
        return Runner(db.obj, MIGRATIONS).up()
