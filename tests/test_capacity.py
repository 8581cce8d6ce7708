"""Issue 11, capacity: the cheaper grade save and marksheet behave as before."""
import pytest

from models import db

pytestmark = pytest.mark.db


def url(unit, *parts):
    return '/'.join([f'/internal-assessment/{unit.id}', *map(str, parts)])


def test_a_second_request_within_a_minute_sends_no_cookie(world, as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['seen_at'] -= 61
    first = client.get(url(world.unit))
    assert first.status_code == 200 and 'session=' in first.headers.get('Set-Cookie', '')
    with client.session_transaction() as session:
        seen = session['seen_at']
    again = client.get(url(world.unit))
    assert again.status_code == 200 and 'Set-Cookie' not in again.headers
    saved = client.htmx(url(world.unit, 'entries', world.entries[0].id),
                        {f'value-{world.entries[0].id}': 'P', f'version-{world.entries[0].id}': '0'})
    assert saved.status_code == 200 and 'Set-Cookie' not in saved.headers
    with client.session_transaction() as session:
        assert session['seen_at'] == seen


def test_the_idle_limit_still_counts_from_the_last_minute(world, as_):
    client = as_('teacher')
    with client.session_transaction() as session:
        session['seen_at'] -= 19 * 60 + 59  # the last write: 19 min 59 s ago, still signed in
    assert client.get(url(world.unit)).status_code == 200
    with client.session_transaction() as session:
        session['seen_at'] -= 20 * 60 + 1  # that request counted; 20 minutes idle since ends it
    response = client.get(url(world.unit))
    assert response.status_code == 303 and 'expired=1' in response.location

