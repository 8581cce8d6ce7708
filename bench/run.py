#!/usr/bin/env python
"""Performance benchmarks of the Internal Assessment Portal, in one run.

    cd /work/main && .venv/bin/python bench/run.py      (or: make bench)

Prints ratios with the raw figures behind them, and writes the same text to
bench/results/latest.txt. It never fails on a timing: the goals (QUALITY
P-1..P-6) are printed beside the figures for a person to judge. See
bench/README.md for what each figure means.
"""
import argparse
import datetime
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault('PYTHONDONTWRITEBYTECODE', '1')
sys.dont_write_bytecode = True

RESULTS = os.path.join(ROOT, 'bench', 'results', 'latest.txt')
SCALE_SIZES = (20, 200, 2000)
SUBMIT_SIZE = 2000
PDF_SIZES = (250, 500, 1000)

GOALS = {  # id: (what, goal text, test)
    'P-1': ('grade save req/s ÷ bare req/s', '≥ 0.5', lambda v: v >= 0.5),
    'P-2': ('grade-save response body, bytes', '< 1024', lambda v: v < 1024),
    'P-3': ('SQL queries per request, 20 → 2,000 candidates', 'constant', lambda v: v == 0),
    'P-4': ('marksheet (20 rows) req/s ÷ bare req/s', '≥ 0.4', lambda v: v >= 0.4),
    'P-5': ('report PDF job ÷ bare WeasyPrint table, 1,000 rows', '≤ 1.5', lambda v: v <= 1.5),
    'P-6a': ('upload: web process RSS growth, MiB (worse path)', '< 50 MiB', lambda v: v < 50),
    'P-6b': ('upload MiB/s ÷ disk copy MiB/s (worse path)', '≥ 0.5', lambda v: v >= 0.5),
    'IMP-1': ('import 100,000 entries: validate+save ÷ bare executemany', '≤ 3', lambda v: v <= 3),
    'IMP-2': ('import: validate() peak memory, 25,000 → 100,000 rows', 'flat', lambda v: v < 50),
    'IMP-3': ('import: report page of 10,000 bad rows, server time', '< 1 s', lambda v: v < 1),
}


class Report:
    """Print a line and keep it for results/latest.txt."""

    def __init__(self):
        self.lines = []
        self.summary = []

    def __call__(self, text=''):
        print(text, flush=True)
        self.lines.append(text)

    def goal(self, key, value, shown, detail=''):
        what, goal, test = GOALS[key]
        status = 'meets goal' if test(value) else 'MISSES goal'
        self.summary.append((key, what, shown, goal, status, detail))
        return status

    def save(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write('\n'.join(self.lines) + '\n')


def loadavg():
    try:
        with open('/proc/loadavg') as handle:
            return ' '.join(handle.read().split()[:3])
    except OSError:
        return '?'


def version_of(name):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return '?'


# --- P-1, P-2, P-4: full stack on gunicorn ------------------------------------

def web_benchmarks(report, tmp, args):
    from bench import server, web, world
    from models import db

    path = os.path.join(tmp, 'web.db')
    world.demo_database(path, REDIS_URL=None)
    with db.connection_context():
        unit_id = world.bench_unit().id
    db.close()
    gunicorn = server.Gunicorn(path, world.SECRET, os.path.join(tmp, 'gunicorn.log'))
    gunicorn.start()
    try:
        client = web.Client(gunicorn.port, '68999JBR', world.PASSWORD, unit_id)
        state = client.marksheet_state()

        # P-2 first: one real grade change, answer measured to the byte.
        _status, head_bytes, body_bytes, _body = web.one_save(client, state)
        # The same in Welsh, from a second session of the same teacher.
        welsh = web.switch_language(web.Client(gunicorn.port, '68999JBR', world.PASSWORD, unit_id), 'cy')
        _status, cy_head_bytes, cy_body_bytes, _body = web.one_save(welsh, state)
        pages = {}
        for label, path_ in (('20 rows', client.marksheet_path),
                             ('Rows: All', client.marksheet_path + '?rows=all'),
                             ('bare', '/bench/bare')):
            status, head, body, _b = web.page_size(gunicorn.port, path_,
                                                   None if label == 'bare' else client.cookie)
            pages[label] = (status, head, body)

        saves = web.save_target(client, state, args.threads)
        targets = [('bare', web.get_target(gunicorn.port, '/bench/bare')),
                   ('save', saves),
                   ('marksheet 20', web.get_target(gunicorn.port, client.marksheet_path, client.cookie)),
                   ('marksheet all', web.get_target(gunicorn.port, client.marksheet_path + '?rows=all',
                                                    client.cookie))]
        results = web.interleaved(targets, args.threads, args.seconds, args.rounds, args.warmup,
                                  gunicorn.server_pids)
    finally:
        gunicorn.stop()

    bare, save = results['bare'], results['save']
    page20, page_all = results['marksheet 20'], results['marksheet all']
    noop = sum(w.noop for w in saves.workers)
    conflicts = sum(w.conflicts for w in saves.workers)
    rows_all = len(state)

    report(f'gunicorn --workers 2 --threads 4 on 127.0.0.1; {args.threads} client threads; '
           f'{args.seconds:g} s per target in {args.rounds} interleaved turns (ABBA), '
           f'{args.warmup:g} s warm-up per turn; a new connection every 10 requests.')
    report('  (/bench/bare makes no query and needs no sign-in, but like every route it passes the '
           'app\'s hooks, which open a SQLite connection with 4 PRAGMAs and close it)')
    report(f'  bare      /bench/bare                 {bare.describe()}')
    report(f'  save      POST .../entries/<id>      {save.describe()}')
    report(f'  page 20   GET marksheet               {page20.describe()}')
    report(f'  page all  GET marksheet?rows=all      {page_all.describe()}')
    report(f'  per-turn req/s: bare {fmt_list(bare.rounds)}; save {fmt_list(save.rounds)}; '
           f'20 rows {fmt_list(page20.rounds)}; all {fmt_list(page_all.rounds)}')
    report(f'  client CPU: {client_share(results, args):.0%} of one core in all '
           f'(the client shares the two cores with the server)')
    if save.ok == 0 or bare.ok == 0:
        report('  !! no successful requests: see errors above and gunicorn.log')
        return

    ratio = save.rps / bare.rps
    report()
    report(f'P-1  grade save ÷ bare                ratio {ratio:.3f}   '
           f'(save {save.rps:.1f} req/s, bare {bare.rps:.1f} req/s)   goal ≥ 0.5   '
           f'{report.goal("P-1", ratio, f"{ratio:.3f}")}')
    cpu_ratio = cpu_per_request(bare) / cpu_per_request(save) if cpu_per_request(save) else float('nan')
    report(f'     server CPU per request: save {cpu_per_request(save) * 1000:.2f} ms, '
           f'bare {cpu_per_request(bare) * 1000:.2f} ms (CPU-only ratio {cpu_ratio:.3f}); '
           f'{save.ok} saves answered 2xx, {conflicts} 409, {noop} no-op')
    largest = max(body_bytes, cy_body_bytes)
    status = report.goal('P-2', largest, f'{body_bytes} B (Cymraeg {cy_body_bytes} B)',
                         f'+ {head_bytes} B of headers; goal judged on the larger')
    report(f'P-2  grade-save response              {body_bytes} bytes of body in English, '
           f'{cy_body_bytes} in Cymraeg (+ {head_bytes} / {cy_head_bytes} bytes of status line '
           f'and headers)   goal < 1024   {status}')
    ratio20 = page20.rps / bare.rps
    ratio_all = page_all.rps / bare.rps
    report(f'P-4  marksheet 20 rows ÷ bare         ratio {ratio20:.3f}   '
           f'({page20.rps:.1f} req/s vs {bare.rps:.1f}; {pages["20 rows"][2]} B page)   goal ≥ 0.4   '
           f'{report.goal("P-4", ratio20, f"{ratio20:.3f}", f"Rows: All {ratio_all:.3f}")}')
    report(f'     marksheet Rows: All ({rows_all}) ÷ bare ratio {ratio_all:.3f}   '
           f'({page_all.rps:.1f} req/s; {pages["Rows: All"][2]} B page)')
    report(f'     server CPU per request: 20 rows {cpu_per_request(page20) * 1000:.2f} ms, '
           f'Rows: All {cpu_per_request(page_all) * 1000:.2f} ms '
           f'({(cpu_per_request(page_all) - cpu_per_request(page20)) / max(1, rows_all - 20) * 1000:.3f} ms '
           f'per extra row)')
    report(f'     bare endpoint body {pages["bare"][2]} B')


def fmt_list(values):
    return '/'.join(f'{v:.0f}' if v >= 10 else f'{v:.1f}' for v in values)


def cpu_per_request(result):
    return result.server_cpu / result.count if result.count and result.server_cpu else 0.0


def client_share(results, args):
    seconds = sum(r.seconds for r in results.values())
    return sum(r.client_cpu for r in results.values()) / seconds if seconds else 0.0


# --- P-3 and submission: in-process on large centres -----------------------------

def build_scale_world(tmp, report):
    """One fresh database: the demo world plus a centre per size."""
    from bench import world
    from models import db
    path = os.path.join(tmp, 'scale.db')
    start = time.perf_counter()
    app = world.demo_database(path, REDIS_URL=None,
                              REPORTS_DIR=os.path.join(tmp, 'reports'))
    with db.connection_context():
        unit = world.bench_unit()
        centres = {}
        for size in SCALE_SIZES:  # 90% of outcomes recorded: a marksheet in progress
            centres[('scale', size)] = world.sized_centre(f'7{size:04d}', size, unit, complete=0.9)
        centres[('submit', SUBMIT_SIZE)] = world.sized_centre('81000', SUBMIT_SIZE, unit, complete=1.0)
        for size in PDF_SIZES:
            centres[('pdf', size)] = world.sized_centre(f'9{size:04d}', size, unit, complete=1.0)
    db.close()
    report(f'(built {path.rsplit("/", 1)[-1]}: demo world + centres of '
           f'{", ".join(str(s) for s in SCALE_SIZES)} (90% marked), {SUBMIT_SIZE} and '
           f'{", ".join(str(s) for s in PDF_SIZES)} (complete) for unit {unit.code} '
           f'in {time.perf_counter() - start:.1f} s)')
    return app, centres


def scale_benchmarks(report, app, centres, args):
    from bench import scale, world
    from bench.queries import QueryCounter
    from models import db

    counter = QueryCounter(db.obj)
    # Warm Jinja's template cache and the import paths once, uncounted.
    scale.measure_requests(app, counter, centres[('scale', SCALE_SIZES[0])], world.PASSWORD, repeat=1)
    table = {size: scale.measure_requests(app, counter, centres[('scale', size)], world.PASSWORD)
             for size in SCALE_SIZES}

    report('SQL queries per request through peewee (in brackets: every statement SQLite ran, '
           'with BEGIN/COMMIT and the PRAGMAs of opening a connection), Flask test client:')
    head = f'  {"endpoint":<24}' + ''.join(f'{f"{s} cand.":>14}' for s in SCALE_SIZES) + '   grows?'
    report(head)
    growing = []
    for name in scale.ENDPOINTS:
        cells = ''.join('{:>14}'.format('%d (%d)' % (table[s][name]['queries'],
                                                     table[s][name]['statements']))
                        for s in SCALE_SIZES)
        first, last = table[SCALE_SIZES[0]][name]['queries'], table[SCALE_SIZES[-1]][name]['queries']
        grows = f'GROWS (+{last - first})' if last > first else 'no'
        if last > first:
            growing.append(name)
        report(f'  {name:<24}{cells}   {grows}')
    report('  time in-process, ms (fastest of 3; the page sizes in brackets):')
    for name in scale.ENDPOINTS:
        cells = ''.join('{:>14}'.format('%.0f (%d KB)' % (table[s][name]['ms'],
                                                          table[s][name]['bytes'] // 1024))
                        for s in SCALE_SIZES)
        report(f'  {name:<24}{cells}')
    big = table[SCALE_SIZES[-1]]
    for name in ('save', 'marksheet (20 rows)'):
        report(f'  {name}, in order: ' + ', '.join(big[name]['briefs']))
    for name in scale.ENDPOINTS:
        if big[name]['repeated']:
            report(f'  same query more than once in {name}: '
                   + '; '.join(f'{text} {n}×' for n, text, _sql in big[name]['repeated']))
    spread = max(table[SCALE_SIZES[-1]][n]['queries'] - table[SCALE_SIZES[0]][n]['queries']
                 for n in scale.ENDPOINTS)
    status = report.goal('P-3', spread, 'constant' if not growing else f'grows: {", ".join(growing)}',
                         ', '.join(f'{n} {table[SCALE_SIZES[-1]][n]["queries"]}' for n in scale.ENDPOINTS))
    report(f'P-3  queries per request, {SCALE_SIZES[0]} → {SCALE_SIZES[-1]} candidates: '
           f'{"none grows" if not growing else "GROWING: " + ", ".join(growing)}   '
           f'goal: constant   {status}')

    # Submission and the sample for 2,000 complete candidates.
    sized = centres[('submit', SUBMIT_SIZE)]
    page_seconds, page_queries, page_repeats = scale.preview_page(app, counter, sized, world.PASSWORD)
    with db.connection_context():
        figures = scale.submit_and_sample(counter, sized, app)
    preview_s, preview_q = figures['preview']
    submit_s, submit_q = figures['submit']
    report()
    report(f'SUBMIT  Marksheet.submit() for {SUBMIT_SIZE} candidates: {submit_s:.3f} s '
           f'({submit_s / SUBMIT_SIZE * 1000:.3f} ms per candidate, {submit_q} queries, '
           f'sample of {figures["sample"]})')
    report(f'        Marksheet.preview_sample(): {preview_s:.3f} s '
           f'({preview_s / SUBMIT_SIZE * 1000:.3f} ms per candidate, {preview_q} queries); '
           f'PREVIEW SAMPLE page {page_seconds:.3f} s, {page_queries} queries'
           + (' (more than once: ' + '; '.join(f'{text} {n}×' for n, text, _sql in page_repeats) + ')'
              if page_repeats else ''))
    return counter


# --- P-5: PDF ----------------------------------------------------------------------

def pdf_benchmarks(report, app, centres, tmp, args):
    from bench import pdf
    from models import db

    with db.connection_context():
        warm = centres[('scale', SCALE_SIZES[0])]  # fonts, stylesheet, imports: once, untimed
        pdf.job_pdf(app, warm)
        pdf.bare_pdf(warm, tmp)
        rows = []
        for size in PDF_SIZES:
            sized = centres[('pdf', size)]
            job_times, bare_times = [], []
            for _turn in range(args.pdf_repeats):  # alternate, keep the fastest of each
                job_s, job_pages, _path = pdf.job_pdf(app, sized)
                bare_s, bare_pages, _bare = pdf.bare_pdf(sized, tmp)
                job_times.append(job_s)
                bare_times.append(bare_s)
            rows.append((size, min(job_times), job_pages, min(bare_times), bare_pages,
                         job_times, bare_times))
        parts = pdf.job_parts(app, centres[('pdf', PDF_SIZES[-1])]) if not args.quick else None

    report(f'  best of {args.pdf_repeats} runs each, job and bare alternating; every run in brackets')
    report(f'  {"rows":>6}  {"report job":>11} {"pages":>5} {"ms/page":>8}   '
           f'{"bare table":>10} {"pages":>5} {"ms/page":>8}   {"ratio":>6}   runs (job | bare), s')
    for size, job_s, job_pages, bare_s, bare_pages, job_times, bare_times in rows:
        report(f'  {size:>6}  {job_s:>10.2f}s {job_pages:>5} {job_s / max(1, job_pages) * 1000:>8.0f}   '
               f'{bare_s:>9.2f}s {bare_pages:>5} {bare_s / max(1, bare_pages) * 1000:>8.0f}   '
               f'{job_s / bare_s:>6.2f}   ({" ".join(f"{t:.2f}" for t in job_times)} | '
               f'{" ".join(f"{t:.2f}" for t in bare_times)})')
    first, last = rows[0], rows[-1]
    growth = (last[1] / last[0]) / (first[1] / first[0])
    report(f'  time per row, job: {first[1] / first[0] * 1000:.2f} ms at {first[0]} rows, '
           f'{last[1] / last[0] * 1000:.2f} ms at {last[0]} rows (×{growth:.2f}); bare: '
           f'{first[3] / first[0] * 1000:.2f} → {last[3] / last[0] * 1000:.2f} ms '
           f'(×{(last[3] / last[0]) / (first[3] / first[0]):.2f})')
    if parts:
        report(f'  the job at {PDF_SIZES[-1]} rows, taken apart: rows query {parts["query"] * 1000:.0f} ms, '
               f'template {parts["template"] * 1000:.0f} ms, WeasyPrint layout {parts["layout"]:.2f} s, '
               f'PDF write {parts["write"]:.2f} s ({parts["pages"]} pages)')
    size, job_s, job_pages, bare_s, bare_pages, _jobs, _bares = rows[-1]
    ratio = job_s / bare_s
    report(f'P-5  report PDF ÷ bare table, {size} rows   ratio {ratio:.2f}   '
           f'(job {job_s:.2f} s for {job_pages} pages, bare {bare_s:.2f} s for {bare_pages} pages)'
           f'   goal ≤ 1.5   {report.goal("P-5", ratio, f"{ratio:.2f}", f"{job_pages} vs {bare_pages} pages")}')


# --- P-6: uploads ------------------------------------------------------------------

def uploads_benchmarks(report, tmp, args):
    from bench import uploads

    size = args.upload_mib * uploads.MIB
    mib = size / uploads.MIB
    per_gib = uploads.GIB / size
    report(f'gunicorn --workers 1 --threads 4 on 127.0.0.1; demo centre {uploads.CENTRE}, unit '
           f'{uploads.UNIT_CODE} submitted in the set-up; signed in as {uploads.USERNAME}; client: requests, '
           f'bodies streamed from the file in 1 MiB blocks; {args.upload_rounds} round(s) of tus and form '
           f'in ABBA order, a disk copy before, between and after every upload.')
    report(f'  NOTE: {os.cpu_count()} cores: the client (reading the file, sending it) and the server '
           f'(receiving, writing, fsync, then the check job) compete for them; the client\'s CPU is shown.')
    figures = uploads.run(tmp, size, args.upload_rounds)
    copies = figures['copies']
    report(f'  source: {mib:.0f} MiB of os.urandom, fsynced ({figures["made_in"]:.1f} s); it stays in the '
           f'page cache for the copies and the uploads alike')
    report(f'  disk copies (shutil.copyfile + fsync, same filesystem): '
           + ', '.join(f'{c:.2f} s ({mib / c:.0f} MiB/s)' for c in copies))
    report(f'  {"path":<27}{"requests":>8}{"wall s":>8}{"MiB/s":>8}{"÷ copy":>8}'
           f'{"RSS +MiB":>10}{"(VmHWM)":>9}{"srv CPU s/GiB":>15}{"client CPU s":>14}   whole?')
    per_path = {}
    for r in figures['runs']:
        rate = mib / r.upload.wall
        ratio = rate / (mib / r.copy_seconds())  # against the copies just before and after
        growth = (r.upload.rss_peak_kib - r.baseline_kib) / 1024
        hwm = r.hwm_growth_mib()
        whole = {True: 'yes', False: 'NO', None: '?'}[r.whole]
        per_path.setdefault(r.key, []).append((r, rate, ratio))
        report(f'  {r.name:<27}{r.requests:>8}{r.upload.wall:>8.2f}{rate:>8.0f}{ratio:>8.2f}'
               f'{growth:>10.1f}{("%.1f" % hwm) if hwm is not None else "?":>9}'
               f'{r.upload.server_cpu * per_gib:>15.2f}{r.upload.client_cpu:>14.2f}   {whole}'
               + (f' (the job\'s sha256 {"matches" if r.server_sha_ok else "DIFFERS"})'
                  if r.server_sha_ok is not None else ''))
        if r.check is not None:
            check_growth = (r.check.rss_peak_kib - r.baseline_kib) / 1024
            report(f'  {"":<4}then the check job (sha256, type): {r.check.wall:.2f} s, server CPU '
                   f'{r.check.server_cpu * per_gib:.2f} s/GiB, RSS {check_growth:+.1f} MiB'
                   f' (baseline VmRSS {r.baseline_kib / 1024:.0f} MiB); stored as {r.stored_name}, {r.state}')
        for note in r.notes:
            report(f'  !! {r.key}: {note}')
    if not per_path:
        report('  !! no upload ran')
        return
    worst_growth, worst_ratio, parts = 0.0, float('inf'), []
    for key, rows in per_path.items():
        growth = max(r.worst_growth_mib() for r, _rate, _ratio in rows)
        ratio = sum(ratio for _r, _rate, ratio in rows) / len(rows)
        rate = sum(rate for _r, rate, _ratio in rows) / len(rows)
        cpu = sum(r.upload.server_cpu for r, _rate, _ratio in rows) / len(rows) * per_gib
        whole = all(r.whole for r, _rate, _ratio in rows)
        worst_growth, worst_ratio = max(worst_growth, growth), min(worst_ratio, ratio)
        parts.append((key, growth, ratio, rate))
        report(f'  {key:<5} over {len(rows)} run(s): {rate:.0f} MiB/s, {ratio:.2f} of the disk copy, '
               f'RSS growth at most {growth:.1f} MiB, server CPU {cpu:.2f} s/GiB, '
               f'{"every file arrived whole" if whole else "NOT EVERY FILE ARRIVED WHOLE"}')
    detail = '; '.join(f'{key} {growth:.1f}' for key, growth, _ratio, _rate in parts) + f' MiB; {mib:.0f} MiB file'
    status = report.goal('P-6a', worst_growth, f'{worst_growth:.1f} MiB', detail)
    report(f'P-6  memory: worker RSS growth, worse path (sampled every 50 ms, or VmHWM)   {worst_growth:.1f} MiB'
           f'   goal < 50 MiB for 1 GiB   {status}')
    rates = ', '.join(f'{key} {ratio:.2f} ({rate:.0f} MiB/s)' for key, _growth, ratio, rate in parts)
    status = report.goal('P-6b', worst_ratio, f'{worst_ratio:.2f}', rates)
    report(f'P-6  throughput ÷ disk copy, worse path   ratio {worst_ratio:.2f}   ({rates})   '
           f'goal ≥ 0.5   {status}')

    median_copy = sorted(copies)[len(copies) // 2]
    copy_rate = mib / median_copy
    report(f'  where the time goes (the same file; ÷ the median copy, {copy_rate:.0f} MiB/s):')
    if figures['in_process']:
        wall, cpu, sha_alone = figures['in_process']
        report(f'    uploads.receive() in-process, no HTTP, 50 MiB pieces (write, sha256, fsync each): '
               f'{wall:.2f} s ({mib / wall:.0f} MiB/s, {mib / wall / copy_rate:.2f}), '
               f'CPU {cpu * per_gib:.2f} s/GiB; '
               f'sha256 of the file alone {sha_alone * per_gib:.2f} s/GiB')
    for name, what in (('discard', 'read in 1 MiB blocks and thrown away'),
                       ('write', 'read in 1 MiB blocks, written, one fsync')):
        if figures['sink'] and name in figures['sink']:
            s_wall, s_cpu, s_client = figures['sink'][name]
            report(f'    gunicorn + a bare WSGI app, one POST, body {what}: {s_wall:.2f} s '
                   f'({mib / s_wall:.0f} MiB/s, {mib / s_wall / copy_rate:.2f}), '
                   f'server CPU {s_cpu * per_gib:.2f} s/GiB, client {s_client:.2f} s')
    report(f'(uploads: set-up and all in {figures["seconds"]:.0f} s; load average {loadavg()})')

    uploads.zip_report(report, tmp)  # the moderator's whole-sample zip against `zip`


# --- main -----------------------------------------------------------------------------

def signin_benchmarks(report, tmp):
    from bench import signin, world
    import demo
    import storage
    from app import create_app
    from models import db
    app = create_app({'DATABASE_URL': f'sqlite:///{tmp}/signin.db', 'SECRET_KEY': world.SECRET})
    storage.migrate()
    with db.connection_context():
        demo.load('Bench2017pass')
    results = signin.measure(app, 'Bench2017pass')
    plain = results['plain page (GET /login)']
    for name, ms in results.items():
        extra = '' if ms is plain else f'   {ms / plain:5.1f}x the plain page'
        report(f'  {name:<32}{ms:8.1f} ms{extra}')
    wrong, unknown = results['sign-in, wrong password'], results['sign-in, unknown username']
    report(f'AUTH-2  unknown username ÷ wrong password time: {unknown / wrong:.2f} (1.00 = indistinguishable)')
    db.close()
    db.obj.close_all()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=8.0,
                        help='measured seconds per HTTP target, over all turns (default 8)')
    parser.add_argument('--rounds', type=int, default=4, help='interleaved turns (default 4)')
    parser.add_argument('--warmup', type=float, default=0.5, help='warm-up seconds per turn')
    parser.add_argument('--threads', type=int, default=4, help='client threads (default 4)')
    parser.add_argument('--only', default='web,scale,pdf,signin,uploads,imports',
                        help='comma-separated sections: web (P-1,2,4), scale (P-3, submit), pdf (P-5), '
                             'signin (AUTH-1, AUTH-2), uploads (P-6), imports (IMP-1..3)')
    parser.add_argument('--pdf-repeats', type=int, default=2,
                        help='runs of each PDF, the fastest kept (default 2)')
    parser.add_argument('--upload-mib', type=int, default=1024,
                        help='size of the uploaded file in MiB (default 1024, the goal\'s 1 GiB)')
    parser.add_argument('--upload-rounds', type=int, default=2,
                        help='rounds of tus and form uploads, ABBA (default 2)')
    parser.add_argument('--quick', action='store_true', help='short runs, for trying the bench')
    parser.add_argument('--keep', action='store_true', help='keep the temporary databases and PDFs')
    args = parser.parse_args(argv)
    args.seconds = max(0.5, min(args.seconds, 60.0))
    args.rounds = max(1, min(args.rounds, 20))
    args.threads = max(1, min(args.threads, 32))
    args.pdf_repeats = max(1, min(args.pdf_repeats, 5))
    args.upload_mib = max(1, min(args.upload_mib, 4096))
    args.upload_rounds = max(1, min(args.upload_rounds, 4))
    if args.quick:
        args.seconds, args.rounds, args.warmup, args.pdf_repeats = 2.0, 2, 0.25, 1
        args.upload_mib, args.upload_rounds = min(args.upload_mib, 128), 1
    sections = {s.strip() for s in args.only.split(',') if s.strip()}

    report = Report()
    began = time.perf_counter()
    report(f'Internal Assessment Portal benchmarks — {datetime.datetime.now():%Y-%m-%d %H:%M}')
    report(f'{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, '
           f'SQLite {sqlite3.sqlite_version}, Flask {version_of("flask")}, peewee {version_of("peewee")}, '
           f'gunicorn {version_of("gunicorn")}, WeasyPrint {version_of("weasyprint")}; '
           f'load average at start {loadavg()}')
    tmp = tempfile.mkdtemp(prefix='portal-bench-')
    try:
        if 'web' in sections:
            report()
            report('== P-1, P-2, P-4: full stack on gunicorn, demo centre 68999, unit 9614/L3 ==')
            section = time.perf_counter()
            web_benchmarks(report, tmp, args)
            report(f'(web section {time.perf_counter() - section:.0f} s)')
        if sections & {'scale', 'pdf'}:
            report()
            report('== P-3, submission, P-5: in-process on large centres ==')
            section = time.perf_counter()
            app, centres = build_scale_world(tmp, report)
            if 'scale' in sections:
                report()
                scale_benchmarks(report, app, centres, args)
                report(f'(scale section {time.perf_counter() - section:.0f} s)')
            if 'pdf' in sections:
                report()
                report('P-5: CANDIDATE DETAILS REPORT job (jobs.run, in-process) vs WeasyPrint on a '
                       'bare table of the same rows')
                section = time.perf_counter()
                pdf_benchmarks(report, app, centres, tmp, args)
                report(f'(pdf section {time.perf_counter() - section:.0f} s)')
        if 'signin' in sections:
            report()
            report('== Sign-in with argon2id against a plain page (in-process, production parameters) ==')
            signin_benchmarks(report, tmp)
        if 'imports' in sections:
            report()
            report('== Imports from CSV: 100,000 entries, 1,000 centres, 25,000 candidates (in-process, SQLite) ==')
            from bench import imports as imports_bench
            section = time.perf_counter()
            imports_bench.run(report, tmp)
            report(f'(imports section {time.perf_counter() - section:.0f} s)')
        if 'uploads' in sections:
            report()
            report(f'== P-6: uploading a {args.upload_mib} MiB file (tus, the plain form) against a disk copy ==')
            section = time.perf_counter()
            uploads_benchmarks(report, tmp, args)
            report(f'(uploads section {time.perf_counter() - section:.0f} s)')
    finally:
        if args.keep:
            report(f'(kept {tmp})')
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    report()
    report('== Summary ==')
    report(f'  {"id":<5}{"figure":<52}{"value":<30}{"goal":<11}{"":<13}')
    for key, what, shown, goal, status, detail in sorted(report.summary):
        report(f'  {key:<5}{what:<52}{shown:<30}{goal:<11}{status}' + (f'  ({detail})' if detail else ''))
    report(f'Total {time.perf_counter() - began:.0f} s; load average at end {loadavg()}. '
           f'Ratios, not absolute times, are the figures to compare between machines.')
    report.save(RESULTS)
    print(f'(written to {os.path.relpath(RESULTS, os.getcwd())})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
