"""Explanatory notes as the centre types them for the moderator, one per
centre and unit (SPEC 3.6). The table was never used before: made anew."""
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

    class ExplanatoryNote(Model):
        centre = ForeignKeyField(Centre, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        text = TextField(default='')
        written_by = ForeignKeyField(Account, on_delete='RESTRICT')
        written_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'explanatory_note'
            indexes = ((('centre', 'unit'), True),)

    db.execute_sql('DROP TABLE explanatory_note')
    db.create_tables([ExplanatoryNote])


def down(migrator, db):
    db.execute_sql('DROP TABLE explanatory_note')
