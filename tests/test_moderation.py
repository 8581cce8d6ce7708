"""The moderator's workspace (issue 8, point 5; SPEC 3.6 further sample, 3.7):
the assigned units by state, never a centre's outcomes before it submits; a
centre's unit with candidates, amended outcomes, the sample and its reasons;
a further sample (in the centre's Sample column, not removable by it, the
Exams Officer e-mailed in their language) and each bad input refused with
nothing written; clerical errors for the helpline; the moderator report,
draft then completed and read-only, hidden from the centre until results day
(a frozen clock) and then a page and a PDF made by a job. Another moderator
gets 404 everywhere, whatever the ids."""
import datetime
import re
import subprocess

import pytest

import demo
import moderation
from models import (Account, AuditLog, Centre, ClericalError, Entry, FurtherSample, Job, Marksheet,
                    ModeratorAssignment, ModeratorReport, Outbox, Outcome, SampleMember, Series, Unit, db)
from tests import factories

pytestmark = pytest.mark.db

BEFORE_RESULTS_DAY = datetime.date(2017, 6, 1)  # the world's series has results day 17/08/2017
RESULTS_DAY = datetime.date(2017, 8, 17)
EO_EMAIL = 'exams@example-high.sch.uk'


@pytest.fixture
def frozen(monkeypatch):
    """freeze(date): moderation.today() gives `date` (the one clock it reads)."""
    def freeze(date):
        monkeypatch.setattr(moderation, 'today', lambda: date)
    freeze(BEFORE_RESULTS_DAY)
    return freeze


@pytest.fixture
def board(world, frozen):
    """9611/L3 of centre 68999 complete (candidate 3001 Absent, 3002's outcome
    amended by the board) and submitted; its Exams Officer writes in Welsh.
    9613/L3 is assigned too but not submitted. A second moderator has
    centre 50551's 9611/L3."""
    with db.connection_context():
        Centre.update(eo_name='Mr J Bryant', eo_email=EO_EMAIL).where(Centre.id == world.centre.id).execute()
        Account.update(language='cy', email=EO_EMAIL).where(Account.id == world.admin.id).execute()
        factories.complete(world.entries, world.admin, 'PPMMD')
        Outcome.update(value='A', score=-1).where(Outcome.entry == world.entries[0].id).execute()
        Outcome.update(value='D', score=3, amended=True).where(Outcome.entry == world.entries[1].id).execute()
        Marksheet(Centre.get_by_id(world.centre.id), Unit.get_by_id(world.unit.id)).submit(
            Account.get_by_id(world.admin.id))
        factories.complete(world.other_unit_entries, world.admin, 'PM')
        ModeratorAssignment.create(centre=world.centre, unit=world.other_unit, moderator=world.moderator)
        world.other_moderator = demo.make_account('mod2', 'moderator', factories.PASSWORD,
                                                  contact_name='Mr O Ther', totp_secret=factories.TOTP_SECRET)
        ModeratorAssignment.create(centre=world.other_centre, unit=world.unit, moderator=world.other_moderator)
    return world


def in_english(client):
    """The Exams Officer's account is Welsh: English | Cymraeg for this session."""
    assert client.post('/language', data={'lang': 'en'}).status_code == 303
    return client


def count(model, *where):
    with db.connection_context():
        query = model.select()
        return (query.where(*where) if where else query).count()


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def unit_url(world, unit=None, centre=None, tail=''):
    return (f'/moderation/centres/{(centre or world.centre).id}/units/{(unit or world.unit).id}' + tail)


def sample_ids(world, unit=None):
    with db.connection_context():
        return {m.entry_id: m.reason for m in SampleMember.select().join(Entry).where(
            Entry.centre == world.centre.id, Entry.unit == (unit or world.unit).id)}


def outside_sample(world, how_many, skip=()):
    """Entries of 9611/L3 not in the sample, not Absent, in entry order."""
    sampled = sample_ids(world)
    absent = {world.entries[0].id}
    return [e for e in world.entries if e.id not in sampled and e.id not in absent and e.id not in skip][:how_many]


def number_of(entry):
    with db.connection_context():
        return Entry.get_by_id(entry.id).candidate.number


def written():
    """Everything a further sample, a clerical error or a report writes."""
    return (count(SampleMember), count(FurtherSample), count(ClericalError), count(ModeratorReport),
            count(AuditLog), count(Outbox), count(Job))


FIELDS = {'tasks': 'The tasks set were suitable.\nEach met the specification.',
          'accuracy': 'Marking was accurate, if a little generous at Distinction.',
          'administration': 'Cover sheets were complete and on time.',
          'comments': 'A well-run centre. Thank you.'}


def complete_report(client, world, **changes):
    client.get(unit_url(world, tail='/report'))
    return client.post(unit_url(world, tail='/report'), data={**FIELDS, **changes, 'action': 'complete'})


# --- The list, by state ----------------------------------------------------------------

def test_the_list_shows_each_unit_in_its_state(board, as_):
    client = as_('moderator')
    html = page(client, '/moderation/')
    awaiting = html[html.index('Awaiting centre'):html.index('To moderate')]
    to_moderate = html[html.index('To moderate'):html.index('Further sample requested')]
    assert '9613/L3' in awaiting and '9611/L3' in to_moderate and '9611/L3' not in awaiting
    assert 'THE CASTLE SCHOOL' not in html  # mod2's

    client.get(unit_url(board, tail='/further-sample'))
    chosen = outside_sample(board, 1)
    assert client.post(unit_url(board, tail='/further-sample'), data={
        'entry': [chosen[0].id], 'reason': 'Check Merit boundary', 'due': '2017-06-15'}).status_code == 303
    html = page(client, '/moderation/')
    further = html[html.index('Further sample requested'):html.index('Completed')]
    assert '9611/L3' in further

    assert complete_report(client, board).status_code == 303
    html = page(client, '/moderation/')
    assert '9611/L3' in html[html.index('<h2 id="completed"'):]


def test_an_awaited_unit_shows_nothing_of_the_centres_outcomes(board, as_):
    client = as_('moderator')
    html = page(client, unit_url(board, unit=board.other_unit))
    assert 'Awaiting centre' in html
    with db.connection_context():
        names = [Entry.get_by_id(e.id).candidate for e in board.other_unit_entries]
    assert not any(c.number in html or c.display_name in html for c in names)
    assert 'Pass' not in html and 'Merit' not in html
    # nor any of the moderator's actions: each says it is awaited and writes nothing
    before = written()
    for tail in ('/further-sample', '/report', f'/entries/{board.other_unit_entries[0].id}/clerical-error'):
        response = client.get(unit_url(board, unit=board.other_unit, tail=tail))
        assert response.status_code == 303 and response.location.endswith(unit_url(board, unit=board.other_unit))
        response = client.post(unit_url(board, unit=board.other_unit, tail=tail), data={
            'entry': [board.other_unit_entries[0].id], 'reason': 'x', 'due': '2017-06-15', 'seen': 'D',
            'note': 'x', **FIELDS, 'action': 'complete'})
        assert response.status_code == 303
    assert written() == before
    assert 'has not submitted outcomes for this unit yet' in page(client, unit_url(board, unit=board.other_unit))


# --- A submitted unit ---------------------------------------------------------------------

def test_a_submitted_unit_shows_candidates_amended_outcomes_the_sample_and_no_files(board, as_):
    html = page(as_('moderator'), unit_url(board))
    with db.connection_context():
        candidates = [Entry.get_by_id(e.id).candidate for e in board.entries]
        sample = list(SampleMember.select().join(Entry).where(Entry.unit == board.unit.id,
                                                            Entry.centre == board.centre.id))
    assert all(c.number in html for c in candidates)
    amended = re.search(rf'<tr id="entry-{board.entries[1].id}">.*?</tr>', html, re.S).group(0)
    assert 'Distinction' in amended and 'amended by the board' in amended
    assert html.count('amended by the board') == 1
    absent = re.search(rf'<tr id="entry-{board.entries[0].id}">.*?</tr>', html, re.S).group(0)
    assert 'Absent' in absent
    sample_table = html[html.index('<table class="grid sample">'):html.index('</table>', html.index('grid sample'))]
    assert sample_table.count('<tr>') == len(sample) + 1  # and the header
    assert 'Highest outcome' in sample_table and 'Lowest outcome' in sample_table
    assert 'Candidate files and explanatory notes' in html and 'No files uploaded yet.' in html


# --- A further sample ---------------------------------------------------------------------

def test_a_further_sample_joins_the_sample_tells_the_centre_and_cannot_be_unticked(board, as_):
    client = as_('moderator')
    form = page(client, unit_url(board, tail='/further-sample'))
    chosen = outside_sample(board, 2)
    absent_entry, sampled = board.entries[0], next(iter(sample_ids(board)))
    assert f'value="{chosen[0].id}"' in form
    assert f'value="{absent_entry.id}"' not in form and f'value="{sampled}"' not in form
    response = client.post(unit_url(board, tail='/further-sample'), data={
        'entry': [e.id for e in chosen], 'reason': 'Marks at the Merit/Distinction boundary look generous.',
        'due': '2017-06-15'})
    assert response.status_code == 303
    html = page(client, response.location)
    assert 'Further sample requested: 2 candidates added to the sample.' in html
    assert 'The centre&#39;s Exams Officer has been told by e-mail.' in html

    reasons = sample_ids(board)
    assert all(reasons[e.id] == 'moderator' for e in chosen)
    with db.connection_context():
        further = FurtherSample.get()
        assert (further.due, further.moderator_id) == (datetime.date(2017, 6, 15), board.moderator.id)
        assert {m.entry_id for m in further.members} == {e.id for e in chosen}
        assert all(m.added_by_id == board.moderator.id for m in further.members)
        audit = AuditLog.get(AuditLog.action == 'sample.further')
        assert audit.centre_id == board.centre.id and audit.actor_id == board.moderator.id
        mail = Outbox.get(Outbox.key == f'further-sample-{further.id}')
    assert mail.to == EO_EMAIL and mail.language == 'cy' and mail.state == 'sent'
    assert 'Annwyl Mr J Bryant,' in mail.body and 'Rheswm: Marks at the Merit/Distinction boundary' in mail.body
    assert all(number_of(e) in mail.body for e in chosen) and '15/06/2017' in mail.body
    assert f'/internal-assessment/{board.unit.id}?show=samples' in mail.body

    # The centre sees them ticked, "Requested by moderator", and cannot untick them.
    centre = as_('admin')
    html = page(centre, f'/internal-assessment/{board.unit.id}?show=samples&rows=all')
    for entry in chosen:
        row = re.search(rf'<tr id="entry-{entry.id}".*?</tr>', html, re.S).group(0)
        assert 'checked' in row
    response = centre.post(f'/internal-assessment/{board.unit.id}/entries/{chosen[0].id}/sample', data={})
    assert response.status_code == 303
    assert sample_ids(board)[chosen[0].id] == 'moderator'
    english = as_('teacher')
    html = page(english, f'/internal-assessment/{board.unit.id}?show=samples&rows=all')
    row = re.search(rf'<tr id="entry-{chosen[1].id}".*?</tr>', html, re.S).group(0)
    assert 'checked' in row and 'Requested by moderator' in row
    response = english.htmx(f'/internal-assessment/{board.unit.id}/entries/{chosen[1].id}/sample', data={})
    assert response.status_code == 409 and sample_ids(board)[chosen[1].id] == 'moderator'
    # and the moderator's page shows the reason and the due date
    html = page(client, unit_url(board))
    assert 'Requested by moderator (due 15/06/2017)' in html
    assert 'Marks at the Merit/Distinction boundary look generous.' in html


def bad_further_samples(world):
    chosen = outside_sample(world, 1)
    sampled = next(iter(sample_ids(world)))
    return {
        'already in the sample': ({'entry': [chosen[0].id, sampled]}, 'is already in the sample'),
        "another centre's entry": ({'entry': [world.other_centre_entries[0].id]},
                                   'that candidate is not on this centre’s marksheet'),
        'another unit of the centre': ({'entry': [world.other_unit_entries[5].id]},
                                       'that candidate is not on this centre’s marksheet'),
        'not a number': ({'entry': ['3001; DROP TABLE entry']}, 'that candidate is not on this centre’s marksheet'),
        'an Absent candidate': ({'entry': [world.entries[0].id]}, 'has no outcome or is Absent'),
        'no candidate': ({'entry': []}, 'choose at least one candidate'),
        'no reason': ({'reason': '   '}, 'give the reason for the further sample'),
        'a reason too long': ({'reason': 'x' * 1001}, 'use at most 1000 characters'),
        'no due date': ({'due': ''}, 'enter the date by which the centre should send the work'),
        'a due date that is no date': ({'due': '2017-02-30'}, 'enter the date by which'),
        'a due date in the past': ({'due': '2017-05-31'}, 'the due date 31/05/2017 has passed'),
        'a past date typed by hand': ({'due': '31/05/2017'}, 'the due date 31/05/2017 has passed'),
    }


@pytest.mark.parametrize('case', ['already in the sample', "another centre's entry", 'another unit of the centre',
                                  'not a number', 'an Absent candidate', 'no candidate', 'no reason',
                                  'a reason too long', 'no due date', 'a due date that is no date',
                                  'a due date in the past', 'a past date typed by hand'])
def test_a_bad_further_sample_is_refused_with_nothing_written(board, as_, case):
    changes, message = bad_further_samples(board)[case]
    client = as_('moderator')
    client.get(unit_url(board, tail='/further-sample'))
    data = {'entry': [outside_sample(board, 1)[0].id], 'reason': 'Boundary', 'due': '2017-06-15', **changes}
    before, sample = written(), sample_ids(board)
    response = client.post(unit_url(board, tail='/further-sample'), data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and message in html.replace('&#39;', "'")
    assert written() == before and sample_ids(board) == sample
    if changes.get('reason', '').strip():
        assert changes['reason'] in html  # what was typed is kept


def test_a_due_date_of_today_and_one_typed_by_hand_are_taken(board, as_, frozen):
    frozen(datetime.date(2017, 6, 15))
    client = as_('moderator')
    client.get(unit_url(board, tail='/further-sample'))
    first, second = outside_sample(board, 2)
    for entry, due in ((first, '2017-06-15'), (second, '16/6/2017')):
        assert client.post(unit_url(board, tail='/further-sample'), data={
            'entry': [entry.id], 'reason': 'More', 'due': due}).status_code == 303
    with db.connection_context():
        assert sorted(f.due for f in FurtherSample.select()) == [datetime.date(2017, 6, 15),
                                                                 datetime.date(2017, 6, 16)]


def test_no_further_sample_once_the_report_is_completed(board, as_):
    client = as_('moderator')
    assert complete_report(client, board).status_code == 303
    assert 'REQUEST A FURTHER SAMPLE' not in page(client, unit_url(board))
    before = written()
    response = client.post(unit_url(board, tail='/further-sample'), data={
        'entry': [outside_sample(board, 1)[0].id], 'reason': 'Late', 'due': '2017-06-15'})
    assert response.status_code == 303
    assert 'has been completed and can no longer be changed' in page(client, response.location)
    assert written() == before


def test_every_post_needs_the_csrf_token(board, as_):
    client = as_('moderator')
    before = written()
    entry = outside_sample(board, 1)[0]
    for tail, data in (('/further-sample', {'entry': [entry.id], 'reason': 'x', 'due': '2017-06-15'}),
                       (f'/entries/{entry.id}/clerical-error', {'seen': 'D', 'note': 'x'}),
                       ('/report', {**FIELDS, 'action': 'complete'})):
        assert client.post(unit_url(board, tail=tail), data=data, csrf=False).status_code == 400
    assert written() == before


# --- Clerical errors --------------------------------------------------------------------

def test_a_clerical_error_is_recorded_apart_and_shown_to_the_helpline(board, as_):
    client = as_('moderator')
    entry = outside_sample(board, 1)[0]
    with db.connection_context():
        submitted = Outcome.get(Outcome.entry == entry.id).value
    seen = 'D' if submitted != 'D' else 'P'
    form = page(client, unit_url(board, tail=f'/entries/{entry.id}/clerical-error'))
    assert number_of(entry) in form and 'FLAG A CLERICAL ERROR' in form
    response = client.post(unit_url(board, tail=f'/entries/{entry.id}/clerical-error'),
                           data={'seen': seen, 'note': 'Cover sheet shows a different grade.'})
    assert response.status_code == 303
    assert 'Clerical error recorded for candidate' in page(client, response.location)
    with db.connection_context():
        error = ClericalError.get()
        assert (error.entry_id, error.centre_id, error.moderator_id) == (entry.id, board.centre.id, board.moderator.id)
        assert (error.submitted_value, error.seen_value) == (submitted, seen)
        assert Outcome.get(Outcome.entry == entry.id).value == submitted  # the outcome is not changed
        assert AuditLog.get(AuditLog.action == 'clerical_error.flag').target == f'entry:{entry.id}'
        assert moderation.report_of(moderation.assignment_of(board.moderator, board.centre.id, board.unit.id)) is None
    html = page(as_('staff'), f'/helpline/centres/{board.centre.id}')
    section = html[html.index('Clerical errors flagged by moderators'):]
    assert number_of(entry) in section and 'Cover sheet shows a different grade.' in section
    assert 'MOD1' in section and '9611/L3' in section
    assert 'Clerical error flagged by the moderator' in html  # the audit log says it in words
    other = page(as_('staff'), f'/helpline/centres/{board.other_centre.id}')
    assert 'Cover sheet shows a different grade.' not in other


@pytest.mark.parametrize('seen, note, message', [
    ('', 'A note', 'enter the mark on the candidate’s work'),
    ('A', 'A note', 'Absent is not a mark on the work'),
    ('SAME', 'A note', 'that is the mark the centre submitted'),
    ('D', '  ', 'add a note saying what you found'),
    ('X', 'A note', 'is not an outcome for this unit'),
    ('D', 'n' * 1001, 'use at most 1000 characters'),
])
def test_a_bad_clerical_error_is_refused_with_nothing_written(board, as_, seen, note, message):
    client = as_('moderator')
    entry = outside_sample(board, 1)[0]
    with db.connection_context():
        submitted = Outcome.get(Outcome.entry == entry.id).value
    if seen == 'SAME':
        seen = submitted
    elif seen == 'D' and submitted == 'D':
        seen = 'P'
    client.get(unit_url(board, tail=f'/entries/{entry.id}/clerical-error'))
    before = written()
    response = client.post(unit_url(board, tail=f'/entries/{entry.id}/clerical-error'),
                           data={'seen': seen, 'note': note})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).replace('&#34;', '"').replace('&#39;', "'")
    assert written() == before


def test_a_marks_unit_takes_a_mark_in_range(board, as_):
    with db.connection_context():
        demo.record_outcomes(board.marks_entries, board.admin, ['10', '25', '40'])
        Marksheet(Centre.get_by_id(board.centre.id), Unit.get_by_id(board.marks_unit.id)).submit(
            Account.get_by_id(board.admin.id))
        ModeratorAssignment.create(centre=board.centre, unit=board.marks_unit, moderator=board.moderator)
        submitted = Outcome.get(Outcome.entry == board.marks_entries[0].id).value
    client = as_('moderator')
    url = unit_url(board, unit=board.marks_unit, tail=f'/entries/{board.marks_entries[0].id}/clerical-error')
    assert 'Mark on the work (0-40)' in page(client, url)
    response = client.post(url, data={'seen': '41', 'note': 'Total on the cover sheet'})
    assert response.status_code == 422 and 'out of range' in response.get_data(as_text=True)
    seen = '12' if submitted != '12' else '13'
    assert client.post(url, data={'seen': seen, 'note': 'Total on the cover sheet'}).status_code == 303
    with db.connection_context():
        assert ClericalError.get().seen_value == seen


# --- The moderator report ----------------------------------------------------------------

def test_a_draft_is_saved_then_completed_then_read_only(board, as_, frozen):
    frozen(RESULTS_DAY + datetime.timedelta(days=30))  # results day is past: still only completed reports show
    client = as_('moderator')
    page(client, unit_url(board, tail='/report'))
    response = client.post(unit_url(board, tail='/report'), data={'tasks': 'Suitable tasks.', 'action': 'save'})
    assert response.status_code == 303
    html = page(client, response.location)
    assert 'Draft saved. The centre cannot see it.' in html and 'Suitable tasks.' in html
    with db.connection_context():
        report = ModeratorReport.get()
        assert report.tasks == 'Suitable tasks.' and not report.completed
    centre = as_('admin')
    assert 'Suitable tasks.' not in page(centre, '/internal-assessment/results/')
    page(centre, f'/internal-assessment/results/{board.unit.id}', status=404)

    # Completing needs every section; what was typed comes back.
    before = written()
    response = client.post(unit_url(board, tail='/report'), data={
        'tasks': 'Suitable tasks.', 'accuracy': 'Accurate.', 'administration': '', 'comments': '',
        'action': 'complete'})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'Not completed: fill in every section first (Administration, Comments).' in html
    assert 'Accurate.' in html and written() == before

    response = complete_report(client, board)
    assert response.status_code == 303
    html = page(client, response.location)
    assert 'Report completed. The centre can read it from results day.' in html
    assert '<textarea' not in html and 'A completed report cannot be changed.' in html
    assert 'The tasks set were suitable.' in html
    with db.connection_context():
        assert ModeratorReport.get().completed
        assert [a.action for a in AuditLog.select().where(AuditLog.action.startswith('moderator_report.'))
                .order_by(AuditLog.id)] == ['moderator_report.save', 'moderator_report.complete']

    before = written()
    for action in ('save', 'complete'):
        response = client.post(unit_url(board, tail='/report'), data={**FIELDS, 'tasks': 'Changed', 'action': action})
        assert response.status_code == 409
        assert 'has been completed and can no longer be changed' in response.get_data(as_text=True)
    assert written() == before
    with db.connection_context():
        assert ModeratorReport.get().tasks == FIELDS['tasks']


def test_the_centre_sees_the_report_from_results_day_only(board, as_, frozen):
    complete_report(as_('moderator'), board)
    centre, teacher = in_english(as_('admin')), as_('teacher')
    for day in (BEFORE_RESULTS_DAY, RESULTS_DAY - datetime.timedelta(days=1)):
        frozen(day)
        for client in (centre, teacher):
            assert 'View Moderators Report' not in page(client, '/internal-assessment/results/')
            page(client, f'/internal-assessment/results/{board.unit.id}', status=404)
            assert client.post(f'/internal-assessment/results/{board.unit.id}/pdf').status_code == 404
    assert count(Job, Job.kind == 'moderator_report') == 0

    frozen(RESULTS_DAY)
    for client in (centre, teacher):
        html = page(client, '/internal-assessment/results/')
        assert 'View Moderators Report' in html and '9611/L3' in html
        html = page(client, f'/internal-assessment/results/{board.unit.id}')
        assert 'The tasks set were suitable.' in html and 'Marking was accurate' in html
        assert 'Accuracy of assessment' in html and 'PRINT THIS REPORT' in html
    nav = page(centre, '/')
    assert '>RESULTS</a>' in nav and '>MODERATION</a>' not in nav
    # another centre (with its own entries for the same unit) and accounts without the unit: nothing
    for who in ('other_admin', 'other_teacher', 'teacher_one_unit'):
        client = as_(who)
        assert 'View Moderators Report' not in page(client, '/internal-assessment/results/')
        page(client, f'/internal-assessment/results/{board.unit.id}', status=404)

    # A series without a results day never shows it.
    with db.connection_context():
        Series.update(results_day=None).where(Series.id == board.series.id).execute()
    frozen(RESULTS_DAY + datetime.timedelta(days=3650))
    assert 'View Moderators Report' not in page(centre, '/internal-assessment/results/')
    page(centre, f'/internal-assessment/results/{board.unit.id}', status=404)


def test_the_report_pdf_is_made_by_a_job_and_readable(board, as_, frozen, tmp_path):
    complete_report(as_('moderator'), board)
    frozen(RESULTS_DAY)
    centre = in_english(as_('admin'))
    page(centre, f'/internal-assessment/results/{board.unit.id}')
    response = centre.post(f'/internal-assessment/results/{board.unit.id}/pdf')
    assert response.status_code == 303
    job_id = int(response.location.rsplit('/', 1)[1])
    with db.connection_context():
        job = Job.get_by_id(job_id)
        assert (job.kind, job.status, job.centre_id) == ('moderator_report', 'finished', board.centre.id)
    html = page(centre, f'/internal-assessment/results/jobs/{job_id}')
    assert 'Your report is ready.' in html and 'DOWNLOAD THE PDF' in html
    # asked again: the same job
    again = centre.post(f'/internal-assessment/results/{board.unit.id}/pdf')
    assert again.location == response.location
    response = centre.get(f'/internal-assessment/results/jobs/{job_id}/file')
    assert response.status_code == 200 and response.mimetype == 'application/pdf'
    assert response.headers['Content-Disposition'].startswith(
        'attachment; filename=moderator-report-68999-9611-L3.pdf')
    path = tmp_path / 'moderator-report.pdf'
    path.write_bytes(response.data)
    text = subprocess.run(['pdftotext', '-layout', str(path), '-'], capture_output=True, text=True,
                          check=True).stdout
    assert 'CENTRE: 68999' in text and '9611/L3' in text
    for section in ('Tasks', 'Accuracy of assessment', 'Administration', 'Comments'):
        assert section in text
    assert 'Each met the specification.' in text and 'Cover sheets were complete and on time.' in text
    assert 'Page 1 of 1' in text
    # another centre, and before results day, cannot have it
    other = as_('other_admin')
    for url in (f'/internal-assessment/results/jobs/{job_id}', f'/internal-assessment/results/jobs/{job_id}/file'):
        assert other.get(url).status_code == 404
    frozen(BEFORE_RESULTS_DAY)
    assert centre.get(f'/internal-assessment/results/jobs/{job_id}/file').status_code == 404


# --- Another moderator --------------------------------------------------------------------

def test_another_moderator_gets_404_everywhere_whatever_the_ids(board, app):
    client = app.test_client()
    client.get(client.login('mod2').location)
    html = page(client, '/moderation/')
    assert 'THE CASTLE SCHOOL' in html and 'EXAMPLE HIGH SCHOOL' not in html
    entry = board.entries[5].id
    before = written()
    for centre_id, unit_id in ((board.centre.id, board.unit.id), (board.centre.id, board.other_unit.id),
                               (board.other_centre.id, board.other_unit.id), (999, board.unit.id),
                               (board.centre.id, 999)):
        base = f'/moderation/centres/{centre_id}/units/{unit_id}'
        for tail in ('', '/further-sample', '/report', f'/entries/{entry}/clerical-error'):
            assert client.get(base + tail).status_code == 404, base + tail
            if tail:
                assert client.post(base + tail, data={'entry': [entry], 'reason': 'x', 'due': '2017-06-15',
                                                      'seen': 'D', 'note': 'x', **FIELDS}).status_code == 404
    # its own centre's unit, but an entry of 68999: 404 too
    assert written() == before
    own = f'/moderation/centres/{board.other_centre.id}/units/{board.unit.id}'
    with db.connection_context():
        factories.complete(board.other_centre_entries, board.other_admin, 'PM')
        Marksheet(Centre.get_by_id(board.other_centre.id), Unit.get_by_id(board.unit.id)).submit(
            Account.get_by_id(board.other_admin.id))
    before = written()
    assert client.get(own).status_code == 200
    assert client.get(own + f'/entries/{entry}/clerical-error').status_code == 404
    assert client.post(own + f'/entries/{entry}/clerical-error', data={'seen': 'D', 'note': 'x'}).status_code == 404
    response = client.post(own + '/further-sample', data={'entry': [entry], 'reason': 'x', 'due': '2017-06-15'})
    assert response.status_code == 422
    assert written() == before


def test_centre_accounts_staff_and_moderators_keep_to_their_own_side(board, as_):
    for who in ('admin', 'teacher', 'staff'):
        client = as_(who)
        assert client.get('/moderation/').status_code == 403
        assert client.get(unit_url(board)).status_code == 403
    moderator = as_('moderator')
    assert moderator.get('/internal-assessment/results/').status_code == 403
    nav = page(moderator, '/')
    assert '>MODERATION</a>' in nav and '>RESULTS</a>' not in nav
