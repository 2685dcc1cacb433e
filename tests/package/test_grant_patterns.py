"""Grant patterns: the IAM key and listing patterns of a slice, and date ranges as prefixes."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, get_args

import pytest

from edx_vault.access.iam_wildcards import matches_glob
from edx_vault.package import bucket_layout
from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    EVENTS_PREFIX,
    NOT_COURSES,
    PIPELINE_ONLY_PREFIXES,
)
from edx_vault.package.grant_patterns import (
    CATEGORY_PREFIXES,
    DEIDENTIFIED_CATEGORY_PREFIXES,
    RESEARCHER_PREFIXES,
    date_partition_prefixes,
    slice_patterns,
)
from edx_vault.package.identifying_columns import has_deidentified_copy
from edx_vault.package.output_keys import course_event_log_output_key, deidentified_output_key
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
    with pytest.raises(ValueError, match="no course part; a course's events are under"):
        slice_patterns("events", org="mitx", course="MITx-6.*")


def test_events_are_read_from_the_org_logs_and_from_their_split_by_course() -> None:
    # Given the layout's prefixes / Then events cover both, every other category its own only
    assert CATEGORY_PREFIXES["events"] == (EVENTS_PREFIX, EVENTS_BY_COURSE_PREFIX)
    for category, prefix in bucket_layout.GRANT_CATEGORY_PREFIXES.items():
        assert CATEGORY_PREFIXES[category][0] == prefix
        assert len(CATEGORY_PREFIXES[category]) == (2 if category == "events" else 1)


def test_researchers_may_reach_every_published_prefix_but_rdx_and_nothing_else() -> None:
    # rdx/ archives are per request, not a grant category; the pipeline's prefixes never.
    # In the de-identified tier: the copies of every prefix a non-identifiable grant reads.
    originals = set(bucket_layout.PUBLISHED_PREFIXES) - {bucket_layout.RDX_PREFIX}
    tier = {
        f"{DEIDENTIFIED_PREFIX}{prefix}"
        for prefix in (
            EVENTS_BY_COURSE_PREFIX,
            bucket_layout.DATABASE_PREFIX,
            bucket_layout.COURSE_STRUCTURE_PREFIX,
            bucket_layout.COURSE_EXPORT_PREFIX,
        )
    }
    assert set(RESEARCHER_PREFIXES) == originals | tier
    assert not set(RESEARCHER_PREFIXES) & set(PIPELINE_ONLY_PREFIXES)


@pytest.mark.parametrize("category", get_args(GrantCategory))
def test_the_tier_is_read_where_a_copy_exists_and_never_from_the_whole_org_logs(
    category: GrantCategory,
) -> None:
    # Given a category's prefixes in the de-identified tier
    tier = DEIDENTIFIED_CATEGORY_PREFIXES[category]
    # Then a category with a copy is read from the copies of its per-course prefixes (events:
    # events-by-course/ only, the tier has no copy of the whole-org logs), and one without a
    # copy (email opt-in, forums, ORA: identifying as a whole) from none
    if not has_deidentified_copy(category):
        assert tier == ()
        return
    assert tier == tuple(
        f"{DEIDENTIFIED_PREFIX}{prefix}"
        for prefix in CATEGORY_PREFIXES[category]
        if prefix != EVENTS_PREFIX
    )
    assert tier


def test_a_deidentified_slice_has_the_originals_levels_behind_the_tiers_prefix() -> None:
    # Given one course's March of events, in both tiers
    parts: dict[str, Any] = {"org": "MITx", "course": "MITx-6.002x-*", "date_prefix": "2025-03"}
    original = slice_patterns("events", prefix=EVENTS_BY_COURSE_PREFIX, **parts)
    copy = slice_patterns(
        "events", prefix=f"{DEIDENTIFIED_PREFIX}{EVENTS_BY_COURSE_PREFIX}", **parts
    )
    # Then the copy's patterns are the original's behind deidentified/ (the copy's key is the
    # original's behind it: output_keys.deidentified_output_key)
    assert copy.key_pattern == f"{DEIDENTIFIED_PREFIX}{original.key_pattern}"
    assert copy.prefix_pattern == f"{DEIDENTIFIED_PREFIX}{original.prefix_pattern}"
    key = course_event_log_output_key("MITx", "edx", "MITx-6.002x-2012_Fall", dt.date(2025, 3, 2))
    assert matches_glob(copy.key_pattern, deidentified_output_key(key))
    assert not matches_glob(copy.key_pattern, key)
    # And the tier's copy of the whole-org logs, or of a category without a copy, is no slice
    with pytest.raises(ValueError, match="are not under"):
        slice_patterns("events", org="mitx", prefix=f"{DEIDENTIFIED_PREFIX}{EVENTS_PREFIX}")
    with pytest.raises(ValueError, match="are not under"):
        slice_patterns("forums", org="mitx", prefix=f"{DEIDENTIFIED_PREFIX}forums/")


@pytest.mark.parametrize(
    ("parts", "key", "prefix"),
    [
        (
            {"org": "MITx", "site": "edx", "course": "MITx-6.002x-*", "date_prefix": "2025-03"},
            "events-by-course/org=mitx/site=edx/course=MITx-6.002x-*/date=2025-03*",
            "events-by-course/org=mitx/site=edx/course=MITx-6.002x-*",
        ),
        (
            {"org": "mitx", "course": "MITx-6.002x-2012_Fall"},
            "events-by-course/org=mitx/site=*/course=MITx-6.002x-2012_Fall/*",
            "events-by-course/org=mitx/site=*/course=MITx-6.002x-2012_Fall/*",
        ),
        (
            {"org": "mitx", "date_prefix": "2025"},
            "events-by-course/org=mitx/site=*/course=*/date=2025*",
            "events-by-course/org=mitx/*",
        ),
    ],
)
def test_course_event_patterns_put_the_date_after_the_course(
    parts: dict[str, str], key: str, prefix: str
) -> None:
    # Given a slice of the per-course event logs
    patterns = slice_patterns("events", prefix=EVENTS_BY_COURSE_PREFIX, **parts)
    # Then the date narrows the last level, and listing stops at the deepest constrained folder
    assert patterns.key_pattern == key
    undated = {name: value for name, value in parts.items() if name != "date_prefix"}
    assert slice_patterns("events", prefix=EVENTS_BY_COURSE_PREFIX, **undated).prefix_pattern == (
        prefix
    )
    if parts.get("date_prefix"):
        assert patterns.prefix_pattern == key


def test_a_course_event_pattern_matches_its_course_only() -> None:
    # Given the keys the split step writes for one day of MITx on edx.org
    day = dt.date(2025, 3, 2)
    course = "MITx-6.002x-2012_Fall"
    keys = {
        entity: course_event_log_output_key("MITx", "edx", entity, day)
        for entity in (course, "MITx-6.003x-2012_Fall", *NOT_COURSES)
    }
    # When a grant for the course's March is spelled
    pattern = slice_patterns(
        "events", prefix=EVENTS_BY_COURSE_PREFIX, org="MITx", course=course, date_prefix="2025-03"
    ).key_pattern
    # Then it matches that course's file and no other course's, nor the no-course folders
    assert {entity for entity, key in keys.items() if matches_glob(pattern, key)} == {course}


def test_a_prefix_must_be_one_of_the_category() -> None:
    with pytest.raises(ValueError, match="'database' files are not under 'events-by-course/'"):
        slice_patterns("database", prefix=EVENTS_BY_COURSE_PREFIX)


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
    # And a dated slice lists its date prefix only, never the folder above it: what it reads
    if parts.get("date_prefix"):
        assert slice_patterns(category, **parts).prefix_pattern == key


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
