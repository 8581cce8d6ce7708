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
    if url.startswith('sqlite'):
        database = connect(url, pragmas=SQLITE_PRAGMAS)
    else:
        database = connect(url)
    db.initialize(database)
    return database


def open_database():
    db.connect(reuse_if_open=True)


def close_database(exc=None):
    if not db.is_closed():
        db.close()


def migrate():
    """Apply pending migrations; returns their names."""
    with db.connection_context():
        return Runner(db.obj, MIGRATIONS).up()
