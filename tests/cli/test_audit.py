"""``edx-vault audit``: the data bucket's access logs, read per researcher, outsiders flagged.

moto's in-memory S3 (no deployment): the command's context is given the deployment's two
buckets, and the data bucket logs to the other, as the storage stack sets it up.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from edx_vault.cli.context import CliContext
from edx_vault.cli.parser import build_parser
from edx_vault.package.access_log_records import AccessLogRecord, format_record, log_object_key
from edx_vault.settings.config import load_config
from edx_vault.settings.deployment import Deployment, StorageResources

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.toml"
DATA = "edxvault-data-123456789012-us-east-1"
LOGS = "edxvault-storage-accesslogs"
PREFIX = "data-bucket/"
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


class AuditContext(CliContext):
    """A CLI context pinned to NOW, with the deployment given rather than discovered."""

    def now(self) -> dt.datetime:
        return NOW


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditContext]:
    # moto writes log objects of its own, in no format S3 has, for some requests to a logged
    # bucket (the embedded AWS turns that off too); these tests deliver the logs themselves.
    from moto.s3.models import S3Backend

    monkeypatch.setattr(S3Backend, "log_incoming_request", lambda *_: None)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=DATA)
        s3.create_bucket(Bucket=LOGS)
        s3.put_bucket_policy(
            Bucket=LOGS,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{LOGS}/{PREFIX}*",
                        }
                    ],
                }
            ),
        )
        s3.put_bucket_logging(
            Bucket=DATA,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": LOGS, "TargetPrefix": PREFIX}},
        )
        made = AuditContext(config_path=EXAMPLE_CONFIG, stdout=io.StringIO(), stderr=io.StringIO())
        made._clients["s3"] = s3
        made._deployment = Deployment(
            stack_prefix="EdxVault",
            region="us-east-1",
            storage_stack="EdxVault-Storage",
            pipeline_stack="EdxVault-Pipeline",
            storage=StorageResources(
                data_bucket=DATA,
                access_logs_bucket=LOGS,
                data_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                secrets_key_arn="arn:aws:kms:us-east-1:123456789012:key/s",
                edx_credentials_secret_arn="e",
                pipeline_key_secret_arn="p",
                pipeline_passphrase_secret_arn="pp",
                manifest_table="m",
            ),
            pipeline=None,
        )
        yield made


def deliver(context: CliContext, at: dt.datetime, *reads: tuple[str, str, int]) -> None:
    """One log object delivered at ``at`` with a GetObject record per (requester, key, status)."""
    lines = [
        format_record(
            AccessLogRecord(
                bucket_owner="owner",
                bucket=DATA,
                time=at - dt.timedelta(minutes=30),
                remote_ip="192.0.2.1",
                requester=requester,
                request_id="R",
                operation="REST.GET.OBJECT",
                key=key,
                request_uri=f"GET /{DATA}/{key} HTTP/1.1",
                http_status=status,
                error_code=None if status == 200 else "AccessDenied",
                bytes_sent=1000 if status == 200 else 0,
                object_size=1000,
                total_time_ms=1,
                turn_around_time_ms=1,
                referer=None,
                user_agent="pyarrow",
            )
        )
        for requester, key, status in reads
    ]
    context.s3().put_object(
        Bucket=LOGS, Key=log_object_key(PREFIX, at, at.strftime("%H%M")), Body="\n".join(lines)
    )


def run(context: AuditContext, *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args(["audit", *argv])
    code = int(args.func(args, context))
    assert isinstance(context.stdout, io.StringIO)
    return code, context.stdout.getvalue()


def researcher_arn(name: str) -> str:
    return f"arn:aws:sts::123456789012:assumed-role/edxvault-{name}/laptop"


def test_audit_lists_each_researchers_reads_and_identifying_files(context: AuditContext) -> None:
    # Given a researcher of the example config who read an event log and the email opt-in
    # report last week, and a read of three weeks ago
    config = load_config(EXAMPLE_CONFIG)
    first, second = (r.name for r in config.researchers[:2])
    optin = "email-opt-in/org=examplex/export_date=2026-11-22/examplex-email_opt_in.csv"
    deliver(context, NOW - dt.timedelta(days=21), (researcher_arn(first), "events/old.log.gz", 200))
    deliver(
        context,
        NOW - dt.timedelta(days=2),
        (researcher_arn(first), "events/org=examplex/a.log.gz", 200),
        (researcher_arn(first), optin, 200),
    )
    # When the czar audits the default week
    code, out = run(context)
    # Then the researcher has two objects, 2000 bytes, the opt-in report named; the other none
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.strip().startswith(first))
    assert row.split()[1:3] == ["2", "2000"]
    assert f"Identifying files read by {first}:" in out and optin in out
    assert any(line.strip().startswith(second) for line in out.splitlines())
    assert "event logs carry usernames and IP addresses" in out
    assert "No unexpected readers." in out
    # And --since three weeks ago, for a script, counts the old read too
    context.stdout = io.StringIO()
    code, out = run(context, "--since", "2026-11-01", "--json", "--researcher", first)
    result = json.loads(out)
    (activity,) = result["activity"]
    assert (activity["name"], activity["objects_read"], activity["reads"]) == (first, 3, 3)
    assert result["log_objects"] == 2 and result["researchers_without_reads"] == []


def test_audit_flags_an_unexpected_reader_and_exits_1(context: AuditContext) -> None:
    # Given an IAM user who read an object, and another whose read was refused
    reader = "arn:aws:iam::123456789012:user/intruder"
    tried = "arn:aws:iam::123456789012:user/curious"
    deliver(
        context,
        NOW - dt.timedelta(days=1),
        (reader, "database/auth_user/org=examplex/x.sql", 200),
        (tried, "events/a.log.gz", 403),
    )
    # When the czar audits
    code, out = run(context)
    # Then the reader is flagged, the refused one only shown, and the exit status is 1
    assert code == 1
    flagged = [line for line in out.splitlines() if "UNEXPECTED READER" in line]
    assert len(flagged) == 1 and reader in flagged[0]
    assert tried in out
    assert f"1 unexpected reader(s): {reader}" in out


def test_audit_refuses_when_the_data_bucket_does_not_log(context: AuditContext) -> None:
    # Given logging turned off on the data bucket
    context.s3().put_bucket_logging(Bucket=DATA, BucketLoggingStatus={})
    # When the czar audits, through main's error handling
    from edx_vault.cli.errors import CliError

    with pytest.raises(CliError, match="server access logging is off"):
        run(context)
