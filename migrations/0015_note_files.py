"""Explanatory notes as files (SPEC 3.6: "a file or typed text"), kept as
candidate files are: a CandidateFile with no entry is a note of the centre
for its unit. Every file now carries its unit (filled in for those already
uploaded), so a note file is found by centre and unit, never by entry."""
from peewee import *


def up(migrator, db):
    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    migrator.migrate(
        migrator.add_column('candidate_file', 'unit_id',
                            ForeignKeyField(Unit, field=Unit.id, null=True, on_delete='RESTRICT')),
    )
    migrator.migrate(migrator.drop_not_null('candidate_file', 'entry_id'))
    db.execute_sql('UPDATE candidate_file SET unit_id = (SELECT entry.unit_id FROM entry '
                   'WHERE entry.id = candidate_file.entry_id) WHERE entry_id IS NOT NULL')
    migrator.migrate(migrator.add_index('candidate_file', ('centre_id', 'unit_id'), False))


def down(migrator, db):
    db.execute_sql('DELETE FROM candidate_file WHERE entry_id IS NULL')  # note files have nowhere to go
    migrator.migrate(
        migrator.drop_index('candidate_file', 'candidate_file_centre_id_unit_id'),
        migrator.drop_index('candidate_file', 'candidate_file_unit_id'),
        migrator.drop_column('candidate_file', 'unit_id'),
        migrator.add_not_null('candidate_file', 'entry_id'),
    )
