"""The board runs its own series (issue 9): staff roles (helpline, series),
Welsh forms of series and unit titles, withdrawn entries, and the exams
officers' pending entry changes. Existing staff keep the helpline role."""
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

    class Candidate(Model):
        class Meta:
            database = db
            table_name = 'candidate'

    class EntryChange(Model):
        centre = ForeignKeyField(Centre, on_delete='RESTRICT')
        candidate = ForeignKeyField(Candidate, on_delete='RESTRICT')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        kind = CharField(max_length=10, constraints=[Check("kind IN ('enter', 'withdraw')")])
        teaching_group = CharField(max_length=20, default='')
        status = CharField(max_length=10, default='pending',
                           constraints=[Check("status IN ('pending', 'processed')")])
        requested_by = ForeignKeyField(Account, on_delete='RESTRICT')
        requested_at = DateTimeField(index=True)
        processed_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT', backref='+')
        processed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = 'entry_change'
            indexes = ((('centre', 'status'), False), (('status', 'requested_at'), False))

    migrator.migrate(
        migrator.add_column('account', 'staff_roles', CharField(max_length=40, default='')),
        migrator.add_column('series', 'name_cy', CharField(max_length=200, default='')),
        migrator.add_column('unit', 'title_cy', CharField(max_length=200, default='')),
        migrator.add_column('entry', 'withdrawn', BooleanField(default=False)),
    )
    db.execute_sql("UPDATE account SET staff_roles = 'helpline' WHERE kind = 'staff'")
    db.create_tables([EntryChange])


def down(migrator, db):
    db.execute_sql('DROP TABLE entry_change')
    migrator.migrate(
        migrator.drop_column('account', 'staff_roles'),
        migrator.drop_column('series', 'name_cy'),
        migrator.drop_column('unit', 'title_cy'),
        migrator.drop_column('entry', 'withdrawn'),
    )
