"""Commands: `flask --app app migrate`, `demo`, `sweep-jobs`, `create-staff`, `backup`, `restore`."""
import click
from flask.cli import with_appcontext

import credentials
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

    @app.cli.command('create-staff')
    @click.argument('username')
    @click.option('--role', 'roles', multiple=True, required=True, type=click.Choice(STAFF_ROLES),
                  help='series (series, units, moderators, imports, entries) or helpline; may be repeated.')
    @click.option('--email', default='', help="The staff member's e-mail address.")
    @click.option('--name', default='', help="The staff member's name.")
    def create_staff(username, roles, email, name):
        """Create a staff account (or add a role to one) and print a one-time
        link to set its password; the second factor is set up at first sign-in."""
        from flask import url_for
        from models import db
        with app.test_request_context():  # before the database: its teardown closes the connection
            page = app.config['PUBLIC_URL'].rstrip('/') + url_for('auth.welcome')
        with db.connection_context():
            try:
                account, created, added = make_staff(username, roles, email.strip(), ' '.join(name.split()))
            except ValueError as problem:
                raise click.ClickException(str(problem))
            link = page + '#' + invitation_token(account)
        if created:
            click.echo(f'staff account {account.username} created with roles: {account.staff_roles}')
        elif added:
            click.echo(f'staff account {account.username} already exists: role {" ".join(added)} added '
                       f'(now {account.staff_roles})')
        else:
            click.echo(f'staff account {account.username} already has roles: {account.staff_roles}')
        click.echo(f'one-time link to set the password (valid for '
                   f'{int(credentials.INVITE_LIFETIME.total_seconds() // 3600)} hours; the second factor is '
                   f'set up after the first sign-in):\n{link}')

    @app.cli.command('sweep-jobs')
    def sweep_jobs():
        """Enqueue jobs recorded while Redis was unavailable."""
        from models import db
        with db.connection_context():
            click.echo(f'{jobs.sweep()} jobs enqueued')


    @app.cli.command('backup')
    @click.argument('dest', type=click.Path(dir_okay=False))
    def backup_command(dest):
        """Back up the database to DEST (SQLite online backup; PostgreSQL pg_dump --format=custom)."""
        import backup
        try:
            click.echo(f'backup written to {backup.backup(app.config["DATABASE_URL"], dest)}')
        except backup.BackupError as problem:
            raise click.ClickException(str(problem))

    @app.cli.command('restore')
    @click.argument('src', type=click.Path(dir_okay=False, exists=True))
    @click.option('--yes', is_flag=True, help='Really replace the PostgreSQL database (required there).')
    def restore_command(src, yes):
        """Replace the database with the backup SRC. Stop the web processes and workers first."""
        import backup
        from models import db
        url = app.config['DATABASE_URL']
        if not backup.is_sqlite(url) and not yes:
            raise click.ClickException(f'this replaces every table of {backup.database_name(url)}: '
                                       f'run again with --yes to restore')
        db.close()
        if hasattr(db.obj, 'close_all'):
            db.obj.close_all()  # pooled connections would hold locks or see the old tables
        try:
            backup.restore(url, src)
        except backup.BackupError as problem:
            raise click.ClickException(str(problem))
        click.echo(f'restored from {src}')


STAFF_ROLES = ('series', 'helpline')


def make_staff(username, roles, email='', name=''):
    """(account, created, roles added) for `create-staff`: a new active staff
    account with no password, or a role added to an existing staff account.
    Raises ValueError with what to say."""
    from blueprints import EMAIL, EMAIL_MAX, NAME_MAX
    from models import Account, AuditLog, writing
    name_upper = (username or '').strip().upper()
    if Account.username_form_error('staff', name_upper):
        raise ValueError(f'"{username}" cannot be a staff username: use 3 to 40 letters, digits, '
                         f'dots, hyphens or underscores, starting with a letter')
    if email and (len(email) > EMAIL_MAX or not EMAIL.fullmatch(email)):
        raise ValueError(f'"{email}" is not an e-mail address')
    if len(name) > NAME_MAX:
        raise ValueError(f'the name is longer than {NAME_MAX} characters')
    with writing():
        account = Account.get_or_none(Account.username == name_upper)
        if account is None:
            account = Account.create(username=name_upper, kind='staff', staff_roles=' '.join(sorted(set(roles))),
                                     email=email, contact_name=name, active=True)
            AuditLog.record(None, 'account.create', f'account:{account.id}',
                            after={'username': account.username, 'kind': 'staff', 'roles': account.staff_roles,
                                   'by': 'create-staff'})
            return account, True, []
        if account.kind != 'staff':
            raise ValueError(f'{account.username} is a {account.kind} account, not a staff account: '
                             f'choose another username')
        if not account.active:
            raise ValueError(f'{account.username} is deactivated: its link would not work, and '
                             f'create-staff does not reactivate accounts')
        held = account.staff_roles.split()
        added = sorted(set(roles) - set(held))
        if added:
            before = account.staff_roles
            account.staff_roles = ' '.join(sorted(set(held) | set(added)))
            Account.update(staff_roles=account.staff_roles).where(Account.id == account.id).execute()
            AuditLog.record(None, 'account.update', f'account:{account.id}', before={'roles': before},
                            after={'roles': account.staff_roles, 'by': 'create-staff'})
        return account, False, added


def invitation_token(account):
    """A fresh one-time token for the welcome page (older ones lapse)."""
    from models import Token, writing
    with writing():
        token, _row = Token.issue(account, 'invite', credentials.INVITE_LIFETIME)
    return token


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

        def refuse(bad, words):
            with force_locale('en'):
                for row, column, code, value in bad.problems[:50]:
                    click.echo(problem_text(row, column, code, value), err=True)
            click.echo(f'{bad.problem_count} problems in {bad.rows} rows: {words}', err=True)
            raise SystemExit(1)

        def save(label):
            try:
                return with_progress(label, path, lambda progress: imports.save(
                    kind, path, None, series and series.id, page, limit, progress))
            except imports.Invalid as invalid:
                refuse(invalid.report, 'nothing saved')

        if yes:  # one pass: save() checks every row itself, and keeps nothing if one is bad
            report, mails = save('checking and saving')
        else:
            report = with_progress('checking', path, lambda progress: imports.validate(
                kind, path, series and series.id, limit, progress))
            if not report.clean:
                refuse(report, 'nothing saved')
            click.echo(f'{report.rows} rows: {report.created} new, {report.updated} changed, '
                       f'{report.unchanged} unchanged')
            if not report.created and not report.updated:
                click.echo('nothing to save')
                return
            click.confirm('Save them?', abort=True)
            report, mails = save('saving')
        for mail in mails:
            if mail is not None:
                jobs.enqueue(mail)
    if not report.created and not report.updated:
        click.echo(f'nothing to save: {report.unchanged} rows unchanged')
        return
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
