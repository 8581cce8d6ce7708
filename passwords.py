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
