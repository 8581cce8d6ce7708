"""Headless-Chromium tests of the Internal Assessment Portal: the app is served
in-process on a free port, with a fresh demo database for every test.

`models.db` is a module-level proxy, so only one app can be live per process;
the `portal` fixture is function-scoped and tears its server down before the
next test builds another.
"""
import logging
import pathlib
import re
import threading

import pytest
from playwright.sync_api import expect

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-quic']
PASSWORD = 'Demo2017pass'
ARTIFACTS = pathlib.Path(__file__).resolve().parents[1] / 'artifacts'
TIMEOUT_MS = 15_000


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'portal_setup(function): called with no arguments inside the fresh '
                   "demo database's connection, before the server starts")


@pytest.fixture(scope='session')
def browser_type_launch_args():
    return {'executable_path': CHROMIUM, 'args': CHROMIUM_ARGS}


@pytest.fixture(scope='session')
def browser_context_args():
    return {'viewport': {'width': 1280, 'height': 900}, 'locale': 'en-GB'}


class Portal:
    """The app under test: its URL, the Flask app (for config) and helpers."""

    def __init__(self, app, url):
        self.app = app
        self.url = url

    def sign_in(self, page, username, snap=None, expect_path='/'):
        page.goto(self.url + '/login')
        if snap:
            snap(page, f'login-{username}')
        page.fill('#username', username)
        page.fill('#password', PASSWORD)
        page.get_by_role('button', name='LOGIN').click()
        page.wait_for_url(re.compile(re.escape(self.url) + re.escape(expect_path) + '$'))
        expect(page.locator('.account')).to_contain_text(f'Signed in as {username}')
        if snap:
            snap(page, f'home-{username}')

    @staticmethod
    def second_factor_code(username):
        """The code a demo staff or moderator account's authenticator app shows
        now, usable again: its last accepted step is set back first (a code is
        accepted once, and tests ask for several within one 30-second step)."""
        import pyotp

        import demo
        from models import Account, db
        with db.connection_context():
            Account.update(totp_last_step=0).where(Account.username == username.upper()).execute()
        return pyotp.TOTP(demo.DEMO_TOTP_SECRET).now()

    def sign_in_with_code(self, page, username, snap=None, expect_path='/'):
        """Sign in a demo staff or moderator account: the password, then the
        code from the authenticator app."""
        page.goto(self.url + '/login')
        page.fill('#username', username)
        page.fill('#password', PASSWORD)
        page.get_by_role('button', name='LOGIN').click()
        page.wait_for_url(self.url + '/login/code')
        expect(page.get_by_role('heading', name='Enter the code from your authenticator app')).to_be_visible()
        if snap:
            snap(page, f'code-{username}')
        page.fill('#code', self.second_factor_code(username))
        page.get_by_role('button', name='SIGN IN').click()
        page.wait_for_url(re.compile(re.escape(self.url) + re.escape(expect_path) + '$'))
        expect(page.locator('.account')).to_contain_text(f'Signed in as {username.upper()}')
        if snap:
            snap(page, f'home-{username}')

    def open_overview(self, page, snap=None):
        page.get_by_role('navigation', name='Main menu').get_by_role(
            'link', name='INTERNAL ASSESSMENT').click()
        page.wait_for_url(self.url + '/internal-assessment/')
        expect(page.locator('details.series').first).to_be_visible()
        if snap:
            snap(page, 'overview')

    def unit_row(self, page, code):
        """The overview row of a unit, found by the code in its title."""
        return page.locator('table.units tbody tr').filter(
            has=page.locator('strong', has_text=f'({code})'))

    def open_unit(self, page, code, snap=None):
        """From anywhere signed in: INTERNAL ASSESSMENT, then the unit's ENTER
        OUTCOMES link. Returns the unit id."""
        if page.url != self.url + '/internal-assessment/':
            self.open_overview(page, snap)
        link = self.unit_row(page, code).get_by_role('link', name=re.compile(r'^ENTER OUTCOMES'))
        unit_id = int(link.get_attribute('id').removeprefix('counts-'))
        link.click()
        page.wait_for_url(f'{self.url}/internal-assessment/{unit_id}')
        expect(page.locator('table.marksheet')).to_be_visible()
        if snap:
            snap(page, f'marksheet-{unit_id}')
        return unit_id


@pytest.fixture
def portal(request, tmp_path):
    """A fresh demo world served on 127.0.0.1:<free port> for one test."""
    from werkzeug.serving import make_server

    from app import create_app
    import demo
    import storage
    from models import db

    logging.getLogger('werkzeug').setLevel(logging.ERROR)
    app = create_app({'DATABASE_URL': f'sqlite:///{tmp_path}/portal.db',
                      'REPORTS_DIR': str(tmp_path / 'reports'), 'SECRET_KEY': 'browser-tests-secret-key-of-40-characters'})
    with db.connection_context():
        storage.migrate()
        demo.load(PASSWORD)
        marker = request.node.get_closest_marker('portal_setup')
        if marker:
            marker.args[0]()
    server = make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Portal(app, f'http://127.0.0.1:{server.server_port}')
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def snap(request):
    """snap(page, step): a full-page screenshot to tests/artifacts/<test>-<nn>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.originalname
    for old in ARTIFACTS.glob(f'{name}-*.png'):
        old.unlink()
    counter = iter(range(1, 1000))

    def take(page, step):
        path = ARTIFACTS / f'{name}-{next(counter):02d}-{step}.png'
        page.screenshot(path=str(path), full_page=True)
        return path
    return take


@pytest.fixture
def page(page):
    """pytest-playwright's page, failing fast instead of after 30 s."""
    page.set_default_timeout(TIMEOUT_MS)
    return page


@pytest.fixture
def new_context(browser, browser_context_args):
    """Further browser contexts (another user, JavaScript off), closed after the test."""
    made = []

    def make(**overrides):
        context = browser.new_context(**{**browser_context_args, **overrides})
        context.set_default_timeout(TIMEOUT_MS)
        made.append(context)
        return context
    yield make
    for context in made:
        context.close()
