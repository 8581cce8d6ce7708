"""The moderator's journey (issue 8, point 5), as people click it: the exams
officer submits 9615/L3; mod1 signs in with the second factor, finds it To
moderate, asks for a further sample of two candidates, and the exams officer
sees them ticked in the Sample column as "Requested by moderator" (and
cannot untick them). Without JavaScript: mod1 flags a clerical error and
writes, saves and completes the moderator report on 9613/L3; the exams
officer, whose series' results day has passed, reads it under RESULTS and
prints it as a PDF."""
import datetime
import re
import subprocess
import time

import pytest
from playwright.sync_api import expect

from tests.browser.pages import in_db, switch_language

EO_EMAIL = 'exams@example-high.sch.uk'
PDF_TIMEOUT_MS = 120_000
REASON = 'Distinctions at the top of the range look generous: please send two more.'


def further_sample_mails():
    from models import Outbox
    return in_db(lambda: [(m.to, m.subject, m.body) for m in Outbox.select().where(
        Outbox.key.startswith('further-sample-')).order_by(Outbox.id)])


def sample_row(page, number):
    """The marksheet row of candidate `number`."""
    return page.locator('table.marksheet tbody tr').filter(
        has=page.locator('td:first-child', has_text=re.compile(rf'^{number}$')))


def open_moderation(portal, page, snap, step):
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name='MODERATION').click()
    page.wait_for_url(portal.url + '/moderation/')
    expect(page.get_by_role('heading', name='MODERATION', exact=True)).to_be_visible()
    snap(page, step)


def open_assigned_unit(portal, page, snap, state, code, step):
    """From the list: the unit's row under its state's heading, then OPEN."""
    table = page.locator(f'h2#{state} + table')
    expect(table.locator('tbody tr').filter(has_text=code).filter(has_text='68999')).to_have_count(1)
    table.get_by_role('link', name=f'OPEN 68999 {code}').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/moderation/centres/\d+/units/\d+$'))
    expect(page.get_by_role('heading', name=re.compile('68999'))).to_be_visible()
    snap(page, step)


def test_moderator_asks_for_a_further_sample_and_the_centre_sees_it_ticked(portal, page, new_context, snap):
    # The exams officer submits 9615/L3 (all 144 outcomes entered).
    portal.sign_in(page, '68999', snap)
    portal.open_overview(page)
    row = portal.unit_row(page, '9615/L3')
    row.get_by_role('link', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    page.wait_for_url(re.compile(r'/internal-assessment/\d+/submit$'))
    page.get_by_role('button', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    page.wait_for_url(re.compile(r'/internal-assessment/(\d+)\?show=samples$'))
    unit_id = int(re.search(r'/internal-assessment/(\d+)\?', page.url).group(1))
    expect(page.locator('p.flash')).to_contain_text('All outcomes submitted.')
    snap(page, 'submitted')

    # mod1: the list by state, then the unit.
    moderator = new_context().new_page()
    portal.sign_in_with_code(moderator, 'mod1', snap)
    open_moderation(portal, moderator, snap, 'moderation-list')
    awaiting = moderator.locator('h2#awaiting + table')
    expect(awaiting).to_contain_text('9613/L3')
    expect(awaiting).not_to_contain_text('9615/L3')
    open_assigned_unit(portal, moderator, snap, 'to_moderate', '9615/L3', 'unit-to-moderate')
    expect(moderator.get_by_text('State: To moderate')).to_be_visible()
    expect(moderator.get_by_text('No files uploaded yet.')).to_be_visible()
    expect(moderator.locator('table.candidates tbody tr')).to_have_count(144)
    sample_before = moderator.locator('table.sample tbody tr').count()
    assert sample_before >= 20

    moderator.get_by_role('link', name='REQUEST A FURTHER SAMPLE').click()
    moderator.wait_for_url(re.compile(r'/further-sample$'))
    choices = moderator.locator('table.further-choices tbody tr')
    expect(choices).to_have_count(144 - sample_before)
    numbers = [choices.nth(i).locator('td').nth(1).inner_text().strip() for i in (0, 1)]
    for i in (0, 1):
        choices.nth(i).locator('input[type=checkbox]').check()
    moderator.fill('#reason', REASON)
    due = datetime.date.today() + datetime.timedelta(days=14)
    moderator.fill('#due', due.isoformat())
    snap(moderator, 'further-sample-form')
    moderator.get_by_role('button', name='REQUEST FURTHER SAMPLE').click()
    moderator.wait_for_url(re.compile(r'/moderation/centres/\d+/units/\d+$'))
    expect(moderator.locator('p.flash')).to_have_text(
        "Further sample requested: 2 candidates added to the sample. "
        "The centre's Exams Officer has been told by e-mail.")
    expect(moderator.get_by_text('State: Further sample requested')).to_be_visible()
    expect(moderator.locator('table.sample tbody tr')).to_have_count(sample_before + 2)
    for number in numbers:
        expect(moderator.locator('table.sample tbody tr').filter(has_text=number)).to_contain_text(
            f'Requested by moderator (due {due.strftime("%d/%m/%Y")})')
    snap(moderator, 'further-sample-requested')
    mails = further_sample_mails()
    assert len(mails) == 1
    to, subject, body = mails[0]
    assert to == EO_EMAIL and subject == 'Further sample requested: 9615/L3, centre 68999'
    assert all(number in body for number in numbers) and REASON in body

    # The exams officer: both ticked, "Requested by moderator", and they stay in.
    page.goto(f'{portal.url}/internal-assessment/{unit_id}?show=samples&rows=all')
    expect(page.locator('table.marksheet')).to_be_visible()
    for number in numbers:
        row = sample_row(page, number)
        expect(row.locator('td').nth(3)).to_contain_text('Requested by moderator')
        expect(row.locator('input[type=checkbox]')).to_be_checked()
    snap(page, 'centre-sees-further-sample')
    # The centre cannot take them out: the box is ticked and fixed, as the
    # system's choices are (the server refuses an untick too: tests/test_moderation.py).
    expect(sample_row(page, numbers[0]).locator('input[type=checkbox]')).to_be_disabled()
    snap(page, 'centre-cannot-untick')
    page.reload()
    expect(sample_row(page, numbers[0]).locator('input[type=checkbox]')).to_be_checked()
    expect(sample_row(page, numbers[0]).locator('td').nth(3)).to_contain_text('Requested by moderator')


def submit_9613():
    """Centre 68999 submits 9613/L3 (all 144 outcomes entered in the demo)."""
    from models import Account, Centre, Marksheet, Unit
    centre = Centre.get(Centre.number == '68999')
    Marksheet(centre, Unit.get(Unit.code == '9613/L3')).submit(Account.get(Account.username == '68999'))


def wait_for_pdf(page):
    """The job page without JavaScript: Refresh to check until DOWNLOAD THE PDF."""
    ready = page.get_by_role('link', name='DOWNLOAD THE PDF')
    refresh = page.get_by_role('link', name='Refresh to check')
    deadline = time.time() + PDF_TIMEOUT_MS / 1000
    while not ready.is_visible() and time.time() < deadline:
        if refresh.is_visible():
            refresh.click()
        page.wait_for_timeout(500)
    expect(ready).to_be_visible(timeout=PDF_TIMEOUT_MS)


@pytest.mark.portal_setup.with_args(submit_9613)
def test_clerical_error_and_report_without_javascript_then_the_centre_prints_it(portal, new_context, snap,
                                                                                tmp_path):
    moderator = new_context(java_script_enabled=False).new_page()
    portal.sign_in_with_code(moderator, 'mod1', snap)
    open_moderation(portal, moderator, snap, 'moderation-list-no-js')
    open_assigned_unit(portal, moderator, snap, 'to_moderate', '9613/L3', 'unit-no-js')

    # A clerical error on the first candidate: the mark on the work is not the mark submitted.
    first = moderator.locator('table.candidates tbody tr').first
    number = first.locator('td').first.inner_text().strip()
    submitted = first.locator('td').nth(2).inner_text().strip()
    first.get_by_role('link', name=re.compile('^Flag a clerical error')).click()
    moderator.wait_for_url(re.compile(r'/clerical-error$'))
    seen = 'Distinction' if submitted != 'Distinction' else 'Pass'
    moderator.select_option('#seen', label=seen)
    moderator.get_by_role('button', name='FLAG CLERICAL ERROR').click()
    expect(moderator.get_by_role('alert')).to_contain_text('add a note saying what you found')
    snap(moderator, 'clerical-error-refused')
    moderator.fill('#note', 'Cover sheet shows a different grade from the one submitted.')
    moderator.get_by_role('button', name='FLAG CLERICAL ERROR').click()
    moderator.wait_for_url(re.compile(r'/units/\d+(#entry-\d+)?$'))
    expect(moderator.locator('p.flash')).to_contain_text(f'Clerical error recorded for candidate {number}.')
    expect(moderator.locator('table.candidates tbody tr').first).to_contain_text(
        f'{seen} on the work, {submitted} submitted.')
    snap(moderator, 'clerical-error-recorded')

    # The report: a draft, a refused completion, then complete and read-only.
    moderator.get_by_role('link', name='WRITE MODERATOR REPORT').click()
    moderator.wait_for_url(re.compile(r'/report$'))
    moderator.fill('#tasks', 'The tasks set were suitable and met the specification.')
    moderator.get_by_role('button', name='SAVE DRAFT').click()
    expect(moderator.locator('p.flash')).to_have_text('Draft saved. The centre cannot see it.')
    moderator.get_by_role('button', name='COMPLETE REPORT').click()
    expect(moderator.get_by_role('alert')).to_contain_text(
        'Not completed: fill in every section first (Accuracy of assessment, Administration, Comments).')
    snap(moderator, 'report-incomplete')
    moderator.fill('#accuracy', 'Assessment was accurate across the range.')
    moderator.fill('#administration', 'Cover sheets arrived complete and on time.')
    moderator.fill('#comments', 'A well-run centre.\nThank you.')
    moderator.get_by_role('button', name='COMPLETE REPORT').click()
    expect(moderator.locator('p.flash')).to_have_text('Report completed. The centre can read it from results day.')
    expect(moderator.locator('textarea')).to_have_count(0)
    expect(moderator.get_by_text('A completed report cannot be changed.')).to_be_visible()
    snap(moderator, 'report-completed')
    switch_language(moderator, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(moderator, 'report-completed-cy')
    switch_language(moderator, 'English')
    open_moderation(portal, moderator, snap, 'moderation-list-completed')
    expect(moderator.locator('h2#completed + table')).to_contain_text('9613/L3')

    # The exams officer: results day of June 2017 has passed, so RESULTS has it.
    page = new_context(java_script_enabled=False).new_page()
    portal.sign_in(page, '68999', snap)
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name='RESULTS').click()
    page.wait_for_url(portal.url + '/internal-assessment/results/')
    page.get_by_role('link', name='View Moderators Report 9613/L3').click()
    page.wait_for_url(re.compile(r'/internal-assessment/results/\d+$'))
    expect(page.get_by_text('Assessment was accurate across the range.')).to_be_visible()
    snap(page, 'centre-reads-report')
    page.get_by_role('button', name='PRINT THIS REPORT').click()
    page.wait_for_url(re.compile(r'/internal-assessment/results/jobs/\d+$'))
    wait_for_pdf(page)
    with page.expect_download() as info:
        page.get_by_role('link', name='DOWNLOAD THE PDF').click()
    download = info.value
    assert download.suggested_filename == 'moderator-report-68999-9613-L3.pdf'
    path = tmp_path / 'moderator-report.pdf'
    download.save_as(path)
    text = subprocess.run(['pdftotext', '-layout', str(path), '-'], capture_output=True, text=True,
                          check=True).stdout
    assert 'MODERATOR’S REPORT' in text and 'CENTRE: 68999' in text and '9613/L3' in text
    assert 'The tasks set were suitable and met the specification.' in text and 'Thank you.' in text
    snap(page, 'centre-pdf-ready')
    switch_language(page, 'Cymraeg')
    snap(page, 'centre-pdf-ready-cy')
