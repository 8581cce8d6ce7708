"""Single-use e-mail tokens (invitations, password resets); when a mail was
claimed for sending and its last error; when a job started."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Token(Model):
        purpose = CharField(max_length=10, constraints=[Check("purpose IN ('invite', 'reset')")])
        account = ForeignKeyField(Account, on_delete='CASCADE')
        digest = CharField(max_length=64, unique=True)
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'token'
    db.create_tables([Token])
    migrator.migrate(
        migrator.add_column('outbox', 'error', TextField(default='')),
        migrator.add_column('outbox', 'claimed_at', DateTimeField(null=True)),
        migrator.add_column('job', 'started_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('outbox', 'error'),
                     migrator.drop_column('outbox', 'claimed_at'),
                     migrator.drop_column('job', 'started_at'))
    db.execute_sql('DROP TABLE token')
