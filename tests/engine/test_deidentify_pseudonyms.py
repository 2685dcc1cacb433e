"""Keyed pseudonyms: stable under one key, different under another, one space per kind."""

from __future__ import annotations

import re

import pytest

from edx_vault.engine.pseudonyms import Pseudonymizer

KEY = bytes(range(32))


def test_same_key_same_pseudonym_other_key_another() -> None:
    # Given two pseudonymizers under one key and one under another
    first, again, other = Pseudonymizer(KEY), Pseudonymizer(KEY), Pseudonymizer(KEY[::-1])
    # Then the same key gives the same pseudonym, another key a different one
    assert first.username("ada_1") == again.username("ada_1")
    assert first.username("ada_1") != other.username("ada_1")
    assert first.user_id(1017) == again.user_id("1017") != other.user_id(1017)


def test_shape_is_prefix_and_32_hex() -> None:
    pseudonyms = Pseudonymizer(KEY)
    assert re.fullmatch(r"u_[0-9a-f]{32}", pseudonyms.username("ada"))
    assert re.fullmatch(r"i_[0-9a-f]{32}", pseudonyms.user_id(7))
    assert re.fullmatch(r"a_[0-9a-f]{32}", pseudonyms.pseudonym("anonymous_user_id", "ab12"))


def test_normalization_joins_spellings_of_one_identifier_only() -> None:
    pseudonyms = Pseudonymizer(KEY)
    # Usernames are case-insensitive in edX, and NFC: one learner
    assert pseudonyms.username("Zoë_1") == pseudonyms.username(" zoe\u0308_1")
    # User ids are integers
    assert pseudonyms.user_id("0042") == pseudonyms.user_id(42)
    # Different identifiers, and the same spelling in two spaces, stay apart
    assert pseudonyms.username("ada_1") != pseudonyms.username("ada_2")
    assert pseudonyms.username("1017")[2:] != pseudonyms.user_id("1017")[2:]


def test_short_keys_are_refused_and_the_key_never_shows() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes") as refused:
        Pseudonymizer(b"s3cret-but-short")
    assert "s3cret" not in str(refused.value)
    assert "\\x00\\x01" not in repr(Pseudonymizer(KEY))
