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
