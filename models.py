"""The domain of SPEC.md section 2, in peewee. Knows nothing of Flask.

Invariants live in constraints (one outcome per entry, one submission per
centre and unit, one sample row per entry, unique case-folded usernames);
read-then-write work goes through `writing()`, and every change of data
writes an `AuditLog` row in the same transaction.
"""
import contextlib
import datetime
import hashlib
import hmac
import json
import re
import secrets

from peewee import (BigIntegerField, BooleanField, CharField, Check, DatabaseProxy, DateField,
                    DateTimeField, ForeignKeyField, IntegerField,
                    IntegrityError, Model, SqliteDatabase, TextField, fn, JOIN,
                    Case)

db = DatabaseProxy()


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def parse_date(text, first_year=1900, last_year=2100):
    """A date typed as 2017-05-25 (a date picker, ISO) or 25/05/2017 (as
    people and Excel write it in the UK), within the years given; else None."""
    for form in ('%Y-%m-%d', '%d/%m/%Y'):
        try:
            day = datetime.datetime.strptime((text or '').strip(), form).date()
        except ValueError:
            continue
        return day if first_year <= day.year <= last_year else None
    return None


def writing():
    """A read-then-write transaction: IMMEDIATE on SQLite, so concurrent
    writers queue on the busy timeout instead of failing (QUALITY REL-1)."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic('IMMEDIATE')
    return db.atomic()


def lock_marksheet(centre_id, unit_id):
    """Serialise saves and submission of one centre's unit (REL-3).
    SQLite's IMMEDIATE transaction already holds the only write lock."""
    if not isinstance(db.obj, SqliteDatabase):
        db.execute_sql('SELECT pg_advisory_xact_lock(%s, %s)',
                       (centre_id, unit_id))


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


# --- Board reference data -------------------------------------------------

# Facilities an administrator can grant to a secondary account (SPEC 2).
# Coursework Marks facilities open a suite's units, all or chosen ones.
FACILITIES = [
    ('FAQ', 'FAQ', None),
    ('RESOURCES', 'Resources PDF download', None),
    ('PAST_PAPERS', 'Past Papers / Marking Schemes', None),
    ('CIRCULARS', 'Circulars', None),
    ('ITEM_LEVEL_DATA', 'Item Level Data', None),
    ('ACCESS_ARRANGEMENTS', 'Access Arrangements Online / Modified Papers', None),
    ('GCE_NOMINATED_TEXTS', 'GCE English Nominated Texts', None),
    ('GCSE_SCIENCE', 'GCSE Science Assessment', None),
    ('CW_GCE', 'Coursework Marks (GCE)', 'GCE'),
    ('CW_GCSE', 'Coursework Marks (GCSE)', 'GCSE'),
    ('CW_FUNCTIONAL_SKILLS', 'Coursework Marks (FUNCTIONAL SKILLS)', 'FUNCTIONAL SKILLS'),
    ('CW_ENTRY_PATHWAYS', 'Coursework Marks (ENTRY PATHWAYS)', 'ENTRY PATHWAYS'),
    ('CW_WELSH_BAC', 'Coursework Marks (WELSH BAC)', 'WELSH BAC'),
    ('CW_ENTRY_LEVEL', 'Coursework Marks (ENTRY LEVEL)', 'ENTRY LEVEL'),
    ('CW_LEVEL_3', 'Coursework Marks (LEVEL 3 APPLIED)', 'LEVEL 3'),
    ('CW_VOCATIONAL', 'Coursework Marks (VOCATIONAL AWARDS)', 'VOCATIONAL AWARDS'),
    ('CW_MODERN_LANGUAGES', 'Coursework Marks (MODERN LANGUAGES)', 'MODERN LANGUAGES'),
    ('CW_WORK_WELSH', 'Coursework Marks (WORK WELSH)', 'WORK WELSH'),
    ('CW_HSCCC', 'Coursework Marks (HSCCC)', 'HSCCC'),
]
PRIMARY_ONLY_FACILITIES = ['ENTRY_UPLOAD', 'POST_RESULTS', 'ACCOUNT_ADMIN']
SUITES = [suite for _, _, suite in FACILITIES if suite]
SUITE_FACILITY = {suite: code for code, _, suite in FACILITIES if suite}

GRADES = {'P': ('Pass', 1), 'M': ('Merit', 2), 'D': ('Distinction', 3)}
ABSENT = 'A'
GRADE_OF_SCORE = {score: code for code, (_, score) in GRADES.items()}
ABSENT_SCORE = -1
GRADE_WORDS = {'P': 'P', 'PASS': 'P', 'M': 'M', 'MERIT': 'M',
               'D': 'D', 'DISTINCTION': 'D', 'DIST': 'D',
               'A': ABSENT, 'ABS': ABSENT, 'ABSENT': ABSENT,
               # Welsh, so a Welsh export pastes back and a Welsh mark box saves
               'L': 'P', 'LLWYDDO': 'P', 'T': 'M', 'TEILYNGDOD': 'M',
               'R': 'D', 'RHAGORIAETH': 'D', 'ABSENNOL': ABSENT}

ACCOUNT_KINDS = ('administrator', 'user', 'moderator', 'staff')
LANGUAGES = ('en', 'cy')


class DomainError(Exception):
    """A refusal the user must be told about: `code` names the message,
    `params` fill it in. Views translate; models stay language-free."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


# --- Centres and accounts ---------------------------------------------------

class Centre(BaseModel):
    number = CharField(max_length=5, unique=True,
                       constraints=[Check("length(number) = 5")])
    name = CharField(max_length=200)
    head_of_centre = CharField(max_length=200, default='')
    telephone = CharField(max_length=40, default='')
    eo_name = CharField(max_length=200, default='')
    eo_email = CharField(max_length=254, default='')
    post_results_email = CharField(max_length=254, null=True)

    @classmethod
    def locked(cls, centre_id):
        """The centre's row, held until commit so that two changes of one centre
        queue (SQLite's IMMEDIATE transaction already holds the only write lock)."""
        query = cls.select().where(cls.id == centre_id)
        return (query.for_update() if db.obj.for_update else query).get()

    @staticmethod
    def number_is_valid(number):
        return bool(re.fullmatch(r'\d{5}', number or ''))


class Account(BaseModel):
    # Stored upper-cased: the unique index makes usernames case-insensitive.
    username = CharField(max_length=40, unique=True)
    kind = CharField(max_length=20, constraints=[
        Check("kind IN ('administrator', 'user', 'moderator', 'staff')")])
    centre = ForeignKeyField(Centre, null=True, backref='accounts',
                             on_delete='RESTRICT')
    password_hash = CharField(max_length=255, default='')
    contact_name = CharField(max_length=200, default='')
    job_title = CharField(max_length=200, default='')
    email = CharField(max_length=254, default='')
    postal_address = TextField(default='')  # moderators: where samples go
    language = CharField(max_length=2, default='en',
                         constraints=[Check("language IN ('en', 'cy')")])
    active = BooleanField(default=True)
    # Carried by every session of the account (with its id): a new one ends
    # them all at their next request, and a leaked SECRET_KEY alone cannot
    # mint a session without it (QUALITY SESS-1).
    session_secret = CharField(max_length=64, default=lambda: secrets.token_urlsafe(24))
    # Staff and moderators: the second factor (TOTP), empty until enrolled,
    # and the last time step accepted, so that a code works once.
    totp_secret = CharField(max_length=64, default='')
    totp_last_step = BigIntegerField(default=0)
    last_sign_in_at = DateTimeField(null=True)  # by the holder; never by staff acting as them
    # Staff only: 'helpline', 'series' or both, space-separated (SPEC 1).
    staff_roles = CharField(max_length=40, default='')
    created_at = DateTimeField(default=utcnow)

    class Meta:
        constraints = [Check(
            "(kind IN ('administrator', 'user') AND centre_id IS NOT NULL) OR "
            "(kind IN ('moderator', 'staff') AND centre_id IS NULL)")]

    @staticmethod
    def username_form_error(kind, username, centre_number=None):
        """None if `username` has the form its kind needs (SPEC 1), else a code."""
        name = (username or '').upper()
        if kind == 'administrator':
            ok = name == centre_number
        elif kind == 'user':
            ok = bool(re.fullmatch(re.escape(centre_number or '-') + r'[A-Z0-9]{1,3}', name))
        else:
            ok = bool(re.fullmatch(r'[A-Z][A-Z0-9._-]{2,39}', name))
        return None if ok else 'username_form'

    # What Flask-Login expects of a user, without importing it here.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return f'{self.id}:{self.session_secret}'

    def holds_session(self, secret):
        """True if a session carrying `secret` is still one of this account's."""
        return self.active and hmac.compare_digest(self.session_secret.encode(), (secret or '').encode())

    @classmethod
    def end_sessions(cls, account_id, **changes):
        """Every session of the account ends at its next request (with
        `changes` made in the same statement)."""
        return cls.update(session_secret=secrets.token_urlsafe(24), **changes).where(
            cls.id == account_id).execute()

    @classmethod
    def set_password(cls, account_id, password_hash):
        """A new password (or none, ''): every session and every e-mailed
        link of the account ends (QUALITY SESS-1, AUTH-1). Call in a transaction."""
        cls.end_sessions(account_id, password_hash=password_hash)
        Token.update(expires_at=utcnow()).where(Token.account == account_id, Token.used_at.is_null(),
                                                Token.expires_at > utcnow()).execute()

    @classmethod
    def by_username(cls, username):
        return cls.get_or_none(cls.username == (username or '').strip().upper())

    @property
    def needs_second_factor(self):
        """Staff and moderators can act for, or see, any centre (SPEC 3.1)."""
        return self.kind in ('staff', 'moderator')

    def has_staff_role(self, role):
        return self.kind == 'staff' and role in self.staff_roles.split()

    @property
    def is_centre_account(self):
        return self.kind in ('administrator', 'user')

    @property
    def is_administrator(self):
        return self.kind == 'administrator'

    def permitted_units(self):
        """The units this account may open, as a query (SPEC 2, facilities)."""
        if self.kind == 'administrator':
            return Unit.select()
        if self.kind != 'user':
            return Unit.select().where(False)
        all_suites = [SUITE_FACILITY_SUITE[g.facility]
                      for g in self.grants()
                      if g.facility in SUITE_FACILITY_SUITE and g.all_papers]
        chosen = UnitGrant.select(UnitGrant.unit).where(UnitGrant.account == self)
        return Unit.select().where(Unit.suite.in_(all_suites) | Unit.id.in_(chosen))

    def may_use_internal_assessment(self):
        if self.kind == 'administrator':
            return True
        return self.kind == 'user' and any(
            g.facility in SUITE_FACILITY_SUITE for g in self.grants())

    def grants(self):
        """Facility grants, read once per loaded account (that is, per request)."""
        if not hasattr(self, '_grants'):
            self._grants = list(self.facility_grants)
        return self._grants


SUITE_FACILITY_SUITE = {code: suite for code, _, suite in FACILITIES if suite}


class FacilityGrant(BaseModel):
    account = ForeignKeyField(Account, backref='facility_grants', on_delete='CASCADE')
    facility = CharField(max_length=40)
    all_papers = BooleanField(default=False)

    class Meta:
        indexes = ((('account', 'facility'), True),)


# --- Series, units, candidates, entries ------------------------------------

class Series(BaseModel):
    name = CharField(max_length=200, unique=True)
    name_cy = CharField(max_length=200, default='')  # the Welsh form; '' if none
    results_day = DateField(null=True)
    position = IntegerField(default=0)

    def name_in(self, language):
        return self.name_cy if language == 'cy' and self.name_cy else self.name


class Unit(BaseModel):
    series = ForeignKeyField(Series, backref='units', on_delete='RESTRICT')
    code = CharField(max_length=20)
    title = CharField(max_length=200)
    title_cy = CharField(max_length=200, default='')  # the Welsh form; '' if none
    suite = CharField(max_length=40)
    scheme = CharField(max_length=10, default='grades',
                       constraints=[Check("scheme IN ('grades', 'marks')")])
    max_mark = IntegerField(null=True)
    deadline = DateField(null=True)
    e_submission = BooleanField(default=False)

    class Meta:
        indexes = ((('series', 'code'), True),)
        constraints = [Check("scheme = 'grades' OR (max_mark IS NOT NULL AND max_mark >= 1)")]

    def title_in(self, language):
        return self.title_cy if language == 'cy' and self.title_cy else self.title

    @property
    def full_title(self):
        return f'{self.series.name} {self.title} ({self.code})'

    def parse_outcome(self, raw):
        """(value, score) for what a teacher typed or chose, '' meaning none.
        Raises DomainError when the value is not in the unit's scheme."""
        text = (raw or '').strip().upper()
        if not text:
            return None, None
        if GRADE_WORDS.get(text) == ABSENT:
            return ABSENT, ABSENT_SCORE
        if self.scheme == 'grades':
            code = GRADE_WORDS.get(text)
            if code is None:
                raise DomainError('not_a_grade', value=raw.strip()[:40])
            return code, GRADES[code][1]
        if not re.fullmatch(r'-?\d+', text):
            raise DomainError('not_a_mark', value=raw.strip()[:40], maximum=self.max_mark)
        mark = int(text)
        if not 0 <= mark <= self.max_mark:
            raise DomainError('mark_out_of_range', value=mark, maximum=self.max_mark)
        return str(mark), mark


class UnitGrant(BaseModel):
    """A unit a secondary account may open when its suite's facility is
    granted without 'All papers'."""
    account = ForeignKeyField(Account, backref='unit_grants', on_delete='CASCADE')
    unit = ForeignKeyField(Unit, on_delete='CASCADE')

    class Meta:
        indexes = ((('account', 'unit'), True),)


class Candidate(BaseModel):
    centre = ForeignKeyField(Centre, backref='candidates', on_delete='RESTRICT')
    number = CharField(max_length=4, constraints=[Check("length(number) = 4")])
    surname = CharField(max_length=100)
    forename = CharField(max_length=100)
    dob = DateField(null=True)
    uci = CharField(max_length=13, null=True)

    class Meta:
        indexes = ((('centre', 'number'), True),)

    @property
    def display_name(self):
        return f'{self.surname.upper()}: {self.forename.upper()}'

    @staticmethod
    def uci_is_valid(uci):
        """The 13th character of a UCI is a check letter: the weighted sum of
        the first twelve (weights 13..2, letters A=10..) mod 17, as JCQ's."""
        if not uci or not re.fullmatch(r'[0-9A-Z]{12}[A-Z]', uci):
            return False
        values = [int(c, 36) for c in uci[:12]]
        total = sum(v * w for v, w in zip(values, range(13, 1, -1)))
        return 'ABCDEFGHKLMRTVXYZ'[total % 17] == uci[12]


class Entry(BaseModel):
    """A candidate entered for a unit. The centre is copied from the
    candidate so that every marksheet query filters on one indexed column."""
    candidate = ForeignKeyField(Candidate, backref='entries', on_delete='RESTRICT')
    unit = ForeignKeyField(Unit, backref='entries', on_delete='RESTRICT')
    centre = ForeignKeyField(Centre, on_delete='RESTRICT')
    teaching_group = CharField(max_length=20, default='')
    processed = BooleanField(default=True)  # only processed entries are marked
    # Withdrawn by the board after an outcome was entered: the row stays and
    # the marksheet asks the teacher to mark the candidate Absent (seed).
    withdrawn = BooleanField(default=False)

    class Meta:
        indexes = ((('candidate', 'unit'), True), (('centre', 'unit'), False))


ENTRY_CHANGE_KINDS = ('enter', 'withdraw')
ENTRY_CHANGE_STATES = ('pending', 'processed')


class EntryChange(BaseModel):
    """An exams officer's new entry or withdrawal (ENTRIES), pending until
    the board's series staff process it; only then does the marksheet change."""
    centre = ForeignKeyField(Centre, on_delete='RESTRICT')
    candidate = ForeignKeyField(Candidate, on_delete='RESTRICT')
    unit = ForeignKeyField(Unit, on_delete='RESTRICT')
    kind = CharField(max_length=10, constraints=[Check("kind IN ('enter', 'withdraw')")])
    teaching_group = CharField(max_length=20, default='')
    status = CharField(max_length=10, default='pending',
                       constraints=[Check("status IN ('pending', 'processed')")])
    requested_by = ForeignKeyField(Account, on_delete='RESTRICT')
    requested_at = DateTimeField(default=utcnow, index=True)
    processed_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT', backref='+')
    processed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('centre', 'status'), False), (('status', 'requested_at'), False))


class Outcome(BaseModel):
    """The grade, mark or Absent recorded for an entry. `version` grows on
    every change so that a save made on a stale row can be refused."""
    entry = ForeignKeyField(Entry, unique=True, backref='outcomes', on_delete='CASCADE')
    value = CharField(max_length=4)
    score = IntegerField()  # ranks outcomes: Absent -1, P/M/D 1/2/3, marks as is
    version = IntegerField(default=1)
    entered_by = ForeignKeyField(Account, on_delete='RESTRICT')
    entered_at = DateTimeField(default=utcnow)
    # Changed by the helpline after submission, on the centre's written
    # request (requests_queue.amend_outcome); a centre's own save clears it.
    amended = BooleanField(default=False)


class Submission(BaseModel):
    centre = ForeignKeyField(Centre, on_delete='RESTRICT')
    unit = ForeignKeyField(Unit, on_delete='RESTRICT')
    submitted_by = ForeignKeyField(Account, on_delete='RESTRICT')
    submitted_at = DateTimeField(default=utcnow)
    candidates = IntegerField()

    class Meta:
        indexes = ((('centre', 'unit'), True),)


SAMPLE_REASONS = ('all', 'highest', 'lowest', 'spread', 'grade', 'group',
                  'centre', 'substitute', 'moderator')
SYSTEM_REASONS = ('all', 'highest', 'lowest', 'spread', 'grade', 'group')


class FurtherSample(BaseModel):
    """A moderator's request for more candidates' work (SPEC 3.6, 3.7): why,
    and by when the centre should send it. Its members are SampleMember rows
    with reason 'moderator' pointing here (moderation.request_further_sample)."""
    centre = ForeignKeyField(Centre, on_delete='RESTRICT')
    unit = ForeignKeyField(Unit, on_delete='RESTRICT')
    moderator = ForeignKeyField(Account, on_delete='RESTRICT')
    reason = TextField()
    due = DateField()
    requested_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('centre', 'unit'), False),)


class SampleMember(BaseModel):
    entry = ForeignKeyField(Entry, unique=True, backref='sample', on_delete='CASCADE')
    reason = CharField(max_length=20)
    detail = CharField(max_length=100, default='')  # the grade or group covered
    added_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
    added_at = DateTimeField(default=utcnow)
    substitute_for = ForeignKeyField('self', null=True, on_delete='RESTRICT')
    work_missing = BooleanField(default=False)  # incomplete or lost work
    # Reason 'moderator': the further sample that asked for this candidate.
    further_sample = ForeignKeyField(FurtherSample, null=True, backref='members', on_delete='RESTRICT')

    @property
    def chosen_by_system(self):
        return self.reason in SYSTEM_REASONS


class ModeratorAssignment(BaseModel):
    centre = ForeignKeyField(Centre, on_delete='CASCADE')
    unit = ForeignKeyField(Unit, on_delete='CASCADE')
    moderator = ForeignKeyField(Account, on_delete='RESTRICT')

    class Meta:
        indexes = ((('centre', 'unit'), True),)


FILE_STATES = ('uploading', 'checking', 'available', 'refused')


class CandidateFile(BaseModel):
    """Work uploaded for a sampled candidate of an e-submission unit (SPEC
    2, 3.6): received in pieces (tus or one form post) under a random key,
    checked by a job, then kept under the board's name for it. A file with
    no entry is one of the centre's explanatory notes for the unit."""
    entry = ForeignKeyField(Entry, backref='files', null=True, on_delete='RESTRICT')
    centre = ForeignKeyField(Centre, on_delete='RESTRICT')  # copied from the entry: one indexed filter
    unit = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')  # copied too; a note file's only link
    uploaded_by = ForeignKeyField(Account, on_delete='RESTRICT')
    upload_key = CharField(max_length=64, unique=True)  # the id in upload URLs: random, never sequential
    original_name = CharField(max_length=255)           # shown, never used as a path
    stored_name = CharField(max_length=255, unique=True)
    length = BigIntegerField()                          # declared at the start
    received = BigIntegerField(default=0)
    sha256 = CharField(max_length=64, default='')
    mime = CharField(max_length=100, default='')
    state = CharField(max_length=20, default='uploading', constraints=[
        Check("state IN ('uploading', 'checking', 'available', 'refused')")])
    problem = CharField(max_length=40, default='')      # why it was refused
    scanned = BooleanField(default=False)               # by a virus scanner; never "clean" without one
    new_version = BooleanField(default=False)           # uploaded after the deadline
    uploaded_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('centre', 'unit'), False),)


class ExplanatoryNote(BaseModel):
    """The centre's explanatory note for the moderator on a unit (SPEC 2,
    3.6), typed in the upload panel; one per centre and unit, changes audited."""
    MAX_LENGTH = 10000

    centre = ForeignKeyField(Centre, on_delete='CASCADE')
    unit = ForeignKeyField(Unit, on_delete='CASCADE')
    text = TextField(default='')
    written_by = ForeignKeyField(Account, on_delete='RESTRICT')
    written_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('centre', 'unit'), True),)


class ModeratorReport(BaseModel):
    """The moderator's report on a centre's unit (SPEC 3.7): a draft the
    moderator saves and changes, then completed (read-only from then on),
    shown to the centre from the series' results day (moderation.py)."""
    FIELDS = ('tasks', 'accuracy', 'administration', 'comments')

    centre = ForeignKeyField(Centre, on_delete='CASCADE')
    unit = ForeignKeyField(Unit, on_delete='CASCADE')
    moderator = ForeignKeyField(Account, on_delete='RESTRICT')
    tasks = TextField(default='')           # the tasks set and their suitability
    accuracy = TextField(default='')        # accuracy of assessment
    administration = TextField(default='')  # the centre's administration
    comments = TextField(default='')
    updated_at = DateTimeField(default=utcnow)
    completed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((('centre', 'unit'), True),)

    @property
    def completed(self):
        return self.completed_at is not None


class ClericalError(BaseModel):
    """A moderator's note that the mark on a candidate's work differs from the
    mark submitted: a matter for the helpline, kept apart from the moderation
    judgement (the report) and changing no outcome."""
    entry = ForeignKeyField(Entry, backref='clerical_errors', on_delete='CASCADE')
    centre = ForeignKeyField(Centre, on_delete='CASCADE')  # copied from the entry, for the helpline's list
    moderator = ForeignKeyField(Account, on_delete='RESTRICT')
    submitted_value = CharField(max_length=4)  # the outcome as submitted when flagged
    seen_value = CharField(max_length=4)       # the mark (or grade) on the work
    note = TextField()
    flagged_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((('centre', 'flagged_at'), False),)


REQUEST_KINDS = ('eo_change', 'outcome_amendment', 'file_deletion',
                 'e_submission_opt_out', 'entry')


class Request(BaseModel):
    """Work for helpline staff (SPEC 2, Requests), with a status history."""
    kind = CharField(max_length=30)
    centre = ForeignKeyField(Centre, on_delete='CASCADE')
    unit = ForeignKeyField(Unit, null=True, on_delete='CASCADE')
    status = CharField(max_length=20, default='pending')
    details = TextField(default='{}')  # JSON
    created_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
    created_at = DateTimeField(default=utcnow)
    # The staff member who has taken the request ("Take this request").
    assigned_to = ForeignKeyField(Account, null=True, on_delete='RESTRICT', backref='+')
    assigned_at = DateTimeField(null=True)

    @property
    def info(self):
        """The request's details, read from their JSON."""
        return json.loads(self.details)


class RequestEvent(BaseModel):
    request = ForeignKeyField(Request, backref='events', on_delete='CASCADE')
    status = CharField(max_length=20)
    note = TextField(default='')
    by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
    at = DateTimeField(default=utcnow)


class AuditLog(BaseModel):
    """Append-only: who (and as whom), what, before, after, when, and from
    which address (QUALITY AUTH-4)."""
    # Set by the web app: the address of the request being served, if any.
    address_of_request = staticmethod(lambda: None)
    # Set by metrics.py: told each action recorded, to count saves, submissions, sign-ins.
    recorded = staticmethod(lambda action: None)

    at = DateTimeField(default=utcnow, index=True)
    actor = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
    acting_for = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
    centre = ForeignKeyField(Centre, null=True, on_delete='RESTRICT')
    action = CharField(max_length=40)
    target = CharField(max_length=100, default='')
    before = TextField(default='')
    after = TextField(default='')
    address = CharField(max_length=45, null=True)

    @classmethod
    def record(cls, actor, action, target='', before=None, after=None,
               centre=None, acting_for=None):
        cls.recorded(action)
        return cls.create(actor=actor, acting_for=acting_for, centre=centre,
                          action=action, target=target[:100], address=cls.address_of_request(),
                          before=json.dumps(before) if before is not None else '',
                          after=json.dumps(after) if after is not None else '')


    @classmethod
    def of_centre(cls, centre_id, account_id=None, targets=None, since=None, before=None, helpline_only=False):
        """A centre's audit rows, newest first, with who and as whom: filtered
        by an account (as actor or acted for), targets, dates, or the rows
        written by the helpline acting for it."""
        Actor, ActingFor = Account.alias(), Account.alias()
        query = (cls.select(cls, Actor.id, Actor.username, ActingFor.id, ActingFor.username)
                 .join(Actor, JOIN.LEFT_OUTER, on=(cls.actor == Actor.id), attr='actor')
                 .switch(cls).join(ActingFor, JOIN.LEFT_OUTER, on=(cls.acting_for == ActingFor.id),
                                   attr='acting_for')
                 .where(cls.centre == centre_id).order_by(cls.at.desc(), cls.id.desc()))
        if account_id:
            query = query.where((cls.actor == account_id) | (cls.acting_for == account_id))
        if targets is not None:
            query = query.where(cls.target.in_(targets))
        if since:
            query = query.where(cls.at >= since)
        if before:
            query = query.where(cls.at < before)
        if helpline_only:
            query = query.where(cls.acting_for.is_null(False))
        return query

    @property
    def details(self):
        """The row's before and after, read from their JSON."""
        return (json.loads(self.before) if self.before else None,
                json.loads(self.after) if self.after else None)


class Outbox(BaseModel):
    """Every e-mail the product sends, written with its cause (SPEC 3.11)."""
    key = CharField(max_length=100, unique=True)  # idempotency
    to = CharField(max_length=254)
    subject = CharField(max_length=255)
    body = TextField()
    language = CharField(max_length=2, default='en')
    state = CharField(max_length=20, default='queued')  # queued sending sent failed
    attempts = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)
    claimed_at = DateTimeField(null=True)  # when a worker began sending it
    error = TextField(default='')
    # A link's token or a sign-in code: kept apart from the stored body (which
    # has SECRET_MARK in its place, so staff never read it) and put in only
    # at the moment of sending; emptied once sent.
    secret = TextField(default='')

    SECRET_MARK = '\ue000secret\ue000'

    def body_to_send(self):
        return self.body.replace(self.SECRET_MARK, self.secret)

    def claim(self):
        """Take the mail for sending; False once it has been sent. A mail
        left 'sending' was being sent by an attempt that died (each mail has
        one job, and RQ runs one attempt of a job at a time): send it again."""
        return bool(Outbox.update(state='sending', claimed_at=utcnow(), attempts=Outbox.attempts + 1)
                    .where(Outbox.id == self.id, Outbox.state != 'sent').execute())


class ServiceNotice(BaseModel):
    """A banner on every page, set by helpline staff in both languages
    (issue 11, point 6): shown from `shown_from` until `shown_until` (open
    ended when empty); ending it now sets `shown_until`."""
    KINDS = ('info', 'warning')
    text_en = CharField(max_length=500)
    text_cy = CharField(max_length=500)
    kind = CharField(max_length=10, default='info', constraints=[Check("kind IN ('info', 'warning')")])
    shown_from = DateTimeField(default=utcnow, index=True)
    shown_until = DateTimeField(null=True)
    set_by = ForeignKeyField(Account, on_delete='RESTRICT')
    created_at = DateTimeField(default=utcnow)

    def text_in(self, language):
        return self.text_cy if language == 'cy' else self.text_en

    @classmethod
    def showing(cls, at):
        """The notices on show at `at`, oldest first."""
        return list(cls.select().where(cls.shown_from <= at, cls.shown_until.is_null() | (cls.shown_until > at))
                    .order_by(cls.shown_from, cls.id))


class Token(BaseModel):
    """A single-use link sent by e-mail: set a first password (invite) or a
    new one (reset). Only the SHA-256 of the token is stored."""
    purpose = CharField(max_length=10, constraints=[Check("purpose IN ('invite', 'reset')")])
    account = ForeignKeyField(Account, backref='tokens', on_delete='CASCADE')
    digest = CharField(max_length=64, unique=True)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    @staticmethod
    def digest_of(token):
        return hashlib.sha256((token or '').encode()).hexdigest()

    @classmethod
    def issue(cls, account, purpose, lifetime):
        """(the token in clear, shown once; its row). Older unused tokens of
        the same purpose lapse."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        cls.update(expires_at=now).where(cls.account == account, cls.purpose == purpose,
                                         cls.used_at.is_null(), cls.expires_at > now).execute()
        row = cls.create(purpose=purpose, account=account, digest=cls.digest_of(token),
                         expires_at=now + lifetime)
        return token, row

    @classmethod
    def valid(cls, token, purpose):
        """The unexpired, unused token row for `token`, or None."""
        if not token or len(token) > 100:
            return None
        return (cls.select(cls, Account).join(Account)
                .where(cls.digest == cls.digest_of(token), cls.purpose == purpose,
                       cls.used_at.is_null(), cls.expires_at > utcnow(),
                       Account.active == True).get_or_none())  # noqa: E712

    def use(self):
        """Spend the token; False if another request spent it first."""
        return bool(Token.update(used_at=utcnow()).where(
            Token.id == self.id, Token.used_at.is_null()).execute())


class RecoveryCode(BaseModel):
    """One of ten single-use codes shown once at enrolment of a second
    factor, for a lost phone. Only the digest is stored."""
    account = ForeignKeyField(Account, backref='recovery_codes', on_delete='CASCADE')
    digest = CharField(max_length=64, unique=True)
    used_at = DateTimeField(null=True)

    @staticmethod
    def digest_of(account_id, code):
        return hashlib.sha256(f'{account_id}:{code}'.encode()).hexdigest()

    @classmethod
    def replace_for(cls, account, count=10):
        """New codes for the account (the old ones end); returns them in clear."""
        cls.delete().where(cls.account == account).execute()
        codes = ['-'.join(secrets.token_hex(3) for _ in range(2)) for _ in range(count)]
        cls.insert_many([{'account': account, 'digest': cls.digest_of(account.id, code)}
                         for code in codes]).execute()
        return codes

    @classmethod
    def spend(cls, account, code):
        """True if `code` is one of the account's unused codes; it is used up."""
        digest = cls.digest_of(account.id, (code or '').strip().lower()[:20])
        return bool(cls.update(used_at=utcnow()).where(
            cls.account == account, cls.digest == digest, cls.used_at.is_null()).execute())


class SignInCode(BaseModel):
    """A code e-mailed to an account's holder when its password is right but
    the account has had too many failed sign-ins from unknown browsers
    (QUALITY AUTH-3): the extra step, instead of a lockout. Only a salted
    digest is stored; a few wrong codes spend it."""
    MAX_ATTEMPTS = 5

    account = ForeignKeyField(Account, on_delete='CASCADE')
    digest = CharField(max_length=64)
    expires_at = DateTimeField()
    attempts = IntegerField(default=0)
    used_at = DateTimeField(null=True)

    @staticmethod
    def digest_of(row_id, code):
        return hashlib.sha256(f'{row_id}:{code}'.encode()).hexdigest()

    @classmethod
    def issue(cls, account, lifetime):
        """(the code in clear, for the e-mail; its row). Earlier codes lapse."""
        code = f'{secrets.randbelow(10 ** 8):08d}'
        cls.update(expires_at=utcnow()).where(cls.account == account, cls.used_at.is_null()).execute()
        row = cls.create(account=account, digest='', expires_at=utcnow() + lifetime)
        row.digest = cls.digest_of(row.id, code)
        row.save()
        return code, row

    def check(self, code):
        """Spend the code if it is right and still usable; count a wrong one."""
        usable = (SignInCode.id == self.id) & SignInCode.used_at.is_null() & (
            SignInCode.expires_at > utcnow()) & (SignInCode.attempts < self.MAX_ATTEMPTS)
        right = hmac.compare_digest(self.digest, self.digest_of(self.id, (code or '').strip()[:20]))
        if right:
            return bool(SignInCode.update(used_at=utcnow()).where(usable).execute())
        SignInCode.update(attempts=SignInCode.attempts + 1).where(usable).execute()
        return False


class Job(BaseModel):
    """Background work we track ourselves (RQ forgets results after 500 s).
    Written in the same transaction as its cause, enqueued after commit;
    `enqueued_at` stays empty while Redis is away, for the sweeper."""
    kind = CharField(max_length=40)
    args = TextField(default='{}')  # JSON
    status = CharField(max_length=20, default='queued')  # queued started finished failed
    progress = IntegerField(default=0)
    error = TextField(default='')
    result_path = CharField(max_length=255, default='')
    centre = ForeignKeyField(Centre, null=True, on_delete='CASCADE')
    account = ForeignKeyField(Account, null=True, on_delete='CASCADE')
    language = CharField(max_length=2, default='en')
    attempts = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    enqueued_at = DateTimeField(null=True)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    heartbeat_at = DateTimeField(null=True)  # written every few seconds while it runs

    @property
    def arguments(self):
        return json.loads(self.args)

    def stalled(self, seconds):
        """Not done `seconds` after it was asked for: its worker died or Redis
        is still away. The user is told, and can ask again."""
        return (self.status in ('queued', 'started')
                and (utcnow() - self.created_at).total_seconds() > seconds)

    @property
    def tried_again(self):
        """Waiting to run again after its worker stopped or it failed."""
        return self.status == 'queued' and self.attempts > 0



IMPORT_KINDS = ('centres', 'candidates', 'entries', 'moderators', 'assignments')
IMPORT_STATES = ('checking', 'invalid', 'ready', 'saving', 'saved', 'failed')


class ImportBatch(BaseModel):
    """An uploaded CSV file (kept under instance/imports/ with its SHA-256),
    its validation report and its save (issue 9 point 3; imports.py)."""
    kind = CharField(max_length=20, constraints=[
        Check("kind IN ('centres', 'candidates', 'entries', 'moderators', 'assignments')")])
    series = ForeignKeyField(Series, null=True, on_delete='RESTRICT')
    account = ForeignKeyField(Account, on_delete='RESTRICT')
    original_name = CharField(max_length=255, default='')
    stored_path = CharField(max_length=500)
    sha256 = CharField(max_length=64, default='')
    size = BigIntegerField(default=0)
    state = CharField(max_length=10, default='checking', index=True, constraints=[
        Check("state IN ('checking', 'invalid', 'ready', 'saving', 'saved', 'failed')")])
    rows = IntegerField(default=0)
    problems = IntegerField(default=0)
    created = IntegerField(default=0)
    updated = IntegerField(default=0)
    unchanged = IntegerField(default=0)
    report = TextField(default='')  # JSON: the kept problems and the counts
    job = ForeignKeyField(Job, null=True, on_delete='SET NULL')
    created_at = DateTimeField(default=utcnow, index=True)
    checked_at = DateTimeField(null=True)
    confirmed_at = DateTimeField(null=True)
    saved_at = DateTimeField(null=True)

MODELS = [Centre, Account, FacilityGrant, Series, Unit, UnitGrant, Candidate,
          Entry, EntryChange, Outcome, Submission, FurtherSample, SampleMember, ModeratorAssignment,
          CandidateFile, ExplanatoryNote, ModeratorReport, ClericalError, Request,
          RequestEvent, AuditLog, Outbox, ServiceNotice, Job, Token, SignInCode, RecoveryCode, ImportBatch]


# --- The marksheet: one centre's entries for one unit ------------------------

def sample_size(n):
    """OCR's and Pearson's table over non-absent candidates (SPEC 3.4)."""
    if n <= 15:
        return n
    if n <= 100:
        return 15
    if n <= 200:
        return 20
    return 25


def choose_sample(ranked, scheme='grades'):
    """The moderation sample, as {index into ranked: (reason, detail)}.

    `ranked` holds (score, group) pairs of the non-absent candidates, best
    first with ties in candidate-number order. The algorithm (also in
    docs/SAMPLE.md):

    1. n = len(ranked); size from `sample_size(n)`. With 15 or fewer, all.
    2. The highest (index 0) and the lowest (index n-1) are always in.
    3. The other size-2 places go to evenly spaced ranks:
       round(i * (n - 1) / (size - 1)) for i in 1..size-2.
    4. Every grade awarded (grade units), then every teaching group, must be
       represented. For each value missing, its middle-ranked candidate
       comes in, replacing the nearest-ranked 'spread' member whose grade and
       group are both still represented without it; if no member can go,
       the sample grows by one.
    Same input, same sample.
    """
    n = len(ranked)
    size = sample_size(n)
    if n <= 15:
        picks = {i: ('all', '') for i in range(n)}
        if n:
            picks[0] = ('highest', '')
            picks[n - 1] = ('lowest', '')
        return picks
    picks = {0: ('highest', ''), n - 1: ('lowest', '')}
    for i in range(1, size - 1):
        picks.setdefault(round(i * (n - 1) / (size - 1)), ('spread', ''))

    def grade_of(i):
        return ranked[i][0] if scheme == 'grades' else None

    def group_of(i):
        return ranked[i][1] or None

    for reason, key in (('grade', grade_of), ('group', group_of)):
        values = {}
        for i in range(n):
            if key(i) is not None:
                values.setdefault(key(i), []).append(i)
        for value in sorted(values, key=lambda v: values[v][0]):
            if any(key(i) == value for i in picks):
                continue
            members = values[value]
            newcomer = members[len(members) // 2]

            def replaceable(i):
                others = [j for j in picks if j != i]
                return (picks[i][0] == 'spread'
                        and (grade_of(i) is None or any(grade_of(j) == grade_of(i) for j in others))
                        and (group_of(i) is None or any(group_of(j) == group_of(i) for j in others)))

            spare = sorted((i for i in picks if replaceable(i)),
                           key=lambda i: (abs(i - newcomer), i))
            if spare:
                del picks[spare[0]]
            detail = GRADE_OF_SCORE[value] if reason == 'grade' else value
            picks[newcomer] = (reason, detail)
    return picks


class Marksheet:
    """One centre's entries for one unit: counts, saves, submission, sample."""

    PAGE_SIZE = 20

    def __init__(self, centre, unit):
        self.centre = centre
        self.unit = unit

    def entries(self):
        return Entry.select().where(Entry.centre == self.centre,
                                    Entry.unit == self.unit,
                                    Entry.processed == True)  # noqa: E712

    def submission(self):
        return Submission.get_or_none(Submission.centre == self.centre,
                                      Submission.unit == self.unit)

    def counts(self):
        """(done, total) in one query."""
        row = (self.entries()
               .select(fn.COUNT(Entry.id).alias('total'),
                       fn.COUNT(Outcome.id).alias('done'))
               .join(Outcome, JOIN.LEFT_OUTER).dicts().get())
        return row['done'], row['total']

    @staticmethod
    def overview(centre, units):
        """{unit_id: (done, total, submitted)} for many units in two queries."""
        rows = (Entry.select(Entry.unit, fn.COUNT(Entry.id).alias('total'),
                             fn.COUNT(Outcome.id).alias('done'))
                .join(Outcome, JOIN.LEFT_OUTER)
                .where(Entry.centre == centre, Entry.unit.in_(units),
                       Entry.processed == True)  # noqa: E712
                .group_by(Entry.unit).dicts())
        submitted = {s.unit_id for s in Submission.select(Submission.unit).where(
            Submission.centre == centre, Submission.unit.in_(units))}
        out = {r['unit']: (r['done'], r['total'], r['unit'] in submitted) for r in rows}
        return out

    def _row_query(self):
        """Entries with candidate, outcome, who set it, and sample membership."""
        EnteredBy = Account.alias()
        return (self.entries()
                .select(Entry, Candidate, Outcome, SampleMember, EnteredBy.username)
                .join(Candidate).switch(Entry)
                .join(Outcome, JOIN.LEFT_OUTER, attr='outcome')
                .join(EnteredBy, JOIN.LEFT_OUTER, on=(Outcome.entered_by == EnteredBy.id),
                      attr='entered_by').switch(Entry)
                .join(SampleMember, JOIN.LEFT_OUTER, attr='member'))

    def rows(self, search='', sort='number', show='all', page=1, per_page=PAGE_SIZE, only=None):
        """One page of the marksheet with outcome, who set it, and sample
        membership, in one query whatever the number of candidates."""
        query = self._row_query()
        if only is not None:
            query = query.where(Entry.id == only)
        if search:
            query = query.where(fn.UPPER(Candidate.surname).startswith(search.strip().upper()))
        if show == 'marked':
            query = query.where(Outcome.id.is_null(False))
        elif show == 'samples':
            query = query.where(SampleMember.id.is_null(False))
        order = {'name': [fn.UPPER(Candidate.surname), fn.UPPER(Candidate.forename), Candidate.number],
                 'grade': [Case(None, [(Outcome.score.is_null(), 1)], 0),
                           Outcome.score.desc(), Candidate.number]}.get(sort, [Candidate.number])
        query = query.order_by(*order)
        if only is not None:
            return list(query), None
        matching = query.count()
        if per_page:
            query = query.paginate(page, per_page)
        return list(query), matching

    @contextlib.contextmanager
    def changing(self):
        """One transaction holding this marksheet's lock: a page of saves at once."""
        with writing():
            lock_marksheet(self.centre.id, self.unit.id)
            yield

    def own_entries(self, entry_ids):
        """Which of `entry_ids` are rows of this marksheet, in one query; the
        rest (another unit's, another centre's) are never read further."""
        if not entry_ids:
            return set()
        return {e.id for e in self.entries().select(Entry.id).where(Entry.id.in_(list(entry_ids)))}

    def entry(self, entry_id):
        """An entry of this marksheet, or None (another unit or centre)."""
        try:
            entry_id = int(entry_id)
        except (TypeError, ValueError):
            return None
        return self.entries().where(Entry.id == entry_id).get_or_none()

    # The save's row query is built and compiled once per kind of database, with
    # stand-ins for the centre, unit and entry ids swapped for the real ones
    # at each call: peewee otherwise compiles it anew every time (issue 11).
    _ROW_STAND_INS = (-910001, -910002, -910003)
    _compiled_rows = {}

    def _row(self, entry_id, counts=False):
        """One row, as `rows` gives it, and whether the unit is submitted: one
        query. With `counts`, the marksheet's (done, total) come in the same
        query, as `sheet_done` and `sheet_total` (issue 11: a save's answer shows them)."""
        try:
            entry_id = int(entry_id)
        except (TypeError, ValueError):
            return None
        key = (type(db.obj), counts)  # the SQL differs only by the kind of database
        compiled = Marksheet._compiled_rows.get(key)
        if compiled is None:
            centre, unit, entry = Marksheet._ROW_STAND_INS
            query = Marksheet(centre, unit)._row_select(entry, counts).limit(1)
            compiled = Marksheet._compiled_rows[key] = (query, *query.sql())
        query, sql, params = compiled
        ids = dict(zip(Marksheet._ROW_STAND_INS, (getattr(self.centre, 'id', self.centre),
                                                   getattr(self.unit, 'id', self.unit), entry_id)))
        cursor = db.execute_sql(sql, [ids.get(p, p) if type(p) is int else p for p in params])
        return next(iter(query._get_cursor_wrapper(cursor)), None)

    def _row_select(self, entry_id, counts):
        """The query `_row` runs (compiled there once, with stand-in ids)."""
        submitted = fn.EXISTS(Submission.select().where(Submission.centre == self.centre,
                                                        Submission.unit == self.unit))
        query = self._row_query().select_extend(submitted.alias('submitted'))
        if counts:
            Each, Recorded = Entry.alias(), Outcome.alias()
            ours = ((Each.centre == self.centre) & (Each.unit == self.unit)
                    & (Each.processed == True))  # noqa: E712
            total = Each.select(fn.COUNT(Each.id)).where(ours)
            done = (Each.select(fn.COUNT(Recorded.id)).join(Recorded, on=(Recorded.entry == Each.id))
                    .where(ours))
            query = query.select_extend(total.alias('sheet_total'), done.alias('sheet_done'))
        return query.where(Entry.id == entry_id)

    def save_outcome(self, entry_id, raw, version, actor, acting_for=None, counts=False):
        """Record an outcome if the row was current; returns the row, as
        `rows` gives it, with the outcome now recorded (and with `counts`,
        the marksheet's (done, total) after the save as `row.counts`).

        Raises DomainError: 'unknown_entry', 'submitted', 'stale' (with the
        current outcome), or a value error from `Unit.parse_outcome`."""
        value, score = self.unit.parse_outcome(raw)
        with writing():
            lock_marksheet(self.centre.id, self.unit.id)
            return self._save(entry_id, value, score, version, actor, acting_for, counts)

    def _save(self, entry_id, value, score, version, actor, acting_for, counts=False):
        entry = self._row(entry_id, counts)
        if entry is None:
            raise DomainError('unknown_entry')
        if counts:
            entry.counts = (entry.sheet_done, entry.sheet_total)
        if entry.submitted:
            raise DomainError('submitted')
        current = entry.outcome if entry.outcome and entry.outcome.id else None
        if (current.version if current else 0) != version:
            if self._is_retry(current, value, version, acting_for or actor):
                return entry
            raise DomainError('stale', outcome=current, entry=entry)
        before = current.value if current else None
        if value == before:
            return entry
        not_submitted = ~fn.EXISTS(Submission.select().where(
            Submission.centre == self.centre, Submission.unit == self.unit))
        if counts:  # one more or one fewer recorded; read under the marksheet's lock
            entry.counts = (entry.counts[0] + (current is None) - (value is None), entry.counts[1])
        if current is None and value is not None:
            current = Outcome.create(entry=entry, value=value, score=score,
                                     entered_by=acting_for or actor)
        elif current is not None and value is None:
            current.delete_instance()
            current = None
        else:
            # AC-4: the update itself refuses a submitted unit and a stale row.
            changed = (Outcome.update(value=value, score=score, version=Outcome.version + 1,
                                      entered_by=acting_for or actor, entered_at=utcnow(), amended=False)
                       .where(Outcome.id == current.id, Outcome.version == version, not_submitted)
                       .execute())
            if changed != 1:
                raise DomainError('stale', outcome=current, entry=entry)
            current.value, current.score, current.version = value, score, version + 1
        if current is not None:
            current.entered_by = acting_for or actor
        entry.outcome = current
        AuditLog.record(actor, 'outcome.set', f'entry:{entry.id}', before=before,
                        after=value, centre=self.centre, acting_for=acting_for)
        return entry

    @staticmethod
    def _is_retry(current, value, version, author):
        """The save already happened: the same value, from the version just
        before, by the same account (a retry whose answer was lost, issue 11).
        Saying 'someone else changed this' to its own author would be wrong."""
        return (current is not None and value is not None and current.version == version + 1
                and current.value == value and current.entered_by.username == author.username)

    def save_many(self, changes, actor, acting_for=None):
        """Save [(entry_id, value, score)] in one transaction, regardless of
        versions (a confirmed paste replaces what is there)."""
        with writing():
            lock_marksheet(self.centre.id, self.unit.id)
            if self.submission() is not None:
                raise DomainError('submitted')
            existing = {o.entry_id: o for o in Outcome.select().join(Entry).where(
                Entry.centre == self.centre, Entry.unit == self.unit)}
            saved = 0
            for entry_id, value, score in changes:
                current = existing.get(entry_id)
                version = current.version if current else 0
                if current is None or current.value != value:
                    self._save(entry_id, value, score, version, actor, acting_for)
                    saved += 1
            return saved

    def sampled_entries(self):
        """The sample's entries with their candidates and any further sample
        that asked for them, in candidate-number order."""
        return list(self.entries().select(Entry, Candidate, SampleMember, FurtherSample)
                    .join(Candidate).switch(Entry).join(SampleMember, attr='member')
                    .join(FurtherSample, JOIN.LEFT_OUTER, attr='further_sample')
                    .where(SampleMember.work_missing == False)  # noqa: E712
                    .order_by(Candidate.number))

    def ranked_outcomes(self):
        """Entries with an outcome other than Absent, best first; ties in
        candidate-number order."""
        return list(self.entries()
                    .select(Entry, Candidate, Outcome)
                    .join(Candidate).switch(Entry).join(Outcome, attr='outcome')
                    .where(Outcome.value != ABSENT)
                    .order_by(Outcome.score.desc(), Candidate.number))

    def preview_sample(self):
        """([(entry, reason, detail)] that submitting now would choose, and
        how many candidates it was chosen from)."""
        ranked = self.ranked_outcomes()
        picks = choose_sample([(e.outcome.score, e.teaching_group) for e in ranked],
                              self.unit.scheme)
        return [(ranked[i], *picks[i]) for i in sorted(picks)], len(ranked)

    def submit(self, actor, acting_for=None, on_submitted=None):
        """Lock the outcomes and generate the sample, once. Returns
        (submission, created, what on_submitted returned). `on_submitted(submission,
        sample)` runs inside the transaction, for side effects recorded with
        it (QUALITY REL-4). Raises DomainError('incomplete', missing=n)."""
        with writing():
            lock_marksheet(self.centre.id, self.unit.id)
            existing = self.submission()
            if existing is not None:
                return existing, False, None
            done, total = self.counts()
            if total == 0 or done < total:
                raise DomainError('incomplete', missing=total - done)
            try:
                with db.atomic():
                    submission = Submission.create(centre=self.centre, unit=self.unit,
                                                   submitted_by=acting_for or actor,
                                                   candidates=total)
            except IntegrityError:  # another process won the race
                return self.submission(), False, None
            members, _ = self.preview_sample()
            SampleMember.insert_many([
                {'entry': entry.id, 'reason': reason, 'detail': detail}
                for entry, reason, detail in members]).execute()
            AuditLog.record(actor, 'unit.submit', f'unit:{self.unit.id}',
                            after={'candidates': total, 'sample': len(members)},
                            centre=self.centre, acting_for=acting_for)
            effects = on_submitted(submission, members) if on_submitted else None
            return submission, True, effects

    def add_to_sample(self, entry_id, actor, acting_for=None):
        with writing():
            entry = self._sampleable(entry_id)
            if SampleMember.get_or_none(SampleMember.entry == entry) is None:
                SampleMember.create(entry=entry, reason='centre', added_by=acting_for or actor)
                AuditLog.record(actor, 'sample.add', f'entry:{entry.id}', after='centre',
                                centre=self.centre, acting_for=acting_for)
            return entry

    def remove_from_sample(self, entry_id, actor, acting_for=None):
        """Only candidates the centre added can be taken out again."""
        with writing():
            entry = self._sampleable(entry_id)
            member = SampleMember.get_or_none(SampleMember.entry == entry)
            if member is None:
                return entry
            if member.reason != 'centre':
                raise DomainError('system_sample')
            member.delete_instance()
            AuditLog.record(actor, 'sample.remove', f'entry:{entry.id}', before='centre',
                            centre=self.centre, acting_for=acting_for)
            return entry

    def _sampleable(self, entry_id):
        entry = self.entry(entry_id)
        if entry is None:
            raise DomainError('unknown_entry')
        if self.submission() is None:
            raise DomainError('not_submitted')
        return entry

    def substitute_choices(self, member_entry):
        """The nearest higher and lower ranked candidates with an outcome,
        not absent and not already in the sample."""
        ranked = self.ranked_outcomes()
        sampled = {m.entry_id for m in SampleMember.select(SampleMember.entry).join(Entry).where(
            Entry.centre == self.centre, Entry.unit == self.unit)}
        ids = [e.id for e in ranked]
        if member_entry.id not in ids:
            return []
        at = ids.index(member_entry.id)
        higher = next((e for e in reversed(ranked[:at]) if e.id not in sampled), None)
        lower = next((e for e in ranked[at + 1:] if e.id not in sampled), None)
        return [e for e in (higher, lower) if e is not None]

    def substitute(self, entry_id, substitute_id, actor, acting_for=None):
        """Mark a sampled candidate's work incomplete or lost and bring in
        the chosen nearest candidate instead."""
        with writing():
            entry = self._sampleable(entry_id)
            member = SampleMember.get_or_none(SampleMember.entry == entry)
            if member is None or member.work_missing:
                raise DomainError('not_in_sample')
            if substitute_id not in [e.id for e in self.substitute_choices(entry)]:
                raise DomainError('not_a_substitute')
            member.work_missing = True
            member.save()
            SampleMember.create(entry=substitute_id, reason='substitute',
                                substitute_for=member, added_by=acting_for or actor)
            AuditLog.record(actor, 'sample.substitute', f'entry:{entry.id}',
                            after={'substitute': substitute_id},
                            centre=self.centre, acting_for=acting_for)

    def moderator(self):
        assignment = (ModeratorAssignment.select(ModeratorAssignment, Account)
                      .join(Account)
                      .where(ModeratorAssignment.centre == self.centre,
                             ModeratorAssignment.unit == self.unit).get_or_none())
        return assignment.moderator if assignment else None

    def report_rows(self):
        """Every entry in candidate-number order, for the candidate details report."""
        return list(self.entries().select(Entry, Candidate, Outcome)
                    .join(Candidate).switch(Entry).join(Outcome, JOIN.LEFT_OUTER, attr='outcome')
                    .order_by(Candidate.number))

