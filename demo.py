"""The demo world of SPEC section 5, and the builders it (and the tests) use."""
import datetime
import random

import passwords
from models import (Account, Candidate, Centre, Entry, FacilityGrant,
                    ModeratorAssignment, Outcome, Series, Unit, UnitGrant, db)

# The demo's helpline and moderator accounts have this authenticator key
# (README): `python -c "import pyotp; print(pyotp.TOTP('...').now())"`.
DEMO_TOTP_SECRET = 'PORTALDEMOSECRETFORSTAFFANDMODS2'

SURNAMES = ['PIPE', 'KING', 'GREEN', 'CASE', 'BATH', 'OKI', 'LOTT', 'MONEY', 'DRAWERS',
            'PRICE', 'PURB', 'DROID', 'FOOTFORWARD', 'LATER', 'STAND', 'BURR', 'CARR',
            'ESTER', 'WATERS', 'INCH', 'DOWN', 'SKIES', 'BALL', 'JONES', 'DAVIES', 'EVANS',
            'THOMAS', 'ROBERTS', 'HUGHES', 'LEWIS', 'MORGAN', 'GRIFFITHS', 'OWEN', 'PRICE-JONES']
FORENAMES = ['DWAYNE', 'JOE', 'THERESA', 'JUSTIN', 'ANITA', 'KERRY', 'MONA', 'XAVIER',
             'CHESTER', 'LOIS', 'SUE', 'ANNE', 'BESS', 'CELIA', 'MIKE', 'TIM', 'LISA',
             'POLLY', 'MISTY', 'NEIL', 'SONNY', 'DENNIS', 'SIONED', 'RHYS', 'CERYS', 'DYLAN',
             'ELIN', 'GARETH', 'NIA', 'OWAIN', 'SIAN', 'TOMOS']


def make_centre(number, name, **fields):
    return Centre.create(number=number, name=name, **fields)


def make_account(username, kind, password, centre=None, grants=(), units=(), **fields):
    """An account; `grants` are facility codes ('CW_LEVEL_3', ...) with All
    papers, `units` are units granted one by one."""
    account = Account.create(username=username.upper(), kind=kind, centre=centre,
                             password_hash=passwords.hash_password(password), **fields)
    for code in grants:
        FacilityGrant.create(account=account, facility=code, all_papers=True)
    for unit in units:
        FacilityGrant.get_or_create(account=account, facility=_facility_of(unit))
        UnitGrant.create(account=account, unit=unit)
    return account


def _facility_of(unit):
    from models import SUITE_FACILITY
    return SUITE_FACILITY[unit.suite]


def make_candidates(centre, count, first_number=3001, seed=0, names=None):
    """`count` candidates with plausible names and dates of birth, in one insert."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        surname, forename = names[i] if names and i < len(names) else (
            rng.choice(SURNAMES), rng.choice(FORENAMES))
        rows.append({'centre': centre.id, 'number': f'{first_number + i:04d}', 'surname': surname,
                     'forename': forename,
                     'dob': datetime.date(1999, 9, 1) + datetime.timedelta(days=rng.randrange(365))})
    with db.atomic():
        for start in range(0, len(rows), 500):
            Candidate.insert_many(rows[start:start + 500]).execute()
    return list(Candidate.select()
                .where(Candidate.centre == centre,
                       Candidate.number.between(f'{first_number:04d}', f'{first_number + count - 1:04d}'))
                .order_by(Candidate.number))


def enter(candidates, unit, groups=('A', 'B', 'C')):
    """Enter candidates for a unit (processed entries), teaching groups in turn."""
    rows = [{'candidate': c.id, 'unit': unit.id, 'centre': c.centre_id,
             'teaching_group': groups[i % len(groups)] if groups else ''}
            for i, c in enumerate(candidates)]
    with db.atomic():
        for start in range(0, len(rows), 500):
            Entry.insert_many(rows[start:start + 500]).execute()
    return list(Entry.select().where(Entry.unit == unit, Entry.candidate.in_([c.id for c in candidates]))
                .order_by(Entry.id))


def record_outcomes(entries, account, values, seed=0):
    """Give each entry an outcome drawn from `values` (e.g. 'PPPMMD'), in one insert."""
    rng = random.Random(seed)
    rows = []
    for entry in entries:
        value = rng.choice(values)
        score = {'P': 1, 'M': 2, 'D': 3, 'A': -1}.get(value)
        rows.append({'entry': entry.id, 'value': value,
                     'score': score if score is not None else int(value),
                     'entered_by': account.id})
    with db.atomic():
        for start in range(0, len(rows), 500):
            Outcome.insert_many(rows[start:start + 500]).execute()


def load(password):
    """Centre 68999 and its teacher, the Level 3 and Entry Pathways series,
    THE CASTLE SCHOOL (50551), moderator mod1 and helpline helpdesk1."""
    with db.atomic():
        level3 = Series.create(name='LEVEL 3 QUALIFICATIONS JUNE 2017', name_cy='CYMWYSTERAU LEFEL 3 MEHEFIN 2017',
                               position=1, results_day=datetime.date(2017, 8, 17))
        pathways = Series.create(name='ENTRY PATHWAYS JANUARY 2021', name_cy='LLWYBRAU MYNEDIAD IONAWR 2021',
                                 position=2, results_day=datetime.date(2021, 3, 4))
        gcse = Series.create(name='GCSE JUNE 2017', name_cy='TGAU MEHEFIN 2017', position=3,
                             results_day=datetime.date(2017, 8, 24))
        deadline = datetime.date(2017, 5, 15)
        l3_units = [Unit.create(series=level3, code=code, title=title, title_cy=title_cy, suite='LEVEL 3',
                                deadline=deadline)
                    for code, title, title_cy in [
                        ('9611/L3', 'CRIMINOLOGICAL THEORIES CONTROL ASSESSMENT',
                         'DAMCANIAETHAU TROSEDDEGOL ASESIAD DAN REOLAETH'),
                        ('9613/L3', 'SOCIAL CONTROL POLICY & PRACTICE CONTROL ASSESSMENT',
                         'POLISI AC ARFER RHEOLAETH GYMDEITHASOL ASESIAD DAN REOLAETH'),
                        ('9614/L3', 'CHANGING AWARENESS OF CRIME CONTROL ASSESSMENT',
                         'NEWID YMWYBYDDIAETH O DROSEDD ASESIAD DAN REOLAETH'),
                        ('9615/L3', 'CRIME SCENE TO COURTROOM CONTROL ASSESSMENT',
                         "O LEOLIAD Y DROSEDD I'R LLYS ASESIAD DAN REOLAETH")]]
        ep_units = [Unit.create(series=pathways, code=code, title=title, title_cy=title_cy, suite='ENTRY PATHWAYS',
                                deadline=datetime.date(2021, 2, 12), e_submission=True)
                    for code, title, title_cy in [
                        ('6051/E1', 'DEVELOPING COMMUNICATION SKILLS COURSEWORK', 'DATBLYGU SGILIAU CYFATHREBU GWAITH CWRS'),
                        ('6052/E1', 'DEVELOPING READING SKILLS COURSEWORK', 'DATBLYGU SGILIAU DARLLEN GWAITH CWRS')]]
        spoken = Unit.create(series=gcse, code='C700U3', title='ENGLISH LANGUAGE SPOKEN LANGUAGE',
                             title_cy='IAITH SAESNEG IAITH LAFAR', suite='GCSE', scheme='marks', max_mark=40,
                             deadline=deadline)

        centre = make_centre('68999', 'EXAMPLE HIGH SCHOOL', head_of_centre='Mrs S Evans',
                             telephone='029 2000 0000', eo_name='Mr J Bryant',
                             eo_email='exams@example-high.sch.uk')
        officer = make_account('68999', 'administrator', password, centre=centre,
                               contact_name='Mr J Bryant', job_title='Examinations Officer',
                               email='exams@example-high.sch.uk')
        make_account('68999JBR', 'user', password, centre=centre,
                     grants=['CW_LEVEL_3', 'CW_ENTRY_PATHWAYS'], contact_name='Ms J Brown',
                     job_title='Teacher of Criminology', email='j.brown@example-high.sch.uk')

        cohort = make_candidates(centre, 144, 3001, seed=68999)
        for unit, entered, values in zip(l3_units, (0, 144, 43, 144), ('PPMMD', 'PPPMMD', 'PPMMDA', 'PMMD')):
            entries = enter(cohort, unit)
            record_outcomes(entries[:entered], officer, values, seed=unit.id)
        pathways_cohort = make_candidates(centre, 6, 1501, seed=2021, names=[
            ('WILLIAMS', 'JOOLS'), ('GELLAR', 'SARAH'), ('MATTHEWS', 'SIONED'),
            ('HUGHES', 'CERYS'), ('MORGAN', 'OWAIN'), ('LEWIS', 'ELIN')])
        for unit in ep_units:
            record_outcomes(enter(pathways_cohort, unit, groups=('EP1',)), officer, 'PPM', seed=unit.id)
        spoken_entries = enter(cohort[:30], spoken)
        record_outcomes(spoken_entries[:10], officer, [str(m) for m in range(12, 41)], seed=7)

        castle = make_centre('50551', 'THE CASTLE SCHOOL', head_of_centre='Mr D Castle',
                             telephone='01633 000000', eo_name='Mrs A Keep',
                             eo_email='exams@castle.sch.uk')
        make_account('50551', 'administrator', password, centre=castle, contact_name='Mrs A Keep',
                     job_title='Examinations Officer', email='exams@castle.sch.uk')
        for initials in ('JBR', 'ADE', 'CCO'):
            make_account(f'50551{initials}', 'user', password, centre=castle,
                         units=[l3_units[0]], contact_name=f'Teacher {initials}')
        castle_cohort = make_candidates(castle, 20, 4001, seed=50551)
        enter(castle_cohort, l3_units[0])

        moderator = make_account('mod1', 'moderator', password, contact_name='Mrs. M Walters',
                                 postal_address='245 WESTERN AVE\nCARDIFF\nCF5 2YX',
                                 email='m.walters@example.org', totp_secret=DEMO_TOTP_SECRET)
        make_account('helpdesk1', 'staff', password, contact_name='Helpline',
                     email='pathways@wjec.co.uk', totp_secret=DEMO_TOTP_SECRET, staff_roles='helpline')
        make_account('series1', 'staff', password, contact_name='Series delivery',
                     email='series@wjec.co.uk', totp_secret=DEMO_TOTP_SECRET, staff_roles='series')
        for c, units in ((centre, l3_units + ep_units + [spoken]), (castle, [l3_units[0]])):
            for unit in units:
                ModeratorAssignment.create(centre=c, unit=unit, moderator=moderator)


def add_uploaded_work(store):
    """6052/E1 of centre 68999 submitted, with work uploaded for two sampled
    candidates and an explanatory note, so that a new user sees the centre's
    and the moderator's sides of e-submission at once (issue 8). `store` is
    where files go (uploads.store_of(config))."""
    import uploads
    from models import Marksheet
    centre = Centre.get(Centre.number == '68999')
    sheet = Marksheet(centre, Unit.get(Unit.code == '6052/E1'))
    teacher = Account.by_username('68999JBR')
    sheet.submit(Account.by_username('68999'))
    works = [('Reading log - autumn.txt', 'Reading log: three books read this term, with notes on each.\n'),
             ('Presentation script.txt', 'Script of the presentation given to the class on 12 January.\n')]
    for entry, (name, text) in zip(sheet.sampled_entries(), works):
        data = text.encode()
        upload = uploads.begin(sheet, entry, teacher, name, len(data))
        with open(store.part(upload), 'wb') as out:
            out.write(data)
        upload.received = len(data)
        uploads.check(store, upload)
    uploads.save_note(sheet, 'Candidate 1501 read her presentation with a support assistant present.', teacher)
