"""E-mail (SPEC 3.11). Every mail is an `Outbox` row written in the same
transaction as its cause, with a job that sends it after commit.

With no MAIL_SERVER, mails are written as .eml files to MAIL_FOLDER (listed
for staff); with one, they go by SMTP. A failure is retried with backoff.
Idempotent by key: one row per key, one .eml file per key, and a fixed
Message-ID, so a retry after a crash never makes a second mail in the
folder and is recognisable as the same mail by SMTP receivers. A mail the
SMTP server accepted is noted at once outside the database (Redis, or a
journal file without it), so a retry after the database was lost between
sending and recording it does not send it twice (issue 11).
"""
import os
import re
import smtplib
import tempfile
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app, render_template
from flask_babel import force_locale

import jobs
from models import Outbox, utcnow


def queue(key, to, template, language='en', secret='', **context):
    """Write the mail, rendered in the recipient's language, and its send job.
    Call inside the cause's transaction, then `jobs.enqueue()` the returned
    job after commit. Returns None if a mail with this key already exists.
    A `secret` (a link's token, a code) is kept apart: the template's
    `{{ secret }}` stores a mark, replaced only as the mail is sent."""
    if Outbox.select().where(Outbox.key == key).exists():
        return None
    context.setdefault('board', current_app.config)
    context['secret'] = Outbox.SECRET_MARK
    with force_locale(language):
        subject = render_template(f'emails/{template}.subject.txt', **context).strip()
        body = render_template(f'emails/{template}.txt', **context)
    mail = Outbox.create(key=key, to=to, subject=subject, body=body, language=language, secret=secret)
    return jobs.record('send_mail', outbox=mail.id)


def message_for(mail):
    config = current_app.config
    message = EmailMessage()
    message['From'] = config['MAIL_FROM_CY'] if mail.language == 'cy' else config['MAIL_FROM']
    message['To'] = mail.to
    message['Subject'] = mail.subject
    message['Date'] = formatdate(localtime=False)
    message['Message-ID'] = f'<{mail.key}@{config["MAIL_DOMAIN"]}>'
    message.set_content(mail.body_to_send())
    message['Content-Language'] = mail.language  # after set_content, which clears Content-* headers
    return message


def eml_name(mail):
    return re.sub(r'[^A-Za-z0-9._-]+', '_', mail.key)[:120] + '.eml'


def write_eml(message, mail):
    """Into the mail folder, atomically: the same key always makes the same file."""
    folder = current_app.config['MAIL_FOLDER']
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix='.part')
    with os.fdopen(handle, 'wb') as out:
        out.write(bytes(message))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, os.path.join(folder, eml_name(mail)))


def send_smtp(message):
    config = current_app.config
    with smtplib.SMTP(config['MAIL_SERVER'], config['MAIL_PORT'], timeout=30) as smtp:
        if config['MAIL_USE_TLS']:
            smtp.starttls()
        if config['MAIL_USERNAME']:
            smtp.login(config['MAIL_USERNAME'], config['MAIL_PASSWORD'])
        smtp.send_message(message)


DELIVERED_DAYS = 30


def _journal(mail):
    return os.path.join(current_app.config['MAIL_FOLDER'], '.delivered', eml_name(mail))


def note_delivery(mail):
    """The SMTP server took the mail: say so where a retry will look even if
    the database is what failed next."""
    url = current_app.config.get('REDIS_URL')
    if url:
        from redis import Redis
        Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5).set(
            f'portal:mail-delivered:{mail.key}', '1', ex=DELIVERED_DAYS * 86400)
        return
    os.makedirs(os.path.dirname(_journal(mail)), exist_ok=True)
    with open(_journal(mail), 'w'):
        pass


def was_delivered(mail):
    url = current_app.config.get('REDIS_URL')
    if url:
        from redis import Redis
        return bool(Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5).exists(
            f'portal:mail-delivered:{mail.key}'))
    return os.path.exists(_journal(mail))


def mark_sent(mail):
    # Sent: the token or code is not kept in clear any longer.
    Outbox.update(state='sent', sent_at=utcnow(), error='', secret='').where(Outbox.id == mail.id).execute()


@jobs.runner('send_mail')
def send_mail(job):
    """Send one outbox row, unless it has been sent already; an attempt cut
    short after the server took the mail is recorded, not sent again."""
    mail = Outbox.get_by_id(job.arguments['outbox'])
    interrupted = mail.state == 'sending'
    if not mail.claim():
        return  # sent already
    if interrupted and current_app.config['MAIL_SERVER'] and was_delivered(mail):
        mark_sent(mail)
        return
    message = message_for(mail)
    try:
        if current_app.config['MAIL_SERVER']:
            send_smtp(message)
            note_delivery(mail)
        else:
            write_eml(message, mail)
    except Exception as error:
        Outbox.update(state='failed', error=f'{type(error).__name__}: {error}'[:500]).where(
            Outbox.id == mail.id).execute()
        raise
    mark_sent(mail)
