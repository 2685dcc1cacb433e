"""A researcher role reads its grant and is refused the rest, on the embedded AWS with IAM on.

moto can enforce IAM (``/moto-api/reset-auth``) but evaluates only Action and Resource, not
Condition keys (beyond ``sts:ExternalId`` on AssumeRole), and no bucket or key policies. So this
test shows what moto can show: the synthesized trust and identity policies, created as they are
in moto's IAM, let the researcher's principal assume the role and read a granted object, and
the role is refused an object of another course, another table and ``raw/`` **because the
prefixes differ**. Expiry, listing prefixes, MFA, KMS-through-S3 and the bucket policy's
denies are conditions or resource policies: ``test_access_matrix.py`` judges those with the
condition-aware evaluator.

Auth enforcement is a process-wide moto setting, so this test runs its own moto server in a
separate process: the session's shared server (tests/integration) is never affected.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from tests.access.conftest import synthesize
from tests.access.grant_config import (
    ACCOUNT,
    REGION,
    deployment_toml,
    researcher_toml,
    write_grants_config,
)

RESEARCHER_USER = "ann"
EXTERNAL_ID = "irb-2025-007"
BUCKET = f"edxvault-data-{ACCOUNT}-{REGION}"
# The researcher is not identifiable: the grant is the de-identified tier's copy.
GRANTED = (
    "deidentified/database/student_courseenrollment/org=examplex/site=edx/course=ExampleX-CS101-2025_T1/"
    "export_date=2025-03-02/ExampleX-CS101-2025_T1-student_courseenrollment-prod-analytics.sql"
)
OTHER_COURSE = GRANTED.replace("CS101", "CS202")
OTHER_TABLE = GRANTED.replace("student_courseenrollment", "auth_user")
RAW = "raw/course-data/examplex-2025-03-02.zip"
CONFIG = deployment_toml({"ExampleX": []}) + researcher_toml(
    name="ann-moto",
    principal=f"arn:aws:iam::{ACCOUNT}:user/{RESEARCHER_USER}",
    external_id=EXTERNAL_ID,
    expires=dt.date(2099, 1, 1),
    scopes=[
        {
            "orgs": ["ExampleX"],
            "courses": ["ExampleX-CS101-*"],
            "sites": ["edx"],
            "categories": ["database"],
            "tables": ["student_courseenrollment"],
        }
    ],
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server of our own, in its own process."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def client(endpoint: str, service: str, **credentials: str) -> Any:
    keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **keys)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def researcher_role(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The researcher role exactly as the access stack synthesizes it, intrinsics resolved."""
    directory = tmp_path_factory.mktemp("moto-grant")
    config = write_grants_config(directory, CONFIG)
    synthesized = synthesize(config, directory / "out")
    stack = synthesized.vault.access.stack_name
    resources = synthesized.templates[stack]["Resources"]
    [(role_id, role)] = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    return {
        "name": role["Properties"]["RoleName"],
        "path": role["Properties"]["Path"],
        "trust": synthesized.resolver.resolve(
            stack, role["Properties"]["AssumeRolePolicyDocument"]
        ),
        "policies": synthesized.access_policy_documents(role_id),
    }


@pytest.fixture(scope="module")
def enforced(moto_endpoint: str, researcher_role: dict[str, Any]) -> dict[str, Any]:
    """Set up as the admin would (auth off), then switch IAM enforcement on."""
    iam = client(moto_endpoint, "iam")
    s3 = client(moto_endpoint, "s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in (GRANTED, OTHER_COURSE, OTHER_TABLE, RAW):
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"contents of {key}".encode())
    role = iam.create_role(
        RoleName=researcher_role["name"],
        Path=researcher_role["path"],
        AssumeRolePolicyDocument=json.dumps(researcher_role["trust"]),
        MaxSessionDuration=3600,
    )["Role"]
    for index, document in enumerate(researcher_role["policies"]):
        policy = iam.create_policy(
            PolicyName=f"{researcher_role['name']}-{index}", PolicyDocument=json.dumps(document)
        )["Policy"]
        iam.attach_role_policy(RoleName=researcher_role["name"], PolicyArn=policy["Arn"])
    # The researcher's own user, allowed to call AssumeRole (moto, like AWS across accounts,
    # wants the caller's identity policy to allow it too).
    iam.create_user(UserName=RESEARCHER_USER)
    iam.put_user_policy(
        UserName=RESEARCHER_USER,
        PolicyName="assume-research-role",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}
                ],
            }
        ),
    )
    keys = iam.create_access_key(UserName=RESEARCHER_USER)["AccessKey"]
    response = requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=5)
    response.raise_for_status()
    return {
        "role_arn": role["Arn"],
        "user": {
            "aws_access_key_id": keys["AccessKeyId"],
            "aws_secret_access_key": keys["SecretAccessKey"],
        },
    }


def assume(endpoint: str, enforced: dict[str, Any], **options: str) -> dict[str, str]:
    sts = client(endpoint, "sts", **enforced["user"])
    credentials = sts.assume_role(
        RoleArn=enforced["role_arn"], RoleSessionName="ann-analysis", **options
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def test_the_role_reads_its_granted_object(moto_endpoint: str, enforced: dict[str, Any]) -> None:
    # Given the researcher's session of the role, assumed with the external id
    session = assume(moto_endpoint, enforced, ExternalId=EXTERNAL_ID)
    s3 = client(moto_endpoint, "s3", **session)
    # When it reads the granted object / Then it gets its contents
    body = s3.get_object(Bucket=BUCKET, Key=GRANTED)["Body"].read()
    assert body == f"contents of {GRANTED}".encode()


@pytest.mark.parametrize("key", [OTHER_COURSE, OTHER_TABLE, RAW], ids=["course", "table", "raw"])
def test_the_role_is_refused_ungranted_objects(
    moto_endpoint: str, enforced: dict[str, Any], key: str
) -> None:
    # Given the same session
    session = assume(moto_endpoint, enforced, ExternalId=EXTERNAL_ID)
    s3 = client(moto_endpoint, "s3", **session)
    # When it reads an object outside its prefixes / Then S3 refuses
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key=key)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_enforcement_is_on_for_everyone(moto_endpoint: str, enforced: dict[str, Any]) -> None:
    # Given the researcher's own user keys, which allow only AssumeRole
    s3 = client(moto_endpoint, "s3", **enforced["user"])
    # Then they cannot read even the granted object without assuming the role
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key=GRANTED)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_assuming_the_role_needs_the_external_id(
    moto_endpoint: str, enforced: dict[str, Any]
) -> None:
    # moto checks StringEquals on sts:ExternalId in trust policies (its only condition)
    with pytest.raises(ClientError) as refused:
        assume(moto_endpoint, enforced, ExternalId="a-guess")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
