"""Commands: `flask --app app migrate`, `demo`, `sweep-jobs`."""
import click
from flask.cli import with_appcontext

import jobs
import storage


def init_app(app):
    @app.cli.command('migrate')
    def migrate():
        """Apply pending database migrations."""
        applied = storage.migrate()
        click.echo(f'migrations applied: {", ".join(applied) or "none pending"}')

    @app.cli.command('demo')
    @click.option('--force', is_flag=True, help='Load even if the database has centres.')
    def demo(force):
        """Load the demo world of SPEC section 5 into an empty database."""
        import demo as demo_world
        from models import Centre, db
        with db.connection_context():
            if Centre.select().exists() and not force:
                click.echo('database already has data: demo not loaded')
                return
            demo_world.load(app.config['DEMO_PASSWORD'])
            import uploads
            demo_world.add_uploaded_work(uploads.store_of(app.config))
        click.echo(f'demo loaded: sign in as 68999JBR (teacher) or 68999 (exams officer) '
                   f'with password {app.config["DEMO_PASSWORD"]}; helpdesk1 and mod1 also need a code '
                   f'from an authenticator app with the key {demo_world.DEMO_TOTP_SECRET}, or from: '
                   f'.venv/bin/python -c "import pyotp; print(pyotp.TOTP(\'{demo_world.DEMO_TOTP_SECRET}\').now())"')

    from jobs import reports
    app.cli.add_command(reports.clean_reports_command)
    app.cli.add_command(import_command)

    @app.cli.command('sweep-jobs')
    def sweep_jobs():
        """Enqueue jobs recorded while Redis was unavailable."""
        from models import db
        with db.connection_context():
            click.echo(f'{jobs.sweep()} jobs enqueued')

@click.command('import')
@click.argument('kind', type=click.Choice(['centres', 'candidates', 'entries', 'moderators', 'assignments']))
@click.argument('path', type=click.Path(exists=True, dir_okay=False))
@click.option('--series', 'series_name', help='The series of the units (entries and assignments).')
@click.option('--yes', is_flag=True, help='Save without asking once the file is clean.')
@with_appcontext
def import_command(kind, path, series_name, yes):
    """Check a CSV file of KIND and save it in one transaction (docs/IMPORTS.md)."""
    import os

    from flask import current_app
    from flask_babel import force_locale

    import imports
    from blueprints import public_url
    from blueprints.imports import problem_text
    from models import db
    with current_app.test_request_context():  # before the database: its teardown closes the connection
        page = public_url('auth.welcome')
    limit = max(current_app.config['IMPORT_MAX_BYTES'], os.path.getsize(path))  # the size limit is the web's
    with db.connection_context():
        series = None
        if kind in imports.NEEDS_SERIES:
            series = imports.series_named(series_name)
            if series is None:
                raise click.UsageError(f'{kind} need --series NAME, the name of an existing series')
        report = with_progress('checking', path, lambda progress: imports.validate(
            kind, path, series and series.id, limit, progress))
        if not report.clean:
            with force_locale('en'):
                for row, column, code, value in report.problems[:50]:
                    click.echo(problem_text(row, column, code, value), err=True)
            click.echo(f'{report.problem_count} problems in {report.rows} rows: nothing saved', err=True)
            raise SystemExit(1)
        click.echo(f'{report.rows} rows: {report.created} new, {report.updated} changed, '
                   f'{report.unchanged} unchanged')
        if not report.created and not report.updated:
            click.echo('nothing to save')
            return
        if not yes:
            click.confirm('Save them?', abort=True)
        try:
            report, mails = with_progress('saving', path, lambda progress: imports.save(
                kind, path, None, series and series.id, page, limit, progress))
        except imports.Invalid as invalid:
            with force_locale('en'):
                for row, column, code, value in invalid.report.problems[:50]:
                    click.echo(problem_text(row, column, code, value), err=True)
            click.echo(f'{invalid.report.problem_count} problems appeared while saving: nothing saved', err=True)
            raise SystemExit(1)
        for mail in mails:
            if mail is not None:
                jobs.enqueue(mail)
    click.echo(f'saved: {report.created} created, {report.updated} updated, {report.unchanged} unchanged')


def with_progress(label, path, work):
    """Run `work(progress)` under a progress bar of the file's bytes read."""
    import os
    with click.progressbar(length=os.path.getsize(path), label=label,
                           file=click.get_text_stream('stderr')) as bar:
        done = [0]

        def progress(position):
            bar.update(position - done[0])
            done[0] = position
        return work(progress)
