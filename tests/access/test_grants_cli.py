"""`edx-vault grants` and `edx-vault grants check`, run in-process as an admin would."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from edx_vault.cli import context as cli_context
from edx_vault.cli import grants as grants_command
from edx_vault.cli import main
from edx_vault.package.bucket_layout import NO_COURSE
from edx_vault.package.output_keys import (
    course_event_log_output_key,
    deidentified_output_key,
    event_log_output_key,
)
from tests.access.conftest import SynthesizedGrants
from tests.access.grant_config import NOW, TODAY

MARCH_10 = dt.date(2025, 3, 10)
# ann is not identifiable: she reads the de-identified tier.
COURSE_EVENTS = "deidentified/events-by-course/org=examplex/site=edx/course=ExampleX-CS101-2025_T1/"
ORIGINAL = (
    "database/student_courseenrollment/org=examplex/site=edx/course=ExampleX-CS101-2025_T1/"
    "export_date=2025-03-02/ExampleX-CS101-2025_T1-student_courseenrollment-prod-analytics.sql"
)
GRANTED = deidentified_output_key(ORIGINAL)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_context, "utc_now", lambda: NOW)


@pytest.fixture
def synthesized_once(
    monkeypatch: pytest.MonkeyPatch, synthesized: SynthesizedGrants
) -> list[dt.date]:
    """`grants check` evaluates the session's synthesized policies instead of synthesizing."""
    days: list[dt.date] = []

    def policies(config_path: Path, config: Any, *, today: dt.date) -> Any:
        days.append(today)
        return synthesized.policies

    monkeypatch.setattr(grants_command, "synthesized_policies", policies)
    return days


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def check(
    capsys: pytest.CaptureFixture[str], grants_config: Path, *argv: str
) -> tuple[int, str, str]:
    """Run ``edx-vault grants check ARGV --config GRANTS_CONFIG``."""
    return run(capsys, "grants", "check", *argv, "--config", str(grants_config))


def test_grants_lists_who_reads_what_until_when(
    capsys: pytest.CaptureFixture[str], grants_config: Path
) -> None:
    # When the admin lists the grants
    status, out, err = run(capsys, "grants", "--config", str(grants_config))
    # Then each researcher x category is a row with the folders it reads (the de-identified
    # tier's for a grant without identifiable), its scope, expiry and days left
    assert status == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:3] == ["RESEARCHER", "CATEGORY", "FOLDERS"]
    assert [
        "ann-course",
        "database",
        "deidentified/database/",
        "ExampleX",
        "ExampleX-CS101-*",
        "student_courseenrollment,courseware_studentmodule",
        "edx",
        "2025-01-01",
        "to",
        "2025-06-30",
        "2027-01-01",
        "351",
    ] in rows
    # And course-limited events are read from the per-course files alone, whole-org events from
    # the org's logs and their split (the tier has the per-course files only)
    assert [
        "ann-course",
        "events",
        "deidentified/events-by-course/",
        "ExampleX",
        "ExampleX-CS101-*",
        "*",
        "edx,edge",
        "2025-03-01",
        "to",
        "2025-03-31",
        "2027-01-01",
        "351",
    ] in rows
    assert [
        "ben-identified",
        "events",
        "events/,events-by-course/",
        "OtherU",
        "*",
        "*",
        "edx,edge",
        "all",
        "2027-01-01",
        "351",
    ] in rows
    assert [
        "dan-expired",
        "events",
        "deidentified/events-by-course/",
        "ExampleX",
        "*",
        "*",
        "edx,edge",
        "all",
        "2025-12-31",
        "EXPIRED",
    ] in rows
    # And the role to assume, and a warning about the expired grant
    assert (
        "ben-identified: arn:aws:iam::123456789012:role/edx-vault/researcher/"
        "edxvault-ben-identified (identifiable data allowed: the original tier)"
    ) in out
    assert (
        "ann-course: arn:aws:iam::123456789012:role/edx-vault/researcher/"
        "edxvault-ann-course (de-identified: the deidentified/ tier only)"
    ) in out
    assert "warning: expired grants read nothing" in err and "dan-expired" in err


def test_grants_json_has_the_patterns(
    capsys: pytest.CaptureFixture[str], grants_config: Path
) -> None:
    status, out, _ = run(capsys, "grants", "--json", "--config", str(grants_config))
    assert status == 0
    listing = json.loads(out)
    assert listing["today"] == TODAY.isoformat()
    grants = {g["name"]: g for g in listing["grants"]}
    assert grants["cat-oidc"]["days_left"] == 166
    assert grants["cat-oidc"]["key_patterns"] == [
        "ora/submissions_submission/org=examplexpro/site=edge/course=ExampleXPRO-DS1-2025/*"
    ]
    assert grants["dan-expired"]["expired"] is True
    assert grants["dan-expired"]["key_patterns"] == []
    # And each scope says which folders each of its categories reads
    assert [scope["folders"] for scope in grants["ann-course"]["scopes"]] == [
        {
            "database": ["deidentified/database/"],
            "course-structure": ["deidentified/course-structure/"],
        },
        {"events": ["deidentified/events-by-course/"]},
    ]
    assert [scope["folders"] for scope in grants["ben-identified"]["scopes"]] == [
        {
            "email-opt-in": ["email-opt-in/"],
            "forums": ["forums/"],
            "database": ["database/"],
            "events": ["events/", "events-by-course/"],
        }
    ]
    assert (
        "deidentified/events-by-course/org=examplex/site=*/course=ExampleX-CS101-*/date=2025-03*"
        in (grants["ann-course"]["key_patterns"])
    )


ANN_COURSE_EVENTS = course_event_log_output_key(
    "ExampleX", "edge", "ExampleX-CS101-2025_T1", MARCH_10
)


@pytest.mark.parametrize(
    ("key", "verdict"),
    [
        (deidentified_output_key(ANN_COURSE_EVENTS), 0),
        (ANN_COURSE_EVENTS, 1),  # the original of the same file
        (event_log_output_key("ExampleX", "edge", MARCH_10), 1),
        (
            deidentified_output_key(
                course_event_log_output_key("ExampleX", "edge", NO_COURSE, MARCH_10)
            ),
            1,
        ),
    ],
)
def test_check_a_course_limited_grant_reads_its_course_events_only(
    capsys: pytest.CaptureFixture[str],
    grants_config: Path,
    synthesized_once: list[dt.date],
    key: str,
    verdict: int,
) -> None:
    # Given ann's events grant for ExampleX-CS101-* in March 2025 (not identifiable)
    # When the admin checks her course's copy and its original, the org's log, and the
    # no-course file's copy
    status, out, _ = check(capsys, grants_config, "ann-course", key)
    # Then only her course's copy is allowed
    assert status == verdict
    assert out.startswith(f"{'DENY' if verdict else 'ALLOW'}  ann-course  s3://")


def test_check_allows_a_granted_key_and_names_the_statements(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    status, out, _ = check(capsys, grants_config, "ann-course", GRANTED)
    assert status == 0
    assert out.startswith(f"ALLOW  ann-course  s3://edxvault-data-123456789012-us-east-1/{GRANTED}")
    assert "Allow managed:ResearcherAnnCourseRead1" in out
    assert "/ReadGrantedObjects" in out and "/DecryptGrantedObjectsThroughS3" in out
    assert synthesized_once == [TODAY]


def test_check_denies_raw_and_names_the_bucket_policy_statement(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    status, out, _ = check(
        capsys, grants_config, "ann-course", "raw/course-data/examplex-2025-03-02.zip"
    )
    assert status == 1
    assert out.startswith("DENY  ann-course")
    assert "s3:GetObject: explicit-deny" in out
    assert "Deny bucket/DenyResearchersPipelineOnlyPrefixes" in out


def test_check_after_expiry_denies_and_shows_what_is_granted(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    status, out, _ = check(capsys, grants_config, "ann-course", GRANTED, "--at", "2027-01-01")
    assert status == 1
    assert "at 2027-01-01T00:00:00+00:00" in out
    assert "s3:GetObject: implicit-deny" in out
    assert "the grant ends at 2027-01-01T00:00:00Z: access stops then" in out


def test_check_an_ungranted_key_shows_what_is_granted(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    status, out, _ = check(capsys, grants_config, "ann-course", GRANTED.replace("CS101", "CS202"))
    assert status == 1
    assert "s3:GetObject: implicit-deny (no Allow in the identity policy)" in out
    assert "the grant covers (first patterns):" in out
    assert (
        "deidentified/database/student_courseenrollment/org=examplex/site=edx/"
        "course=ExampleX-CS101-*/export_date=2025-01*"
    ) in out


def test_check_an_original_for_a_non_identifiable_grant_points_at_its_copy(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    # Given ann, who is not identifiable and is granted the copy of this table file
    # When the admin checks the identified original
    status, out, _ = check(capsys, grants_config, "ann-course", ORIGINAL)
    # Then it is refused, and the refusal names the copy she reads
    assert status == 1
    assert "s3:GetObject: implicit-deny" in out
    assert (
        f"reads the de-identified tier only: its copy of this file, if it has one, is {GRANTED}"
        in (out)
    )


def test_check_a_copy_for_an_identifiable_grant_points_at_the_original(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    # Given ben, identifiable, who reads OtherU's originals
    original = event_log_output_key("OtherU", "edx", MARCH_10)
    copy = deidentified_output_key(
        course_event_log_output_key("OtherU", "edx", "OtherU-X1-2025", MARCH_10)
    )
    # When the admin checks the original, then a de-identified copy
    allowed, _, _ = check(capsys, grants_config, "ben-identified", original)
    status, out, _ = check(capsys, grants_config, "ben-identified", copy)
    # Then the original is allowed; the copy refused, naming the original tier
    assert allowed == 0
    assert status == 1
    assert "reads the original tier, not its de-identified copies: the original is " in out
    assert copy.removeprefix("deidentified/") in out


def test_check_a_listing_as_json(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    status, out, _ = check(capsys, grants_config, "ann-course", "", "--list", "--json")
    assert status == 1
    result = json.loads(out)
    assert result["decision"] == "DENY"
    assert result["list"] is True
    [request] = result["requests"].values()
    assert request["outcome"] == "explicit-deny"
    assert {
        "effect": "Deny",
        "source": "bucket",
        "sid": "DenyResearchersListingOutsidePublishedData",
    } in request["statements"]


@pytest.mark.parametrize(
    ("prefix", "verdict"),
    [
        (f"{COURSE_EVENTS}date=2025-03-10/", 0),  # a granted day
        (f"{COURSE_EVENTS}date=2025-03", 0),  # the granted month
        (f"{COURSE_EVENTS}date=2025-02-28/", 1),  # the day before the range
        (f"{COURSE_EVENTS}date=2025-04-01/", 1),  # the day after
        (COURSE_EVENTS, 1),  # the folder above the dates: every date's names
    ],
)
def test_check_a_listing_of_a_dated_grant_names_its_dates(
    capsys: pytest.CaptureFixture[str],
    grants_config: Path,
    synthesized_once: list[dt.date],
    prefix: str,
    verdict: int,
) -> None:
    # Given ann's events grant for March 2025
    # When the admin checks a listing of her course's events
    status, out, _ = check(capsys, grants_config, "ann-course", prefix, "--list")
    # Then only a prefix within her dates is allowed; a refusal shows what she may list
    assert status == verdict
    assert out.startswith(f"{'DENY' if verdict else 'ALLOW'}  ann-course  list s3://")
    if verdict:
        assert "s3:ListBucket: implicit-deny" in out
        assert "the grant lists (first s3:prefix patterns):" in out
        assert (
            "deidentified/events-by-course/org=examplex/site=*/course=ExampleX-CS101-*/"
            "date=2025-03*"
        ) in out


def test_grants_patterns_shows_what_a_grant_reads_and_lists(
    capsys: pytest.CaptureFixture[str], grants_config: Path
) -> None:
    # When the admin lists the grants with their patterns
    status, out, _ = run(capsys, "grants", "--patterns", "--config", str(grants_config))
    # Then a dated grant lists its date prefixes, and a grant without dates its folders
    assert status == 0
    lines = {line.strip() for line in out.splitlines()}
    ann_events = "deidentified/events-by-course/org=examplex/site=*/course=ExampleX-CS101-*/"
    assert f"list  {ann_events}date=2025-03*" in lines
    assert f"read  {ann_events}date=2025-03*" in lines
    assert "list  events/org=otheru/*" in lines
    assert not any(line.startswith(f"list  {ann_events}*") for line in lines)
    # And a non-identifiable grant's patterns are all the tier's
    ann = out[out.index("ann-course: arn:") : out.index("ben-identified: arn:")]
    patterns = [line.split()[1] for line in ann.splitlines()[1:] if line.strip()]
    assert patterns and all(p.startswith("deidentified/") for p in patterns)


def test_check_an_unknown_researcher_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], grants_config: Path, synthesized_once: list[dt.date]
) -> None:
    status, _, err = check(capsys, grants_config, "zed", GRANTED)
    assert status == 2
    assert "no researcher 'zed' in the configuration (known: ann-course, ben-identified" in err
    assert synthesized_once == []


def test_check_synthesizes_the_app_itself(
    capsys: pytest.CaptureFixture[str], grants_config: Path
) -> None:
    # Given no stand-in: the command builds the app from the configuration
    status, out, _ = check(
        capsys,
        grants_config,
        "ben-identified",
        "email-opt-in/org=otheru/export_date=2025-03-02/otheru-email_opt_in-prod-analytics.csv",
    )
    assert status == 0, out
    assert out.startswith("ALLOW  ben-identified")
