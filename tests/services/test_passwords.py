"""argon2id password hashing shared by the CLI and the accounts service."""

from __future__ import annotations

import pytest

from ramp_server.services.passwords import (
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
