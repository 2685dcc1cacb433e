"""Fault injection: matching calls fail as AWS and networks fail, the rest are untouched."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from edx_vault.local_aws.faults import (
    CONTROL_PATH,
    FaultRuleError,
    fired,
    rules_from_toml,
    set_faults,
)
from tests.local.conftest import RunningAws

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(fixture_aws: RunningAws) -> Iterator[RunningAws]:
    """The shared server, with no fault left behind for the next test."""
    yield fixture_aws
    set_faults(fixture_aws.state.endpoint, [])


@pytest.fixture
def bucket(aws: RunningAws) -> str:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="raw/a.bin", Body=b"x" * 100_000)
    s3.put_object(Bucket=name, Key="other/b.bin", Body=b"y")
    return name


def test_an_error_hits_the_first_matching_calls_then_stops(aws: RunningAws, bucket: str) -> None:
    # Given SlowDown for the first two GetObjects under raw/ of this bucket, and a client that
    # does not retry (boto3's own retries would hide the faults)
    s3 = aws.client("s3", config=Config(retries={"total_max_attempts": 1}))
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "s3",
                "operation": "GetObject",
                "resource": f"{bucket}/raw/*",
                "error": "SlowDown",
                "status": 503,
                "times": 2,
            }
        ],
    )
    # When three reads of raw/a.bin and one of other/b.bin are made (no client retries)
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            s3.get_object(Bucket=bucket, Key="raw/a.bin")
        codes.append(raised.value.response["Error"]["Code"])
    third = s3.get_object(Bucket=bucket, Key="raw/a.bin")["Body"].read()
    other = s3.get_object(Bucket=bucket, Key="other/b.bin")["Body"].read()
    # Then exactly the first two matching calls failed as S3 fails, and the counts say so
    assert codes == ["SlowDown", "SlowDown"]
    assert len(third) == 100_000
    assert other == b"y"
    assert [rule["fired"] for rule in fired(aws.state.endpoint)] == [2]


def test_a_reset_cuts_the_body_mid_stream(aws: RunningAws, bucket: str) -> None:
    # Given a reset after 1,000 bytes of any GetObject in this bucket, once
    s3 = aws.client("s3")
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "s3",
                "operation": "GetObject",
                "resource": f"{bucket}/*",
                "action": "reset",
                "after_bytes": 1000,
                "times": 1,
            }
        ],
    )
    # When the object is read twice
    with pytest.raises((BotoCoreError, requests.exceptions.RequestException, OSError)):
        s3.get_object(Bucket=bucket, Key="raw/a.bin")["Body"].read()
    again = s3.get_object(Bucket=bucket, Key="raw/a.bin")["Body"].read()
    # Then the first read broke off as a dropped connection does, the second is whole
    assert len(again) == 100_000


def test_json_services_answer_in_their_own_shape(aws: RunningAws) -> None:
    # Given throttling on every DynamoDB ListTables and a KMS throttle on ListKeys
    set_faults(
        aws.state.endpoint,
        [
            {
                "service": "dynamodb",
                "operation": "ListTables",
                "error": "ThrottlingException",
                "status": 400,
            },
            {
                "service": "kms",
                "operation": "ListKeys",
                "error": "ThrottlingException",
                "status": 400,
            },
        ],
    )
    # When each is called
    errors = []
    once = Config(retries={"total_max_attempts": 1})
    for client, call in (
        (aws.client("dynamodb", config=once), "list_tables"),
        (aws.client("kms", config=once), "list_keys"),
    ):
        with pytest.raises(ClientError) as raised:
            getattr(client, call)()
        errors.append(raised.value.response["Error"]["Code"])
    # Then each SDK sees the error code it would see from AWS
    assert errors == ["ThrottlingException", "ThrottlingException"]


def test_a_malformed_rule_is_refused_naming_the_field(aws: RunningAws) -> None:
    # Given a rule with a typo in a field name
    # When it is sent to the server
    response = requests.put(
        f"{aws.state.endpoint}{CONTROL_PATH}",
        json=[{"service": "s3", "opration": "GetObject"}],
        timeout=10,
    )
    # Then nothing changes and the error names the rule and the field
    assert response.status_code == 400
    assert "fault[0]" in response.json()["error"] and "opration" in response.json()["error"]


def test_rules_from_a_toml_file(tmp_path: Path) -> None:
    # Given a faults file with one good and one bad rule
    good = tmp_path / "good.toml"
    good.write_text('[[fault]]\nservice = "s3"\noperation = "PutObject"\ntimes = 1\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fault]]\nservice = "s3"\ntimes = -1\n')
    # When they are read / Then the good one gives its rule and the bad one names its field
    [rule] = rules_from_toml(good)
    assert (rule.service, rule.operation, rule.times, rule.action) == (
        "s3",
        "PutObject",
        1,
        "error",
    )
    with pytest.raises(FaultRuleError, match=r"fault\[0\]\.times"):
        rules_from_toml(bad)
