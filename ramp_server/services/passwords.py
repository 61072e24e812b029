"""Password hashing with argon2id (argon2-cffi), shared by the CLI and the accounts service."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
#: argon2 computations at once in one process. Each holds 64 MiB and a core for ~0.1-0.3 s: a
#: burst of logins (an event's start, or an attacker) waits here for its turn instead of
#: allocating 64 MiB per request and starving everything else the process serves.
MAX_CONCURRENT_HASHES = max(1, min(4, os.cpu_count() or 1))


class _Slots:
    """A semaphore that also counts the computations running now and the most seen at once."""

    def __init__(self, n: int) -> None:
        self._sem = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._sem:
            with self._lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                yield
            finally:
                with self._lock:
                    self.running -= 1


#: the process's hashing slots (``hashing.peak``: the most argon2 computations seen at once)
hashing = _Slots(MAX_CONCURRENT_HASHES)


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def check_password_strength(password: str) -> None:
    """Raise ``ValueError`` naming the rule when ``password`` is too weak to be accepted."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash (salt and parameters included) to store in ``users.password_hash``."""
    with hashing.hold():
        return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; never raises on a bad hash."""
    try:
        with hashing.hold():
            return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters (rehash at the next login)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
