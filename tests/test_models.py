"""Invariants held by the database itself, on SQLite and PostgreSQL."""
import pytest
from peewee import IntegrityError, DatabaseError

import demo
from models import (Account, AuditLog, Centre, Entry, Outcome, SampleMember, Submission, Unit,
                    choose_sample, db)
from tests.factories import PASSWORD

pytestmark = pytest.mark.db


@pytest.fixture
def conn(world):
    with db.connection_context():
        yield world


def refused(create):
    with pytest.raises((IntegrityError, DatabaseError)):
        with db.atomic():
            create()


def test_one_outcome_per_entry(conn):
    entry = conn.entries[0]
    Outcome.create(entry=entry, value='P', score=1, entered_by=conn.teacher)
    refused(lambda: Outcome.create(entry=entry, value='M', score=2, entered_by=conn.teacher))


def test_one_submission_per_centre_and_unit(conn):
    Submission.create(centre=conn.centre, unit=conn.unit, submitted_by=conn.teacher, candidates=30)
    refused(lambda: Submission.create(centre=conn.centre, unit=conn.unit, submitted_by=conn.admin, candidates=30))
    Submission.create(centre=conn.other_centre, unit=conn.unit, submitted_by=conn.other_admin, candidates=5)


def test_one_sample_row_per_entry(conn):
    SampleMember.create(entry=conn.entries[0], reason='highest')
    refused(lambda: SampleMember.create(entry=conn.entries[0], reason='centre'))


def test_usernames_are_unique_whatever_the_case(conn):
    refused(lambda: demo.make_account('68999jbr', 'user', PASSWORD, centre=conn.centre))
    assert Account.by_username(' 68999jbr ').id == conn.teacher.id


@pytest.mark.parametrize('bad', [
    lambda w: Centre.create(number='123', name='Short'),
    lambda w: Account.create(username='X1', kind='wizard'),
    lambda w: Account.create(username='68999ZZZ', kind='user'),  # a centre account needs a centre
    lambda w: Account.create(username='MOD9', kind='moderator', centre=w.centre),
    lambda w: Account.create(username='68999ZZY', kind='user', centre=w.centre, language='fr'),
    lambda w: Unit.create(series=w.series, code='9611/L3', title='Again', suite='LEVEL 3'),
    lambda w: Unit.create(series=w.series, code='X1', title='No maximum', suite='GCSE', scheme='marks'),
    lambda w: Entry.create(candidate=w.candidates[0], unit=w.unit, centre=w.centre),
])
def test_malformed_rows_are_refused(conn, bad):
    refused(lambda: bad(conn))


def test_the_audit_log_is_append_only(conn):
    row = AuditLog.record(conn.teacher, 'outcome.set', 'entry:1', before=None, after='P', centre=conn.centre)
    refused(lambda: AuditLog.update(after='"D"').where(AuditLog.id == row.id).execute())
    refused(lambda: AuditLog.delete().where(AuditLog.id == row.id).execute())
    assert AuditLog.get_by_id(row.id).after == '"P"'


def test_username_forms_follow_the_board_rule():
    form = Account.username_form_error
    assert form('administrator', '68999', '68999') is None
    assert form('user', '68999jbr', '68999') is None and form('user', '68999A', '68999') is None
    assert form('user', '68999ABCD', '68999') == 'username_form'
    assert form('user', '50551JBR', '68999') == 'username_form'
    assert form('user', '68999J-R', '68999') == 'username_form'


def test_uci_check_letter_is_validated():
    from models import Candidate
    assert not Candidate.uci_is_valid('68999123456')  # too short
    assert not Candidate.uci_is_valid('689991234567!')
    valid = next(c for c in 'ABCDEFGHKLMRTVXYZ' if Candidate.uci_is_valid('689991234567' + c))
    assert sum(Candidate.uci_is_valid('689991234567' + c) for c in 'ABCDEFGHKLMRTVXYZ') == 1
    assert valid


def test_the_sample_is_generated_from_the_database_deterministically(conn):
    from models import Marksheet
    from tests.factories import complete
    complete(conn.entries, conn.admin, 'PPMMDA')
    sheet = Marksheet(conn.centre, conn.unit)
    first = [(e.id, r, d) for e, r, d in sheet.preview_sample()[0]]
    assert first == [(e.id, r, d) for e, r, d in sheet.preview_sample()[0]]
    absent = {o.entry_id for o in Outcome.select().where(Outcome.value == 'A')}
    assert absent and not absent & {e for e, _, _ in first}
    assert choose_sample([]) == {}


def test_the_migrations_build_exactly_the_schema_of_the_models(app):
    import subprocess
    import sys
    found = subprocess.run([sys.executable, '-m', 'playhouse.migrations', app.config['DATABASE_URL'], 'diff',
                            'models:MODELS'], capture_output=True, text=True, cwd=app.root_path)
    assert 'schema matches models' in found.stdout, found.stdout + found.stderr
