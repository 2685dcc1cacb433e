"""Which of edX's files a run plans, and which it expects, by their dates and the run's day.

A file that exists is complete (an S3 object appears whole or not at all), so the plan mirrors
every file dated from the first date on, whatever the run's day. The cadence only decides what
is *expected*: a day without an event log, a week without a zip. The scopes here are the ones
the pipeline builds (:func:`edx_vault.pipeline.steps.plan.plan_scope`) for a run on a given day.
"""

from __future__ import annotations

import datetime as dt

from edx_vault.package import source_keys
from edx_vault.pipeline.planner import Plan, plan_sync
from edx_vault.pipeline.steps.plan import plan_scope
from edx_vault.settings.pipeline_settings import PipelineSettings
from edx_vault.settings.types import MirrorCategory
from tests.integration.conftest import Vault

SATURDAY, SUNDAY, MONDAY = dt.date(2024, 1, 6), dt.date(2024, 1, 7), dt.date(2024, 1, 8)


def plan_on(
    vault: Vault,
    run_day: dt.date,
    *,
    first: dt.date = SATURDAY,
    categories: tuple[MirrorCategory, ...] = ("events", "database", "email-opt-in"),
) -> Plan:
    """Plan as the Plan function does for a run started on ``run_day`` (one org, edx.org)."""
    settings = PipelineSettings(
        data_bucket=vault.target.bucket,
        data_key_arn=vault.target.kms_key_arn,
        manifest_table=vault.table_name,
        org_groups=(("mitx",),),
        sites=("edx",),
        categories=categories,
        backfill_from=first,
        event_bucket=vault.event_bucket,
        database_bucket=vault.database_bucket,
    )
    return plan_sync(vault.s3, vault.manifest, plan_scope(settings, today=run_day))


def put(vault: Vault, bucket: str, key: str) -> str:
    # The planner only lists: the bytes are never read, so any body will do.
    vault.s3.put_object(Bucket=bucket, Key=key, Body=b"ciphertext")
    return key


def put_event_log(vault: Vault, day: dt.date) -> str:
    return put(vault, vault.event_bucket, source_keys.event_log_key("mitx", "edx", day))


def put_weekly_zip(vault: Vault, day: dt.date) -> str:
    return put(vault, vault.database_bucket, source_keys.weekly_zip_key("mitx", day))


def put_email_opt_in(vault: Vault, day: dt.date) -> str:
    return put(vault, vault.database_bucket, source_keys.email_opt_in_zip_key("mitx", day))


def planned_keys(plan: Plan) -> set[str]:
    return {planned.version.key for planned in plan.to_mirror}


def missing(plan: Plan) -> set[tuple[str, str]]:
    return {(m.kind, m.period) for m in plan.missing}


def test_the_weekly_zip_dated_the_runs_own_sunday_is_planned(vault: Vault) -> None:
    # Given edX delivered Sunday's weekly zip and email opt-in zip (edX dates them Sunday)
    zips = {put_weekly_zip(vault, SUNDAY), put_email_opt_in(vault, SUNDAY)}
    # When the default Sunday schedule runs that same Sunday
    plan = plan_on(vault, SUNDAY)
    # Then both are mirrored now, not a week later: an object that exists is complete
    assert zips <= planned_keys(plan)


def test_an_event_log_dated_the_runs_own_day_is_planned(vault: Vault) -> None:
    # Given edX already delivered today's event log (and yesterday's)
    logs = {put_event_log(vault, SATURDAY), put_event_log(vault, SUNDAY)}
    # When a run starts that day / Then both are mirrored
    assert planned_keys(plan_on(vault, SUNDAY)) == logs


def test_an_event_log_dated_new_years_day_is_planned_on_new_years_day(vault: Vault) -> None:
    # Given today's event log is the first of a new year's folder (events/2025/)
    new_year = dt.date(2025, 1, 1)
    logs = {put_event_log(vault, new_year - dt.timedelta(days=1)), put_event_log(vault, new_year)}
    # When a run starts on that day, with the expectation window still in the old year
    plan = plan_on(vault, new_year, first=dt.date(2024, 12, 30))
    # Then the new year's folder is listed too
    assert planned_keys(plan) == logs
    assert plan.unknown == []


def test_a_file_dated_after_the_run_is_taken_as_it_is(vault: Vault) -> None:
    # Given edX put files dated after the run's day (its clock, its time zone, or a typo)
    later = {
        put_event_log(vault, SUNDAY + dt.timedelta(days=1)),
        put_event_log(vault, dt.date(2031, 5, 1)),
        put_weekly_zip(vault, SUNDAY + dt.timedelta(days=7)),
    }
    # When a run starts on Sunday
    plan = plan_on(vault, SUNDAY)
    # Then they are mirrored: edX delivered them whole, and deferring them until their date
    # comes would leave a mis-dated file out of the vault for years
    assert planned_keys(plan) == later
    # And they stand for no day or week of the window: nothing is reported on their account
    assert missing(plan) == {("event-log", SATURDAY.isoformat())}


def test_files_dated_before_the_first_date_are_neither_planned_nor_unknown(vault: Vault) -> None:
    # Given files from before the configured first date, one in an earlier year's folder
    put_event_log(vault, dt.date(2023, 12, 31))
    put_event_log(vault, SATURDAY - dt.timedelta(days=1))
    put_weekly_zip(vault, dt.date(2023, 12, 31))
    kept = put_event_log(vault, SATURDAY)
    # When a run plans / Then the first date still bounds the mirror, and they are not unknown
    plan = plan_on(vault, SUNDAY)
    assert planned_keys(plan) == {kept}
    assert plan.unknown == []


def test_today_is_not_expected_before_edx_could_have_delivered_it(vault: Vault) -> None:
    # Given edX delivered nothing since Monday 2024-01-01
    # When a run starts on Sunday 2024-01-07
    plan = plan_on(vault, SUNDAY, first=dt.date(2024, 1, 1))
    # Then every day through yesterday is missing, but not today
    days = {period for kind, period in missing(plan) if kind == "event-log"}
    assert days == {f"2024-01-0{day}" for day in range(1, 7)}
    # And the week that ends today is not missing yet: its zip may be dated today and come later
    assert ("weekly-zip", "2024-01-01/2024-01-07") not in missing(plan)


def test_the_week_is_missing_once_its_sunday_is_past(vault: Vault) -> None:
    # Given the same silence, seen by the next day's run
    plan = plan_on(vault, MONDAY, first=dt.date(2024, 1, 1))
    # Then Sunday's event log and the whole week's zip are missing
    assert ("event-log", SUNDAY.isoformat()) in missing(plan)
    assert ("weekly-zip", "2024-01-01/2024-01-07") in missing(plan)


def test_a_zip_taken_on_its_own_sunday_still_counts_for_its_week_next_time(vault: Vault) -> None:
    # Given Sunday's zip, mirrored by Sunday's run
    put_weekly_zip(vault, SUNDAY)
    # When Monday's run checks that week / Then the week is delivered
    plan = plan_on(vault, MONDAY, first=dt.date(2024, 1, 1), categories=("database",))
    assert missing(plan) == set()
