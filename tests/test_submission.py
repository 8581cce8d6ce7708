"""Submission and the sample (SPEC 3.4): once, atomic, and what VIEW SAMPLES allows."""
import re
import threading

import pytest

from models import Marksheet, Outcome, SampleMember, Submission, db
from tests.factories import complete

pytestmark = pytest.mark.db


def url(unit, *parts):
    return '/'.join([f'/internal-assessment/{unit.id}', *map(str, parts)])


@pytest.fixture
def ready(world):
    """Every entry of the unit has an outcome; two absent."""
    with db.connection_context():
        complete(world.entries[2:], world.admin, 'PPPMMD')
        complete(world.entries[:2], world.admin, 'A')
    return world


def members():
    with db.connection_context():
        return {m.entry_id: m for m in SampleMember.select()}


def test_submitting_with_outcomes_missing_is_refused(world, as_):
    with db.connection_context():
        complete(world.entries[:29], world.admin)
    client = as_('teacher')
    response = client.post(url(world.unit, 'submit'))
    assert response.status_code == 303
    assert '1 outcomes are missing' in client.get(response.location).get_data(as_text=True)
    with db.connection_context():
        assert Submission.select().count() == 0 and SampleMember.select().count() == 0


def test_the_confirmation_page_asks_and_previews_the_sample(ready, as_):
    html = as_('teacher').get(url(ready.unit, 'submit')).get_data(as_text=True)
    assert 'Are you sure you want to submit outcomes?' in html
    assert 'SUBMIT OUTCOMES AND GENERATE SAMPLES (30)' in html
    assert html.count('<tr><td>') == 15  # 28 non-absent candidates: sample of 15
    assert 'Highest outcome' in html and 'Lowest outcome' in html


def test_submit_locks_outcomes_and_generates_the_previewed_sample(ready, as_):
    client = as_('teacher')
    preview = re.findall(r'<tr><td>(\d{4})</td>', client.get(url(ready.unit, 'submit')).get_data(as_text=True))
    response = client.post(url(ready.unit, 'submit'))
    assert response.status_code == 303 and 'show=samples' in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert 'All outcomes submitted.' in page and 'VIEW MODERATOR DETAILS' in page
    assert 'ALL OUTCOMES SUBMITTED (30)' in page
    sampled = members()
    assert len(sampled) == 15
    absent = {e.id for e in ready.entries[:2]}
    assert not absent & set(sampled)
    with db.connection_context():
        numbers = sorted(m.entry.candidate.number for m in SampleMember.select())
    assert numbers == sorted(preview)
    overview = client.get('/internal-assessment/').get_data(as_text=True)
    assert 'ALL OUTCOMES SUBMITTED (30)' in overview and 'VIEW SAMPLES' in overview


def test_submitting_twice_gives_one_submission_and_one_sample(ready, as_):
    first, second = as_('teacher'), as_('admin')
    assert first.post(url(ready.unit, 'submit')).status_code == 303
    again = second.post(url(ready.unit, 'submit'))
    assert 'had already been submitted (68999JBR)' in second.get(again.location).get_data(as_text=True)
    with db.connection_context():
        assert Submission.select().count() == 1 and SampleMember.select().count() == 15


def test_submissions_racing_from_many_sessions_make_one(app, ready):
    results = []

    def submit():
        with app.app_context(), db.connection_context():
            from models import Account, Centre, Unit
            sheet = Marksheet(Centre.get_by_id(ready.centre.id), Unit.get_by_id(ready.unit.id))
            results.append(sheet.submit(Account.get_by_id(ready.teacher.id))[1])

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    with db.connection_context():
        assert Submission.select().count() == 1 and SampleMember.select().count() == 15


def test_a_save_racing_a_submission_lands_before_it_or_is_refused(app, ready, as_):
    client = as_('teacher')
    entry = ready.entries[5]
    with db.connection_context():
        version = Outcome.get(Outcome.entry == entry.id).version
    client.post(url(ready.unit, 'submit'))
    response = client.htmx(url(ready.unit, 'entries', entry.id),
                           {f'value-{entry.id}': 'D', f'version-{entry.id}': version})
    assert response.status_code == 409
    assert 'have been submitted and cannot be altered online' in response.get_data(as_text=True)


def test_crafted_edits_after_submission_change_nothing(ready, as_):
    client = as_('teacher')
    client.post(url(ready.unit, 'submit'))
    with db.connection_context():
        before = {o.entry_id: (o.value, o.version) for o in Outcome.select()}
    entry = ready.entries[3]
    client.post(url(ready.unit), data={f'value-{entry.id}': 'D', f'version-{entry.id}': 1,
                                       'confirm_absent': '1'})
    client.post(url(ready.unit, 'paste'), data={'sheet': f'{ready.candidates[3].number}\tD', 'confirm': '1'})
    with db.connection_context():
        after = {o.entry_id: (o.value, o.version) for o in Outcome.select()}
    assert after == before
    page = client.get(url(ready.unit)).get_data(as_text=True)
    assert 'name="value-' not in page  # no editable outcome after submission


def test_the_centre_adds_candidates_but_cannot_remove_the_systems(ready, as_):
    client = as_('teacher')
    client.post(url(ready.unit, 'submit'))
    sampled = members()
    system = next(iter(sampled))
    extra = next(e for e in ready.entries[2:] if e.id not in sampled)
    added = client.htmx(url(ready.unit, 'entries', extra.id, 'sample'), {f'sample-{extra.id}': '1'})
    assert added.status_code == 200 and 'Added by centre' in added.get_data(as_text=True)
    refused = client.htmx(url(ready.unit, 'entries', system, 'sample'), {})
    assert refused.status_code == 409
    assert 'cannot be removed from the sample' in refused.get_data(as_text=True)
    removed = client.htmx(url(ready.unit, 'entries', extra.id, 'sample'), {})
    assert removed.status_code == 200
    assert set(members()) == set(sampled)


def test_ticks_before_submission_are_refused(ready, as_):
    entry = ready.entries[4]
    response = as_('teacher').htmx(url(ready.unit, 'entries', entry.id, 'sample'), {f'sample-{entry.id}': '1'})
    assert 'The sample is generated when outcomes are submitted.' in response.get_data(as_text=True)
    assert members() == {}


def test_a_substitute_stands_in_for_incomplete_work(ready, as_):
    client = as_('teacher')
    client.post(url(ready.unit, 'submit'))
    sampled = members()
    missing = next(e for e, m in sampled.items() if m.reason == 'spread')
    page = client.get(url(ready.unit, 'entries', missing, 'substitute')).get_data(as_text=True)
    choices = [int(x) for x in re.findall(r'name="substitute" value="(\d+)"', page)]
    assert 1 <= len(choices) <= 2 and not set(choices) & set(sampled)
    forged = client.post(url(ready.unit, 'entries', missing, 'substitute'), data={'substitute': str(missing)})
    assert forged.status_code == 422
    done = client.post(url(ready.unit, 'entries', missing, 'substitute'), data={'substitute': str(choices[0])})
    assert done.status_code == 303
    assert 'should be changed to Absent' in client.get(done.location).get_data(as_text=True)
    now = members()
    assert now[missing].work_missing and now[choices[0]].reason == 'substitute'
    assert now[choices[0]].substitute_for_id == now[missing].id


def test_moderator_details_appear_after_submission(ready, as_):
    client = as_('teacher')
    assert 'shown once outcomes have been submitted' in client.get(url(ready.unit, 'moderator')).get_data(as_text=True)
    client.post(url(ready.unit, 'submit'))
    html = client.get(url(ready.unit, 'moderator')).get_data(as_text=True)
    assert 'Mrs. M Walters' in html and '245 WESTERN AVE' in html


def test_without_javascript_the_save_button_adds_and_removes_ticks(ready, as_):
    client = as_('teacher')
    client.post(url(ready.unit, 'submit'))
    sampled = members()
    system = next(iter(sampled))
    extra = [e.id for e in ready.entries[2:] if e.id not in sampled][:2]
    rows = [system] + extra
    form = {'row': [str(i) for i in rows], f'sample-{extra[0]}': '1', f'sample-{extra[1]}': '1'}
    assert client.post(url(ready.unit), data=form).status_code == 303
    assert set(members()) == set(sampled) | set(extra)
    form = {'row': [str(i) for i in rows], f'sample-{extra[1]}': '1'}  # untick one, and the system's
    page = client.get(client.post(url(ready.unit), data=form).location).get_data(as_text=True)
    assert 'cannot be removed from the sample' in page
    assert set(members()) == set(sampled) | {extra[1]}


def test_submitting_e_mails_a_receipt_with_the_sample_to_the_exams_officer_and_the_teacher(ready, as_):
    from models import Account, Centre, Outbox
    with db.connection_context():
        Centre.update(eo_email='eo@example-high.sch.uk').where(Centre.id == ready.centre.id).execute()
        Account.update(email='jbr@example-high.sch.uk').where(Account.id == ready.teacher.id).execute()
    client = as_('teacher')
    client.post(url(ready.unit, 'submit'))
    client.post(url(ready.unit, 'submit'))  # a second click sends nothing more
    with db.connection_context():
        mails = {m.to: m for m in Outbox.select()}
    assert set(mails) == {'eo@example-high.sch.uk', 'jbr@example-high.sch.uk'}
    receipt = mails['eo@example-high.sch.uk']
    assert receipt.subject == 'Outcomes submitted: 9611/L3, centre 68999' and receipt.state == 'sent'
    assert 'The moderation sample has 15 candidates:' in receipt.body and 'Highest outcome' in receipt.body
    assert '/internal-assessment/%d?show=samples' % ready.unit.id in receipt.body
