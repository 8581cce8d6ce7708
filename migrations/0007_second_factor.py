"""A second factor (TOTP) for staff and moderators: the secret, the last
time step accepted (a code works once), and single-use recovery codes."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class RecoveryCode(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        digest = CharField(max_length=64, unique=True)
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'recovery_code'

    migrator.migrate(
        migrator.add_column('account', 'totp_secret', CharField(max_length=64, default='')),
        migrator.add_column('account', 'totp_last_step', BigIntegerField(default=0)))
    db.create_tables([RecoveryCode])


def down(migrator, db):
    db.execute_sql('DROP TABLE recovery_code')
    migrator.migrate(migrator.drop_column('account', 'totp_secret'),
                     migrator.drop_column('account', 'totp_last_step'))
