"""The cost of signing in with argon2id (QUALITY AUTH-1) against a plain
page, and whether an unknown username answers as slowly as a wrong password
(AUTH-2). In-process, production argon2 parameters, fresh database."""
import re
import statistics
import time


def median_ms(action, repeat):
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(app, password, repeat=15):
    """{name: median ms} for a plain page and three kinds of sign-in."""
    client = app.test_client()

    def token():
        page = client.get('/login').get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def attempt(username, secret):
        client.post('/login', data={'username': username, 'password': secret, 'csrf_token': token()})

    throttle = app.extensions['throttle']  # failures would slow later attempts: forget them
    results = {'plain page (GET /login)': median_ms(lambda: client.get('/login'), repeat)}
    for name, username, secret in [('sign-in, right password', '68999JBR', password),
                                   ('sign-in, wrong password', '68999JBR', password + 'x'),
                                   ('sign-in, unknown username', 'NOBODY1', password)]:
        def one():
            throttle.local.clear()
            attempt(username, secret)
        results[name] = median_ms(one, repeat) - results['plain page (GET /login)']  # less the token fetch
    return results
