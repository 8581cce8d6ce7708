"""The audit log is append-only: the database refuses to update or delete it."""
from peewee import SqliteDatabase


def up(migrator, db):
    if isinstance(db, SqliteDatabase):
        for verb in ('UPDATE', 'DELETE'):
            db.execute_sql(
                f'CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log '
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    else:
        db.execute_sql(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$")
        db.execute_sql(
            'CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log '
            'FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()')


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        for verb in ('update', 'delete'):
            db.execute_sql(f'DROP TRIGGER audit_log_no_{verb}')
    else:
        db.execute_sql('DROP TRIGGER audit_log_append_only ON audit_log')
        db.execute_sql('DROP FUNCTION audit_log_append_only()')
