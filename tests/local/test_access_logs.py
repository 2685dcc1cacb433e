"""The strict embedded AWS writes S3 server access logs, in AWS's format, for a logged bucket.

On the session's fixture deployment: a bucket of its own that logs to another, a role session
that reads one object and is refused another; the log object in the target bucket holds both
requests with the session's assumed-role ARN as the requester.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.devtools.embedded_aws.access_logs import CONTROL_PATH
from edx_vault.package.access_log_records import log_object_time, parse_log
from tests.local.conftest import RunningAws
from tests.local.iam_sessions import policy_document, session_client

pytestmark = pytest.mark.integration


def _logged_bucket(aws: RunningAws) -> tuple[str, str, str]:
    """A bucket with two objects that logs to a bucket of its own, under a prefix."""
    s3 = aws.root_client("s3")
    data, logs, prefix = (
        f"logged-{uuid.uuid4().hex[:10]}",
        f"logs-{uuid.uuid4().hex[:10]}",
        "data-bucket/",
    )
    s3.create_bucket(Bucket=data)
    s3.create_bucket(Bucket=logs)
    # S3 needs the target bucket to let the logging service write ("Permissions for log delivery").
    s3.put_bucket_policy(
        Bucket=logs,
        Policy=policy_document(
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{logs}/{prefix}*",
            }
        ),
    )
    s3.put_bucket_logging(
        Bucket=data,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": prefix}},
    )
    s3.put_object(Bucket=data, Key="events/org=x/a b.log.gz", Body=b"learner events" * 10)
    s3.put_object(Bucket=data, Key="email-opt-in/org=x/optin.csv", Body=b"name,email\n")
    return data, logs, prefix


def _researcher_session(aws: RunningAws, data: str) -> tuple[Any, str]:
    """A role that may read events/ only, assumed by a user; its S3 client and role name."""
    iam = aws.root_client("iam")
    user = f"reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    role = f"edxvault-{uuid.uuid4().hex[:8]}"
    role_arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": iam.get_user(UserName=user)["User"]["Arn"]},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="read-events",
        PolicyDocument=policy_document(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{data}/events/*",
            }
        ),
    )
    iam.put_user_policy(
        UserName=user,
        PolicyName="assume",
        PolicyDocument=policy_document(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
        ),
    )
    sts = session_client(aws, "sts", key)
    session = sts.assume_role(RoleArn=role_arn, RoleSessionName="alice-laptop")["Credentials"]
    return session_client(aws, "s3", session), role


def root_sts_account(aws: RunningAws) -> str:
    return str(aws.root_client("sts").get_caller_identity()["Account"])


def test_a_role_sessions_reads_and_refusals_are_logged_with_its_assumed_role_arn(
    fixture_aws: RunningAws,
) -> None:
    # Given a logged bucket and a role session that may read events/ only
    data, logs, prefix = _logged_bucket(fixture_aws)
    s3, role = _researcher_session(fixture_aws, data)
    # When it reads an event log, then the email opt-in report (refused)
    body = s3.get_object(Bucket=data, Key="events/org=x/a b.log.gz")["Body"].read()
    with pytest.raises(ClientError):
        s3.get_object(Bucket=data, Key="email-opt-in/org=x/optin.csv")
    # Then reading the logs bucket delivers the waiting records first, in one log object
    root = fixture_aws.root_client("s3")
    listed = root.list_objects_v2(Bucket=logs, Prefix=prefix).get("Contents", [])
    assert len(listed) == 1
    assert log_object_time(listed[0]["Key"], prefix) is not None
    text = root.get_object(Bucket=logs, Key=listed[0]["Key"])["Body"].read().decode()
    records = [r for r in parse_log(text) if r.requester and "assumed-role" in r.requester]
    account = root_sts_account(fixture_aws)
    requester = f"arn:aws:sts::{account}:assumed-role/{role}/alice-laptop"
    read, refused = records
    assert (read.requester, read.operation, read.key) == (
        requester,
        "REST.GET.OBJECT",
        "events/org=x/a b.log.gz",
    )
    assert (read.http_status, read.error_code, read.bytes_sent) == (200, None, len(body))
    assert read.object_size == len(body)
    assert read.bucket == data
    assert read.request_uri is not None and read.request_uri.startswith("GET /")
    assert read.signature_version == "SigV4" and read.authentication_type == "AuthHeader"
    assert (refused.requester, refused.key) == (requester, "email-opt-in/org=x/optin.csv")
    assert (refused.http_status, refused.error_code) == (403, "AccessDenied")
    # And the root user's own set-up requests are in the log too, as the account's canonical id
    assert any(r.operation == "REST.PUT.OBJECT" for r in parse_log(text))


def test_the_control_call_delivers_waiting_records(fixture_aws: RunningAws) -> None:
    # Given a logged bucket with records waiting (its set-up requests)
    _, logs, prefix = _logged_bucket(fixture_aws)
    # When the control call is made
    request = urllib.request.Request(f"{fixture_aws.state.endpoint}{CONTROL_PATH}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    # Then at least this bucket's log object was written, straight into the backend
    assert answer["delivered"] >= 1
    objects = fixture_aws.root_client("s3").list_objects_v2(Bucket=logs, Prefix=prefix)
    assert objects["KeyCount"] == 1
