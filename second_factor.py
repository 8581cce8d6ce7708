"""The second factor of staff and moderators (SPEC 3.1; QUALITY AUTH-3,
issue 7 point 1): TOTP codes from any authenticator app, each accepted
once, and recovery codes for a lost phone. Below the views."""
import hmac
import time

import pyotp
import qrcode
import qrcode.image.svg

from models import Account, RecoveryCode

STEP = 30       # seconds a code lasts (RFC 6238)
WINDOW = 1      # steps either side accepted, for a phone's clock that drifts


def new_secret():
    return pyotp.random_base32()


def qr_svg(secret, username, issuer):
    """The enrolment QR code as inline SVG: one path, no image file, so the
    Content-Security-Policy needs no `data:`."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding='unicode')


def matching_step(secret, code, after=0, now=None):
    """The time step whose code `code` is, within the window and later than
    `after`, or None. pyotp's verify() alone would accept a replay."""
    code = (code or '').strip().replace(' ', '')
    if not secret or not (code.isascii() and code.isdigit()) or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int((now or time.time()) // STEP)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > after and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept(account, code):
    """True if `code` is the account's current code, never used before (or
    an unused recovery code); the step is recorded in the same statement
    that checks it, so two requests cannot both spend one code."""
    step = matching_step(account.totp_secret, code, account.totp_last_step)
    if step is not None:
        return bool(Account.update(totp_last_step=step).where(
            Account.id == account.id, Account.totp_last_step < step).execute())
    return RecoveryCode.spend(account, code)


def enrol(account, secret, code):
    """Store the secret if `code` proves the app has it; returns the ten
    recovery codes to show once, or None. Call inside a transaction."""
    step = matching_step(secret, code)
    if step is None:
        return None
    Account.update(totp_secret=secret, totp_last_step=step).where(Account.id == account.id).execute()
    return RecoveryCode.replace_for(account)
