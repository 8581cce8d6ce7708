"""Builders for a small world of two centres, in the CTFd manner."""
import datetime
from types import SimpleNamespace

import demo
from models import Series, Unit

PASSWORD = 'Secret2017pw'
TOTP_SECRET = 'TESTSECRETFORSTAFFANDMODERATORS2'


def build_world(candidates=30):
    """Centre 68999 (administrator, a teacher with Level 3, a teacher with one
    unit, a teacher with none), centre 50551, a moderator and helpline staff;
    a grades unit, a second grades unit and a marks unit."""
    series = Series.create(name='LEVEL 3 QUALIFICATIONS JUNE 2017', position=1,
                           results_day=datetime.date(2017, 8, 17))
    gcse = Series.create(name='GCSE JUNE 2017', position=2)
    deadline = datetime.date(2017, 5, 15)
    unit = Unit.create(series=series, code='9611/L3', title='CRIMINOLOGICAL THEORIES',
                       suite='LEVEL 3', deadline=deadline)
    other_unit = Unit.create(series=series, code='9613/L3', title='SOCIAL CONTROL',
                             suite='LEVEL 3', deadline=deadline)
    marks_unit = Unit.create(series=gcse, code='C700U3', title='SPOKEN LANGUAGE', suite='GCSE',
                             scheme='marks', max_mark=40, deadline=deadline)
    centre = demo.make_centre('68999', 'EXAMPLE HIGH SCHOOL')
    other_centre = demo.make_centre('50551', 'THE CASTLE SCHOOL')
    w = SimpleNamespace(series=series, unit=unit, other_unit=other_unit, marks_unit=marks_unit,
                        centre=centre, other_centre=other_centre)
    w.admin = demo.make_account('68999', 'administrator', PASSWORD, centre=centre)
    w.teacher = demo.make_account('68999JBR', 'user', PASSWORD, centre=centre, grants=['CW_LEVEL_3'])
    w.teacher_one_unit = demo.make_account('68999ONE', 'user', PASSWORD, centre=centre, units=[other_unit])
    w.teacher_no_units = demo.make_account('68999NON', 'user', PASSWORD, centre=centre)
    w.other_admin = demo.make_account('50551', 'administrator', PASSWORD, centre=other_centre)
    w.other_teacher = demo.make_account('50551JBR', 'user', PASSWORD, centre=other_centre,
                                        grants=['CW_LEVEL_3'])
    w.moderator = demo.make_account('mod1', 'moderator', PASSWORD, contact_name='Mrs. M Walters',
                                    postal_address='245 WESTERN AVE\nCARDIFF\nCF5 2YX',
                                    totp_secret=TOTP_SECRET)
    w.staff = demo.make_account('helpdesk1', 'staff', PASSWORD, totp_secret=TOTP_SECRET, staff_roles='helpline')
    w.series_staff = demo.make_account('series1', 'staff', PASSWORD, totp_secret=TOTP_SECRET, staff_roles='series')
    w.candidates = demo.make_candidates(centre, candidates, 3001, seed=1)
    w.entries = demo.enter(w.candidates, unit)
    w.other_unit_entries = demo.enter(w.candidates, other_unit)
    w.marks_entries = demo.enter(w.candidates[:10], marks_unit)
    w.other_candidates = demo.make_candidates(other_centre, 5, 4001, seed=2)
    w.other_centre_entries = demo.enter(w.other_candidates, unit)
    from models import ModeratorAssignment
    ModeratorAssignment.create(centre=centre, unit=unit, moderator=w.moderator)
    return w


def complete(entries, account, values='PPMMD'):
    demo.record_outcomes(entries, account, values)


def delivered_token(app, mail):
    """The token of a link mail as delivered (the .eml written at sending):
    the stored outbox body never holds it (issue 6, point 4)."""
    import os
    import re
    with open(os.path.join(app.config['MAIL_FOLDER'], f'{mail.key}.eml')) as handle:
        return re.search(r'https?://\S+/(?:welcome|reset)(?:\?lang=cy)?#([A-Za-z0-9_-]+)', handle.read()).group(1)


def second_factor_code(username, secret=TOTP_SECRET):
    """A code the app would show now for a test account, usable again: the
    account's last accepted step is set back first (tests sign in often
    within one 30-second step; a code works once)."""
    import pyotp
    from models import Account, db
    with db.connection_context():
        Account.update(totp_last_step=0).where(Account.username == username.upper()).execute()
    return pyotp.TOTP(secret).now()
