"""A service banner that helpline staff set in English and Welsh ("Deadline
extended to ...", "Uploads are slow this morning"), shown on every page
between its times (issue 11, point 6)."""
from peewee import *


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class ServiceNotice(Model):
        text_en = CharField(max_length=500)
        text_cy = CharField(max_length=500)
        kind = CharField(max_length=10, default='info', constraints=[Check("kind IN ('info', 'warning')")])
        shown_from = DateTimeField(index=True)
        shown_until = DateTimeField(null=True)
        set_by = ForeignKeyField(Account, on_delete='RESTRICT')
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = 'service_notice'

    db.create_tables([ServiceNotice])


def down(migrator, db):
    db.execute_sql('DROP TABLE service_notice')
