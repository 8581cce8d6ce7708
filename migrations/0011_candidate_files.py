"""Candidate files as uploads need them (SPEC 3.6, issue 8): received in
pieces under a random key, with a state, checked by a job. The table was
never used before, so it is made anew."""
from peewee import *


def up(migrator, db):
    class Centre(Model):
        class Meta:
            database = db
            table_name = 'centre'

    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Entry(Model):
        class Meta:
            database = db
            table_name = 'entry'

    class CandidateFile(Model):
        entry = ForeignKeyField(Entry, on_delete='RESTRICT')
        centre = ForeignKeyField(Centre, on_delete='RESTRICT')
        uploaded_by = ForeignKeyField(Account, on_delete='RESTRICT')
        upload_key = CharField(max_length=64, unique=True)
        original_name = CharField(max_length=255)
        stored_name = CharField(max_length=255, unique=True)
        length = BigIntegerField()
        received = BigIntegerField(default=0)
        sha256 = CharField(max_length=64, default='')
        mime = CharField(max_length=100, default='')
        state = CharField(max_length=20, default='uploading', constraints=[
            Check("state IN ('uploading', 'checking', 'available', 'refused')")])
        problem = CharField(max_length=40, default='')
        scanned = BooleanField(default=False)
        new_version = BooleanField(default=False)
        uploaded_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'candidate_file'

    db.execute_sql('DROP TABLE candidate_file')
    db.create_tables([CandidateFile])


def down(migrator, db):
    db.execute_sql('DROP TABLE candidate_file')
