"""The portal as gunicorn serves it for the benchmarks, plus one extra route.

    gunicorn --workers 2 --threads 4 --bind 127.0.0.1:PORT 'bench.wsgi:app'

DATABASE_URL and SECRET_KEY come from the environment (run.py sets them).
`/bench/bare` is "a bare Flask endpoint on the same server": a fixed
~300-byte HTML fragment, no database query and no sign-in. It still passes
through the app's own before/after-request hooks (database connection open
and close, session limits, security headers), exactly as every product
route does, so the ratios measure what a route adds on top of that floor.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from app import create_app  # noqa: E402

BARE_HTML = (
    '<tr id="entry-0"><td>3001</td><td>BENCH: BARE</td><td>'
    '<input type="hidden" name="version-0" value="0">'
    '<select name="value-0"><option value=""></option>'
    '<option value="P">Pass</option><option value="M">Merit</option>'
    '<option value="D">Distinction</option><option value="A">Absent</option></select>'
    '</td><td></td></tr>\n')


def build():
    config = {}
    for name in ('DATABASE_URL', 'SECRET_KEY'):
        if os.environ.get(name):
            config[name] = os.environ[name]
    application = create_app(config)

    @application.route('/bench/bare')
    def bench_bare():
        return BARE_HTML

    return application


app = build()
