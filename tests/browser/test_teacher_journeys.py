"""Whole journeys: a teacher completes a marksheet inline, submits it, gets the
moderation sample and the PDF report; and the same core path without JavaScript."""
import re
import subprocess
import time

from playwright.sync_api import expect

from tests.browser.pages import missing_row_ids, select_values, switch_language

REASON = re.compile(r'(Highest outcome|Lowest outcome|Rank spread|Covers grade \w+|'
                    r'Covers teaching group \w+)')
PDF_TIMEOUT_MS = 120_000


def expected_sample_size(non_absent):
    """The sample size table (SPEC 3.4), over candidates not Absent."""
    if non_absent <= 15:
        return non_absent
    if non_absent <= 100:
        return 15
    if non_absent <= 200:
        return 20
    return 25




def sampled_rows(page):
    """[(candidate number, text of the Sample cell)] of the marksheet's rows."""
    return page.eval_on_selector_all(
        'table.marksheet tbody tr',
        'rows => rows.map(r => [r.cells[0].innerText.trim(), r.cells[3].innerText.trim()])')


def download_pdf(page, tmp_path, name):
    """Click DOWNLOAD THE PDF; returns (bytes, text, pages)."""
    with page.expect_download() as info:
        page.get_by_role('link', name='DOWNLOAD THE PDF').click()
    download = info.value
    assert download.suggested_filename.endswith('.pdf'), download.suggested_filename
    path = tmp_path / name
    download.save_as(path)
    data = path.read_bytes()
    text = subprocess.run(['pdftotext', '-layout', str(path), '-'], capture_output=True,
                          text=True, check=True).stdout
    info_text = subprocess.run(['pdfinfo', str(path)], capture_output=True, text=True,
                               check=True).stdout
    pages = int(re.search(r'^Pages:\s+(\d+)', info_text, re.M).group(1))
    return data, text, pages


def print_report(page, portal, unit_id, snap):
    """PRINT on the marksheet, then PRINT THIS REPORT: ends on the finished job page."""
    page.get_by_role('link', name='PRINT', exact=True).click()
    page.wait_for_url(f'{portal.url}/internal-assessment/reports/{unit_id}')
    expect(page.get_by_role('heading', name='CANDIDATE DETAILS REPORT')).to_be_visible()
    expect(page.locator('table.report tbody tr')).to_have_count(144)
    snap(page, 'report')
    page.get_by_role('button', name='PRINT THIS REPORT').click()
    page.wait_for_url(re.compile(r'/internal-assessment/reports/jobs/\d+$'), timeout=PDF_TIMEOUT_MS)
    ready = page.get_by_role('link', name='DOWNLOAD THE PDF')
    refresh = page.get_by_role('link', name='Refresh to check')  # the page polls only with JavaScript
    deadline = time.time() + PDF_TIMEOUT_MS / 1000
    while not ready.is_visible() and time.time() < deadline:
        if refresh.is_visible():
            refresh.click()
        page.wait_for_timeout(500)
    expect(ready).to_be_visible(timeout=PDF_TIMEOUT_MS)
    expect(page.locator('.job')).to_contain_text('Your report is ready.')
    snap(page, 'report-job')


def test_teacher_completes_9614_inline_and_submits(portal, page, snap, tmp_path):
    dialogs = []
    page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    portal.sign_in(page, '68999JBR', snap)
    portal.open_overview(page, snap)
    row = portal.unit_row(page, '9614/L3')
    expect(row.get_by_role('link', name=re.compile('^ENTER OUTCOMES'))).to_have_text(
        'ENTER OUTCOMES (43 DONE, 101 LEFT)')
    expect(row.locator('.submit-control')).to_have_text(
        'NO OUTCOMES TO SUBMIT (0 SUBMITTED) 101 OUTCOMES MISSING')

    unit_id = portal.open_unit(page, '9614/L3', snap)
    counts, control = page.locator(f'#counts-{unit_id}'), page.locator(f'#submit-{unit_id}')
    expect(page.locator('table.marksheet caption')).to_have_text('144 candidates – page 1 of 8')
    page.get_by_label('Rows:').select_option('all')
    page.get_by_role('button', name='SEARCH').click()
    page.wait_for_url(re.compile(r'[?&]rows=all(&|$)'))
    expect(page.locator('table.marksheet caption')).to_have_text('144 candidates')
    expect(page.locator('table.marksheet tbody tr')).to_have_count(144)
    snap(page, 'marksheet-all-rows')

    todo = missing_row_ids(page)
    assert len(todo) == 101
    page.evaluate('window.__noReload = 1')
    for i, entry_id in enumerate(todo):
        with page.expect_response(lambda r: r.url.endswith(f'/entries/{entry_id}')
                                  and r.request.method == 'POST') as response:
            page.select_option(f'select[name="value-{entry_id}"]', 'PMD'[i % 3])
        assert response.value.status == 200
        expect(page.locator(f'#entry-{entry_id} span.saved')).to_have_text('Saved')
        done = 44 + i
        expect(counts).to_have_text(f'ENTER OUTCOMES ({done} DONE, {144 - done} LEFT)')
        if done < 144:
            expect(control).to_have_text(
                f'NO OUTCOMES TO SUBMIT (0 SUBMITTED) {144 - done} OUTCOMES MISSING')
            assert control.get_by_role('link').count() == 0
        if i == 0:
            snap(page, 'marksheet-first-inline-save')
    submit_link = control.get_by_role('link', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)')
    expect(submit_link).to_be_visible()
    assert page.evaluate('window.__noReload') == 1, 'the page reloaded while saving inline'
    snap(page, 'marksheet-complete')

    values = select_values(page)
    assert len(values) == 144 and all(values.values())
    non_absent = sum(1 for v in values.values() if v != 'A')
    size = expected_sample_size(non_absent)
    assert 100 < non_absent < 144 and size == 20

    submit_link.click()
    page.wait_for_url(f'{portal.url}/internal-assessment/{unit_id}/submit')
    expect(page.get_by_text('Are you sure you want to submit outcomes?')).to_be_visible()
    expect(page.locator('#sample-preview tbody tr')).to_have_count(size)
    preview = page.eval_on_selector_all('#sample-preview tbody tr',
                                        'rows => rows.map(r => r.cells[0].innerText.trim())')
    snap(page, 'submit-confirm')
    page.get_by_role('button', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    page.wait_for_url(re.compile(rf'/internal-assessment/{unit_id}\?show=samples$'))
    expect(page.locator('p.flash')).to_contain_text('All outcomes submitted.')
    expect(page.get_by_role('link', name='VIEW MODERATOR DETAILS')).to_be_visible()
    expect(control).to_have_text('ALL OUTCOMES SUBMITTED (144)')
    expect(page.locator('table.marksheet caption')).to_have_text(f'{size} candidates')
    expect(page.locator('table.marksheet tbody tr')).to_have_count(size)
    expect(page.locator('table.marksheet select')).to_have_count(0)
    snap(page, 'sample')
    switch_language(page, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(page, 'sample-cy')
    switch_language(page, 'English')
    sample = sampled_rows(page)
    for number, reason in sample:
        assert REASON.search(reason), f'candidate {number} has no sample reason: {reason!r}'
    reasons = [reason for _number, reason in sample]
    assert sum('Highest outcome' in r for r in reasons) == 1
    assert sum('Lowest outcome' in r for r in reasons) == 1
    assert sorted(number for number, _reason in sample) == sorted(preview)

    print_report(page, portal, unit_id, snap)
    data, text, pages = download_pdf(page, tmp_path, 'report-9614.pdf')
    assert data.startswith(b'%PDF')
    numbers = set(re.findall(r'\b(3\d{3})\b', text))
    assert {f'{n}' for n in range(3001, 3145)} <= numbers
    assert '144 candidates' in text
    assert pages > 1
    assert dialogs == []


def test_core_path_without_javascript(portal, new_context, snap, tmp_path):
    page = new_context(java_script_enabled=False).new_page()
    portal.sign_in(page, '68999JBR', snap)
    unit_id = portal.open_unit(page, '9614/L3', snap)
    assert page.evaluate('document.documentElement.classList.contains("js")') is False

    # Outcomes 3001-3043 exist: the first empty rows are on page 3.
    page.get_by_role('navigation', name='Pages').get_by_role('link', name='3', exact=True).click()
    page.wait_for_url(re.compile(r'[?&]page=3(&|$)'))
    expect(page.locator('table.marksheet caption')).to_have_text('144 candidates – page 3 of 8')
    snap(page, 'marksheet-page-3')
    first, second, third = missing_row_ids(page)[:3]
    page.select_option(f'select[name="value-{first}"]', 'P')
    page.select_option(f'select[name="value-{second}"]', 'D')
    page.get_by_role('button', name='SAVE', exact=True).click()
    page.wait_for_url(re.compile(r'[?&]page=3(&|$)'))
    expect(page.locator('p.flash')).to_have_text('2 outcomes saved.')
    snap(page, 'saved-two')
    page.reload()
    snap(page, 'reloaded')
    values = select_values(page)
    assert (values[first], values[second], values[third]) == ('P', 'D', '')
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (45 DONE, 99 LEFT)')

    page.select_option(f'select[name="value-{third}"]', 'A')
    page.get_by_role('button', name='SAVE', exact=True).click()
    page.wait_for_url(f'{portal.url}/internal-assessment/{unit_id}')
    expect(page.get_by_role('alert')).to_have_text(
        'Please note an ABSENT should only be used if a candidate is absent')
    confirm = page.get_by_role('button', name='YES, SAVE AS ABSENT')
    expect(confirm).to_be_visible()
    snap(page, 'confirm-absent')
    other = page.context.new_page()  # nothing is saved until confirmed
    other.goto(page.url + '?page=3')
    assert select_values(other)[third] == ''
    snap(other, 'not-yet-absent')
    other.close()
    confirm.click()
    page.wait_for_url(re.compile(r'[?&]page=3(&|$)'))
    expect(page.locator('p.flash')).to_have_text('1 outcome saved.')
    snap(page, 'saved-absent')
    assert select_values(page)[third] == 'A'
    expect(page.locator(f'#counts-{unit_id}')).to_have_text('ENTER OUTCOMES (46 DONE, 98 LEFT)')

    fourth = missing_row_ids(page)[0]
    page.select_option(f'select[name="value-{fourth}"]', 'M')
    page.get_by_role('button', name='SAVE AND CLOSE').click()
    page.wait_for_url(f'{portal.url}/internal-assessment/')
    expect(page.locator('p.flash')).to_have_text('1 outcome saved.')
    expect(portal.unit_row(page, '9614/L3').locator(f'#counts-{unit_id}')).to_have_text(
        'ENTER OUTCOMES (47 DONE, 97 LEFT)')
    snap(page, 'overview-after-save-and-close')

    # 9613/L3 is complete: submit it and see the sample.
    row = portal.unit_row(page, '9613/L3')
    complete_id = int(row.get_by_role('link', name=re.compile('^ENTER OUTCOMES'))
                      .get_attribute('id').removeprefix('counts-'))
    row.get_by_role('link', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    page.wait_for_url(f'{portal.url}/internal-assessment/{complete_id}/submit')
    expect(page.get_by_text('Are you sure you want to submit outcomes?')).to_be_visible()
    preview_size = page.locator('#sample-preview tbody tr').count()
    snap(page, 'submit-confirm')
    page.get_by_role('button', name='SUBMIT OUTCOMES AND GENERATE SAMPLES (144)').click()
    page.wait_for_url(re.compile(rf'/internal-assessment/{complete_id}\?show=samples$'))
    expect(page.locator('p.flash')).to_contain_text('All outcomes submitted.')
    expect(page.get_by_role('link', name='VIEW MODERATOR DETAILS')).to_be_visible()
    expect(page.locator(f'#submit-{complete_id}')).to_have_text('ALL OUTCOMES SUBMITTED (144)')
    snap(page, 'sample')
    switch_language(page, 'Cymraeg')  # the accessibility checks of the snaps, in Welsh too
    snap(page, 'sample-cy')
    switch_language(page, 'English')
    sample = sampled_rows(page)
    assert len(sample) == preview_size >= 20
    assert all(REASON.search(reason) for _number, reason in sample)

    print_report(page, portal, complete_id, snap)
    data, text, pages = download_pdf(page, tmp_path, 'report-9613.pdf')
    assert data.startswith(b'%PDF') and pages > 1
    assert {f'{n}' for n in range(3001, 3145)} <= set(re.findall(r'\b(3\d{3})\b', text))
