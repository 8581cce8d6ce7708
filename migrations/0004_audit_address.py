"""The address each audited change came from (QUALITY AUTH-4)."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column('audit_log', 'address', CharField(max_length=45, null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('audit_log', 'address'))
