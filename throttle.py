"""Failed sign-ins slow down, per account and per address (QUALITY AUTH-3):
a growing delay, never a hard lockout that an attacker could use to keep a
school out. Counts live in Redis when there is one (several web processes
share them), else in this process."""
import threading
import time

WINDOW = 15 * 60          # failures older than this are forgotten
FREE = {'user': 5, 'ip': 20}  # failures allowed before any delay
MAX_DELAY = 15 * 60


class Throttle:
    def __init__(self, redis=None):
        self.redis = redis
        self.local = {}
        self.lock = threading.Lock()

    def _get(self, key):
        if self.redis is not None:
            found = self.redis.hgetall(f'throttle:{key}')
            return int(found.get(b'count', 0)), float(found.get(b'last', 0))
        with self.lock:
            count, last = self.local.get(key, (0, 0.0))
        return (count, last) if time.time() - last < WINDOW else (0, 0.0)

    def wait_seconds(self, keys):
        """How long before another attempt for these keys is heard."""
        now, wait = time.time(), 0
        for key in keys:
            count, last = self._get(key)
            over = count - FREE[key.split(':', 1)[0]]
            if over >= 0:
                wait = max(wait, min(MAX_DELAY, 2 ** over) - (now - last))
        return max(0, int(wait + 0.999))

    def failed(self, keys):
        now = time.time()
        for key in keys:
            if self.redis is not None:
                name = f'throttle:{key}'
                pipe = self.redis.pipeline()
                pipe.hincrby(name, 'count', 1)
                pipe.hset(name, 'last', now)
                pipe.expire(name, WINDOW)
                pipe.execute()
            else:
                with self.lock:
                    count, last = self.local.get(key, (0, 0.0))
                    count = count if now - last < WINDOW else 0
                    self.local[key] = (count + 1, now)

    def succeeded(self, key):
        if self.redis is not None:
            self.redis.delete(f'throttle:{key}')
        else:
            with self.lock:
                self.local.pop(key, None)


def init_app(app):
    redis = None
    if app.config.get('REDIS_URL'):
        from redis import Redis
        redis = Redis.from_url(app.config['REDIS_URL'], socket_connect_timeout=2, socket_timeout=2)
    app.extensions['throttle'] = Throttle(redis)
