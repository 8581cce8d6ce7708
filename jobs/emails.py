"""E-mail (SPEC 3.11). Every mail is an `Outbox` row written in the same
transaction as its cause, with a job that sends it after commit.

With no MAIL_SERVER, mails are written as .eml files to MAIL_FOLDER (listed
for staff); with one, they go by SMTP. A failure is retried with backoff.
Idempotent by key: one row per key, one .eml file per key, and a fixed
Message-ID, so a retry after a crash never makes a second mail in the
folder and is recognisable as the same mail by SMTP receivers.
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
    message['From'] = config['MAIL_FROM']
    message['To'] = mail.to
    message['Subject'] = mail.subject
    message['Date'] = formatdate(localtime=False)
    message['Message-ID'] = f'<{mail.key}@{config["MAIL_DOMAIN"]}>'
    message['Content-Language'] = mail.language
    message.set_content(mail.body_to_send())
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


@jobs.runner('send_mail')
def send_mail(job):
    """Send one outbox row, unless it has been sent already."""
    mail = Outbox.get_by_id(job.arguments['outbox'])
    if not mail.claim():
        return  # sent already
    message = message_for(mail)
    try:
        if current_app.config['MAIL_SERVER']:
            send_smtp(message)
        else:
            write_eml(message, mail)
    except Exception as error:
        Outbox.update(state='failed', error=f'{type(error).__name__}: {error}'[:500]).where(
            Outbox.id == mail.id).execute()
        raise
    # Sent: the token or code is not kept in clear any longer.
    Outbox.update(state='sent', sent_at=utcnow(), error='', secret='').where(Outbox.id == mail.id).execute()
