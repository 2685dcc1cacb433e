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
    pipeline_role_prefixes=("EdxVault-Pipeline-",),
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
