"""The pipeline key's expiry, read from its secret's tags, when the tags are not what keygen wrote."""

from __future__ import annotations

import datetime as dt

import pytest

from edx_vault.pipeline.key_metadata import (
    EXPIRES_TAG,
    FINGERPRINT_TAG,
    key_expiry_from_tags,
    key_tags,
)
from edx_vault.pipeline.run_report import summary_text

FINGERPRINT = "AB" * 20


def tags(expires: str) -> list[dict[str, str]]:
    return [{"Key": FINGERPRINT_TAG, "Value": FINGERPRINT}, {"Key": EXPIRES_TAG, "Value": expires}]


def test_the_tags_keygen_writes_are_read_back() -> None:
    # Given the tags keygen writes, for a key with and without an expiry
    expiring = key_expiry_from_tags(key_tags(FINGERPRINT, dt.date(2026, 1, 7)))
    forever = key_expiry_from_tags(key_tags(FINGERPRINT, None))
    # Then both are known, without a problem
    assert expiring is not None and forever is not None
    assert (expiring.expires, expiring.problem) == (dt.date(2026, 1, 7), None)
    assert (forever.expires, forever.problem) == (None, None)


@pytest.mark.parametrize("value", ["2026-13-45", "soon", "", "07/01/2026"])
def test_a_malformed_expiry_is_unknown_with_the_reason(value: str) -> None:
    # Given an expiry tag someone edited by hand
    # When it is read
    expiry = key_expiry_from_tags(tags(value))
    # Then it does not raise: the expiry is unknown, and the problem names the tag and the value
    assert expiry is not None
    assert expiry.fingerprint == FINGERPRINT
    assert expiry.expires is None
    assert expiry.days_left(dt.date(2026, 1, 1)) is None
    assert expiry.problem is not None
    assert EXPIRES_TAG in expiry.problem and repr(value) in expiry.problem


def test_the_summary_warns_that_the_expiry_is_unknown() -> None:
    # Given a report whose key expiry could not be read
    expiry = key_expiry_from_tags(tags("soon"))
    assert expiry is not None
    report = {
        "run_id": "run-1",
        "status": "succeeded",
        "window": {"first_date": "2024-01-01", "last_date": "2024-01-07"},
        "planned": 0,
        "up_to_date": 3,
        "files": {},
        "failures": [],
        "missing": [],
        "key_expiry": {
            "fingerprint": expiry.fingerprint,
            "expires": None,
            "days_left": None,
            "problem": expiry.problem,
        },
        "estimated_cost_usd": 0.0,
    }
    # When the email summary is written / Then it says the expiry is unknown, and why
    text = summary_text(report)
    assert "WARNING: the pipeline key's expiry is unknown" in text
    assert "'soon'" in text
