"""The moderator's workspace (SPEC 3.6, 3.7): further samples asked for by a
moderator (and the sample rows they brought in), clerical errors flagged on
a candidate, and the moderator report's sections with its completion."""
from peewee import *


def up(migrator, db):
    class Centre(Model):
        class Meta:
            database = db
            table_name = 'centre'

    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Entry(Model):
        class Meta:
            database = db
            table_name = 'entry'

    class FurtherSample(Model):
        centre = ForeignKeyField(Centre, on_delete='RESTRICT')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        moderator = ForeignKeyField(Account, on_delete='RESTRICT')
        reason = TextField()
        due = DateField()
        requested_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'further_sample'
            indexes = ((('centre', 'unit'), False),)

    class ClericalError(Model):
        entry = ForeignKeyField(Entry, on_delete='CASCADE')
        centre = ForeignKeyField(Centre, on_delete='CASCADE')
        moderator = ForeignKeyField(Account, on_delete='RESTRICT')
        submitted_value = CharField(max_length=4)
        seen_value = CharField(max_length=4)
        note = TextField()
        flagged_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'clerical_error'
            indexes = ((('centre', 'flagged_at'), False),)

    db.create_tables([FurtherSample, ClericalError])
    migrator.migrate(
        migrator.add_column('sample_member', 'further_sample_id',
                            ForeignKeyField(FurtherSample, field=FurtherSample.id, null=True,
                                            on_delete='RESTRICT')),
        # The first schema's one free-text column becomes the report's comments.
        migrator.rename_column('moderator_report', 'body', 'comments'),
        migrator.add_column('moderator_report', 'tasks', TextField(default='')),
        migrator.add_column('moderator_report', 'accuracy', TextField(default='')),
        migrator.add_column('moderator_report', 'administration', TextField(default='')),
        migrator.add_column('moderator_report', 'completed_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('moderator_report', 'completed_at'),
        migrator.drop_column('moderator_report', 'administration'),
        migrator.drop_column('moderator_report', 'accuracy'),
        migrator.drop_column('moderator_report', 'tasks'),
        migrator.rename_column('moderator_report', 'comments', 'body'),
        migrator.drop_column('sample_member', 'further_sample_id'))
    db.execute_sql('DROP TABLE clerical_error')
    db.execute_sql('DROP TABLE further_sample')
