"""The strict embedded AWS refuses what AWS refuses, and only that.

Each rule is a compliant / non-compliant pair on the running server (the fixture app deployed
into it): the same principal and request, with one statement added or removed, is allowed, then
refused with AWS's error code. Principals are IAM users made per test with their own policies,
signing with their own keys, as researchers and edX's reader do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.local.conftest import RunningAws
from tests.local.fixture_app import DATA_STACK
from tests.local.iam_sessions import policy_document

pytestmark = pytest.mark.integration

UserFactory = Callable[..., Any]


@pytest.fixture
def bucket(fixture_aws: RunningAws) -> str:
    """A bucket of its own per test, with one object, created by the account's root user."""
    name = f"strict-{uuid.uuid4().hex[:12]}"
    s3 = fixture_aws.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/present.txt", Body=b"learner data")
    return name


@pytest.fixture
def user_client(fixture_aws: RunningAws) -> UserFactory:
    """Make an IAM user with the given identity policy; return a client signed with its key."""
    iam = fixture_aws.client("iam")

    def make(service: str, *statements: dict[str, Any], name: str | None = None) -> Any:
        name = name or f"strict-{uuid.uuid4().hex[:10]}"
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(
                UserName=name, PolicyName="p", PolicyDocument=policy_document(*statements)
            )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return boto3.session.Session().client(
            service,
            endpoint_url=fixture_aws.state.endpoint,
            region_name=fixture_aws.state.region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}),
        )

    return make


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return str(error.get("Code")), str(error.get("Message", ""))


def _key_delegating_to_the_account(aws: RunningAws) -> str:
    """A KMS key whose policy allows the account, so identity policies decide its use."""
    return str(
        aws.client("kms").create_key(
            Policy=policy_document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            )
        )["KeyMetadata"]["Arn"]
    )


def _read(bucket: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}


def test_an_identity_policy_decides_a_read(bucket: str, user_client: UserFactory) -> None:
    # Given two users, one whose policy allows s3:GetObject on the bucket and one without it
    allowed = user_client("s3", _read(bucket))
    refused = user_client("s3")
    # When each reads the object
    body = allowed.get_object(Bucket=bucket, Key="data/present.txt")["Body"].read()
    code, message = _error(lambda: refused.get_object(Bucket=bucket, Key="data/present.txt"))
    # Then only the first gets it; the other is refused as S3 refuses, naming the action
    assert body == b"learner data"
    assert code == "AccessDenied"
    assert "s3:GetObject" in message and f"arn:aws:s3:::{bucket}/data/present.txt" in message


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(
    bucket: str, user_client: UserFactory
) -> None:
    # Given a reader without s3:ListBucket and one with it
    reader = user_client("s3", _read(bucket))
    lister = user_client(
        "s3",
        _read(bucket),
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
    )
    # When both read and head a key that does not exist
    reader_get = _error(lambda: reader.get_object(Bucket=bucket, Key="data/absent.txt"))
    reader_head = _error(lambda: reader.head_object(Bucket=bucket, Key="data/absent.txt"))
    lister_get = _error(lambda: lister.get_object(Bucket=bucket, Key="data/absent.txt"))
    lister_head = _error(lambda: lister.head_object(Bucket=bucket, Key="data/absent.txt"))
    # Then S3 says "access denied" to the first and "no such key" only to the second
    assert reader_get[0] == "AccessDenied"
    assert reader_head[0] == "403"
    assert lister_get[0] == "NoSuchKey"
    assert lister_head[0] == "404"


def test_a_list_bucket_conditioned_on_a_prefix_does_not_reveal_missing_keys(
    bucket: str, user_client: UserFactory
) -> None:
    # Given a reader whose s3:ListBucket holds only for listing under data/ (GetObject carries
    # no s3:prefix, so that Allow does not apply to the missing-key decision)
    reader = user_client(
        "s3",
        _read(bucket),
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": "data/*"}},
        },
    )
    # When it lists under data/, and reads a missing key there
    listed = reader.list_objects_v2(Bucket=bucket, Prefix="data/")["KeyCount"]
    code, _ = _error(lambda: reader.get_object(Bucket=bucket, Key="data/absent.txt"))
    # Then the listing works and the missing key is AccessDenied, not NoSuchKey
    assert listed == 1
    assert code == "AccessDenied"


def test_an_explicit_deny_in_the_bucket_policy_wins(
    fixture_aws: RunningAws, bucket: str, user_client: UserFactory
) -> None:
    # Given a reader allowed by its identity policy, and a bucket policy denying data/
    reader = user_client("s3", _read(bucket))
    assert reader.get_object(Bucket=bucket, Key="data/present.txt")["Body"].read()
    fixture_aws.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=policy_document(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/data/*",
            }
        ),
    )
    # When it reads again
    code, message = _error(lambda: reader.get_object(Bucket=bucket, Key="data/present.txt"))
    # Then the Deny wins, and the refusal says so
    assert code == "AccessDenied"
    assert "explicit deny" in message


def test_a_bucket_policy_naming_the_principal_grants_without_an_identity_policy(
    fixture_aws: RunningAws, bucket: str, user_client: UserFactory
) -> None:
    # Given a user with no identity policy, named by the bucket policy
    name = f"strict-{uuid.uuid4().hex[:10]}"
    reader = user_client("s3", name=name)
    user_arn = f"arn:aws:iam::123456789012:user/{name}"
    code, _ = _error(lambda: reader.get_object(Bucket=bucket, Key="data/present.txt"))
    assert code == "AccessDenied"
    fixture_aws.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=policy_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ),
    )
    # When it reads
    body = reader.get_object(Bucket=bucket, Key="data/present.txt")["Body"].read()
    # Then the bucket policy alone allows it (same account)
    assert body == b"learner data"


def test_reading_an_sse_kms_object_needs_decrypt_under_the_key_policy(
    fixture_aws: RunningAws, bucket: str, user_client: UserFactory
) -> None:
    # Given an object encrypted under a key whose policy allows only the account (delegating
    # to IAM), and two readers: one also allowed kms:Decrypt by its identity policy
    key_arn = _key_delegating_to_the_account(fixture_aws)
    fixture_aws.client("s3").put_object(
        Bucket=bucket,
        Key="data/secret.txt",
        Body=b"encrypted learner data",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_arn,
    )
    decrypt = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }
    with_key = user_client("s3", _read(bucket), decrypt)
    without_key = user_client("s3", _read(bucket))
    # When both read it
    body = with_key.get_object(Bucket=bucket, Key="data/secret.txt")["Body"].read()
    code, message = _error(lambda: without_key.get_object(Bucket=bucket, Key="data/secret.txt"))
    # Then only the one that may decrypt through S3 gets it
    assert body == b"encrypted learner data"
    assert code == "AccessDenied"
    assert "kms:Decrypt" in message and key_arn in message


def test_a_condition_key_the_embedded_aws_cannot_supply_is_refused_by_name(
    bucket: str, user_client: UserFactory
) -> None:
    # Given a policy whose Allow depends on the caller's source IP (not modelled here)
    reader = user_client(
        "s3",
        {**_read(bucket), "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    )
    # When it reads
    code, message = _error(lambda: reader.get_object(Bucket=bucket, Key="data/present.txt"))
    # Then the request is refused, naming what could not be judged (never allowed silently)
    assert code == "AccessDenied"
    assert "cannot judge" in message and "IpAddress" in message


def test_an_unknown_access_key_is_refused(fixture_aws: RunningAws, bucket: str) -> None:
    # Given a client signing with a key nobody holds
    stranger = boto3.session.Session().client(
        "s3",
        endpoint_url=fixture_aws.state.endpoint,
        region_name=fixture_aws.state.region,
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="x" * 40,
    )
    # When it reads
    code, _ = _error(lambda: stranger.get_object(Bucket=bucket, Key="data/present.txt"))
    # Then S3 does not know the key
    assert code == "InvalidAccessKeyId"


def test_an_unmodelled_s3_operation_is_refused_by_name(
    bucket: str, user_client: UserFactory
) -> None:
    # Given a user allowed everything in S3
    admin = user_client("s3", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    # When it calls an operation the embedded AWS does not model (bucket website)
    code, message = _error(lambda: admin.get_bucket_website(Bucket=bucket))
    # Then it is refused, naming the request
    assert code == "AccessDenied"
    assert "does not model" in message and "website" in message


def test_assume_role_needs_the_trust_policy_and_its_external_id(
    fixture_aws: RunningAws, user_client: UserFactory
) -> None:
    # Given a role trusting one user with an external id
    iam = fixture_aws.client("iam")
    sts = user_client("sts")
    caller = sts.get_caller_identity()["Arn"]
    role = iam.create_role(
        RoleName=f"strict-{uuid.uuid4().hex[:10]}",
        AssumeRolePolicyDocument=policy_document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": caller},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "irb-1"}},
            }
        ),
    )["Role"]["Arn"]
    # When the user assumes it without and with the external id, and another user tries
    missing = _error(lambda: sts.assume_role(RoleArn=role, RoleSessionName="study"))
    session = sts.assume_role(RoleArn=role, RoleSessionName="study", ExternalId="irb-1")
    other = _error(
        lambda: user_client("sts").assume_role(
            RoleArn=role, RoleSessionName="study", ExternalId="irb-1"
        )
    )
    # Then only the trusted user with the external id gets a session
    assert missing[0] == "AccessDenied"
    assert session["Credentials"]["AccessKeyId"]
    assert other[0] == "AccessDenied"


def test_the_state_machine_and_function_roles_come_from_the_template(
    fixture_aws: RunningAws,
) -> None:
    # Given the fixture app's function, whose role may read and write only the items bucket
    bucket = fixture_aws.output(DATA_STACK, "ItemsBucketName")
    # When the account's root user reads that bucket (no bucket policy)
    listed = fixture_aws.client("s3").list_objects_v2(Bucket=bucket)
    # Then root is allowed by identity (every action), as on AWS
    assert listed["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_report_tells_a_missing_result_from_a_refusal_with_a_prefix_limited_list(
    bucket: str, user_client: UserFactory
) -> None:
    # Given a principal with the Report role's S3 shape: read and write _work/*, list only
    # with s3:prefix under _work/ (GetObject carries no prefix), and a run with one result
    from edx_vault.pipeline.run_files import RunFiles

    s3 = user_client(
        "s3",
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{bucket}/_work/*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": "_work/*"}},
        },
    )
    files = RunFiles(s3=s3, bucket=bucket, kms_key_arn="", run_id="run-1")
    s3.put_object(Bucket=bucket, Key=files.result_key("decrypt", "a"), Body=b'{"status": "done"}')
    lost = files.result_key("decrypt", "b")
    # When the run's results are read, one of them never written (its task died)
    present = files.existing_keys()
    found = files.get_json_or(files.result_key("decrypt", "a"), None, present=present)
    missing = files.get_json_or(lost, None, present=present)
    # Then the written one is read and the lost one is reported missing, where reading it
    # blindly (as the Report step used to) is refused by S3
    assert found == {"status": "done"}
    assert missing is None
    code, _ = _error(lambda: s3.get_object(Bucket=bucket, Key=lost))
    assert code == "AccessDenied"


def test_the_mirror_finds_no_copy_where_head_object_would_be_refused(
    bucket: str, user_client: UserFactory
) -> None:
    # Given a principal with the Mirror role's S3 shape: read raw/*, list only under raw/
    import datetime as dt

    from edx_vault.engine.object_copy import SourceVersion, existing_copy

    s3 = user_client(
        "s3",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/raw/*"},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": "raw/*"}},
        },
    )
    source = SourceVersion("edx", "a.gpg", '"etag"', 4, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    # When it asks whether raw/a.gpg, not copied yet, is already there
    found = existing_copy(s3, bucket=bucket, raw_key="raw/a.gpg", source=source)
    # Then the answer is "no copy", where a HeadObject (the old question) is refused
    assert found is None
    code, _ = _error(lambda: s3.head_object(Bucket=bucket, Key="raw/a.gpg"))
    assert code == "403"


def test_reading_a_secret_under_a_customer_key_needs_decrypt_through_secrets_manager(
    fixture_aws: RunningAws, user_client: UserFactory
) -> None:
    # Given a secret under a key that delegates to IAM, and two readers of the secret: one
    # also allowed kms:Decrypt through Secrets Manager, one allowed it through S3 only
    key_arn = _key_delegating_to_the_account(fixture_aws)
    secret_arn = fixture_aws.client("secretsmanager").create_secret(
        Name=f"strict-{uuid.uuid4().hex[:8]}", KmsKeyId=key_arn, SecretString="pipeline key"
    )["ARN"]
    read = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}

    def decrypt_via(service: str) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"{service}.us-east-1.amazonaws.com"}},
        }

    allowed = user_client("secretsmanager", read, decrypt_via("secretsmanager"))
    refused = user_client("secretsmanager", read, decrypt_via("s3"))
    # When both read the secret
    value = allowed.get_secret_value(SecretId=secret_arn)["SecretString"]
    code, message = _error(lambda: refused.get_secret_value(SecretId=secret_arn))
    # Then only the one that may decrypt through Secrets Manager gets it
    assert value == "pipeline key"
    assert code == "AccessDeniedException"
    assert "kms:Decrypt" in message


def test_lambda_refuses_a_synchronous_request_over_six_mb(fixture_aws: RunningAws) -> None:
    # Given the fixture app's function
    function = fixture_aws.output("LocalFixture-Flow", "FunctionName")
    lambda_client = fixture_aws.client("lambda")
    limit = 6 * 1024 * 1024
    small = json.dumps({"id": "small", "value": 1, "padding": "x"})
    big = json.dumps({"id": "big", "value": 1, "padding": "x" * limit})
    # When it is invoked with a small event and with one over Lambda's 6 MB request limit
    answered = lambda_client.invoke(FunctionName=function, Payload=small.encode())
    code, _ = _error(lambda: lambda_client.invoke(FunctionName=function, Payload=big.encode()))
    # Then only the small one runs; the big one is refused before the handler sees it
    assert answered["StatusCode"] == 200
    assert code == "RequestEntityTooLargeException"
