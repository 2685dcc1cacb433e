"""The institutional bucket's prefixes and the output keys spelled from its layout."""

from __future__ import annotations

from typing import get_args

import pytest

from edx_vault.package import bucket_layout, output_keys
from edx_vault.package.output_keys import deidentified_output_key, output_key
from edx_vault.package.source_keys import (
    SourceObject,
)
from edx_vault.settings.types import GrantCategory
from tests.package.conftest import DAY, FOLDER, member


def test_every_grant_category_has_exactly_one_published_prefix() -> None:
    assert set(bucket_layout.GRANT_CATEGORY_PREFIXES) == set(get_args(GrantCategory))
    prefixes = list(bucket_layout.GRANT_CATEGORY_PREFIXES.values())
    assert len(set(prefixes)) == len(prefixes)
    # rdx/ is per request, not a category; events-by-course/ is granted under "events".
    not_categories = {bucket_layout.RDX_PREFIX, bucket_layout.EVENTS_BY_COURSE_PREFIX}
    assert set(prefixes) | not_categories == set(bucket_layout.PUBLISHED_PREFIXES)
    assert not set(bucket_layout.PUBLISHED_PREFIXES) & set(bucket_layout.PIPELINE_ONLY_PREFIXES)


def test_published_prefixes_do_not_nest() -> None:
    # A grant on one prefix must never reach into another.
    everything = bucket_layout.PUBLISHED_PREFIXES + bucket_layout.PIPELINE_ONLY_PREFIXES
    for prefix in everything:
        assert prefix.endswith("/")
        assert [other for other in everything if other.startswith(prefix)] == [prefix]


def test_output_keys_start_with_their_category_prefix(weekly_zip: SourceObject) -> None:
    names = {
        "database": f"{FOLDER}/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg",
        "ora": f"{FOLDER}/ora/MITx-6.002x-2012_Fall-submissions_score-prod-analytics.sql.gpg",
        "forums": f"{FOLDER}/MITx-6.002x-2012_Fall.mongo.gpg",
        "course-structure": f"{FOLDER}/MITx-6.002x-2012_Fall-course_structure-prod-analytics.json.gpg",
        "course-export": f"{FOLDER}/MITx-6.002x-2012_Fall-course-prod-analytics.xml.tar.gz.gpg",
        "email-opt-in": f"{FOLDER}/mitx-email_opt_in-prod-analytics.csv.gpg",
    }
    for category, name in names.items():
        parsed = member(weekly_zip, name)
        assert parsed.category == category
        key = output_key(parsed) or ""
        assert key.startswith(bucket_layout.GRANT_CATEGORY_PREFIXES[parsed.category])


@pytest.mark.parametrize("bad", ["a/b", "org=x", "", "a b", "a+b"])
def test_spelling_functions_refuse_values_that_would_add_a_level_or_a_partition(bad: str) -> None:
    # Given a partition value or file name holding "/", "=", a space or "+" (S3 events spell a
    # space "+"), or nothing at all
    # When a key is spelled with it, then it is refused
    with pytest.raises(ValueError, match="partition value"):
        output_keys.course_output_key(
            "database",
            table="auth_user",
            org="mitx",
            site="edx",
            course=bad,
            export_date=DAY,
            file_name="x.sql",
        )
    with pytest.raises(ValueError, match="file name"):
        output_keys.email_opt_in_output_key("mitx", DAY, bad)
    with pytest.raises(ValueError, match="file name"):
        output_keys.rdx_output_key("mitx", "REQ-1", "..")


def test_a_course_event_file_sits_under_its_course_then_its_date() -> None:
    # Given a course of an org-day's log, and the two values that are not courses
    # When their keys are spelled
    course = output_keys.course_event_log_output_key(
        "MITx", "edx", "MITx-6.002x-2012_Fall-ccx-7", DAY
    )
    none = output_keys.course_event_log_output_key("mitx", "edge", bucket_layout.NO_COURSE, DAY)
    # Then the course comes before the date, and the file names its org, site, day and course
    assert course == (
        "events-by-course/org=mitx/site=edx/course=MITx-6.002x-2012_Fall-ccx-7/"
        f"date={DAY.isoformat()}/mitx-edx-events-{DAY.isoformat()}.MITx-6.002x-2012_Fall-ccx-7.log.gz"
    )
    assert none.startswith("events-by-course/org=mitx/site=edge/course=_none/date=")


def test_a_course_value_that_could_add_a_level_is_refused() -> None:
    for course in ("a/b", "a=b", "", "x y"):
        with pytest.raises(ValueError, match="course partition"):
            output_keys.course_event_log_output_key("mitx", "edx", course, DAY)


def test_a_published_keys_deidentified_copy_is_the_same_key_behind_the_tier_prefix() -> None:
    # Given a course file's key, When its de-identified copy is named
    key = "events-by-course/org=mitx/site=edx/course=MITx-6.002x-2012_Fall/date=2024-01-07/x.log.gz"
    # Then it keeps every partition, behind deidentified/
    assert deidentified_output_key(key) == f"deidentified/{key}"


@pytest.mark.parametrize(
    "key", ["raw/edx-course-data/x.gpg", "_work/r/plan.json", "deidentified/events/x"]
)
def test_a_key_that_is_not_published_data_has_no_deidentified_copy(key: str) -> None:
    # Given a mirror, scratch or already de-identified key / When its copy is named / Then no
    with pytest.raises(ValueError, match="not a published key"):
        deidentified_output_key(key)
