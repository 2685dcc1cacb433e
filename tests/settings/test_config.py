"""The configuration file: the example validates, and every kind of mistake gets one clear line."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edx_vault.settings.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def example_document() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def problems_for(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(document, source="vault.toml")
    return raised.value.problems


def test_example_config_validates_into_typed_values() -> None:
    # Given the committed example
    # When it is loaded
    config = load_config(EXAMPLE)
    # Then values are typed and defaults are filled in
    assert config.deployment.account == "123456789012"
    assert config.edx.backfill_from == dt.date(2024, 1, 1)
    assert config.edx.org_ids == ("examplex", "examplexpro", "otheru")
    assert config.edx.source_buckets.events == "edx-course-data"
    assert config.edx.source_buckets.database == "course-data"
    assert config.schedule.expression == "cron(0 6 ? * SUN *)"
    assert config.researchers[0].expires == dt.date(2027, 6, 30)
    assert config.researchers[0].scopes[0].categories == ("events", "course-structure")


def test_defaults_apply_when_optional_sections_are_absent() -> None:
    # Given only the required keys
    document = {
        "deployment": {"account": "111122223333", "region": "eu-west-1"},
        "edx": {"orgs": [{"id": "DelftX"}], "backfill_from": dt.date(2020, 5, 1)},
    }
    # When it is parsed
    config = parse_config(document)
    # Then the documented defaults are used
    assert config.deployment.stack_prefix == "EdxVault"
    assert config.edx.sites == ("edx", "edge")
    assert config.edx.categories == ("events", "database", "email-opt-in")
    assert config.schedule.max_concurrency == 8
    assert config.alerts.email is None
    assert config.researchers == ()


def test_unknown_key_is_named_with_its_path() -> None:
    # Given a misspelt key inside a nested table
    document = example_document()
    document["edx"]["source_bucket"] = {"events": "x"}
    # Then the error names the full path and says it is unknown
    [problem] = problems_for(document)
    assert problem.startswith("edx.source_bucket: unknown key")


@pytest.mark.parametrize(
    ("bad_org", "fragment"),
    [("Bad Org!", "is not an edX org id"), ("", "is not an edX org id"), ("-MITx", "edX org id")],
)
def test_bad_org_id_names_the_field_and_the_fix(bad_org: str, fragment: str) -> None:
    document = example_document()
    document["edx"]["orgs"][1]["id"] = bad_org
    [problem] = problems_for(document)
    assert problem.startswith("edx.orgs[1].id:")
    assert fragment in problem
    assert "Fix:" in problem


def test_org_ids_are_case_insensitive_so_duplicates_are_rejected() -> None:
    document = example_document()
    document["edx"]["orgs"][1]["aliases"] = ["EXAMPLEX"]
    [problem] = problems_for(document)
    assert "'examplex' is listed twice" in problem


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("cron(0 6 * * SUN *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 6 ? * SUN)", "has 5 fields, not 6"),
        ("cron(61 6 ? * SUN *)", "minutes field '61' has 61, outside 0-59"),
        ("cron(0 6 ? * FUNDAY *)", "which is not a number or one of SUN"),
        ("cron(0 25 ? * 1 *)", "hours field '25'"),
        ("0 6 * * 0", "is not a schedule expression"),
        ("rate(1 days)", "singular unit"),
        ("cron(0 6 ? JAN-DEC/0 MON *)", "step that is not a positive number"),
    ],
)
def test_bad_schedule_expression_is_rejected_at_synth_time(expression: str, fragment: str) -> None:
    document = example_document()
    document["schedule"]["expression"] = expression
    [problem] = problems_for(document)
    assert problem.startswith("schedule.expression:")
    assert fragment in problem


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 6 ? * SUN *)",
        "cron(15 3 * * ? *)",
        "cron(0 6 ? * MON-FRI *)",
        "cron(0/30 * ? * 2#1 2026-2030)",
        "cron(0 12 L * ? *)",
        "cron(0 12 15W * ? *)",
        "rate(1 day)",
        "rate(7 days)",
    ],
)
def test_valid_schedule_expressions_are_accepted(expression: str) -> None:
    document = example_document()
    document["schedule"]["expression"] = expression
    assert parse_config(document).schedule.expression == expression


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::21098765432:role/jdoe",  # 11-digit account
        "arn:aws:s3:::some-bucket",
        "jdoe",
        "arn:aws:iam::210987654321:group/researchers",
    ],
)
def test_malformed_principal_arn_is_rejected(principal: str) -> None:
    document = example_document()
    document["researchers"][0]["principal"] = principal
    [problem] = problems_for(document)
    assert problem.startswith("researchers[0].principal:")
    assert "Fix: write it as arn:aws:iam::123456789012:role/Name" in problem


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::210987654321:user/path/jdoe",
        "arn:aws:iam::210987654321:saml-provider/Shibboleth",
        "arn:aws:iam::210987654321:oidc-provider/login.example.edu/realms/research",
    ],
)
def test_user_and_federated_principals_are_accepted(principal: str) -> None:
    document = example_document()
    document["researchers"][0]["principal"] = principal
    assert parse_config(document).researchers[0].principal == principal


def test_malformed_admin_role_arn_is_rejected() -> None:
    document = example_document()
    document["deployment"]["admin_role_arns"] = ["arn:aws:iam::123456789012:DataCzar"]
    [problem] = problems_for(document)
    assert problem.startswith("deployment.admin_role_arns[0]:")
    assert "is not an IAM user or role ARN" in problem


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2024/01/01", "is not a date. Fix: write it as YYYY-MM-DD"),
        ("01-01-2024", "is not a date"),
        ("2024-1-1", "is not a date"),
        (dt.datetime(2024, 1, 1, 12, 0), "has a time of day"),
        (20240101, "is not a date"),
    ],
)
def test_dates_in_the_wrong_format_are_rejected(value: object, fragment: str) -> None:
    document = example_document()
    document["edx"]["backfill_from"] = value
    [problem] = problems_for(document)
    assert problem.startswith("edx.backfill_from:")
    assert fragment in problem


def test_iso_date_string_is_accepted() -> None:
    document = example_document()
    document["researchers"][0]["expires"] = "2027-01-31"
    assert parse_config(document).researchers[0].expires == dt.date(2027, 1, 31)


def test_backfill_date_in_the_future_is_rejected() -> None:
    document = example_document()
    document["edx"]["backfill_from"] = dt.date.today() + dt.timedelta(days=30)
    [problem] = problems_for(document)
    assert "is in the future" in problem


def test_unknown_site_and_category_list_the_allowed_values() -> None:
    document = example_document()
    document["edx"]["sites"] = ["edx", "mobile"]
    document["researchers"][0]["scopes"][0]["categories"] = ["events", "grades"]
    problems = problems_for(document)
    assert any(p.startswith("edx.sites[1]: 'mobile' is not allowed") for p in problems)
    assert any(
        p.startswith("researchers[0].scopes[0].categories[1]: 'grades' is not allowed")
        and "'email-opt-in'" in p
        for p in problems
    )


def test_all_problems_are_reported_at_once() -> None:
    # Given three independent mistakes
    document = example_document()
    document["deployment"]["account"] = "12345"
    document["deployment"]["region"] = "Virginia"
    del document["edx"]["backfill_from"]
    # Then each gets its own line, so the admin fixes them in one go
    problems = problems_for(document)
    assert len(problems) == 3
    assert "edx.backfill_from: required but missing" in problems[2]


def test_error_message_is_one_readable_block_without_a_traceback() -> None:
    document = example_document()
    document["alerts"]["email"] = "not-an-address"
    with pytest.raises(ConfigError) as raised:
        parse_config(document, source="vault.toml")
    message = str(raised.value)
    assert message.splitlines()[0] == "vault.toml: the configuration is not valid:"
    assert "alerts.email: 'not-an-address' is not an email address" in message
    assert "Traceback" not in message


def test_missing_file_and_invalid_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[deployment\naccount = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_researcher_date_range_must_be_in_order() -> None:
    document = example_document()
    scope = document["researchers"][0]["scopes"][0]
    scope["date_from"], scope["date_to"] = dt.date(2026, 1, 1), dt.date(2025, 1, 1)
    [problem] = problems_for(document)
    assert "is after date_to" in problem


def test_duplicate_researcher_names_are_rejected() -> None:
    document = example_document()
    document["researchers"].append(dict(document["researchers"][0]))
    [problem] = problems_for(document)
    assert "used twice" in problem


def test_a_stack_prefix_making_the_data_bucket_name_longer_than_63_characters_is_refused() -> None:
    # Given the longest stack prefix the pattern allows (32) in a 14-character region: the data
    # bucket would be {prefix}-data-{account}-{region}, 65 characters, and S3 allows 63
    document = example_document()
    document["deployment"]["stack_prefix"] = "A" * 32
    document["deployment"]["region"] = "ap-southeast-4"
    # When the configuration is validated
    [problem] = problems_for(document)
    # Then the synth stops, naming the bucket, S3's limit and the longest prefix that fits
    expected_name = f"{'a' * 32}-data-123456789012-ap-southeast-4"
    assert problem.startswith(f"deployment.stack_prefix: the data bucket's name {expected_name!r}")
    assert "65 characters" in problem
    assert "S3 bucket names are at most 63" in problem
    assert "Fix: use a stack_prefix of at most 30 characters" in problem


def test_a_stack_prefix_making_the_results_bucket_name_too_long_is_refused() -> None:
    # Given a 30-character prefix in a 14-character region: the data bucket's name is exactly
    # 63 characters, but the query results bucket, {prefix}-results-{account}-{region}, is 66
    document = example_document()
    document["deployment"]["stack_prefix"] = "A" * 30
    document["deployment"]["region"] = "ap-southeast-4"
    # When the configuration is validated
    [problem] = problems_for(document)
    # Then the synth stops, naming the results bucket and the longest prefix that fits both
    expected_name = f"{'a' * 30}-results-123456789012-ap-southeast-4"
    assert problem.startswith(
        f"deployment.stack_prefix: the query results bucket's name {expected_name!r} "
        "({prefix}-results-{account}-{region})"
    )
    assert "66 characters" in problem
    assert "Fix: use a stack_prefix of at most 27 characters" in problem


def test_a_stack_prefix_making_a_63_character_bucket_name_is_accepted() -> None:
    # Given a 27-character prefix in the same region: the longer name, the results bucket's,
    # is exactly 63 characters
    document = example_document()
    document["deployment"]["stack_prefix"] = "A" * 27
    document["deployment"]["region"] = "ap-southeast-4"
    # When it is validated / Then it is accepted
    assert parse_config(document).deployment.stack_prefix == "A" * 27


def test_research_defaults_cut_queries_at_10_gb_and_keep_results_30_days() -> None:
    # Given a configuration without a [research] table
    document = example_document()
    document.pop("research", None)
    # When it is parsed
    research = parse_config(document).research
    # Then a query stops at 10 GB scanned (Athena counts 10**6-byte megabytes) and results
    # expire after 30 days
    assert research.bytes_scanned_cutoff_mb == 10_000
    assert research.bytes_scanned_cutoff == 10_000_000_000
    assert research.results_expire_days == 30


def test_the_example_research_table_validates() -> None:
    # Given the example's [research] table / When it is loaded
    research = load_config(EXAMPLE).research
    # Then it holds the documented values
    assert research.bytes_scanned_cutoff_mb == 10_000
    assert research.results_expire_days == 30


def test_athenas_smallest_cutoff_is_accepted() -> None:
    # Given a cutoff of 10 MB, Athena's minimum of 10,000,000 bytes
    document = example_document()
    document["research"] = {"bytes_scanned_cutoff_mb": 10}
    # When it is parsed / Then the workgroup would get exactly Athena's minimum
    assert parse_config(document).research.bytes_scanned_cutoff == 10_000_000


@pytest.mark.parametrize(
    ("research", "expected"),
    [
        (
            {"bytes_scanned_cutoff_mb": 9},
            "research.bytes_scanned_cutoff_mb: 9 MB is below Athena's smallest per-query "
            "cutoff, 10 MB. Fix: use at least 10",
        ),
        (
            {"results_expire_days": 0},
            "research.results_expire_days: 0 days is not a query result lifetime. "
            "Fix: use 1 to 3650 days",
        ),
        (
            {"results_expire_days": 3651},
            "research.results_expire_days: 3651 days is not a query result lifetime.",
        ),
        ({"cutoff": 10}, "research.cutoff: unknown key."),
    ],
)
def test_research_mistakes_name_the_key_and_the_fix(
    research: dict[str, Any], expected: str
) -> None:
    # Given a [research] table with one mistake
    document = example_document()
    document["research"] = research
    # When it is validated
    [problem] = problems_for(document)
    # Then the one problem names the key, what is wrong and how to fix it
    assert problem.startswith(expected), problem
