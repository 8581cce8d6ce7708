"""What the browser tests read off the marksheet."""

def select_values(page):
    """{entry id: value} of every outcome dropdown on the page."""
    pairs = page.eval_on_selector_all(
        'table.marksheet select[name^="value-"]', 'els => els.map(e => [e.name, e.value])')
    return {int(name.removeprefix('value-')): value for name, value in pairs}


def missing_row_ids(page):
    """Ids of the rows still without an outcome."""
    return [int(i.removeprefix('entry-')) for i in page.eval_on_selector_all(
        'table.marksheet tbody tr.missing', 'els => els.map(e => e.id)')]


def in_db(read):
    """`read()` on a connection of the test's own (the server has its own)."""
    from models import db
    with db.connection_context():
        return read()


def outcome_of(entry_id):
    """(value, username it is entered under), or None."""
    from models import Account, Outcome

    def read():
        row = (Outcome.select(Outcome, Account).join(Account)
               .where(Outcome.entry == entry_id).get_or_none())
        return (row.value, row.entered_by.username) if row else None
    return in_db(read)


def reload_until_available(page, item, seconds=10):
    """The upload check runs on the app's job thread: reload until the file
    (`item`, a locator of its list item) is "available, not scanned"; its text."""
    import time
    from playwright.sync_api import expect
    deadline = time.monotonic() + seconds
    while True:
        expect(item).to_have_count(1)
        text = item.inner_text()
        if 'available, not scanned' in text:
            return text
        assert 'uploading' in text or 'checking' in text, text
        if time.monotonic() > deadline:
            raise AssertionError(f'still not available: {text}')
        page.wait_for_timeout(200)
        page.reload()


PROGRESS_WATCH = """
    document.addEventListener('DOMContentLoaded', function () {
      new MutationObserver(function (changes) {
        changes.forEach(function (c) {
          var el = c.target.nodeType === 1 ? c.target : c.target.parentElement;
          if (el && el.classList.contains('progress')) console.log('progress:' + el.textContent);
        });
      }).observe(document.body, {childList: true, characterData: true, subtree: true});
    });"""


def record_progress(page):
    """Every text the upload rows' progress shows, as it changes (a list that fills)."""
    said = []
    page.on('console', lambda m: said.append(m.text[9:]) if m.text.startswith('progress:') else None)
    page.add_init_script(PROGRESS_WATCH)
    return said


def switch_language(page, name):
    """English | Cymraeg in the header: the same page comes back in that language."""
    from playwright.sync_api import expect
    before = page.url
    page.locator('form.language').get_by_role('button', name=name).click()
    page.wait_for_url(lambda url: url.rstrip('?') == before.rstrip('?'))
    expect(page.locator('html')).to_have_attribute('lang', 'cy' if name == 'Cymraeg' else 'en')
