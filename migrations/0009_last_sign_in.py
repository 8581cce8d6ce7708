"""When each account last signed in, for the helpline's centre page (acting
as an account never changes it)."""
from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column('account', 'last_sign_in_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('account', 'last_sign_in_at'))
