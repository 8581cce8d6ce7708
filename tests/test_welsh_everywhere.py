"""Issue 10: no English left on a Welsh page, and no message left
untranslated in the catalogue.

Every GET page (as a page and as htmx asks for it, before and after the
world has outcomes, a submission, a further sample, requests and jobs, and
while the helpline acts), every form refused, the error pages and what a
marksheet save answers are fetched in English and in Welsh by an account
that may open them; a visible text node (or an aria-label, title,
placeholder, alt, or a message in a data-* attribute) that reads the same in
both languages is English left behind, unless it is data: what came from the
database or the user (names, usernames, e-mail addresses, codes, numbers,
dates), English marked lang="en" (a centre's name, a series or unit title
without a Welsh form, the English of the language switch), or a proper noun
(WJEC, CBAC, Cymraeg). English data outside lang="en" on a Welsh page is
flagged too. Every such string is printed with its page.

The PDFs (candidate details, moderator report) and the e-mails are read back
in Welsh: Welsh outcomes, headings and titles, no English line."""
import json
import os
import re
import subprocess
from html.parser import HTMLParser

from babel.messages.pofile import read_po

from models import (Account, Candidate, CandidateFile, Centre, ClericalError, Entry, ExplanatoryNote, FurtherSample,
                    ImportBatch, ModeratorReport, Outbox, Request, RequestEvent, Series, Unit, db)
from tests import factories
from tests.test_access import PUBLIC, expected, job, moderation_world, routes  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, 'translations', 'cy', 'LC_MESSAGES', 'messages.po')

# The same in both languages and no English: names of things, and words Welsh borrows as they are.
PROPER = {'WJEC', 'CBAC', 'Cymraeg', 'English', 'PDF', 'CSV', 'ZIP', 'UCI', 'UTC', 'URL', 'HSCCC'}
CHECKED_ATTRIBUTES = ('aria-label', 'title', 'placeholder', 'alt')
SENTENCE = re.compile(r'[a-z]+ [a-z]+')  # a data-* attribute that script shows, not a list of codes
VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}
ROLE_ORDER = ['teacher', 'admin', 'staff', 'series_staff', 'moderator', 'other_admin', 'other_teacher',
              'teacher_one_unit', 'teacher_no_units']


# --- The catalogue -------------------------------------------------------------

def message_key(message):
    return (message.id if isinstance(message.id, str) else message.id[0], message.context)


def test_every_message_in_the_catalogue_is_translated():
    with open(CATALOGUE, 'rb') as handle:
        catalogue = read_po(handle)
    empty = [message_key(m)[0] for m in catalogue if m.id and not (
        m.string if isinstance(m.string, str) else all(m.string))]
    fuzzy = [message_key(m)[0] for m in catalogue if m.id and m.fuzzy]
    for text in empty:
        print('UNTRANSLATED:', repr(text))
    for text in fuzzy:
        print('FUZZY:', repr(text))
    assert not empty and not fuzzy, f'{len(empty)} untranslated and {len(fuzzy)} fuzzy messages in {CATALOGUE}'


def test_every_message_in_the_sources_is_in_the_catalogue(tmp_path):
    template = tmp_path / 'messages.pot'
    subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'pybabel'), 'extract', '-F', 'babel.cfg',
                    '-k', '_l', '-k', 'lazy_gettext', '--ignore-dirs=.venv tests bench', '-o', str(template), '.'],
                   cwd=ROOT, check=True, capture_output=True)
    with open(template, 'rb') as handle:
        sources = read_po(handle)
    with open(CATALOGUE, 'rb') as handle:
        catalogue = {message_key(m) for m in read_po(handle) if m.id}
    missing = [(m.id, sorted({place for place, _ in m.locations})) for m in sources
               if m.id and message_key(m) not in catalogue]
    for text, places in missing:
        print('NOT IN THE CATALOGUE:', repr(text), places)
    assert len(sources) > 1000  # the extraction found the sources
    assert not missing, f'{len(missing)} messages of the sources are not in {CATALOGUE}'


# --- The pages -----------------------------------------------------------------

class VisibleText(HTMLParser):
    """The text a reader sees or hears: text nodes outside <script>, <style>
    and anything marked lang="en" (but the page itself), the attributes read
    aloud, and the messages script shows from data-* attributes."""

    def __init__(self, skipped_languages=('en',)):
        super().__init__(convert_charrefs=True)
        self.skipped_languages = skipped_languages
        self.stack = []  # (tag, skipped)
        self.texts = []
        self.unmarked = []

    def skipped(self):
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = self.skipped() or tag in ('script', 'style', 'template') or (attrs.get('lang') in self.skipped_languages and tag != 'html')
        if not skip:
            self.texts += [' '.join(value.split()) for name, value in attrs.items() if value and (
                name in CHECKED_ATTRIBUTES or name.startswith('data-') and SENTENCE.search(value))]
            if tag == 'input' and attrs.get('type') in ('submit', 'button') and attrs.get('value'):
                self.texts.append(' '.join(attrs['value'].split()))
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        text = ' '.join(data.split())
        if text and not self.skipped():
            self.texts.append(text)
            if not any(tag in ('title', 'option', 'textarea') for tag, _ in self.stack):
                self.unmarked.append(text)  # shown and not marked as English (a <title> or <option> cannot be)


def parsed(html, skipped_languages=('en',)):
    parser = VisibleText(skipped_languages)
    parser.feed(html)
    parser.close()
    return parser


def visible_texts(html, skipped_languages=('en',)):
    return parsed(html, skipped_languages).texts


def english_data(app):
    """What is English only and shown as it is: centre names, and the titles of
    series and units that have no Welsh form (a Welsh page marks them lang="en")."""
    with db.connection_context():
        found = {name for name, in Centre.select(Centre.name).tuples()}
        found |= {name for name, in Series.select(Series.name).where(Series.name_cy == '').tuples()}
        found |= {title for title, in Unit.select(Unit.title).where(Unit.title_cy == '').tuples()}
    return found


def unmarked_english(page, english):
    """English data in a Welsh page's text outside any lang="en"."""
    return [text for text in dict.fromkeys(parsed(page).unmarked)
            if any(re.search(r'(?<!\w)' + re.escape(value) + r'(?!\w)', text) for value in english)]


def data_strings(app):
    """Every string the pages may show that came from the database or the
    user, as one pattern of whole words, longest first (so that a name is
    taken out before a part of it)."""
    found = {app.config['BOARD_NAME'], app.config['BOARD_SUPPORT_EMAIL'], app.config['BOARD_HELPLINE'],
             app.config['MAIL_FOLDER']}
    fields = [(Centre, ['number', 'name', 'head_of_centre', 'telephone', 'eo_name', 'eo_email', 'post_results_email']),
              (Account, ['username', 'contact_name', 'job_title', 'email', 'postal_address']),
              (Series, ['name', 'name_cy']), (Unit, ['code', 'title', 'title_cy', 'suite']),
              (Candidate, ['number', 'surname', 'forename', 'uci']), (Entry, ['teaching_group']),
              (FurtherSample, ['reason']), (CandidateFile, ['original_name']), (ExplanatoryNote, ['text']),
              (ModeratorReport, ['tasks', 'accuracy', 'administration', 'comments']), (ClericalError, ['note']),
              (RequestEvent, ['note']), (Outbox, ['to', 'subject', 'body']), (ImportBatch, ['original_name'])]
    with db.connection_context():
        for model, names in fields:
            for row in model.select(*[getattr(model, name) for name in names]).tuples():
                for value in row:
                    if value:
                        found.add(str(value))
                        found.update(line.strip() for line in str(value).splitlines() if line.strip())
        for candidate in Candidate.select():
            found.add(candidate.display_name)
        for details, in Request.select(Request.details).tuples():
            found.update(str(v) for v in json.loads(details or '{}').values() if isinstance(v, str) and v)
    values = sorted(found, key=len, reverse=True)
    return re.compile('|'.join(r'(?<!\w)' + re.escape(value) + r'(?!\w)' for value in values))


WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def is_data(text, data):
    """Whether a string the same in both languages holds no words of the
    interface: take out data and proper nouns, then codes (anything with a
    digit), and see whether a word is left."""
    text = data.sub(' ', text)
    words = [w for w in re.split(r'\s+', text) if w and not any(c.isdigit() for c in w) and not (
        '://' in w or '@' in w)]  # codes, addresses
    return not any(word not in PROPER for token in words for word in WORD.findall(token))


def set_language(client, language, url=''):
    response = client.post('/language', data={'lang': language, 'next': '/'})
    assert response.status_code == 303, (url, response.status_code)


def english_left(client, url, data, headers=None, english_only=None):
    """[(text, url)] for every string of the Welsh page that the English page
    has too and that is not data, and for English data (`english_only`) not
    marked lang="en"; and the Welsh page's status."""
    set_language(client, 'en', url)
    english = client.get(url, headers=headers)
    set_language(client, 'cy', url)
    welsh = client.get(url, headers=headers)
    if welsh.status_code != 200 or not welsh.mimetype == 'text/html':
        return [], welsh.status_code
    same = set(visible_texts(english.get_data(as_text=True), ('en', 'cy')))  # Welsh on an English page is Welsh
    page = welsh.get_data(as_text=True)
    assert '<html lang="cy">' in page or not page.lstrip().lower().startswith('<!doctype'), url
    left = [(text, url) for text in dict.fromkeys(visible_texts(page)) if text in same and not is_data(text, data)]
    if english_only is not None:
        left += [(f'{text} [English data not marked lang="en"]', url) for text in unmarked_english(page, english_only)]
    return left, 200


def signed_in(app, world, role):
    client = app.test_client()
    if role != 'anonymous':
        response = client.login(getattr(world, role).username)
        client.get(response.location)
    else:
        client.get('/login')
    return client


def role_for(rule):
    if rule.endpoint in PUBLIC:
        return 'anonymous'
    for role in ROLE_ORDER:
        if expected(role, rule) == 'open':
            return role
    return None


WELSH_TITLE = 'DAMCANIAETHAU TROSEDDEGOL'
WELSH_SERIES = 'CYMWYSTERAU LEFEL 3 MEHEFIN 2017'


def richer_world(app, world):
    """What makes more of each page show: 9611/L3 of 68999 submitted with its
    sample (and a Welsh title; 9613/L3 has none), a further sample and a
    clerical error on 9613/L3, requests of every kind (one decided), jobs in
    every state, and e-mails in both languages. The Exams Officer writes in Welsh."""
    import datetime
    import moderation
    import requests_queue
    from models import Job, Marksheet, ModeratorAssignment
    with db.connection_context():
        Series.update(name_cy=WELSH_SERIES).where(Series.id == world.series.id).execute()
        Unit.update(title_cy=WELSH_TITLE).where(Unit.id == world.unit.id).execute()
        Account.update(language='cy').where(Account.id == world.admin.id).execute()
        Centre.update(eo_name='Mr J Bryant', eo_email='exams@example-high.sch.uk').where(
            Centre.id == world.centre.id).execute()
        admin, centre = Account.get_by_id(world.admin.id), Centre.get_by_id(world.centre.id)
        factories.complete(world.entries, world.admin, 'PMDPM')
    client = signed_in(app, world, 'admin')  # submitted as the Exams Officer does: the receipt, in Welsh
    client.get(f'/internal-assessment/{world.unit.id}/submit')
    assert client.post(f'/internal-assessment/{world.unit.id}/submit').status_code == 303
    with db.connection_context():
        factories.complete(world.other_unit_entries, world.admin, 'PMD')
        Marksheet(centre, Unit.get_by_id(world.other_unit.id)).submit(admin)
        factories.complete(world.marks_entries[:4], world.admin, '12')
        assignment = ModeratorAssignment.create(centre=centre, unit=world.other_unit, moderator=world.moderator)
        moderator = Account.get_by_id(world.moderator.id)
        chosen = [e.id for e in moderation.further_sample_choices(assignment)[:2]]
        moderation.flag_clerical_error(assignment, chosen[1], 'D', 'The work shows a Distinction', moderator)
        staff = Account.get_by_id(world.staff.id)
        entry = Entry.get_by_id(world.entries[2].id)
        requests_queue.record_amendment(centre, Unit.get_by_id(world.unit.id), entry, 'D', 'EHS/1',
                                        datetime.date(2017, 6, 2), staff)
        deletion = requests_queue.record_centre_request('file_deletion', centre, Unit.get_by_id(world.unit.id),
                                                        'Uploaded against the wrong candidate', staff)
        requests_queue.decide(deletion, 'rejected', staff, 'The files are needed for moderation')
        for status in ('queued', 'started', 'failed'):
            Job.create(kind='candidate_report', centre=world.centre.id, account=world.teacher.id, status=status,
                       args=json.dumps({'unit': world.unit.id}))
    client = signed_in(app, world, 'moderator')  # a further sample, as the moderator asks: the centre is e-mailed
    client.get(f'/moderation/centres/{world.centre.id}/units/{world.other_unit.id}/further-sample')
    response = client.post(f'/moderation/centres/{world.centre.id}/units/{world.other_unit.id}/further-sample',
                           data={'entry': chosen[:1], 'reason': 'Check the top band', 'due': '2030-06-15'})
    assert response.status_code == 303, re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))[-2500:]
    return world


def test_no_english_is_left_on_a_welsh_page(app, moderation_world, job):
    world = moderation_world
    found, seen, listed = [], 0, list(routes(app, world, job))

    def crawl(clients):
        nonlocal seen
        data, english = data_strings(app), english_data(app)
        for rule, url, method in listed:
            if method != 'GET' or rule.endpoint in ('static', 'auth.logout', 'health.healthz'):
                continue
            role = role_for(rule)
            if role is None:
                continue
            if role not in clients:
                clients[role] = signed_in(app, world, role)
            for headers, how in ((None, ''), ({'HX-Request': 'true'}, ', as htmx asks')):
                left, status = english_left(clients[role], url, data, headers, english)
                seen += status == 200
                found.extend((text, f'{url} ({rule.endpoint}, as {role}{how})') for text, _ in left)
        return data, english

    crawl({})  # as the world begins: nothing entered
    richer_world(app, world)
    clients = {}
    data, english = crawl(clients)  # submitted, sampled, asked for, decided
    from models import Job
    with db.connection_context():  # a report job waiting, running, failed
        waiting = [job_id for job_id, in Job.select(Job.id).where(Job.status != 'finished').tuples()]
    assert len(waiting) == 3
    for job_id in waiting:
        for headers in (None, {'HX-Request': 'true'}):
            url = f'/internal-assessment/reports/jobs/{job_id}'
            left, status = english_left(clients['teacher'], url, data, headers, english)
            assert status == 200, url
            found.extend((text, f'{url} (a job not finished)') for text, _ in left)
    staff = clients['staff']
    staff.get(f'/helpline/impersonation/accounts/{world.teacher.id}')
    response = staff.post('/helpline/impersonation/start', data={
        'account': world.teacher.id, 'reason': 'Asked on the telephone', 'ticket': 'T-1',
        'code': factories.second_factor_code(world.staff.username)})
    assert response.status_code == 303, response.status_code
    staff.get(response.location)  # the new session's CSRF token
    for url in ('/', '/internal-assessment/', f'/internal-assessment/{world.unit.id}',
                f'/internal-assessment/{world.other_unit.id}', '/internal-assessment/reports/'):
        left, status = english_left(staff, url, data, english_only=english)
        assert status == 200, url
        found.extend((text, f'{url} (acting as the teacher)') for text, _ in left)
    for url, client in (('/no-such-page', clients['teacher']), ('/staff/outbox/', clients['teacher']),
                        ('/internal-assessment/999999', clients['teacher'])):  # the error pages
        set_language(client, 'en', url)
        english_page = client.get(url)
        set_language(client, 'cy', url)
        welsh_page = client.get(url)
        assert welsh_page.status_code in (403, 404), url
        same = set(visible_texts(english_page.get_data(as_text=True), ('en', 'cy')))
        found.extend((text, f'{url} (refused, {welsh_page.status_code})')
                     for text in visible_texts(welsh_page.get_data(as_text=True))
                     if text in same and not is_data(text, data))
    for text, where in found:
        print(f'ENGLISH ON A WELSH PAGE: {text!r} on {where}')
    print('PAGES SEEN', seen)
    assert seen > 200
    assert not found, f'{len(found)} English strings on Welsh pages'


REFUSED_SKIP = ('auth.logout', 'auth.language', 'auth.stay', 'static')


def test_no_english_is_left_on_a_refused_form(app, moderation_world, job):
    """Every form posted empty, as a page and as htmx posts it: the refusals
    (error summaries, messages beside the fields) are Welsh on a Welsh page."""
    world = moderation_world
    listed = list(routes(app, world, job))
    richer_world(app, world)
    data, clients, found, seen = data_strings(app), {}, [], 0
    for rule, url, method in listed:
        if method != 'POST' or rule.endpoint in REFUSED_SKIP or rule.endpoint.startswith('impersonation.'):
            continue
        role = role_for(rule)
        if role is None:
            continue
        if role not in clients:
            clients[role] = signed_in(app, world, role)
        client = clients[role]
        for headers, how in ((None, ''), ({'HX-Request': 'true'}, ', as htmx posts it')):
            answers = {}
            for language in ('en', 'cy'):
                set_language(client, language, url)
                answers[language] = client.post(url, data={}, headers=headers)
            if answers['cy'].mimetype != 'text/html' or answers['cy'].status_code < 400:
                continue
            seen += 1
            same = set(visible_texts(answers['en'].get_data(as_text=True), ('en', 'cy')))
            found.extend((text, f'POST {url} ({rule.endpoint}, as {role}{how})')
                         for text in dict.fromkeys(visible_texts(answers['cy'].get_data(as_text=True)))
                         if text in same and not is_data(text, data))
    for text, where in found:
        print(f'ENGLISH ON A WELSH PAGE: {text!r} on {where}')
    assert seen > 30
    assert not found, f'{len(found)} English strings on Welsh refusals'


# --- The PDF report and the e-mails -------------------------------------------

def welsh(text, **params):
    from flask_babel import force_locale, gettext
    with force_locale('cy'):
        return gettext(text, **params)


def pdf_in_welsh(client, start, tmp_path):
    """Ask for a PDF from a Welsh page, as the button does; its text (the job runs here in tests)."""
    page = start.rsplit('/', 1)[0]
    client.get(page)
    response = client.post(start)
    assert response.status_code == 303, response.status_code
    download = client.get(response.location.rstrip('/') + '/file')
    assert download.status_code == 200 and download.mimetype == 'application/pdf', response.location
    path = tmp_path / 'welsh.pdf'
    path.write_bytes(download.data)
    return subprocess.run(['pdftotext', '-layout', str(path), '-'], capture_output=True, text=True,
                          check=True).stdout


def test_the_moderator_report_pdf_in_welsh_has_welsh_headings_and_titles(app, moderation_world, as_, tmp_path):
    world = moderation_world  # 68999's report on 9611/L3 is complete and past its results day
    with db.connection_context():
        Series.update(name_cy=WELSH_SERIES).where(Series.id == world.series.id).execute()
    client = as_('teacher')
    set_language(client, 'cy')
    text = pdf_in_welsh(client, f'/internal-assessment/results/{world.unit.id}/pdf', tmp_path)
    with app.test_request_context():
        headings = [welsh('MODERATOR’S REPORT'), welsh('Tasks'), welsh('Accuracy of assessment'),
                    welsh('Administration'), welsh('Comments'), welsh('CENTRE: %(number)s', number='68999'),
                    welsh('Page') + ' 1 ' + welsh('of') + ' 1']
    for heading in headings:
        assert heading in text, heading
    for english in ('MODERATOR’S REPORT', 'Accuracy of assessment', 'Administration', 'CENTRE:', 'Page 1 of 1'):
        assert english not in text, english
    assert f'{WELSH_SERIES} CRIMINOLOGICAL THEORIES (9611/L3)' in text  # the unit has no Welsh title


def test_the_pdf_report_in_welsh_has_welsh_outcomes_headings_and_titles(app, world, as_, tmp_path):
    with db.connection_context():
        factories.complete(world.entries, world.admin, 'PMDA')
        Series.update(name_cy=WELSH_SERIES).where(Series.id == world.series.id).execute()
        Unit.update(title_cy=WELSH_TITLE).where(Unit.id == world.unit.id).execute()
    client = as_('teacher')
    set_language(client, 'cy')
    text = pdf_in_welsh(client, f'/internal-assessment/reports/{world.unit.id}/pdf', tmp_path)
    with app.test_request_context():
        words = {code: welsh(english) for code, english in
                 (('P', 'Pass'), ('M', 'Merit'), ('D', 'Distinction'), ('A', 'Absent'))}
        headings = [welsh('CANDIDATE DETAILS REPORT'), welsh('Cand No.'), welsh('Cand Name'), welsh('Grade'),
                    welsh('CENTRE: %(number)s', number='68999'), welsh('Page') + ' 1 ' + welsh('of') + ' 1']
    assert words == {'P': 'Llwyddo', 'M': 'Teilyngdod', 'D': 'Rhagoriaeth', 'A': words['A']} and words['A'] != 'Absent'
    for word in words.values():  # each outcome, in Welsh
        assert re.search(rf'\b{word}\s*$', text, re.M), word
    assert not re.search(r'\b(Pass|Merit|Distinction|Absent)\b', text), text
    for heading in headings:
        assert heading in text, heading
    for english in ('CANDIDATE DETAILS REPORT', 'Cand No.', 'Cand Name', 'Page 1 of 1', 'candidates'):
        assert english not in text, english
    assert f'{WELSH_SERIES} {WELSH_TITLE} (9611/L3)' in text and 'CRIMINOLOGICAL' not in text


def test_an_email_to_a_welsh_account_names_the_unit_and_series_in_welsh(app, world, as_):
    """The submission receipt to a Welsh administrator, and the further
    sample to a Welsh Exams Officer, use the Welsh titles where they exist."""
    richer_world(app, world)
    with db.connection_context():
        receipt = Outbox.get(Outbox.key.startswith('submitted-'))
        further = Outbox.get(Outbox.key.startswith('further-sample'))
    assert receipt.language == further.language == 'cy'
    assert f'{WELSH_SERIES} {WELSH_TITLE} (9611/L3)' in receipt.body, receipt.body
    assert 'CRIMINOLOGICAL' not in receipt.body and 'LEVEL 3 QUALIFICATIONS' not in receipt.body
    # 9613/L3 has no Welsh title: its English one, in a Welsh sentence and a Welsh series
    assert f'{WELSH_SERIES} SOCIAL CONTROL (9613/L3)' in further.body, further.body
    assert 'LEVEL 3 QUALIFICATIONS' not in further.body and 'Dear' not in further.body
    with db.connection_context():
        for mail in Outbox.select().where(Outbox.language == 'cy'):
            assert 'CRIMINOLOGICAL' not in mail.body + mail.subject, mail.key


def test_no_english_is_left_in_a_welsh_email(app, world, monkeypatch):
    """Every e-mail the product writes, rendered in English and in Welsh: a
    line of the Welsh one that the English one has too, and that is not
    data, is English left behind."""
    from flask import render_template
    from flask_babel import force_locale
    from jobs import emails
    written, real_queue = [], emails.queue

    def queue(key, to, template, language='en', secret='', **context):
        both = {}
        for each in ('en', 'cy'):
            with force_locale(each):
                both[each] = [render_template(f'emails/{template}{part}.txt', board=app.config,
                                              secret=Outbox.SECRET_MARK, **context)
                              for part in ('.subject', '')]
        written.append((template, both))
        return real_queue(key, to, template, language, secret, **context)
    monkeypatch.setattr(emails, 'queue', queue)

    richer_world(app, world)  # a submission receipt, a further sample
    with db.connection_context():
        Unit.update(e_submission=True).where(Unit.id == world.unit.id).execute()
        Account.update(email='eo@example-high.sch.uk').where(Account.id == world.admin.id).execute()
    staff = signed_in(app, world, 'staff')
    for kind, decision in (('file_deletion', 'confirm'), ('e_submission_opt_out', 'reject')):
        staff.get(f'/helpline/requests/new?kind={kind}&centre_number=68999')
        response = staff.post('/helpline/requests/new', data={
            'kind': kind, 'centre_number': '68999', 'unit_id': str(world.unit.id), 'reason': 'Asked in writing'})
        assert response.status_code == 303, response.status_code
        staff.get(response.location)
        assert staff.post(response.location.rstrip('/') + f'/{decision}',
                          data={'note': 'Checked with the centre'}).status_code == 303
    anonymous = signed_in(app, world, 'anonymous')  # a password reset
    anonymous.get('/forgotten-password')
    anonymous.post('/forgotten-password', data={'username': world.admin.username})
    data = data_strings(app)
    found = []
    for template, both in written:
        english = {line.strip() for text in both['en'] for line in text.splitlines()}
        for text in both['cy']:
            for line in text.splitlines():
                line = ' '.join(line.split())
                if line and line in english and not is_data(line, data):
                    found.append((template, line))
    for template, line in found:
        print(f'ENGLISH IN A WELSH E-MAIL: {line!r} in {template}')
    assert {'submission_receipt', 'further_sample', 'file_deletion_decided', 'e_submission_opt_out_decided',
            'reset'} <= {template for template, _ in written}
    assert all(both['cy'][1] != both['en'][1] for _, both in written)  # each was written in Welsh at all
    assert not found, f'{len(found)} English lines in Welsh e-mails'
    with db.connection_context():  # and those about 9611/L3 name it in Welsh
        decided = list(Outbox.select().where(Outbox.key.startswith('request-'), Outbox.language == 'cy'))
    assert len(decided) == 2 and all(WELSH_TITLE in mail.body for mail in decided), [m.body for m in decided]


def test_no_english_is_left_in_what_a_marksheet_save_answers(app, world):
    """A save as htmx makes it (taken, refused, stale) and the whole page
    posted without JavaScript, answered in English and in Welsh."""
    client = signed_in(app, world, 'teacher')
    data = data_strings(app)
    base = f'/internal-assessment/{world.unit.id}'
    client.get(base)
    entries = iter(world.entries)
    found, answers = [], {'en': [], 'cy': []}
    for language in ('en', 'cy'):
        set_language(client, language)
        taken, refused = next(entries), next(entries)
        answers[language] += [
            client.htmx(f'{base}/entries/{taken.id}', {f'value-{taken.id}': 'M', f'version-{taken.id}': 0}),
            client.htmx(f'{base}/entries/{refused.id}', {f'value-{refused.id}': 'X', f'version-{refused.id}': 0}),
            client.htmx(f'{base}/entries/{world.entries[0].id}',  # saved in English first: stale in both
                        {f'value-{world.entries[0].id}': 'D', f'version-{world.entries[0].id}': 0}),
            client.post(base, data={f'value-{refused.id}': 'X', f'version-{refused.id}': 0})]
    assert [r.status_code for r in answers['cy']] == [r.status_code for r in answers['en']]
    assert answers['cy'][1].status_code == 422 and answers['cy'][2].status_code == 409
    for english, welsh in zip(answers['en'], answers['cy']):
        same = set(visible_texts(english.get_data(as_text=True), ('en', 'cy')))
        texts = visible_texts(welsh.get_data(as_text=True))
        assert texts, welsh.request.path
        found += [(text, welsh.request.path, welsh.status_code) for text in dict.fromkeys(texts)
                  if text in same and not is_data(text, data)]
    for text, path, status in found:
        print(f'ENGLISH ON A WELSH ANSWER: {text!r} from POST {path} ({status})')
    assert not found, f'{len(found)} English strings in Welsh answers'
