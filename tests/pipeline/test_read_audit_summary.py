"""The weekly read audit the Report step writes: log objects listed by their keys' time, records
counted by their own time, activity per principal, unexpected readers counted (moto's S3)."""

from __future__ import annotations

import datetime as dt

import boto3
from moto import mock_aws

from edx_vault.package.access_log_readers import KnownPrincipals
from edx_vault.package.access_log_records import AccessLogRecord, format_record, log_object_key
from edx_vault.pipeline.read_audit import (
    UNEXPECTED_READERS_METRIC,
    audit_report_key,
    audit_summary,
    weekly_window,
)

ACCOUNT = "123456789012"
LOGS = "edxvault-access-logs"
PREFIX = "data-bucket/"
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-alice/s"
STRANGER = f"arn:aws:iam::{ACCOUNT}:user/stranger"
PRINCIPALS = KnownPrincipals(
    account=ACCOUNT,
    researcher_roles={"edxvault-alice": "alice"},
    pipeline_roles=frozenset({"edxvault-pipeline-decrypt"}),
)
NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)


def line(requester: str, when: dt.datetime, key: str = "events/a.log.gz", status: int = 200) -> str:
    return format_record(
        AccessLogRecord(
            bucket_owner="owner",
            bucket="edxvault-data",
            time=when,
            remote_ip="192.0.2.1",
            requester=requester,
            request_id="R",
            operation="REST.GET.OBJECT",
            key=key,
            request_uri=f"GET /edxvault-data/{key} HTTP/1.1",
            http_status=status,
            error_code=None if status == 200 else "AccessDenied",
            bytes_sent=50 if status == 200 else 0,
            object_size=50,
            total_time_ms=1,
            turn_around_time_ms=1,
            referer=None,
            user_agent="boto3",
        )
    )


@mock_aws
def test_the_weekly_summary_counts_the_windows_reads_and_its_unexpected_readers() -> None:
    # Given the window the Report step would audit at NOW
    since, until = weekly_window(NOW)
    assert (since, until) == (NOW - dt.timedelta(days=8), NOW - dt.timedelta(days=1))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=LOGS)

    def deliver(at: dt.datetime, unique: str, *lines: str) -> None:
        s3.put_object(Bucket=LOGS, Key=log_object_key(PREFIX, at, unique), Body="\n".join(lines))

    hour = dt.timedelta(hours=1)
    # A log delivered before the window (not listed), one in it, one delivered after the
    # window ends holding a late record of the window and one of the next window, a file that
    # is not a log object, and a line that is not a record
    deliver(since - hour, "A0", line(ALICE, since - 2 * hour))
    deliver(
        since + hour,
        "B1",
        line(ALICE, since + hour / 2),
        line(ALICE, since + hour / 2, key="email-opt-in/o.csv"),
        line(STRANGER, since + hour / 2, status=403),
        "garbage",
    )
    deliver(until + 3 * hour, "C2", line(ALICE, until - hour), line(STRANGER, until + hour))
    s3.put_object(Bucket=LOGS, Key=f"{PREFIX}README", Body=b"not a log")
    # When summarized
    summary = audit_summary(
        s3, logs_bucket=LOGS, prefix=PREFIX, since=since, until=until, principals=PRINCIPALS
    )
    # Then two log objects were read, four records counted, the bad line counted apart
    assert (summary["log_objects"], summary["records"], summary["unparsed_lines"]) == (2, 4, 1)
    (alice,) = summary["researchers"]
    assert (alice["name"], alice["reads"], alice["objects_read"], alice["bytes_read"]) == (
        "alice",
        3,
        2,
        150,
    )
    assert alice["first_read"] == (since + hour / 2).isoformat()
    assert alice["last_read"] == (until - hour).isoformat()
    # And the stranger's refused attempt is shown but is no unexpected read
    (stranger,) = summary["unexpected"]
    assert (stranger["name"], stranger["refused"]) == (STRANGER, 1)
    assert summary["unexpected_reader_count"] == 0
    assert UNEXPECTED_READERS_METRIC == "UnexpectedReaders"
    assert audit_report_key("run-1") == "reports/run-1-audit.json"


@mock_aws
def test_a_successful_read_by_an_outsider_is_an_unexpected_reader() -> None:
    # Given a log with a stranger's successful read inside the window
    since, until = weekly_window(NOW)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=LOGS)
    moment = since + dt.timedelta(days=1)
    s3.put_object(
        Bucket=LOGS, Key=log_object_key(PREFIX, moment, "D3"), Body=line(STRANGER, moment)
    )
    # When summarized
    summary = audit_summary(
        s3, logs_bucket=LOGS, prefix=PREFIX, since=since, until=until, principals=PRINCIPALS
    )
    # Then the stranger is flagged, counted for the metric
    assert summary["unexpected_readers"] == [STRANGER]
    assert summary["unexpected_reader_count"] == 1
    assert summary["unexpected"][0]["unexpected_reader"] is True


class _Files:
    """The one call weekly_audit makes on the run's files."""

    def __init__(self, s3: object, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def put_json(self, key: str, value: object) -> None:
        import json

        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value))  # type: ignore[attr-defined]


@mock_aws
def test_the_report_step_writes_the_weeks_audit_beside_the_report() -> None:
    # Given a deployment whose Report function is told where the access logs are and who is
    # expected in them (as the pipeline stack sets it), and a stranger's read in the week
    from types import SimpleNamespace

    from edx_vault.pipeline.steps.report import weekly_audit
    from edx_vault.settings.pipeline_settings import PipelineSettings

    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (LOGS, "edxvault-data"):
        s3.create_bucket(Bucket=bucket)
    since, _ = weekly_window(NOW)
    at = since + dt.timedelta(hours=2)
    body = line(STRANGER, at, key="database/auth_user/org=x/site=edx/course=c/export_date=d/f.sql")
    s3.put_object(Bucket=LOGS, Key=log_object_key(PREFIX, at, "X"), Body=body)
    settings = PipelineSettings(
        data_bucket="edxvault-data",
        data_key_arn="k",
        manifest_table="t",
        access_logs_bucket=LOGS,
        access_log_prefix=PREFIX,
        audit_principals=PRINCIPALS.to_json(),
    )
    context = SimpleNamespace(
        settings=settings, vault_s3=s3, files=lambda run_id: _Files(s3, "edxvault-data")
    )
    # When the Report step audits the week before its run
    audit = weekly_audit(context, run_id="run-1", finished=NOW)  # type: ignore[arg-type]
    # Then the summary is in reports/, and the report names the unexpected reader
    assert audit is not None
    assert audit["key"] == "reports/run-1-audit.json"
    assert (audit["records"], audit["unexpected_reader_count"]) == (1, 1)
    written = s3.get_object(Bucket="edxvault-data", Key=audit["key"])["Body"].read()
    assert STRANGER.encode() in written
    # And without the audit's settings (a function deployed before it) there is no audit
    bare = SimpleNamespace(settings=PipelineSettings("b", "k", "t"), vault_s3=s3, files=None)
    assert weekly_audit(bare, run_id="run-1", finished=NOW) is None  # type: ignore[arg-type]


def test_the_principals_survive_the_trip_through_the_functions_environment() -> None:
    assert KnownPrincipals.from_json(PRINCIPALS.to_json()) == PRINCIPALS
