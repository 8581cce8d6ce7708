"""A running job's heartbeat: a worker killed mid-job is noticed within a
minute and the job runs again (issue 11), not after JOB_STALE_SECONDS."""
from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column('job', 'heartbeat_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('job', 'heartbeat_at'))
