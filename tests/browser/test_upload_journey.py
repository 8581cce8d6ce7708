"""IAMIS upload of the sampled candidates' work, as a teacher clicks it
(SPEC 3.6; issue 8 points 1-2; QUALITY UP-1, UP-2).

The teacher 68999JBR opens the e-submission unit 6051/E1 before it is
submitted (a reminder, no upload form), submits it (all 6 candidates are
sampled), then below the marksheet:

- with JavaScript, uploads a 6 MB file by tus (progress on the row, the
  page reloads, the file is "available, not scanned" under its original
  name and the bytes kept are the bytes sent);
- with JavaScript, uploads a 12 MB file whose connection is cut in the
  middle: the server holds the first half, the row says the upload stopped,
  and choosing the same file again carries on from that byte (the next
  PATCH says Upload-Offset: <half>, only the second half is sent) to a
  whole file;
- without JavaScript, uploads through the plain form ("<name> received: it
  is being checked.");
- uploads an .html page, which downloads as an attachment and never renders;
- after the deadline (2021-02-12, past) no file has a Delete button and a
  new upload is marked NEW/CORRECT VERSION; with the date frozen before the
  deadline (`uploads.today`, the server runs in this process) Delete
  removes a file, and a Delete clicked on a page loaded before the deadline
  but sent after it is refused by the server.
"""
import datetime
import hashlib
import os
import pathlib
import re
import socket
import time
import warnings

from playwright.sync_api import expect

import uploads
from tests.browser.pages import in_db, record_progress, reload_until_available

UNIT = '6051/E1'
TEACHER = '68999JBR'
MB = 1024 * 1024


def unit_id_of(code):
    from models import Unit
    return in_db(lambda: Unit.get(Unit.code == code).id)


def sampled_entries(unit_id):
    """[(entry id, candidate number)] of the unit's sample at 68999, by number."""
    from models import Candidate, Centre, Entry, SampleMember

    def read():
        centre = Centre.get(Centre.number == '68999')
        return [(e.id, e.candidate.number) for e in Entry.select(Entry, Candidate).join(Candidate)
                .switch(Entry).join(SampleMember)
                .where(Entry.centre == centre, Entry.unit == unit_id).order_by(Candidate.number)]
    return in_db(read)


def entries_of(unit_id):
    from models import Centre, Entry
    return in_db(lambda: Entry.select().join(Centre).where(
        Entry.unit == unit_id, Centre.number == '68999').count())


def files_of(entry_id):
    from models import CandidateFile
    return in_db(lambda: list(CandidateFile.select().where(CandidateFile.entry == entry_id)
                              .order_by(CandidateFile.id)))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(MB), b''):
            digest.update(block)
    return digest.hexdigest()


def random_file(folder, name, size):
    path = pathlib.Path(folder) / name
    path.write_bytes(os.urandom(size))
    return path


def row(page, entry_id):
    return page.locator(f'#files-{entry_id}')


def file_item(page, entry_id, name):
    return row(page, entry_id).locator('ul.files li', has_text=name)


def available(page, entry_id, name):
    """The file's list item once the check is done (pages.reload_until_available)."""
    item = file_item(page, entry_id, name)
    reload_until_available(page, item)
    return item


def upload_with_js(page, entry_id, path):
    page.locator(f'#file-{entry_id}').set_input_files(str(path))
    row(page, entry_id).get_by_role('button', name='UPLOAD').click()


def stored_path(portal, upload):
    return pathlib.Path(portal.app.config['FILES_DIR']) / upload.stored_name


def part_path(portal, upload):
    return pathlib.Path(portal.app.config['UPLOADS_DIR']) / (upload.upload_key + '.part')


def switch_language(page, name):
    before = page.url
    page.locator('form.language').get_by_role('button', name=name).click()
    page.wait_for_url(lambda url: url.rstrip('?') == before.rstrip('?'))
    expect(page.locator('html')).to_have_attribute('lang', 'cy' if name == 'Cymraeg' else 'en')


def test_sampled_work_is_uploaded_resumed_and_downloaded(portal, page, new_context, snap, tmp_path,
                                                         monkeypatch):
    portal.app.config['UPLOADS_DIR'] = str(tmp_path / 'uploads')  # this test's files only
    portal.app.config['FILES_DIR'] = str(tmp_path / 'files')
    portal.app.config['MAIL_FOLDER'] = str(tmp_path / 'mail')
    dialogs = []
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    progress = record_progress(page)  # what the row's progress says, as it changes
    unit_id = unit_id_of(UNIT)
    marksheet_url = f'{portal.url}/internal-assessment/{unit_id}'

    # 1. Before submission: the reminder, and nothing to upload with.
    portal.sign_in(page, TEACHER, snap)
    assert portal.open_unit(page, UNIT) == unit_id
    panel = page.locator('section#upload')
    expect(panel.get_by_role('heading', name="Upload the sampled candidates' work")).to_be_visible()
    expect(panel.locator('p.info')).to_have_text(
        'Centres are reminded not to upload any files until outcomes are submitted and samples generated.')
    expect(page.locator('input[type="file"]')).to_have_count(0)
    expect(page.get_by_role('button', name='UPLOAD')).to_have_count(0)
    snap(page, 'before-submission-reminder')

    # 2. Submit 6051/E1: 6 candidates, 15 or fewer, so all are sampled.
    assert entries_of(unit_id) == 6
    portal.open_overview(page)
    unit_row = portal.unit_row(page, UNIT)
    unit_row.get_by_role('link', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (6)').click()
    page.wait_for_url(f'{marksheet_url}/submit')
    snap(page, 'submit-confirm')
    page.get_by_role('button', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (6)').click()
    page.wait_for_url(re.compile(rf'/internal-assessment/{unit_id}\?show=samples$'))
    expect(page.locator('p.flash')).to_contain_text('All outcomes submitted.')
    sample = sampled_entries(unit_id)
    assert len(sample) == 6
    expect(panel.locator('p.info')).to_have_count(0)
    expect(panel.locator('tbody tr')).to_have_count(6)
    expect(panel.locator('tbody tr td:first-child')).to_contain_text([number for _, number in sample])
    expect(panel.locator('ul.files')).to_have_text(['No files yet.'] * 6)
    expect(panel).to_contain_text('The deadline, 12/02/2021, has passed: files can no longer be deleted')
    snap(page, 'submitted-upload-panel')
    samples_url = page.url
    (first, _), (second, _), (third, _), (fourth, _), (fifth, _), _ = sample

    # 3. JavaScript on: 6 MB by tus, with progress, then the page reloads.
    six = random_file(tmp_path, 'Jools portfolio.bin', 6 * MB + 12345)
    requests_seen = []
    page.on('request', lambda r: requests_seen.append((r.method, r.url, r.headers.get('upload-offset')))
            if '/internal-assessment/uploads' in r.url else None)
    with page.expect_navigation():  # onSuccess reloads the page
        upload_with_js(page, first, six)
    assert any(re.fullmatch(r'Uploading: \d+% \(.+ of 6\.0 MB\)', p) for p in progress), progress
    assert 'Uploading: 100% (6.0 MB of 6.0 MB)' in progress, progress
    item = available(page, first, six.name)
    expect(item).to_contain_text(f'{six.name} (6.0 MB, available, not scanned) NEW/CORRECT VERSION')
    snap(page, 'js-upload-available')
    [kept] = files_of(first)
    assert (kept.state, kept.length, kept.received, kept.original_name) == ('available', six.stat().st_size,
                                                                          six.stat().st_size, six.name)
    assert re.fullmatch(r'68999_\d{4}_001\.bin', kept.stored_name)
    assert sha256(stored_path(portal, kept)) == sha256(six) == kept.sha256
    assert [m for m, *_ in requests_seen] == ['POST', 'PATCH']

    # 4. The connection is cut in the middle of a 12 MB file. The first PATCH
    # (Upload-Offset: 0, 12 MB announced) is sent to the server on a socket of
    # the test's, which is closed after the first half; the browser is then
    # offline and its request fails (offline, tus-js-client does not retry).
    twelve = random_file(tmp_path, 'Sarah recording.bin', 12 * MB + 777)
    whole = twelve.read_bytes()
    half = len(whole) // 2
    cut = []

    def cut_in_the_middle(route):
        request = route.request
        if request.method != 'PATCH' or cut:
            return route.continue_()
        headers = {k: v for k, v in request.all_headers().items()
                   if not k.startswith(':') and k not in ('content-length', 'connection')}
        cut.append(headers.get('upload-offset'))
        path = request.url.removeprefix(portal.url)
        head = ''.join([f'PATCH {path} HTTP/1.1\r\n', *(f'{k}: {v}\r\n' for k, v in headers.items()),
                        f'Content-Length: {len(whole)}\r\nConnection: close\r\n\r\n'])
        part = pathlib.Path(portal.app.config['UPLOADS_DIR']) / (path.rsplit('/', 1)[1] + '.part')
        with socket.create_connection(portal.url.removeprefix('http://').split(':')) as wire:
            wire.sendall(head.encode() + whole[:half])
        deadline = time.monotonic() + 5  # the server writes what arrived, then sees the cut
        while part.stat().st_size < half and time.monotonic() < deadline:
            time.sleep(0.02)
        cut.append(part.stat().st_size)
        page.context.set_offline(True)
        route.abort('connectionreset')

    page.route('**/internal-assessment/uploads/**', cut_in_the_middle)
    progress.clear()
    requests_seen.clear()
    upload_with_js(page, second, twelve)
    expect(row(page, second).locator('.progress')).to_have_text(
        'The upload stopped: choose the same file again and it carries on from where it stopped.')
    expect(row(page, second).get_by_role('button', name='UPLOAD')).to_be_enabled()
    snap(page, 'resume-connection-cut')
    page.unroute('**/internal-assessment/uploads/**')
    page.context.set_offline(False)
    assert cut == ['0', half]
    [partial] = files_of(second)
    assert (partial.state, partial.length) == ('uploading', len(whole))
    assert part_path(portal, partial).stat().st_size == half
    assert [m for m, *_ in requests_seen] == ['POST', 'PATCH']

    # After a reload the stopped upload is listed with how much arrived and how
    # to carry on; nothing to download, and it can be given up (Delete).
    page.reload()
    stopped = file_item(page, second, twelve.name)
    expect(stopped).to_contain_text(f'{twelve.name} (12.0 MB, stopped at 6.0 MB: choose the same file again '
                                    'to carry on) NEW/CORRECT VERSION')
    expect(stopped.get_by_role('link')).to_have_count(0)
    expect(stopped.get_by_role('button', name=f'Delete {twelve.name}')).to_have_count(1)
    snap(page, 'resume-stopped-after-reload')

    # The same file chosen again carries on from byte `half` (the PATCH is
    # held a moment so the progress can be seen).
    requests_seen.clear()
    progress.clear()
    held = []
    page.route('**/internal-assessment/uploads/**',
               lambda route: held.append(route) if route.request.method == 'PATCH' else route.continue_())
    upload_with_js(page, second, twelve)
    expect(row(page, second).locator('.progress')).to_have_text(
        f'Uploading: {half * 100 // len(whole)}% (6.0 MB of 12.0 MB)')
    while not held:
        page.wait_for_timeout(50)
    expect(row(page, second).get_by_role('button', name='UPLOAD')).to_be_disabled()  # once is enough
    snap(page, 'resume-progress')
    assert held[0].request.post_data_buffer == whole[half:]  # only what the server lacks
    with page.expect_navigation():
        held[0].continue_()
    page.unroute('**/internal-assessment/uploads/**')
    assert [(m, offset) for m, _, offset in requests_seen] == [('HEAD', None), ('PATCH', str(half))]
    assert all(url.endswith('/uploads/' + partial.upload_key) for _, url, _ in requests_seen)
    assert progress[0] == f'Uploading: {half * 100 // len(whole)}% (6.0 MB of 12.0 MB)', progress
    item = available(page, second, twelve.name)
    expect(item).to_contain_text(f'{twelve.name} (12.0 MB, available, not scanned)')
    snap(page, 'resumed-upload-available')
    [resumed] = files_of(second)
    assert (resumed.id, resumed.state, resumed.received) == (partial.id, 'available', len(whole))
    assert sha256(stored_path(portal, resumed)) == hashlib.sha256(whole).hexdigest() == resumed.sha256
    assert not part_path(portal, resumed).exists()

    # 5. JavaScript off: the plain form posts the file, and the page says so.
    plain = new_context(java_script_enabled=False).new_page()
    portal.sign_in(plain, TEACHER)
    plain.goto(samples_url)
    essay = tmp_path / 'Sioned essay.txt'
    essay.write_text('My essay about communication.\n' * 2000)
    plain.locator(f'#file-{third}').set_input_files(str(essay))
    snap(plain, 'nojs-file-chosen')
    row(plain, third).get_by_role('button', name='UPLOAD').click()
    plain.wait_for_url(re.compile(rf'/internal-assessment/{unit_id}\?show=samples$'))
    expect(plain.locator('p.flash')).to_have_text('Sioned essay.txt received: it is being checked.')
    expect(file_item(plain, third, essay.name)).to_contain_text(essay.name)
    snap(plain, 'nojs-upload-received')
    available(plain, third, essay.name)
    [received] = files_of(third)
    assert sha256(stored_path(portal, received)) == sha256(essay) and received.mime == 'text/plain'

    # 6. An uploaded page is a download, never rendered here.
    html = tmp_path / 'Cerys page.html'
    html.write_text('<!doctype html><title>x</title><script>document.title = "RENDERED"</script>'
                    '<h1>Rendered in the portal</h1>')
    plain.locator(f'#file-{fourth}').set_input_files(str(html))
    row(plain, fourth).get_by_role('button', name='UPLOAD').click()
    expect(plain.locator('p.flash')).to_have_text('Cerys page.html received: it is being checked.')
    page.goto(samples_url)
    link = available(page, fourth, html.name).get_by_role('link', name=html.name)
    [page_file] = files_of(fourth)
    assert page_file.mime == 'text/html' and page_file.stored_name.endswith('.html')
    href = link.get_attribute('href')
    assert href == f'/internal-assessment/{unit_id}/files/{page_file.id}'
    answer = page.request.get(portal.url + href)
    assert answer.status == 200
    assert answer.headers['content-type'] == 'application/octet-stream'
    assert answer.headers['content-disposition'] == f'attachment; filename={page_file.stored_name}'
    assert answer.headers['x-content-type-options'] == 'nosniff'
    assert answer.body() == html.read_bytes()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == page_file.stored_name
    assert page.url == samples_url and page.title() != 'RENDERED'
    snap(page, 'html-downloaded-not-rendered')

    # 7. The deadline (12/02/2021) has passed: no Delete, and every file is
    # marked NEW/CORRECT VERSION.
    items = panel.locator('ul.files li')
    expect(panel.get_by_role('button', name=re.compile(r'^Delete '))).to_have_count(0)
    expect(items).to_have_count(6)
    for entry_id in (first, second, third, fourth):
        expect(row(page, entry_id).locator('li strong')).to_have_text('NEW/CORRECT VERSION')
    expect(row(page, fifth).locator('ul.files')).to_have_text('No files yet.')
    snap(page, 'after-deadline-no-delete')

    # Before the deadline (the date frozen in the server, which runs here):
    # Delete next to each file, and a new file is not a NEW/CORRECT VERSION.
    monkeypatch.setattr(uploads, 'today', lambda: datetime.date(2021, 2, 1))
    page.reload()
    expect(panel.get_by_role('button', name=re.compile(r'^Delete '))).to_have_count(4)
    early = random_file(tmp_path, 'Owain draft.bin', 300 * 1024)
    with page.expect_navigation():
        upload_with_js(page, fifth, early)
    item = available(page, fifth, early.name)
    expect(item.locator('strong')).to_have_count(0)
    expect(item).to_contain_text('Owain draft.bin (300.0 KB, available, not scanned)')
    snap(page, 'before-deadline-delete-offered')
    [early_file] = files_of(fifth)
    assert early_file.new_version is False and stored_path(portal, early_file).exists()
    item.get_by_role('button', name=re.compile(r'^Delete ')).click()
    page.wait_for_url(samples_url)
    expect(page.locator('p.flash')).to_have_text('Owain draft.bin deleted.')
    expect(row(page, fifth).locator('ul.files')).to_have_text('No files yet.')
    assert files_of(fifth) == [] and not stored_path(portal, early_file).exists()
    snap(page, 'before-deadline-deleted')

    # A Delete on a page loaded before the deadline, sent after it: refused.
    monkeypatch.setattr(uploads, 'today', datetime.date.today)
    file_item(page, first, six.name).get_by_role('button', name=re.compile(r'^Delete ')).click()
    page.wait_for_url(samples_url)
    expect(page.locator('p.flash.error')).to_have_text(
        'The deadline has passed: files can no longer be deleted. Upload a further file instead; it is '
        'marked NEW/CORRECT VERSION.')
    expect(file_item(page, first, six.name)).to_have_count(1)
    expect(panel.get_by_role('button', name=re.compile(r'^Delete '))).to_have_count(0)
    assert [f.id for f in files_of(first)] == [kept.id] and stored_path(portal, kept).exists()
    snap(page, 'after-deadline-delete-refused')

    # The panel in Welsh: missing words are reported, not failed on.
    switch_language(page, 'Cymraeg')
    snap(page, 'welsh-upload-panel')
    panel_text = panel.inner_text()
    for english in ("Upload the sampled candidates' work", 'Any type of file, several per candidate',
                    'Files can be deleted until', 'available, not scanned', 'NEW/CORRECT VERSION',
                    'No files yet.', 'UPLOAD'):
        if english in panel_text:
            warnings.warn(f'Welsh missing on the upload panel (Cymraeg page): "{english}" is still in English')
    switch_language(page, 'English')
    assert dialogs == []
