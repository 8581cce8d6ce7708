"""Loading a series from CSV (issue 9 point 3; docs/IMPORTS.md): centres,
candidates, entries, moderators and moderator assignments.

One flow for every kind: `validate()` streams the file and returns a
`Report` (counts, and the problems as codes the views put into words);
`save()` streams it again inside one transaction, re-checking every row
against the database as it is then, and writes in batches with upserts.
Nothing is deleted; re-importing the same file changes nothing. Knows
nothing of Flask: the views and the command pass in what they need.

Audit: one `import.save` row per saved file with its counts, one row per
record changed (before and after), and `account.create` for each account
made with an invitation. Rows created in bulk are traceable through the
import batch, whose file is kept with its SHA-256.
"""
import csv
import datetime
import difflib
import hashlib
import itertools
import json
import operator
import os
import re

from peewee import EXCLUDED, OperationalError, SqliteDatabase

import moderators
from models import (Account, AuditLog, Candidate, Centre, DomainError, Entry, ImportBatch, ModeratorAssignment,
                    Series, Unit, db, parse_date, utcnow, writing)

KINDS = ('centres', 'candidates', 'entries', 'moderators', 'assignments')
NEEDS_SERIES = ('entries', 'assignments')
BATCH = 1000             # rows written per statement
KEEP_PROBLEMS = 10000    # problems kept for the report; all are counted
MAX_BYTES = 50 * 1024 ** 2
FORMULA_START = ('=', '+', '-', '@')
EMAIL = re.compile(r'[^@\s<>()\[\],;:"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+')
PHONE = re.compile(r'\+?[0-9 ()-]{6,40}')


class Column:
    """A column of a kind's file: its header name, whether a value is
    required, its longest value, and whether it holds free text (checked
    for formulas)."""

    def __init__(self, name, required=True, longest=200, text=True, example=''):
        self.name, self.required, self.longest, self.text, self.example = name, required, longest, text, example


SPECS = {
    'centres': [Column('centre_number', longest=5, text=False, example='68999'),
                Column('name', example='EXAMPLE HIGH SCHOOL'),
                Column('head_of_centre', required=False, example='Mrs Siân Llŷr'),
                Column('telephone', required=False, longest=40, example='029 2026 5000'),
                Column('eo_name', example='Mr Rhys Ŵyn'),
                Column('eo_email', longest=254, example='exams@example.org')],
    'candidates': [Column('centre_number', longest=5, text=False, example='68999'),
                   Column('candidate_number', longest=4, text=False, example='3001'),
                   Column('surname', longest=100, example='JONES'),
                   Column('forename', longest=100, example='Siân'),
                   Column('date_of_birth', longest=10, text=False, example='2001-09-14'),
                   Column('uci', required=False, longest=13, text=False, example='')],
    'entries': [Column('centre_number', longest=5, text=False, example='68999'),
                Column('candidate_number', longest=4, text=False, example='3001'),
                Column('unit_code', longest=20, text=False, example='9611/L3'),
                Column('teaching_group', required=False, longest=20, example='12A')],
    'moderators': [Column('username', longest=40, text=False, example='MOD7'),
                   Column('name', example='Mrs M Walters'),
                   Column('email', longest=254, example='m.walters@example.org'),
                   Column('postal_address', longest=1000, example='245 Western Ave, Cardiff CF5 2YX')],
    'assignments': [Column('centre_number', longest=5, text=False, example='68999'),
                    Column('unit_code', longest=20, text=False, example='9611/L3'),
                    Column('moderator', longest=40, text=False, example='MOD1')],
}


def header_key(text):
    """A header cell as a column name: 'Centre number' and 'centre-number' are 'centre_number'."""
    return re.sub(r'[\s\-]+', '_', (text or '').strip().lower())


class Report:
    """What a pass over a file found: rows read, problems (the first
    KEEP_PROBLEMS kept, all counted) and how many records are new, changed
    or unchanged. A problem is (row, column, code, value)."""

    def __init__(self):
        self.rows = 0
        self.problems = []
        self.problem_count = 0
        self.fatal = False  # the file itself is unusable (not CSV, header wrong): no row was read
        self.created = self.updated = self.unchanged = 0

    def add(self, row, column, code, value=''):
        self.problem_count += 1
        if len(self.problems) < KEEP_PROBLEMS:
            self.problems.append((row, column, code, str(value)[:80]))

    @property
    def clean(self):
        return self.problem_count == 0

    def counts(self):
        return {'rows': self.rows, 'created': self.created, 'updated': self.updated,
                'unchanged': self.unchanged, 'problems': self.problem_count}


class Invalid(Exception):
    """Saving found problems (the database changed since the check): nothing was written."""

    def __init__(self, report):
        super().__init__('invalid')
        self.report = report


# --- Reading ----------------------------------------------------------------

def lines_of(handle, report):
    """Decoded lines of a binary file, line ends kept for `csv`: a BOM is
    dropped, a NUL byte or bytes that are not UTF-8 are problems naming the line."""
    for number, raw in enumerate(handle, 1):
        if number == 1 and raw.startswith(b'\xef\xbb\xbf'):
            raw = raw[3:]
        if b'\x00' in raw:
            report.add(number, '', 'nul_byte')
            raw = raw.replace(b'\x00', b'')
        try:
            yield raw.decode('utf-8')
        except UnicodeDecodeError:
            report.add(number, '', 'not_utf8')
            yield raw.decode('utf-8', errors='replace')


def delimiter_of(header_line):
    """',' or ';' (Excel in some locales), whichever the header uses more."""
    return ';' if header_line.count(';') > header_line.count(',') else ','


def read(path, kind, report, max_bytes=MAX_BYTES, progress=None):
    """Yield (row number, {column: stripped value}) of the file's data rows;
    problems of the file and of the rows' shape go into `report`. Row 1 is
    the header, as a spreadsheet numbers them."""
    size = os.path.getsize(path)
    if size == 0:
        report.add(0, '', 'empty_file')
        report.fatal = True
        return
    if size > max_bytes:
        report.add(0, '', 'too_large', max_bytes // 1024 ** 2)
        report.fatal = True
        return
    with open(path, 'rb') as handle:
        start = handle.read(8)
        if start.startswith(b'%PDF') or start.startswith(b'PK\x03\x04') or start.startswith(b'\xd0\xcf\x11\xe0'):
            report.add(0, '', 'not_csv')
            report.fatal = True
            return
        handle.seek(0)
        lines = lines_of(handle, report)
        first = next(lines, '')
        if not first.strip():
            report.add(1, '', 'no_header')
            report.fatal = True
            return
        delimiter = delimiter_of(first)
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter, strict=False)
        header = [header_key(cell) for cell in next(reader)]
        while header and not header[-1]:
            header.pop()  # Excel's empty cells after the last column
        if not header_is_good(kind, header, report):
            report.fatal = True
            return
        width = len(header)
        required = {column.name for column in SPECS[kind] if column.required}
        number = 1
        for number, cells in enumerate(reader, 2):
            if progress and number % 1000 == 0:
                progress(handle.tell())
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, and Excel's ';;;;' at the end
            if len(cells) != width:
                missing = header[len(cells):]
                if any(cell.strip() for cell in cells[width:]) or any(name in required for name in missing):
                    report.rows += 1
                    report.add(number, '', 'cell_count', len(cells))
                    continue
                cells = cells + [''] * len(missing)  # optional cells left off the end of a row
            report.rows += 1
            yield number, {name: cell.strip() for name, cell in zip(header, cells)}
        if progress:
            progress(size)


def header_is_good(kind, header, report):
    """Every column of the kind present once, nothing unknown; a misspelt
    name is told with the nearest expected one."""
    names = [column.name for column in SPECS[kind]]
    good = True
    for name in header:
        if name not in names:
            near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            report.add(1, name, 'unknown_column', near[0] if near else '')
            good = False
    for name in names:
        if name not in header:
            report.add(1, name, 'missing_column')
            good = False
    for name in set(header):
        if header.count(name) > 1:
            report.add(1, name, 'repeated_column')
            good = False
    return good


# --- Checking cells -----------------------------------------------------------

def check_cells(kind, number, row, report):
    """The common checks of every cell: required, length, formulas. False if any failed."""
    good = True
    for column in SPECS[kind]:
        value = row[column.name]
        if not value:
            if column.required:
                report.add(number, column.name, 'required')
                good = False
            continue
        if column.text and value.startswith(FORMULA_START) and not (
                column.name == 'telephone' and PHONE.fullmatch(value)):
            report.add(number, column.name, 'formula', value)
            good = False
        elif len(value) > column.longest:
            report.add(number, column.name, 'too_long', column.longest)
            good = False
    return good


class Context:
    """What every row is checked against, loaded once per pass as sets and dicts."""

    def __init__(self, kind, series=None):
        self.kind, self.series = kind, series
        self.centres = dict(Centre.select(Centre.number, Centre.id).tuples())
        if kind in NEEDS_SERIES:
            self.units = {code.upper(): unit_id for code, unit_id in
                          Unit.select(Unit.code, Unit.id).where(Unit.series == series).tuples()}
        if kind == 'entries':
            self.candidates = {(centre, number): candidate_id for candidate_id, centre, number in
                               Candidate.select(Candidate.id, Candidate.centre, Candidate.number).tuples()}
        if kind in ('assignments', 'moderators'):
            self.accounts = {username: (account_id, account_kind) for account_id, username, account_kind in
                             Account.select(Account.id, Account.username, Account.kind).tuples()}
        self.seen = {}  # the key of every good row so far (one short string each): duplicates


def check(context, number, row, report):
    """The record a row stands for, as a dict, or None after adding its problems."""
    kind = context.kind
    good = check_cells(kind, number, row, report)
    record = {}
    if 'centre_number' in row and row['centre_number']:
        value = row['centre_number']
        if not (len(value) == 5 and value.isascii() and value.isdigit()):  # Centre.number_is_valid, faster
            report.add(number, 'centre_number', 'centre_number', value)
            good = False
        elif kind != 'centres':
            if value not in context.centres:
                report.add(number, 'centre_number', 'unknown_centre', value)
                good = False
            else:
                record['centre'] = context.centres[value]
        record['centre_number'] = value
    if 'candidate_number' in row and row['candidate_number']:
        value = row['candidate_number']
        if not (len(value) == 4 and value.isascii() and value.isdigit()):
            report.add(number, 'candidate_number', 'candidate_number', value)
            good = False
        record['number'] = value
    if 'unit_code' in row and row['unit_code']:
        unit = context.units.get(row['unit_code'].upper())
        if unit is None:
            report.add(number, 'unit_code', 'unknown_unit', row['unit_code'])
            good = False
        record['unit'] = unit
    for column in ('eo_email', 'email'):
        if row.get(column) and not EMAIL.fullmatch(row[column]):
            report.add(number, column, 'email', row[column])
            good = False
    if kind == 'candidates':
        if row['date_of_birth']:
            record['dob'] = parse_date(row['date_of_birth'], last_year=utcnow().year)
            if record['dob'] is None:
                report.add(number, 'date_of_birth', 'not_a_date', row['date_of_birth'])
                good = False
        uci = row['uci'].upper()
        if uci and not re.fullmatch(r'[0-9A-Z]{12}[A-Z]', uci):
            report.add(number, 'uci', 'uci_form', row['uci'])
            good = False
        elif uci and not Candidate.uci_is_valid(uci):
            report.add(number, 'uci', 'uci_check', row['uci'])
            good = False
        record.update(surname=row['surname'], forename=row['forename'], uci=uci or None)
        key = f"{row['centre_number']}\x1f{row['candidate_number']}"
    elif kind == 'entries':
        if good:
            candidate = context.candidates.get((record['centre'], record['number']))
            if candidate is None:
                report.add(number, 'candidate_number', 'unknown_candidate', row['candidate_number'])
                good = False
            record['candidate'] = candidate
        record['teaching_group'] = row['teaching_group']
        key = f"{row['centre_number']}\x1f{row['candidate_number']}\x1f{row['unit_code'].upper()}"
    elif kind == 'centres':
        record.update(number=row['centre_number'], name=row['name'], head_of_centre=row['head_of_centre'],
                      telephone=row['telephone'], eo_name=row['eo_name'], eo_email=row['eo_email'])
        key = row['centre_number']
    elif kind == 'moderators':
        username = row['username'].upper()
        if username and Account.username_form_error('moderator', username):
            report.add(number, 'username', 'username_form', row['username'])
            good = False
        elif context.accounts.get(username, (0, 'moderator'))[1] != 'moderator':
            report.add(number, 'username', 'username_taken', row['username'])
            good = False
        record.update(username=username, contact_name=' '.join(row['name'].split()), email=row['email'],
                      postal_address=moderators.clean_address(row['postal_address']))
        key = username
    else:  # assignments
        moderator = context.accounts.get(row['moderator'].upper())
        if row['moderator'] and (moderator is None or moderator[1] != 'moderator'):
            report.add(number, 'moderator', 'unknown_moderator', row['moderator'])
            good = False
        record['moderator'] = moderator[0] if moderator else None
        key = f"{row['centre_number']}\x1f{row['unit_code'].upper()}"
    if key in context.seen:
        report.add(number, '', 'duplicate', context.seen[key])
        return None
    context.seen[key] = number
    return record if good else None


# --- Comparing with the database and writing ---------------------------------------

class Kind:
    """How one kind's records are found in the database and written. Each
    kind says `key(record)` (what names a record in the file),
    `identity(record)` and `conflict` (its unique columns), and
    `existing(records)`: {key: (id, {field: value})} of those already stored."""
    model = None
    fields = ()  # compared and written

    def values(self, record, current):
        """The stored values after this record: an empty optional cell keeps what is stored."""
        if current is None:
            return {field: record[field] for field in self.fields}
        return {field: (record[field] if record[field] not in ('', None) else current[field])
                for field in self.fields}

    def write(self, new, changed, actor, page, jobs_after):
        """Insert the new records and update the changed ones (upserts, so a
        concurrent import of the same rows changes nothing twice)."""
        names = list(self.identity(new[0][0] if new else changed[0][0])) if new or changed else []
        identity = operator.itemgetter(*names) if len(names) > 1 else (lambda record: (record[names[0]],))
        rows = [(*identity(record), *(values[f] for f in self.fields))
                for record, values in itertools.chain(new, changed)]
        upsert(self.model, self.conflict, names + list(self.fields), self.fields, rows)


def upsert(model, conflict, names, fields, rows):
    """INSERT ... ON CONFLICT (key) DO UPDATE SET fields, as one executemany
    (SQLite and PostgreSQL alike): peewee's insert_many builds the SQL of
    every row in Python, several times slower at 100,000 rows. `rows` are
    tuples of the values of `names`, already what the drivers take."""
    if not rows:
        return
    meta = model._meta
    extra = [(name, field.default) for name, field in meta.fields.items()  # defaults peewee keeps in Python
             if name not in names and name != 'id' and field.default is not None and not callable(field.default)]
    names = list(names) + [name for name, _ in extra]
    columns = [meta.fields[name].column_name for name in names]
    param = db.obj.param
    sql = (f'INSERT INTO "{meta.table_name}" ({", ".join(columns)}) VALUES ({", ".join([param] * len(names))}) '
           f'ON CONFLICT ({", ".join(field.column_name for field in conflict)}) DO UPDATE SET '
           + ', '.join(f'{meta.fields[f].column_name} = excluded.{meta.fields[f].column_name}' for f in fields))
    if extra:
        defaults = tuple(value for _, value in extra)
        rows = [row + defaults for row in rows]
    db.cursor().executemany(sql, rows)


class Centres(Kind):
    model = Centre
    fields = ('name', 'head_of_centre', 'telephone', 'eo_name', 'eo_email')

    @property
    def conflict(self):
        return [Centre.number]

    def key(self, record):
        return record['number']

    def identity(self, record):
        return {'number': record['number']}

    def existing(self, records):
        keys = [record['number'] for record in records]
        return {row['number']: (row['id'], row) for row in
                Centre.select(Centre.id, Centre.number, *[getattr(Centre, f) for f in self.fields])
                .where(Centre.number.in_(keys)).dicts()}

    def write(self, new, changed, actor, page, jobs_after):
        super().write(new, changed, actor, page, jobs_after)
        if not new:
            return
        import credentials
        numbers = [record['number'] for record, _ in new]
        centres = dict(Centre.select(Centre.number, Centre.id).where(Centre.number.in_(numbers)).tuples())
        have = set(Account.select(Account.username).where(Account.username.in_(numbers)).tuples())
        for record, values in new:
            if (record['number'],) in have:
                continue
            account = Account.create(username=record['number'], kind='administrator',
                                     centre=centres[record['number']], email=values['eo_email'],
                                     contact_name=values['eo_name'])
            AuditLog.record(actor, 'account.create', f'account:{account.id}', centre=account.centre_id,
                            after={'username': account.username, 'kind': 'administrator', 'import': True})
            jobs_after.append(credentials.invite(account, page))


class Candidates(Kind):
    model = Candidate
    fields = ('surname', 'forename', 'dob', 'uci')

    @property
    def conflict(self):
        return [Candidate.centre, Candidate.number]

    def key(self, record):
        return (record['centre'], record['number'])

    def identity(self, record):
        return {'centre': record['centre'], 'number': record['number']}

    def existing(self, records):
        wanted = {self.key(record) for record in records}
        centres = {centre for centre, _ in wanted}
        numbers = {number for _, number in wanted}
        found = {}
        for row in (Candidate.select(Candidate.id, Candidate.centre, Candidate.number,
                                     *[getattr(Candidate, f) for f in self.fields])
                    .where(Candidate.centre.in_(list(centres)), Candidate.number.in_(list(numbers))).dicts()):
            key = (row['centre'], row['number'])
            if key in wanted:
                found[key] = (row['id'], row)
        return found


class Entries(Kind):
    model = Entry
    fields = ('teaching_group',)

    @property
    def conflict(self):
        return [Entry.candidate, Entry.unit]

    def key(self, record):
        return (record['candidate'], record['unit'])

    def identity(self, record):
        return {'candidate': record['candidate'], 'unit': record['unit'], 'centre': record['centre']}

    def existing(self, records):
        wanted = {self.key(record) for record in records}
        candidates = list({c for c, _ in wanted})
        found = {}
        cursor = db.execute_sql(  # plain SQL: peewee would build the 1,000 parameters in Python
            f'SELECT id, candidate_id, unit_id, teaching_group FROM entry WHERE candidate_id IN '
            f'({", ".join([db.obj.param] * len(candidates))})', candidates)
        for row_id, candidate, unit, group in cursor.fetchall():
            if (candidate, unit) in wanted:
                found[(candidate, unit)] = (row_id, {'teaching_group': group})
        return found


class Moderators(Kind):
    model = Account
    fields = ('contact_name', 'email', 'postal_address')

    @property
    def conflict(self):
        return [Account.username]

    def key(self, record):
        return record['username']

    def identity(self, record):
        return {'username': record['username'], 'kind': 'moderator'}

    def existing(self, records):
        keys = [record['username'] for record in records]
        return {row['username']: (row['id'], row) for row in
                Account.select(Account.id, Account.username, *[getattr(Account, f) for f in self.fields])
                .where(Account.username.in_(keys), Account.kind == 'moderator').dicts()}

    def write(self, new, changed, actor, page, jobs_after):
        for record, values in changed:
            Account.update(**values).where(Account.username == record['username'],
                                           Account.kind == 'moderator').execute()
        for record, values in new:  # moderators.py makes the account, its audit row and its invitation
            _, mail = moderators.create_moderator(actor, username=record['username'], name=values['contact_name'],
                                                  email=values['email'], postal_address=values['postal_address'],
                                                  welcome_url=page)
            jobs_after.append(mail)


class Assignments(Kind):
    model = ModeratorAssignment
    fields = ('moderator',)

    @property
    def conflict(self):
        return [ModeratorAssignment.centre, ModeratorAssignment.unit]

    def key(self, record):
        return (record['centre'], record['unit'])

    def identity(self, record):
        return {'centre': record['centre'], 'unit': record['unit']}

    def existing(self, records):
        wanted = {self.key(record) for record in records}
        found = {}
        for row in (ModeratorAssignment.select(ModeratorAssignment.id, ModeratorAssignment.centre,
                                               ModeratorAssignment.unit, ModeratorAssignment.moderator)
                    .where(ModeratorAssignment.unit.in_(list({u for _, u in wanted}))).dicts()):
            key = (row['centre'], row['unit'])
            if key in wanted:
                found[key] = (row['id'], row)
        return found


HANDLERS = {'centres': Centres(), 'candidates': Candidates(), 'entries': Entries(),
            'moderators': Moderators(), 'assignments': Assignments()}


def batches(iterable, size=BATCH):
    iterator = iter(iterable)
    while True:
        chunk = list(itertools.islice(iterator, size))
        if not chunk:
            return
        yield chunk


def compared(kind, records, report):
    """The records of a batch split into new and changed (with the values
    to store and, for changed ones, the stored id and values); unchanged ones counted."""
    handler = HANDLERS[kind]
    stored = handler.existing(records)
    new, changed = [], []
    for record in records:
        found = stored.get(handler.key(record))
        current = found[1] if found else None
        values = handler.values(record, current)
        if current is None:
            new.append((record, values))
            report.created += 1
        elif any(values[f] != current[f] for f in handler.fields):
            changed.append((record, values, found[0], {f: current[f] for f in handler.fields}))
            report.updated += 1
        else:
            report.unchanged += 1
    return new, changed


def records_of(kind, path, series, report, max_bytes, progress):
    """The good records of the file, in order; problems into `report`."""
    context = Context(kind, series)
    for number, row in read(path, kind, report, max_bytes, progress):
        record = check(context, number, row, report)
        if record is not None:
            yield record


def validate(kind, path, series=None, max_bytes=MAX_BYTES, progress=None):
    """Check the whole file against the database without writing: a `Report`
    with its problems and what saving it would do."""
    if kind not in KINDS:
        raise DomainError('unknown_kind')
    report = Report()
    for chunk in batches(records_of(kind, path, series, report, max_bytes, progress)):
        compared(kind, chunk, report)
    return report


def audit_value(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def save(kind, path, actor, series=None, page='', max_bytes=MAX_BYTES, progress=None, batch=None):
    """Check the file again and write it in one transaction: all of it or
    nothing. Returns (report, jobs to enqueue after commit: the invitations).
    Raises `Invalid` (nothing written) if any row has a problem now."""
    if kind not in KINDS:
        raise DomainError('unknown_kind')
    report = Report()
    jobs_after = []
    handler = HANDLERS[kind]
    actor_id = getattr(actor, 'id', actor)
    with writing():
        lock_kind(kind)
        for chunk in batches(records_of(kind, path, series, report, max_bytes, progress)):
            new, changed = compared(kind, chunk, report)
            if not report.clean:
                continue  # keep reading, to report every problem; nothing will be kept
            handler.write(new, [(record, values) for record, values, _, _ in changed], actor_id, page, jobs_after)
            if changed:
                AuditLog.insert_many([
                    {'actor': actor_id, 'action': f'import.{kind}.update', 'target': f'{handler.model._meta.table_name}:{row_id}',
                     'centre': row_id if kind == 'centres' else record.get('centre'), 'address': AuditLog.address_of_request(),
                     'before': json.dumps({f: audit_value(v) for f, v in before.items()}),
                     'after': json.dumps({f: audit_value(values[f]) for f in handler.fields}), 'at': utcnow()}
                    for record, values, row_id, before in changed]).execute()
        if not report.clean:
            raise Invalid(report)  # leaving the block rolls every batch back
        if report.created or report.updated:  # a file that changes nothing leaves no trace
            AuditLog.record(actor_id, 'import.save', f'import:{batch}' if batch else f'import:{kind}',
                            after=dict(report.counts(), kind=kind, file=os.path.basename(path)))
    return report, jobs_after


def lock_kind(kind):
    """One save of a kind at a time: PostgreSQL waits on an advisory lock;
    SQLite's IMMEDIATE transaction already holds the only write lock."""
    if not isinstance(db.obj, SqliteDatabase):
        db.execute_sql('SELECT pg_advisory_xact_lock(%s, %s)', (9009, KINDS.index(kind)))


# --- Batches: an uploaded file, its report and its save ---------------------------

def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def report_json(report):
    return json.dumps({'problems': report.problems, 'counts': report.counts(), 'fatal': report.fatal})


def check_batch(batch_id, max_bytes=MAX_BYTES, progress=None):
    """Validate a stored batch and record its report: 'ready' or 'invalid'."""
    batch = ImportBatch.get_by_id(batch_id)
    report = validate(batch.kind, batch.stored_path, batch.series_id, max_bytes, progress)
    state = 'ready' if report.clean else 'invalid'
    (ImportBatch.update(state=state, report=report_json(report), checked_at=utcnow(), **batch_counts(report))
     .where(ImportBatch.id == batch_id, ImportBatch.state == 'checking').execute())
    return report


def batch_counts(report):
    return {'rows': report.rows, 'problems': report.problem_count, 'created': report.created,
            'updated': report.updated, 'unchanged': report.unchanged}


def claim(batch_id):
    """Take a ready batch for saving; False if it is not ready (invalid, or
    another confirm won: two tabs save once). Refuses with 'import_busy'
    while another batch of the same kind is being saved."""
    batch = ImportBatch.get_or_none(ImportBatch.id == batch_id)
    if batch is None or batch.state != 'ready' or not (batch.created or batch.updated):
        return False  # nothing to save is not saved
    busy = (ImportBatch.select().where(ImportBatch.kind == batch.kind, ImportBatch.state == 'saving',
                                       ImportBatch.id != batch_id).exists())
    if busy:
        raise DomainError('import_busy', kind=batch.kind)
    return bool(ImportBatch.update(state='saving', confirmed_at=utcnow())
                .where(ImportBatch.id == batch_id, ImportBatch.state == 'ready').execute())


def save_batch(batch_id, page, max_bytes=MAX_BYTES, progress=None):
    """Save a claimed batch; records 'saved' with its counts, or 'invalid'
    with the new report, or 'failed'. Returns the jobs to enqueue."""
    batch = ImportBatch.get_by_id(batch_id)
    if batch.state != 'saving':
        return []
    try:
        report, jobs_after = save(batch.kind, batch.stored_path, batch.account_id, batch.series_id, page,
                                  max_bytes, progress, batch=batch_id)
    except Invalid as invalid:
        ImportBatch.update(state='invalid', report=report_json(invalid.report), **batch_counts(invalid.report)
                           ).where(ImportBatch.id == batch_id).execute()
        return []
    except OperationalError:  # SQLite: another writer held the database past the busy timeout
        ImportBatch.update(state='ready').where(ImportBatch.id == batch_id).execute()
        raise DomainError('import_busy', kind=batch.kind)
    ImportBatch.update(state='saved', saved_at=utcnow(), **batch_counts(report)).where(
        ImportBatch.id == batch_id).execute()
    return jobs_after


def kept_problems(batch):
    """The problems stored with a batch's report, as (row, column, code, value)."""
    if not batch.report:
        return []
    return [tuple(problem) for problem in json.loads(batch.report)['problems']]


def series_named(name):
    """The series with this name (any case), or None."""
    return Series.get_or_none(Series.name ** (name or '').strip()) if name else None


def template_csv(kind):
    """A kind's template: UTF-8 with a BOM (Excel then reads it as UTF-8), the header and one example row."""
    columns = SPECS[kind]
    lines = [','.join(column.name for column in columns),
             ','.join(csv_cell(column.example) for column in columns)]
    return ('\ufeff' + '\r\n'.join(lines) + '\r\n').encode('utf-8')


def csv_cell(value):
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',;"\n') else value
