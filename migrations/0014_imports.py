"""Imports from CSV (issue 9 point 3): one row per uploaded file, with its
validation report and its save."""
from peewee import *


def up(migrator, db):
    class Series(Model):
        class Meta:
            database = db
            table_name = 'series'

    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Job(Model):
        class Meta:
            database = db
            table_name = 'job'

    class ImportBatch(Model):
        kind = CharField(max_length=20, constraints=[
            Check("kind IN ('centres', 'candidates', 'entries', 'moderators', 'assignments')")])
        series = ForeignKeyField(Series, null=True, on_delete='RESTRICT')
        account = ForeignKeyField(Account, on_delete='RESTRICT')
        original_name = CharField(max_length=255, default='')
        stored_path = CharField(max_length=500)
        sha256 = CharField(max_length=64, default='')
        size = BigIntegerField(default=0)
        state = CharField(max_length=10, default='checking', index=True, constraints=[
            Check("state IN ('checking', 'invalid', 'ready', 'saving', 'saved', 'failed')")])
        rows = IntegerField(default=0)
        problems = IntegerField(default=0)
        created = IntegerField(default=0)
        updated = IntegerField(default=0)
        unchanged = IntegerField(default=0)
        report = TextField(default='')
        job = ForeignKeyField(Job, null=True, on_delete='SET NULL')
        created_at = DateTimeField(index=True)
        checked_at = DateTimeField(null=True)
        confirmed_at = DateTimeField(null=True)
        saved_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'import_batch'

    db.create_tables([ImportBatch])


def down(migrator, db):
    db.execute_sql('DROP TABLE import_batch')
