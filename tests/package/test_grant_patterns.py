"""Grant patterns: the IAM key and listing patterns of a slice, and date ranges as prefixes."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from edx_vault.package.grant_patterns import date_partition_prefixes, slice_patterns
from edx_vault.settings.types import GrantCategory


@pytest.mark.parametrize(
    ("category", "scope", "pattern"),
    [
        (
            "database",
            {"org": "MITx", "course": "MITx-6.*"},
            "database/*/org=mitx/site=*/course=MITx-6.*/*",
        ),
        (
            "forums",
            {"org": "mitx", "site": "unspecified"},
            "forums/org=mitx/site=unspecified/course=*/*",
        ),
        ("events", {"org": "mitx", "site": "edge"}, "events/org=mitx/site=edge/*"),
        ("email-opt-in", {"org": "mitx"}, "email-opt-in/org=mitx/*"),
    ],
)
def test_grant_patterns_follow_the_layout(
    category: GrantCategory, scope: dict[str, str], pattern: str
) -> None:
    assert slice_patterns(category, **scope).key_pattern == pattern


def test_grant_patterns_refuse_partitions_a_category_does_not_have() -> None:
    with pytest.raises(ValueError, match="no site or course"):
        slice_patterns("email-opt-in", org="mitx", course="MITx-6.*")
    with pytest.raises(ValueError, match="no course part"):
        slice_patterns("events", org="mitx", course="MITx-6.*")


def covered(prefixes: tuple[str, ...], day: dt.date) -> bool:
    return any(day.isoformat().startswith(prefix) for prefix in prefixes)


@pytest.mark.parametrize("seed", range(40))
def test_date_prefixes_cover_exactly_the_range(seed: int) -> None:
    # Given a random range (sometimes open on one side)
    rng = random.Random(seed)
    start = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(0, 2500))
    end = start + dt.timedelta(days=rng.randrange(0, 900))
    first = None if seed % 7 == 0 else start
    last = None if seed % 5 == 0 else end
    prefixes = date_partition_prefixes(first, last)
    # Then every day from 2018 to 2029 is covered exactly when it lies in the range
    day = dt.date(2018, 1, 1)
    while day < dt.date(2030, 1, 1):
        inside = (first is None or first <= day) and (last is None or day <= last)
        assert covered(prefixes, day) == inside, (first, last, day, prefixes)
        day += dt.timedelta(days=1)


def test_date_prefixes_are_few() -> None:
    assert date_partition_prefixes(dt.date(2025, 1, 1), dt.date(2027, 12, 31)) == (
        "2025",
        "2026",
        "2027",
    )
    assert date_partition_prefixes(dt.date(2024, 2, 1), dt.date(2024, 2, 29)) == ("2024-02",)
    assert date_partition_prefixes(None, None) == ("",)
    assert date_partition_prefixes(dt.date(2025, 2, 1), dt.date(2025, 1, 1)) == ()


@pytest.mark.parametrize(
    ("category", "parts", "key", "prefix"),
    [
        (
            "events",
            {"org": "MITx", "site": "edx", "date_prefix": "2025-0"},
            "events/org=mitx/site=edx/date=2025-0*",
            "events/org=mitx/site=edx/*",
        ),
        (
            "database",
            {"org": "mitx", "table": "auth_user"},
            "database/auth_user/org=mitx/site=*/course=*/*",
            "database/auth_user/org=mitx/*",
        ),
        (
            "database",
            {"org": "mitx", "course": "MITx-6.00?x-2012_Fall"},
            "database/*/org=mitx/site=*/course=MITx-6.00?x-2012_Fall/*",
            "database/*/org=mitx/site=*/course=MITx-6.00?x-2012_Fall/*",
        ),
        (
            "ora",
            {"table": "submissions_score"},
            "ora/submissions_score/org=*/site=*/course=*/*",
            "ora/submissions_score/*",
        ),
        (
            "email-opt-in",
            {"org": "mitx", "date_prefix": "2025"},
            "email-opt-in/org=mitx/export_date=2025*",
            "email-opt-in/org=mitx/*",
        ),
    ],
)
def test_key_and_listing_patterns_follow_the_layout(
    category: Any, parts: dict[str, str], key: str, prefix: str
) -> None:
    assert slice_patterns(category, **parts).key_pattern == key
    undated = {name: value for name, value in parts.items() if name != "date_prefix"}
    assert slice_patterns(category, **undated).prefix_pattern == prefix


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: slice_patterns("events", table="auth_user").key_pattern, "not tables"),
        (
            lambda: slice_patterns("database", table="Auth-User").key_pattern,
            "not a table name",
        ),
        (
            lambda: slice_patterns("events", date_prefix="2025/01").key_pattern,
            "not the start",
        ),
        (
            lambda: slice_patterns("events", date_prefix="2025-01-011").key_pattern,
            "not the start",
        ),
    ],
)
def test_patterns_refuse_what_the_layout_cannot_hold(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
