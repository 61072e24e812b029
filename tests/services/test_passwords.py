"""argon2id password hashing shared by the CLI and the accounts service."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ramp_server.services import passwords
from ramp_server.services.passwords import (
    MAX_CONCURRENT_HASHES,
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_verifies_only_the_right_password_and_is_salted():
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "correct horse ")
    assert "correct horse" not in h
    assert not needs_rehash(h)


def test_a_malformed_hash_never_raises():
    assert not verify_password("not-a-hash", "x")
    assert needs_rehash("not-a-hash")


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="at least 8"):
        check_password_strength("short")
    check_password_strength("long enough")


def test_a_burst_of_logins_hashes_a_bounded_number_at_once():
    """A burst of simultaneous logins queues for the hashing slots: never more than
    MAX_CONCURRENT_HASHES argon2 computations (64 MiB each) at once, every answer right."""
    stored = hash_password("correct horse")
    passwords.hashing.peak = 0
    attempts = [
        "correct horse" if i % 2 else "wrong horse!" for i in range(4 * MAX_CONCURRENT_HASHES + 4)
    ]
    with ThreadPoolExecutor(len(attempts)) as pool:
        results = list(pool.map(lambda pw: verify_password(stored, pw), attempts))
    assert results == [pw == "correct horse" for pw in attempts]
    assert 1 <= passwords.hashing.peak <= MAX_CONCURRENT_HASHES
    assert passwords.hashing.running == 0
