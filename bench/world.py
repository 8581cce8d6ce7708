"""Databases for the benchmarks, built with the product's own demo helpers.

Every database is a fresh SQLite file in a temporary directory; nothing
touches instance/portal.db.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

PASSWORD = 'Demo2017pass'
SECRET = 'bench-secret-key-of-at-least-32-characters'
UNIT_CODE = '9614/L3'  # a grades unit of suite LEVEL 3


def make_app(path, **config):
    """The product app bound to the SQLite file at `path`."""
    from app import create_app
    return create_app({'DATABASE_URL': f'sqlite:///{path}', 'SECRET_KEY': SECRET, **config})


def demo_database(path, **config):
    """A fresh database holding the demo world of SPEC section 5."""
    import demo
    import storage
    from models import db
    app = make_app(path, **config)
    with db.connection_context():
        storage.migrate()
        demo.load(PASSWORD)
    return app


def bench_unit():
    from models import Unit
    return Unit.get(Unit.code == UNIT_CODE)


class SizedCentre:
    """One centre entered for one grades unit, with a teacher who may open it."""

    def __init__(self, centre, unit, teacher, entries):
        self.centre, self.unit, self.teacher, self.entries = centre, unit, teacher, entries
        self.size = len(entries)
        self.username = teacher.username


def sized_centre(number, size, unit, complete=1.0, seed=None):
    """`size` candidates of a new centre `number` entered for `unit`;
    outcomes recorded for the first `complete` fraction of the entries."""
    import demo
    from models import SUITE_FACILITY
    centre = demo.make_centre(number, f'BENCH CENTRE OF {size}')
    teacher = demo.make_account(f'{number}BEN', 'user', PASSWORD, centre=centre,
                                grants=[SUITE_FACILITY[unit.suite]],
                                contact_name=f'Bench teacher {size}')
    candidates = demo.make_candidates(centre, size, 1001, seed=seed if seed is not None else size)
    entries = demo.enter(candidates, unit)
    done = entries[:round(len(entries) * complete)]
    if done:
        demo.record_outcomes(done, teacher, 'PPPMMD', seed=size)
    return SizedCentre(centre, unit, teacher, entries)
