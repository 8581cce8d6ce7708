"""Commands: `flask --app app migrate`, `demo`, `sweep-jobs`."""
import click

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

    @app.cli.command('sweep-jobs')
    def sweep_jobs():
        """Enqueue jobs recorded while Redis was unavailable."""
        from models import db
        with db.connection_context():
            click.echo(f'{jobs.sweep()} jobs enqueued')
