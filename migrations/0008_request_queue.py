"""One queue for every kind of request: the staff member who has taken a
request, and outcomes amended by the board after submission (SPEC 2, 3.10)."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    migrator.migrate(
        migrator.add_column('request', 'assigned_to_id',
                            ForeignKeyField(Account, field=Account.id, null=True, on_delete='RESTRICT')),
        migrator.add_column('request', 'assigned_at', DateTimeField(null=True)),
        migrator.add_column('outcome', 'amended', BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('outcome', 'amended'),
                     migrator.drop_column('request', 'assigned_at'),
                     migrator.drop_column('request', 'assigned_to_id'))
