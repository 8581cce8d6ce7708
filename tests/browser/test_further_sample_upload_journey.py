"""A further sample on an e-submission unit, from the moderator's request to
the whole sample's zip (issue 8: "the moderator requests a further sample
and the centre sees it ticked and uploads for it"; SPEC 3.6, 3.7).

The demo's e-submission units have 6 candidates, all sampled, so there is
no one left to ask for: the world is made with 9613/L3 as an e-submission
unit, submitted by the exams officer (144 outcomes, a sample of 20).

1. mod1 signs in with the second factor, opens MODERATION, 68999's 9613/L3
   (To moderate), and asks for one more candidate with a reason and a due
   date two weeks ahead.
2. The teacher 68999JBR opens VIEW SAMPLES (the marksheet with Show:
   Samples) and chooses Rows: All: the candidate is ticked (fixed) as
   "Requested by moderator", and the upload panel lists them; a small file goes up by tus with
   JavaScript (progress on the row, the page reloads) and is "available,
   not scanned".
3. mod1 finds the unit under Further sample requested, sees the file under
   "Candidate files and explanatory notes" and downloads it (the bytes
   sent, under the stored name); then DOWNLOAD THE WHOLE SAMPLE: the job
   page shows progress (the zip job is held until the screenshot is
   taken), then "The zip of the sample is ready." and DOWNLOAD THE ZIP,
   whose one member is the uploaded file's bytes under its stored name.
"""
import datetime
import pathlib
import re
import threading
import zipfile

import pytest
from playwright.sync_api import expect

import uploads
from tests.browser.pages import in_db, record_progress, reload_until_available, switch_language

UNIT = '9613/L3'
TEACHER = '68999JBR'
EO_EMAIL = 'exams@example-high.sch.uk'
REASON = 'Merits in the middle of the range need checking: please send this candidate too.'


def make_9613_an_e_submission_unit_and_submit():
    """9613/L3 needs e-submission, and centre 68999 submits it (all 144 entered)."""
    from models import Account, Centre, Marksheet, Unit
    unit = Unit.get(Unit.code == UNIT)
    unit.e_submission = True
    unit.save()
    Marksheet(Centre.get(Centre.number == '68999'), unit).submit(Account.get(Account.username == '68999'))


def the_file(entry_id):
    from models import CandidateFile
    return in_db(lambda: CandidateFile.get(CandidateFile.entry == entry_id))


def further_sample_mails():
    from models import Outbox
    return in_db(lambda: [(m.to, m.subject, m.body) for m in Outbox.select().where(
        Outbox.key.startswith('further-sample-')).order_by(Outbox.id)])


def open_from_moderation_list(portal, page, state, snap, step):
    page.get_by_role('navigation', name='Main menu').get_by_role('link', name='MODERATION').click()
    page.wait_for_url(portal.url + '/moderation/')
    table = page.locator(f'h2#{state} + table')
    expect(table.locator('tbody tr').filter(has_text=UNIT).filter(has_text='68999')).to_have_count(1)
    snap(page, f'moderation-list-{state}')
    table.get_by_role('link', name=f'OPEN 68999 {UNIT}').click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r'/moderation/centres/\d+/units/\d+$'))
    expect(page.get_by_role('heading', name=re.compile('68999'))).to_be_visible()
    snap(page, step)


@pytest.mark.portal_setup.with_args(make_9613_an_e_submission_unit_and_submit)
def test_moderator_asks_for_more_the_centre_uploads_it_and_the_zip_has_it(portal, page, new_context, snap,
                                                                          tmp_path, monkeypatch):
    portal.app.config['UPLOADS_DIR'] = str(tmp_path / 'uploads')  # this test's files only
    portal.app.config['FILES_DIR'] = str(tmp_path / 'files')
    portal.app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')
    moderator = page

    # 1. mod1: 9613/L3 is To moderate, with its sample of 20 and no files yet.
    portal.sign_in_with_code(moderator, 'mod1', snap)
    open_from_moderation_list(portal, moderator, 'to_moderate', snap, 'unit-to-moderate')
    unit_url = moderator.url
    expect(moderator.get_by_text('State: To moderate')).to_be_visible()
    expect(moderator.get_by_text('No files uploaded yet.')).to_be_visible()
    sample = moderator.locator('table.sample tbody tr')
    expect(sample).to_have_count(20)

    moderator.get_by_role('link', name='REQUEST A FURTHER SAMPLE').click()
    moderator.wait_for_url(unit_url + '/further-sample')
    choices = moderator.locator('table.further-choices tbody tr')
    expect(choices).to_have_count(144 - 20)
    chosen = choices.first
    number = chosen.locator('td').nth(1).inner_text().strip()
    box = chosen.locator('input[type=checkbox]')
    entry_id = int(box.get_attribute('value'))
    box.check()
    moderator.fill('#reason', REASON)
    due = datetime.date.today() + datetime.timedelta(days=14)
    moderator.fill('#due', due.isoformat())
    snap(moderator, 'further-sample-form')
    moderator.get_by_role('button', name='REQUEST FURTHER SAMPLE').click()
    moderator.wait_for_url(unit_url)
    expect(moderator.locator('p.flash')).to_have_text(
        "Further sample requested: 1 candidate added to the sample. "
        "The centre's Exams Officer has been told by e-mail.")
    expect(moderator.get_by_text('State: Further sample requested')).to_be_visible()
    expect(sample).to_have_count(21)
    expect(sample.filter(has_text=number)).to_contain_text(
        f'Requested by moderator (due {due.strftime("%d/%m/%Y")})')
    snap(moderator, 'further-sample-requested')
    [(to, subject, body)] = further_sample_mails()
    assert (to, subject) == (EO_EMAIL, f'Further sample requested: {UNIT}, centre 68999')
    assert number in body and REASON in body

    # 2. The teacher: Show: Samples, Rows: All; the candidate ticked and fixed.
    teacher = new_context().new_page()
    progress = record_progress(teacher)
    portal.sign_in(teacher, TEACHER, snap)
    portal.open_overview(teacher)
    portal.unit_row(teacher, UNIT).get_by_role('link', name='VIEW SAMPLES').click()
    teacher.wait_for_url(re.compile(r'/internal-assessment/(\d+)\?show=samples$'))
    unit_id = int(re.search(r'/internal-assessment/(\d+)\?', teacher.url).group(1))
    options = teacher.locator('form.options')
    expect(options.locator('select[name="show"]')).to_have_value('samples')
    options.locator('select[name="rows"]').select_option(label='All')
    options.get_by_role('button', name='SEARCH').click()
    teacher.wait_for_url(re.compile(rf'/internal-assessment/{unit_id}\?.*show=samples'))
    rows = teacher.locator('table.marksheet tbody tr')
    expect(rows).to_have_count(21)
    requested = teacher.locator(f'table.marksheet tr#entry-{entry_id}')
    expect(requested.locator('td').first).to_have_text(number)
    expect(requested.locator('td').nth(3)).to_contain_text('Requested by moderator')
    expect(requested.locator('input[type=checkbox]')).to_be_checked()
    expect(requested.locator('input[type=checkbox]')).to_be_disabled()
    snap(teacher, 'centre-sees-it-ticked')

    panel = teacher.locator('section#upload')
    expect(panel.get_by_role('heading', name="Upload the sampled candidates' work")).to_be_visible()
    expect(panel.locator('tbody tr')).to_have_count(21)
    upload_row = panel.locator(f'#files-{entry_id}')
    expect(upload_row.locator('td').first).to_contain_text(number)
    expect(upload_row.locator('td').first).to_contain_text('Requested by moderator')
    expect(upload_row.locator('ul.files')).to_have_text('No files yet.')
    upload_row.scroll_into_view_if_needed()
    snap(teacher, 'upload-panel-lists-it')

    work = tmp_path / 'Further sample essay.txt'
    work.write_text(f'Candidate {number}: essay on social control policy.\n' * 800)  # about 40 KB
    sent = work.read_bytes()
    teacher.locator(f'#file-{entry_id}').set_input_files(str(work))
    with teacher.expect_navigation():  # onSuccess reloads the page
        upload_row.get_by_role('button', name='UPLOAD').click()
    assert any(re.fullmatch(r'Uploading: \d+% \(.+ of \d+\.\d KB\)', p) for p in progress), progress
    assert any(re.fullmatch(r'Uploading: 100% \((\d+\.\d KB) of \1\)', p) for p in progress), progress
    item = upload_row.locator('ul.files li', has_text=work.name)
    text = reload_until_available(teacher, item)
    size = f'{len(sent) / 1024:.1f} KB'
    # (Marked NEW/CORRECT VERSION today, as 9613/L3's deadline 15/05/2017 has
    # passed, though this is the candidate's first file and the further
    # sample is not due yet: not pinned here.)
    assert re.sub(r'\s+', ' ', text).strip().startswith(f'{work.name} ({size}, available, not scanned)')
    upload_row.scroll_into_view_if_needed()
    snap(teacher, 'uploaded-available')
    kept = the_file(entry_id)
    assert (kept.stored_name, kept.state, kept.length) == (f'68999_{number}_001.txt', 'available', len(sent))

    # 3. mod1: the unit is Further sample requested; the file is listed and downloads.
    open_from_moderation_list(portal, moderator, 'further_sample', snap, 'unit-with-file')
    files = moderator.locator('h2#files + form + table')
    listed = files.locator('tbody tr').filter(has_text=number)
    expect(listed).to_contain_text(f'{work.name} ({size}, available, not scanned)')
    for other in range(files.locator('tbody tr').count()):
        row = files.locator('tbody tr').nth(other)
        if number not in row.inner_text():
            expect(row.locator('ul.files')).to_have_text('No files yet.')
    listed.scroll_into_view_if_needed()
    snap(moderator, 'moderator-sees-file')
    with moderator.expect_download() as info:
        listed.get_by_role('link', name=work.name).click()
    download = info.value
    assert download.suggested_filename == kept.stored_name
    assert pathlib.Path(download.path()).read_bytes() == sent

    # DOWNLOAD THE WHOLE SAMPLE: the job is held until its progress is seen.
    release = threading.Event()
    real_zip = uploads.zip_sample

    def held_zip(*args, **kwargs):
        release.wait(timeout=20)
        return real_zip(*args, **kwargs)
    monkeypatch.setattr(uploads, 'zip_sample', held_zip)
    try:
        moderator.get_by_role('button', name='DOWNLOAD THE WHOLE SAMPLE').click()
        moderator.wait_for_url(re.compile(re.escape(portal.url) + r'/moderation/zips/\d+$'))
        expect(moderator.get_by_role('heading', name='The whole sample')).to_be_visible()
        job = moderator.locator('div.job')
        expect(job).to_contain_text("Putting the sample's files together…")
        expect(job.locator('progress')).to_have_count(1)
        expect(moderator.get_by_role('link', name='DOWNLOAD THE ZIP')).to_have_count(0)
        snap(moderator, 'zip-in-progress')
    finally:
        release.set()
    expect(job).to_contain_text('The zip of the sample is ready.', timeout=15_000)  # htmx polls each second
    snap(moderator, 'zip-ready')
    with moderator.expect_download() as info:
        moderator.get_by_role('link', name='DOWNLOAD THE ZIP').click()
    download = info.value
    assert download.suggested_filename == 'sample-68999-9613-L3.zip'
    with zipfile.ZipFile(download.path()) as archive:
        assert archive.namelist() == [kept.stored_name]
        assert archive.read(kept.stored_name) == sent
        assert archive.testzip() is None
    switch_language(moderator, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(moderator, 'zip-ready-cy')
