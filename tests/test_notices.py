"""The service banner (issue 11, point 6): helpline staff set a notice in
both languages; it shows at the top of every page, signed in or not, in the
page's language, until it is ended; pages read it from a short cache."""
import pytest

from blueprints import notices
from models import AuditLog, ServiceNotice, db, utcnow

ENGLISH, WELSH = 'Deadline extended to 20 May', 'Estynnwyd y dyddiad cau i 20 Mai'


@pytest.fixture
def fresh(app):
    app.config['NOTICE_CACHE_SECONDS'] = 0  # every page asks the database
    return app


def new_notice(staff, **fields):
    staff.get('/staff/notices/')
    return staff.post('/staff/notices/', data=dict({'text_en': ENGLISH, 'text_cy': WELSH, 'kind': 'warning'},
                                                   **fields))


def in_welsh(client, page):
    client.get(page)
    client.post('/language', data={'lang': 'cy', 'next': page})
    return client.get(page).get_data(as_text=True)


def test_a_notice_shows_on_every_page_in_its_language_until_it_is_ended(fresh, world, as_, client):
    staff, teacher = as_('staff'), as_('teacher')
    assert ENGLISH not in client.get('/login').get_data(as_text=True)
    response = new_notice(staff)
    assert response.status_code == 303
    login = client.get('/login').get_data(as_text=True)
    assert '<div class="service-notices" role="status">' in login and ENGLISH in login and WELSH not in login
    marksheet = teacher.get(f'/internal-assessment/{world.unit.id}').get_data(as_text=True)
    assert ENGLISH in marksheet
    welsh = in_welsh(client, '/login')
    assert WELSH in welsh and ENGLISH not in welsh
    with db.connection_context():
        notice = ServiceNotice.get()
        assert notice.set_by_id == world.staff.id and notice.kind == 'warning'
        assert AuditLog.select().where(AuditLog.action == 'notice.create', AuditLog.actor == world.staff.id).exists()
    assert ENGLISH in staff.get('/staff/notices/').get_data(as_text=True)
    assert staff.post(f'/staff/notices/{notice.id}/end').status_code == 303
    assert ENGLISH not in teacher.get('/').get_data(as_text=True)
    assert WELSH not in client.get('/login').get_data(as_text=True)
    with db.connection_context():
        assert AuditLog.select().where(AuditLog.action == 'notice.end').count() == 1


def test_both_languages_are_required(fresh, world, as_, client):
    staff = as_('staff')
    response = new_notice(staff, text_cy='  ')
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'Enter the notice in Welsh: both languages are needed.' in page
    assert 'href="#text_cy"' in page  # the error summary points at the field
    with db.connection_context():
        assert ServiceNotice.select().count() == 0
    assert ENGLISH not in client.get('/login').get_data(as_text=True)


def test_a_notice_from_a_later_time_waits_for_it(fresh, world, as_, client):
    staff = as_('staff')
    assert new_notice(staff, shown_from='2099-01-01T09:00').status_code == 303
    assert ENGLISH not in client.get('/login').get_data(as_text=True)
    assert ENGLISH in staff.get('/staff/notices/').get_data(as_text=True)  # listed, to come
    with db.connection_context():
        ServiceNotice.update(shown_from=utcnow()).execute()
    assert ENGLISH in client.get('/login').get_data(as_text=True)


def test_only_helpline_staff_set_notices(fresh, world, as_):
    for who in ('admin', 'teacher', 'series_staff', 'moderator'):
        assert new_notice(as_(who)).status_code in (403, 404), who
    with db.connection_context():
        assert ServiceNotice.select().count() == 0


def test_pages_read_notices_from_the_cache_and_a_new_one_shows_within_its_time(app, world, client, monkeypatch):
    app.config['NOTICE_CACHE_SECONDS'] = 30
    clock = [1000.0]
    monkeypatch.setattr(notices.time, 'monotonic', lambda: clock[0])
    seen, execute = [], db.obj.execute_sql

    def counting(sql, *args, **kwargs):
        seen.append(sql)
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(db.obj, 'execute_sql', counting)
    client.get('/login')
    assert sum('service_notice' in sql for sql in seen) == 1
    with db.connection_context():  # as another web process would, without telling this one
        ServiceNotice.create(text_en=ENGLISH, text_cy=WELSH, set_by=world.staff.id)
    seen.clear()
    clock[0] += 10
    assert ENGLISH not in client.get('/login').get_data(as_text=True)  # cached: no query, not yet shown
    assert not any('service_notice' in sql for sql in seen)
    clock[0] += 21  # past the 30 seconds
    assert ENGLISH in client.get('/login').get_data(as_text=True)
