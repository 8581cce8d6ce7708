"""E-mailed credentials: invitation and reset links, and the code asked for
at sign-in after too many failures (SPEC 3.1; QUALITY AUTH-1..4).

The token or code is in the mail only as it is sent: the stored outbox body
holds a mark in its place (staff read "[link hidden]"), and links carry the
token after '#', so it never reaches a URL path, an access log or a Referer.
Below the views: blueprints use it, and a job runs the reset request.
"""
import datetime

import jobs
from jobs import emails
from models import Account, AuditLog, SignInCode, Token, utcnow, writing

RESET_LIFETIME = datetime.timedelta(hours=1)
INVITE_LIFETIME = datetime.timedelta(hours=72)
CODE_LIFETIME = datetime.timedelta(minutes=15)
RESET_INTERVAL = datetime.timedelta(seconds=60)  # one reset mail a minute is enough


def send_link(account, purpose, lifetime, template, page):
    """Issue a single-use token and write its mail (inside a transaction);
    returns the job to enqueue after commit. `page` is the address of the
    page that takes the token."""
    token, row = Token.issue(account, purpose, lifetime)
    return emails.queue(f'{purpose}-{row.id}', account.email, template, account.language, secret=token,
                        account=account, page=page, hours=int(lifetime.total_seconds() // 3600),
                        centre_name=account.centre.name if account.centre_id else '')


def invite(account, page):
    """E-mail a new account's holder a link to set their own password."""
    return send_link(account, 'invite', INVITE_LIFETIME, 'invitation', page)


def request_reset(username, page, staff=None):
    """FORGOTTEN PASSWORD: record the request as a job whatever the name,
    so that a real account costs the request no more than an unknown one
    (AUTH-2). Call inside a transaction; enqueue the job after commit."""
    return jobs.record('password_reset', username=(username or '').upper()[:40], page=page,
                       staff=staff.id if staff else None)


@jobs.runner('password_reset')
def password_reset(job):
    """Send the reset link, unless the name is unknown, inactive or has no
    e-mail, or a link went to it within the last minute (that one still works)."""
    args = job.arguments
    account = Account.by_username(args['username'])
    if account is None or not account.active or not account.email:
        return
    with writing():
        recent = Token.select().where(Token.account == account, Token.purpose == 'reset',
                                      Token.created_at > utcnow() - RESET_INTERVAL).exists()
        if recent:
            return
        mail = send_link(account, 'reset', RESET_LIFETIME, 'reset', args['page'])
        AuditLog.record(args.get('staff'), 'auth.reset_sent', f'account:{account.id}',
                        centre=account.centre_id)
    jobs.enqueue(mail)


def send_sign_in_code(account):
    """The extra step at sign-in: a code e-mailed to the account's holder."""
    with writing():
        code, row = SignInCode.issue(account, CODE_LIFETIME)
        mail = emails.queue(f'signin-code-{row.id}', account.email, 'sign_in_code', account.language,
                            secret=code, account=account,
                            minutes=int(CODE_LIFETIME.total_seconds() // 60))
    jobs.enqueue(mail)


def check_sign_in_code(account, code):
    """True if `code` is the account's latest code, unspent and in time."""
    row = (SignInCode.select().where(SignInCode.account == account, SignInCode.used_at.is_null())
           .order_by(SignInCode.id.desc()).first())
    return bool(row and row.check(code))
