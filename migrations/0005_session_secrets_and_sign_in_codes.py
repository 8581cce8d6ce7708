"""A random per-account session secret replaces the guessable session epoch
(a leaked SECRET_KEY alone no longer opens accounts); mails keep their link
or code apart from the stored body until sent; codes e-mailed at sign-in."""
import secrets

from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class SignInCode(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        digest = CharField(max_length=64)
        expires_at = DateTimeField()
        attempts = IntegerField(default=0)
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'sign_in_code'

    migrator.migrate(
        migrator.add_column('account', 'session_secret', CharField(max_length=64, default='')),
        migrator.add_column('outbox', 'secret', TextField(default='')))
    for (account_id,) in db.execute_sql('SELECT id FROM account').fetchall():
        db.execute_sql('UPDATE account SET session_secret = %s WHERE id = %s'.replace('%s', db.param),
                       (secrets.token_urlsafe(24), account_id))
    db.execute_sql('ALTER TABLE account DROP COLUMN session_epoch')  # SQLite >= 3.35 drops in place
    db.create_tables([SignInCode])


def down(migrator, db):
    db.execute_sql('DROP TABLE sign_in_code')
    migrator.migrate(migrator.add_column('account', 'session_epoch', IntegerField(default=0)),
                     migrator.drop_column('outbox', 'secret'))
    db.execute_sql('ALTER TABLE account DROP COLUMN session_secret')
