"""Password hashing with argon2id (QUALITY AUTH-1). One hasher for the app,
the demo loader and the tests (which may make it cheaper)."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures cost the same (AUTH-2).
_decoy = None


def use_cost(time_cost, memory_cost):
    """Tests trade strength for speed; production keeps argon2's defaults."""
    global hasher, _decoy
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
    _decoy = None


def hash_password(password):
    return hasher.hash(password)


def matches(password_hash, password):
    """True if `password` matches; with no hash, spend the same time and fail."""
    global _decoy
    if not password_hash:
        _decoy = _decoy or hasher.hash('not-a-real-password-1')
        password_hash, password = _decoy, password + '-'
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- The board's rule, and more (SPEC 2, QUALITY AUTH-1) ----------------------

MIN_LENGTH, MAX_LENGTH = 8, 128
_COMMON = None


def common_passwords():
    """The shipped list of common and breached passwords (data/README.md)."""
    global _COMMON
    if _COMMON is None:
        import gzip
        import os
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'common-passwords.txt.gz')
        with gzip.open(path, 'rt', encoding='utf-8') as handle:
            _COMMON = frozenset(line.strip() for line in handle if line.strip())
    return _COMMON


def problems(password, username='', centre_number='', board_name=''):
    """Codes of what is wrong with a new password; empty when it is acceptable.
    The username, the centre number and the board's name may not appear in
    it anywhere (`68999abcd` is refused)."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append('too_short')
    if len(password) > MAX_LENGTH:
        found.append('too_long')
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        found.append('letters_and_numbers')
    lowered = password.lower()
    names = {(name or '').strip().lower() for name in (username, centre_number, board_name)}
    if any(len(name) >= 3 and name in lowered for name in names):
        found.append('contains_name')
    elif lowered in common_passwords():
        found.append('is_common')
    return found
