"""The password hasher Tocsin ships (the tests swap in a cheap one: tests/conftest.py)."""

from __future__ import annotations

import argon2

from tests.conftest import PRODUCTION_HASHER


def test_passwords_hash_with_argon2id_at_the_rfc_9106_low_memory_profile() -> None:
    hashed = PRODUCTION_HASHER.hash("correct horse battery")

    assert argon2.extract_parameters(hashed) == argon2.profiles.RFC_9106_LOW_MEMORY
    assert PRODUCTION_HASHER.verify(hashed, "correct horse battery")
