"""The read audit's pure parts: S3 server access log lines parsed field by field, requesters
resolved to the vault's principals, reads summed per researcher, identifying files named."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from edx_vault.access.audit import audit, identifying_key, is_event_log, known_principals
from edx_vault.package.access_log_readers import KnownPrincipals, classify, summarize
from edx_vault.package.access_log_records import (
    FIELDS,
    AccessLogFormatError,
    AccessLogRecord,
    format_record,
    log_object_key,
    log_object_time,
    parse_line,
    parse_log,
)
from edx_vault.settings.config import load_config

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.toml"

ACCOUNT = "123456789012"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-alice/alice-laptop"
# AWS's own example record ("Amazon S3 server access log format"), with an object key and the
# source region AWS appended later.
AWS_EXAMPLE = (
    f"{OWNER} amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {ALICE} "
    "3E57427F3EXAMPLE REST.GET.OBJECT events/org%3Dx/a%20b.log.gz "
    '"GET /amzn-s3-demo-bucket1/events/org=x/a%20b.log.gz?versionId=v1 HTTP/1.1" 206 - 113 4096 '
    '7 5 "https://example.org/a page" "aws-cli/2.15 Python/3.11 \\"quoted\\"" v1 '
    "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 "
    "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com "
    "TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1"
)
PRINCIPALS = KnownPrincipals(
    account=ACCOUNT,
    researcher_roles={"edxvault-alice": "alice", "edxvault-bob": "bob"},
    pipeline_roles=frozenset({"edxvault-pipeline-decrypt"}),
    admin_principal_arns=(f"arn:aws:iam::{ACCOUNT}:role/admins/DataCzar",),
)


def record(**changes: object) -> AccessLogRecord:
    """A successful GetObject by alice, with ``changes``."""
    base = AccessLogRecord(
        bucket_owner=OWNER,
        bucket="edxvault-data",
        time=dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC),
        remote_ip="192.0.2.3",
        requester=ALICE,
        request_id="R1",
        operation="REST.GET.OBJECT",
        key="events/org=x/site=edx/date=2026-11-01/x-edx-events-2026-11-01.log.gz",
        request_uri="GET /edxvault-data/events HTTP/1.1",
        http_status=200,
        error_code=None,
        bytes_sent=100,
        object_size=100,
        total_time_ms=3,
        turn_around_time_ms=2,
        referer=None,
        user_agent="pyarrow",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_every_field_of_awss_record_is_read_in_order() -> None:
    # Given AWS's example record, with a key, quoted values with spaces and escaped quotes
    # When it is parsed
    parsed = parse_line(AWS_EXAMPLE)
    # Then each field has its value, typed, the key decoded, the extra field kept
    assert parsed.bucket_owner == OWNER
    assert parsed.bucket == "amzn-s3-demo-bucket1"
    assert parsed.time == dt.datetime(2019, 2, 6, 0, 0, 38, tzinfo=dt.UTC)
    assert parsed.remote_ip == "192.0.2.3"
    assert parsed.requester == ALICE
    assert parsed.request_id == "3E57427F3EXAMPLE"
    assert parsed.operation == "REST.GET.OBJECT"
    assert parsed.key == "events/org=x/a b.log.gz"
    assert parsed.request_uri == (
        "GET /amzn-s3-demo-bucket1/events/org=x/a%20b.log.gz?versionId=v1 HTTP/1.1"
    )
    assert (parsed.http_status, parsed.error_code) == (206, None)
    assert (parsed.bytes_sent, parsed.object_size) == (113, 4096)
    assert (parsed.total_time_ms, parsed.turn_around_time_ms) == (7, 5)
    assert parsed.referer == "https://example.org/a page"
    assert parsed.user_agent == 'aws-cli/2.15 Python/3.11 "quoted"'
    assert parsed.version_id == "v1"
    assert parsed.host_id is not None and parsed.host_id.endswith("31234=")
    assert (parsed.signature_version, parsed.cipher_suite) == (
        "SigV4",
        "ECDHE-RSA-AES128-GCM-SHA256",
    )
    assert parsed.authentication_type == "AuthHeader"
    assert parsed.host_header == "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com"
    assert parsed.tls_version == "TLSV1.2"
    assert parsed.access_point_arn == "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP"
    assert parsed.acl_required == "Yes"
    assert parsed.extra == ("us-east-1",)
    assert parsed.succeeded


def test_dashes_are_none_and_bytes_sent_zero() -> None:
    # Given a refused, unauthenticated request on the bucket: most fields "-"
    fields = ["-"] * len(FIELDS)
    fields[FIELDS.index("time")] = "[30/Nov/2026:08:00:00 -0500]"
    fields[FIELDS.index("http_status")] = "403"
    fields[FIELDS.index("error_code")] = "AccessDenied"
    for quoted in ("request_uri", "referer", "user_agent"):
        fields[FIELDS.index(quoted)] = '"-"'
    # When parsed
    parsed = parse_line(" ".join(fields))
    # Then "-" is None (0 for bytes sent), the time keeps its offset
    assert parsed.requester is None and parsed.key is None and parsed.user_agent is None
    assert parsed.bytes_sent == 0 and parsed.object_size is None
    assert (parsed.http_status, parsed.error_code) == (403, "AccessDenied")
    assert parsed.time == dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)
    assert not parsed.succeeded


def test_an_older_shorter_record_is_read_and_a_broken_one_refused() -> None:
    # Given a record that ends after the user agent (as AWS wrote them before more fields)
    short = AWS_EXAMPLE.split(' "aws-cli')[0] + ' "ua"'
    # When parsed, Then the later fields are None
    parsed = parse_line(short)
    assert parsed.user_agent == "ua" and parsed.version_id is None and parsed.extra == ()
    # And a line too short, a bad time and a bad number are refused with the line's number
    with pytest.raises(AccessLogFormatError, match="line 3"):
        list(parse_log(AWS_EXAMPLE + "\n\nnot a record\n"))
    with pytest.raises(AccessLogFormatError, match="time"):
        parse_line(AWS_EXAMPLE.replace("06/Feb/2019", "06/Fev/2019"))
    with pytest.raises(AccessLogFormatError, match="http_status"):
        parse_line(AWS_EXAMPLE.replace(" 206 - ", " OK - "))


def test_a_formatted_record_parses_back_to_itself() -> None:
    # Given records with spaces and quotes in quoted fields and odd characters in the key
    originals = [
        parse_line(AWS_EXAMPLE),
        record(key="ora/x/a b+c%.sql", user_agent='say "hi"', bytes_sent=0, error_code="NoSuchKey"),
    ]
    for original in originals:
        # When written as S3 writes it and read back
        # Then nothing changed
        assert parse_line(format_record(original)) == original
    assert format_record(parse_line(AWS_EXAMPLE)) == AWS_EXAMPLE.replace("org%3Dx", "org=x")


def test_log_object_keys_carry_their_delivery_time() -> None:
    # Given a delivery time
    moment = dt.datetime(2026, 11, 30, 8, 5, 9, tzinfo=dt.UTC)
    # When a key is made, Then it is AWS's simple prefix format and gives the time back
    key = log_object_key("data-bucket/", moment, "0A1B2C3D")
    assert key == "data-bucket/2026-11-30-08-05-09-0A1B2C3D"
    assert log_object_time(key, "data-bucket/") == moment
    assert log_object_time(key, "other/") is None
    assert log_object_time("data-bucket/README", "data-bucket/") is None
    assert log_object_time("data-bucket/2026-13-30-08-05-09-AB", "data-bucket/") is None


@pytest.mark.parametrize(
    ("requester", "operation", "expected"),
    [
        (ALICE, "REST.GET.OBJECT", ("researcher", "alice")),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-pipeline-decrypt/fn",
            "REST.PUT.OBJECT",
            ("pipeline", "edxvault-pipeline-decrypt"),
        ),
        # A role named like the pipeline's but not one of its steps' is not the pipeline.
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-pipeline-export/fn",
            "REST.GET.OBJECT",
            ("unexpected", f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-pipeline-export/fn"),
        ),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/DataCzar/me",
            "REST.GET.OBJECT",
            ("admin", "DataCzar"),
        ),
        # Another account's role with a researcher's role name is not the researcher.
        (
            "arn:aws:sts::999999999999:assumed-role/edxvault-alice/x",
            "REST.GET.OBJECT",
            ("unexpected", "arn:aws:sts::999999999999:assumed-role/edxvault-alice/x"),
        ),
        # A researcher-style role the configuration does not list (a removed grant?).
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-carol/x",
            "REST.GET.OBJECT",
            ("unexpected", f"arn:aws:sts::{ACCOUNT}:assumed-role/edxvault-carol/x"),
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:user/jdoe",
            "REST.GET.OBJECT",
            ("unexpected", f"arn:aws:iam::{ACCOUNT}:user/jdoe"),
        ),
        (OWNER, "REST.GET.OBJECT", ("unexpected", OWNER)),
        (None, "REST.GET.OBJECT", ("unexpected", "-")),
        (None, "S3.EXPIRE.OBJECT", ("s3", "S3")),
    ],
)
def test_requesters_resolve_to_the_vaults_principals(
    requester: str | None, operation: str, expected: tuple[str, str]
) -> None:
    # Given a record by the requester, When classified, Then it is who the vault says
    reader = classify(record(requester=requester, operation=operation), PRINCIPALS)
    assert (reader.kind, reader.name) == expected


def test_reads_are_summed_per_researcher_and_only_successful_data_requests_flag() -> None:
    # Given alice's two reads of one object (one a range) and one of another, a refused read,
    # bob's HEAD, an IAM user's refused read and a deploy role's bucket-policy read,
    # and an IAM user's successful listing
    t = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    user = f"arn:aws:iam::{ACCOUNT}:user/jdoe"
    deployer = f"arn:aws:sts::{ACCOUNT}:assumed-role/cdk-hnb659fds-cfn-exec-role/x"
    records = [
        record(time=t + dt.timedelta(hours=2), bytes_sent=10, http_status=206),
        record(time=t, bytes_sent=100),
        record(
            time=t + dt.timedelta(hours=1), key="email-opt-in/org=x/export_date=2026-11-01/o.csv"
        ),
        record(
            time=t + dt.timedelta(hours=3), http_status=403, error_code="AccessDenied", bytes_sent=0
        ),
        record(requester=ALICE.replace("alice", "bob"), operation="REST.HEAD.OBJECT", bytes_sent=0),
        record(requester=user, http_status=403, error_code="AccessDenied"),
        record(requester=deployer, operation="REST.GET.BUCKETPOLICY", key=None),
    ]
    # When summarized
    activity = summarize(records, PRINCIPALS, identifying=identifying_key)
    alice = activity[("researcher", "alice")]
    # Then alice read two objects, 210 bytes, first and last read by time, one identifying
    assert alice.reads == 3 and len(alice.objects_read) == 2
    assert alice.bytes_read == 210
    assert (alice.first_read, alice.last_read) == (t, t + dt.timedelta(hours=2))
    assert alice.identifying_keys == {"email-opt-in/org=x/export_date=2026-11-01/o.csv"}
    assert (alice.requests, alice.refused) == (4, 1)
    # And bob's HEAD is no read
    assert activity[("researcher", "bob")].reads == 0
    # And neither a refused attempt nor a configuration read makes an unexpected reader
    assert not activity[("unexpected", user)].unexpected_reader
    assert activity[("unexpected", user)].refused == 1
    assert not activity[("unexpected", deployer)].unexpected_reader
    # But a successful listing by an outsider does
    listed = summarize([record(requester=user, operation="REST.GET.BUCKET", key=None)], PRINCIPALS)
    assert listed[("unexpected", user)].unexpected_reader


def test_identifying_files_are_the_grants_identifying_ones() -> None:
    # Given keys of each kind, Then those that name learners or hold their text are identifying
    assert identifying_key("email-opt-in/org=x/export_date=2026-11-01/x.csv")
    assert identifying_key("forums/org=x/site=edx/course=C/export_date=2026-11-01/f.mongo")
    assert identifying_key("ora/openassessment_assessment/org=x/site=edx/course=C/d/f.sql")
    assert identifying_key("database/auth_user/org=x/site=edx/course=C/export_date=d/f.sql")
    assert not identifying_key("database/courseware_studentmodule/org=x/site=edx/course=C/d/f.sql")
    assert not identifying_key("events/org=x/site=edx/date=2026-11-01/x.log.gz")
    assert not identifying_key("reports/run.json")
    # And event logs are told apart: they carry usernames and IP addresses
    assert is_event_log("events-by-course/org=x/site=edx/course=C/date=d/x.log.gz")


def test_the_audit_of_a_configuration_names_its_researchers_and_keeps_flags_under_a_filter() -> (
    None
):
    # Given the example configuration's principals
    config = load_config(EXAMPLE_CONFIG)
    principals = known_principals(config)
    name = config.researchers[0].name
    role = f"edxvault-{name}"
    assert principals.researcher_roles[role] == name
    assert "edxvault-pipeline-decrypt" in principals.pipeline_roles
    # And a read by that researcher and one by an IAM user
    user = f"arn:aws:iam::{config.deployment.account}:user/jdoe"
    records = [
        record(requester=f"arn:aws:sts::{config.deployment.account}:assumed-role/{role}/s"),
        record(requester=user),
    ]
    # When audited for another researcher
    result = audit(records, principals, researcher="someone-else")
    # Then the unexpected reader is still shown and flagged
    assert [entry.kind for entry in result.activity] == ["unexpected"]
    assert result.unexpected_readers == (user,)
    assert result.as_dict()["records"] == 2
