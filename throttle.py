"""Failed sign-ins slow guessing down without ever refusing the right
password to its owner (QUALITY AUTH-3).

- The growing delay is keyed on the account and the address together, or
  on the account and the browser for a browser that has signed in to the
  account before: an attacker elsewhere, or one pupil behind the school's
  shared address, cannot keep a teacher out.
- Past a high ceiling of failures for the account from anywhere, the right
  password from a browser the account has not used before also needs a
  code e-mailed to the account: an extra step, never a refusal.
- The password-reset e-mail is never held back by any of this.

Counts live in Redis when there is one (several web processes share them),
else in this process; if Redis is away, this process's counts stand in.
"""
import hashlib
import logging
import secrets
import threading
import time

from itsdangerous import BadSignature, URLSafeSerializer

log = logging.getLogger(__name__)

FREE = 5                  # failures of one account from one address before any delay
WINDOW = 15 * 60          # ... forgotten after this long without another
MAX_DELAY = 15 * 60
CEILING = 30              # failures of one account from anywhere before the extra step
CEILING_WINDOW = 24 * 3600
CODES_PER_HOUR = 10       # e-mailed codes one account may be sent
RESETS_PER_ADDRESS = 50   # reset requests recorded from one address in WINDOW

KNOWN_COOKIE = 'portal_known'
KNOWN_MAX_ACCOUNTS = 20
KNOWN_LIFETIME = 365 * 86400


def name_key(username):
    """A typed username as it appears in keys: a digest, so that a password
    typed into the username box is never kept in Redis (AUTH-4)."""
    return hashlib.sha256((username or '').strip().upper().encode()).hexdigest()[:32]


class Throttle:
    def __init__(self, redis=None):
        self.redis = redis
        self.local = {}
        self.lock = threading.Lock()

    # --- counts, in Redis or here -------------------------------------------

    def count(self, key, window):
        """(failures, time of the last) within `window` seconds."""
        if self.redis is not None:
            try:
                found = self.redis.hgetall(f'throttle:{key}')
                return int(found.get(b'count', 0)), float(found.get(b'last', 0))
            except Exception:  # Redis away: this process's counts stand in (REL-6)
                log.warning('throttle: Redis unavailable, counting in-process')
        with self.lock:
            count, last = self.local.get(key, (0, 0.0))
        return (count, last) if time.time() - last < window else (0, 0.0)

    def add(self, key, window):
        now = time.time()
        if self.redis is not None:
            try:
                name = f'throttle:{key}'
                pipe = self.redis.pipeline()
                pipe.hincrby(name, 'count', 1)
                pipe.hset(name, 'last', now)
                pipe.expire(name, window)
                pipe.execute()
                return
            except Exception:
                log.warning('throttle: Redis unavailable, counting in-process')
        with self.lock:
            count, last = self.local.get(key, (0, 0.0))
            count = count if now - last < window else 0
            self.local[key] = (count + 1, now)

    def clear(self, key):
        if self.redis is not None:
            try:
                self.redis.delete(f'throttle:{key}')
            except Exception:
                log.warning('throttle: Redis unavailable, counting in-process')
        with self.lock:
            self.local.pop(key, None)

    # --- sign-in ------------------------------------------------------------

    @staticmethod
    def pair(username, where):
        """The delay's key: this account from this address (or known browser)."""
        return f'pair:{name_key(username)}:{where}'

    def wait_seconds(self, pair):
        """How long before another attempt from this pair is heard."""
        count, last = self.count(pair, WINDOW)
        over = count - FREE
        if over < 0:
            return 0
        return max(0, int(min(MAX_DELAY, 2 ** over) - (time.time() - last) + 0.999))

    def failed(self, pair, username):
        self.add(pair, WINDOW)
        self.add(f'account:{name_key(username)}', CEILING_WINDOW)

    def succeeded(self, pair):
        self.clear(pair)

    def needs_extra_step(self, username):
        """Too many failures for the account, from anywhere, of late."""
        return self.count(f'account:{name_key(username)}', CEILING_WINDOW)[0] >= CEILING

    def may_ask_for_reset(self, address):
        """A flood of reset requests from one address records nothing more
        (same answer): far above what a school's shared address asks for."""
        key = f'resets:{address}'
        if self.count(key, WINDOW)[0] >= RESETS_PER_ADDRESS:
            return False
        self.add(key, WINDOW)
        return True

    def may_send_code(self, username):
        """Codes e-mailed to one account are few, so guessing them is hopeless."""
        key = f'codes:{name_key(username)}'
        if self.count(key, 3600)[0] >= CODES_PER_HOUR:
            return False
        self.add(key, 3600)
        return True


# --- Browsers that have signed in to an account before ----------------------

def _serializer(secret_key):
    return URLSafeSerializer(secret_key, salt='known-browser')


def known_browser(cookies, secret_key):
    """(browser id, usernames it has signed in as) from its signed cookie."""
    try:
        found = _serializer(secret_key).loads(cookies.get(KNOWN_COOKIE, ''))
        return str(found['b']), [str(name) for name in found['u']][:KNOWN_MAX_ACCOUNTS]
    except (BadSignature, KeyError, TypeError, ValueError):
        return None, []


def remember_browser(response, cookies, secret_key, username, secure):
    """After a successful sign-in: this browser is known to the account."""
    browser, names = known_browser(cookies, secret_key)
    names = [username] + [name for name in names if name != username]
    value = _serializer(secret_key).dumps({'b': browser or secrets.token_urlsafe(16),
                                           'u': names[:KNOWN_MAX_ACCOUNTS]})
    response.set_cookie(KNOWN_COOKIE, value, max_age=KNOWN_LIFETIME, httponly=True,
                        samesite='Lax', secure=secure)
    return response


def init_app(app):
    redis = None
    if app.config.get('REDIS_URL'):
        from redis import Redis
        redis = Redis.from_url(app.config['REDIS_URL'], socket_connect_timeout=1, socket_timeout=1)
    app.extensions['throttle'] = Throttle(redis)
