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
import time

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


# axe-core, vendored (see vendor/README.md), run on every page a test snaps:
# WCAG 2.0/2.1/2.2 A and AA and axe's best practices, no rule turned off.
AXE = pathlib.Path(__file__).parent / 'vendor' / 'axe-4.10.3.min.js'
AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']
# Runs the whole document. Page.evaluate goes through the DevTools protocol, so
# the app's Content-Security-Policy (no inline script) does not stop it
# (add_script_tag would be refused); pages with JavaScript off: see below.
AXE_RUN = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                            resultTypes: ['violations']});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        count: v.nodes.length,
        targets: v.nodes.slice(0, 4).map(n => n.target.join(' ')),
    }));
}"""


def axe_violations(page):
    """The axe violations of the page as it is now."""
    if getattr(page.context, 'portal_javascript_off', False):
        return axe_violations_without_javascript(page)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding='utf-8') + '\n;undefined')
    return page.evaluate(AXE_RUN, AXE_TAGS)


def axe_violations_without_javascript(page):
    """axe on a page shown with JavaScript off. Chromium runs no promise jobs
    there, so axe (which is asynchronous) never finishes: its DOM is checked
    instead in a JavaScript-on copy served at the same URL (so its styles
    load), without the page's scripts and with <noscript> unwrapped, as a
    browser without JavaScript shows it."""
    html = page.content()
    html = re.sub(r'<script\b[^>]*>.*?</script>', '', html, flags=re.S | re.I)
    html = re.sub(r'</?noscript>', '', html, flags=re.I)
    context = page.context.browser.new_context(viewport=page.viewport_size, locale='en-GB')
    try:
        copy = context.new_page()
        copy.route(page.url, lambda route: route.fulfill(
            body=html, content_type='text/html; charset=utf-8'))
        copy.goto(page.url)
        return axe_violations(copy)
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that snapped a page with accessibility violations fails once it
    has run to its end, listing every violation of every step."""
    result = yield
    found = getattr(item, 'axe_violations', None)
    if found:
        lines = [f"{len(found)} accessibility violation(s) found by axe-core:"]
        for step, url, v in found:
            lines.append(f"  [{step}] {url}: {v['id']} ({v['impact']}, {v['count']}x) "
                         f"{v['help']}: {', '.join(v['targets'])}")
        pytest.fail('\n'.join(lines), pytrace=False)
    return result


@pytest.fixture
def snap(request):
    """snap(page, step): a full-page screenshot to tests/artifacts/<test>-<nn>-<step>.png,
    and an axe-core check of the page (violations fail the test at its end)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.originalname
    for old in ARTIFACTS.glob(f'{name}-*.png'):
        old.unlink()
    counter = iter(range(1, 1000))
    found = request.node.axe_violations = []

    def take(page, step):
        path = ARTIFACTS / f'{name}-{next(counter):02d}-{step}.png'
        page.screenshot(path=str(path), full_page=True)
        started = time.perf_counter()
        found.extend((path.stem, page.url, v) for v in axe_violations(page))
        AXE_TIME['seconds'] += time.perf_counter() - started
        AXE_TIME['pages'] += 1
        return path
    return take


AXE_TIME = {'seconds': 0.0, 'pages': 0}


def pytest_terminal_summary(terminalreporter):
    if AXE_TIME['pages']:
        terminalreporter.write_line(
            f"axe-core checked {AXE_TIME['pages']} pages in {AXE_TIME['seconds']:.1f} s")


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
        context.portal_javascript_off = overrides.get('java_script_enabled') is False
        context.set_default_timeout(TIMEOUT_MS)
        made.append(context)
        return context
    yield make
    for context in made:
        context.close()
