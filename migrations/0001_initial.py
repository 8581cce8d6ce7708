"""The first schema: every table of SPEC section 2, with its invariants as
constraints. A frozen copy, independent of models.py."""
from peewee import *


def up(migrator, db):
    class Centre(Model):
        number = CharField(unique=True, max_length=5, constraints=[Check("length(number) = 5")])
        name = CharField(max_length=200)
        head_of_centre = CharField(max_length=200, default='')
        telephone = CharField(max_length=40, default='')
        eo_name = CharField(max_length=200, default='')
        eo_email = CharField(max_length=254, default='')
        post_results_email = CharField(null=True, max_length=254)
        class Meta:
            database = db
            table_name = 'centre'
    db.create_tables([Centre])

    class Account(Model):
        username = CharField(unique=True, max_length=40)
        kind = CharField(max_length=20, constraints=[
            Check("kind IN ('administrator', 'user', 'moderator', 'staff')")])
        centre = ForeignKeyField(Centre, null=True, on_delete='RESTRICT')
        password_hash = CharField(default='')
        contact_name = CharField(max_length=200, default='')
        job_title = CharField(max_length=200, default='')
        email = CharField(max_length=254, default='')
        postal_address = TextField(default='')
        language = CharField(max_length=2, default='en',
                             constraints=[Check("language IN ('en', 'cy')")])
        active = BooleanField(default=True)
        session_epoch = IntegerField(default=0)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'account'
            constraints = [Check(
                "(kind IN ('administrator', 'user') AND centre_id IS NOT NULL) OR "
                "(kind IN ('moderator', 'staff') AND centre_id IS NULL)")]
    db.create_tables([Account])

    class AuditLog(Model):
        at = DateTimeField(index=True)
        actor = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        acting_for = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        centre = ForeignKeyField(Centre, null=True, on_delete='RESTRICT')
        action = CharField(max_length=40)
        target = CharField(max_length=100, default='')
        before = TextField(default='')
        after = TextField(default='')
        class Meta:
            database = db
            table_name = 'audit_log'
    db.create_tables([AuditLog])

    class Candidate(Model):
        centre = ForeignKeyField(Centre, on_delete='RESTRICT')
        number = CharField(max_length=4, constraints=[Check("length(number) = 4")])
        surname = CharField(max_length=100)
        forename = CharField(max_length=100)
        dob = DateField(null=True)
        uci = CharField(null=True, max_length=13)
        class Meta:
            database = db
            table_name = 'candidate'
            indexes = ((('centre', 'number'), True),)
    db.create_tables([Candidate])

    class Series(Model):
        name = CharField(unique=True, max_length=200)
        results_day = DateField(null=True)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'series'
    db.create_tables([Series])

    class Unit(Model):
        series = ForeignKeyField(Series, on_delete='RESTRICT')
        code = CharField(max_length=20)
        title = CharField(max_length=200)
        suite = CharField(max_length=40)
        scheme = CharField(max_length=10, default='grades',
                           constraints=[Check("scheme IN ('grades', 'marks')")])
        max_mark = IntegerField(null=True)
        deadline = DateField(null=True)
        e_submission = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'unit'
            indexes = ((('series', 'code'), True),)
            constraints = [Check("scheme = 'grades' OR (max_mark IS NOT NULL AND max_mark >= 1)")]
    db.create_tables([Unit])

    class Entry(Model):
        candidate = ForeignKeyField(Candidate, on_delete='RESTRICT')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        centre = ForeignKeyField(Centre, on_delete='RESTRICT')
        teaching_group = CharField(max_length=20, default='')
        processed = BooleanField(default=True)
        class Meta:
            database = db
            table_name = 'entry'
            indexes = ((('candidate', 'unit'), True), (('centre', 'unit'), False))
    db.create_tables([Entry])

    class CandidateFile(Model):
        entry = ForeignKeyField(Entry, on_delete='RESTRICT')
        original_name = CharField()
        stored_name = CharField(unique=True)
        size = IntegerField()
        sha256 = CharField(max_length=64)
        new_version = BooleanField(default=False)
        uploaded_by = ForeignKeyField(Account, on_delete='RESTRICT')
        uploaded_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'candidate_file'
    db.create_tables([CandidateFile])

    class ExplanatoryNote(Model):
        centre = ForeignKeyField(Centre, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        original_name = CharField()
        stored_name = CharField(unique=True)
        size = IntegerField()
        uploaded_by = ForeignKeyField(Account, on_delete='RESTRICT')
        uploaded_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'explanatory_note'
    db.create_tables([ExplanatoryNote])

    class FacilityGrant(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        facility = CharField(max_length=40)
        all_papers = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'facility_grant'
            indexes = ((('account', 'facility'), True),)
    db.create_tables([FacilityGrant])

    class Job(Model):
        kind = CharField(max_length=40)
        args = TextField(default='{}')
        status = CharField(max_length=20, default='queued')
        progress = IntegerField(default=0)
        error = TextField(default='')
        result_path = CharField(default='')
        centre = ForeignKeyField(Centre, null=True, on_delete='CASCADE')
        account = ForeignKeyField(Account, null=True, on_delete='CASCADE')
        language = CharField(max_length=2, default='en')
        attempts = IntegerField(default=0)
        created_at = DateTimeField()
        enqueued_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'job'
    db.create_tables([Job])

    class ModeratorAssignment(Model):
        centre = ForeignKeyField(Centre, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        moderator = ForeignKeyField(Account, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'moderator_assignment'
            indexes = ((('centre', 'unit'), True),)
    db.create_tables([ModeratorAssignment])

    class ModeratorReport(Model):
        centre = ForeignKeyField(Centre, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        moderator = ForeignKeyField(Account, on_delete='RESTRICT')
        body = TextField(default='')
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'moderator_report'
            indexes = ((('centre', 'unit'), True),)
    db.create_tables([ModeratorReport])

    class Outbox(Model):
        key = CharField(unique=True, max_length=100)
        to = CharField(max_length=254)
        subject = CharField()
        body = TextField()
        language = CharField(max_length=2, default='en')
        state = CharField(max_length=20, default='queued')
        attempts = IntegerField(default=0)
        created_at = DateTimeField()
        sent_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'outbox'
    db.create_tables([Outbox])

    class Outcome(Model):
        entry = ForeignKeyField(Entry, unique=True, on_delete='CASCADE')
        value = CharField(max_length=4)
        score = IntegerField()
        version = IntegerField(default=1)
        entered_by = ForeignKeyField(Account, on_delete='RESTRICT')
        entered_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'outcome'
    db.create_tables([Outcome])

    class Request(Model):
        kind = CharField(max_length=30)
        centre = ForeignKeyField(Centre, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, null=True, on_delete='CASCADE')
        status = CharField(max_length=20, default='pending')
        details = TextField(default='{}')
        created_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'request'
    db.create_tables([Request])

    class RequestEvent(Model):
        request = ForeignKeyField(Request, on_delete='CASCADE')
        status = CharField(max_length=20)
        note = TextField(default='')
        by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'request_event'
    db.create_tables([RequestEvent])

    class SampleMember(Model):
        entry = ForeignKeyField(Entry, unique=True, on_delete='CASCADE')
        reason = CharField(max_length=20)
        detail = CharField(max_length=100, default='')
        added_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        added_at = DateTimeField()
        substitute_for = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        work_missing = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'sample_member'
    db.create_tables([SampleMember])

    class Submission(Model):
        centre = ForeignKeyField(Centre, on_delete='RESTRICT')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        submitted_by = ForeignKeyField(Account, on_delete='RESTRICT')
        submitted_at = DateTimeField()
        candidates = IntegerField()
        class Meta:
            database = db
            table_name = 'submission'
            indexes = ((('centre', 'unit'), True),)
    db.create_tables([Submission])

    class UnitGrant(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'unit_grant'
            indexes = ((('account', 'unit'), True),)
    db.create_tables([UnitGrant])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('unit_grant'))
    migrator.migrate(migrator.drop_table('submission'))
    migrator.migrate(migrator.drop_table('sample_member'))
    migrator.migrate(migrator.drop_table('request_event'))
    migrator.migrate(migrator.drop_table('request'))
    migrator.migrate(migrator.drop_table('outcome'))
    migrator.migrate(migrator.drop_table('outbox'))
    migrator.migrate(migrator.drop_table('moderator_report'))
    migrator.migrate(migrator.drop_table('moderator_assignment'))
    migrator.migrate(migrator.drop_table('job'))
    migrator.migrate(migrator.drop_table('facility_grant'))
    migrator.migrate(migrator.drop_table('explanatory_note'))
    migrator.migrate(migrator.drop_table('candidate_file'))
    migrator.migrate(migrator.drop_table('entry'))
    migrator.migrate(migrator.drop_table('unit'))
    migrator.migrate(migrator.drop_table('series'))
    migrator.migrate(migrator.drop_table('candidate'))
    migrator.migrate(migrator.drop_table('audit_log'))
    migrator.migrate(migrator.drop_table('account'))
    migrator.migrate(migrator.drop_table('centre'))
