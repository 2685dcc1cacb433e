"""The strict embedded AWS refuses hostile principals of the vault's own account, end to end
(issue 16; the full matrix, judged on the synthesized policies, is
tests/access/test_hostile_principals.py).

On the shared synced vault (tests/local/synced_vault.py), the account's root user creates roles
the vault does not know, each with a policy of its own that allows what it tries, and the tests
sign as sessions of them: a role created later at the pipeline's IAM path, a role with ``s3:*``
and a role with ``kms:*``. Each write they attempt would leave the vault as it was if it were
wrongly allowed (the same policy put back; a scheduled deletion cancelled), so a failure here
cannot break the modules that share the deployment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.settings import stack_outputs
from edx_vault.settings.iam_paths import PIPELINE_ROLE_PATH
from tests.local.iam_sessions import policy_document, session_client
from tests.local.synced_vault import Synced

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RoleFactory = Callable[..., Callable[[str], Any]]


@pytest.fixture(scope="module")
def hostile_role(synced: Synced) -> RoleFactory:
    """Create a role (trusting the account) allowed ``actions`` on everything; return a factory
    of clients signed as a session of it."""
    aws = synced.aws
    account = aws.root_client("sts").get_caller_identity()["Account"]

    def make(*actions: str, name: str | None = None, path: str = "/") -> Callable[[str], Any]:
        name = name or f"hostile-{uuid.uuid4().hex[:10]}"
        iam = aws.root_client("iam")
        role = iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=policy_document(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ),
        )["Role"]
        iam.put_role_policy(
            RoleName=name,
            PolicyName="own",
            PolicyDocument=policy_document(
                {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
            ),
        )
        credentials = aws.root_client("sts").assume_role(
            RoleArn=role["Arn"], RoleSessionName="hostile"
        )["Credentials"]

        def client(service: str) -> Any:
            return session_client(aws, service, credentials)

        return client

    return make


def _refusal(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error.get("Message", ""))


def _published_key(synced: Synced) -> str:
    return next(
        unit.output_key
        for unit in synced.seeded.package.published_units
        if unit.output_key and unit.output_key.startswith("events/")
    )


def test_a_role_created_later_at_the_pipeline_path_reads_and_writes_nothing(
    synced: Synced, hostile_role: RoleFactory
) -> None:
    # Given a role created after the deployment under the pipeline's IAM path, named like no
    # pipeline step, whose own policy allows every S3 and KMS action
    client = hostile_role(
        "s3:*", "kms:*", name="edxvault-pipeline-backfill", path=PIPELINE_ROLE_PATH
    )
    s3 = client("s3")
    key = _published_key(synced)
    # When it reads a published object and writes one
    read = _refusal(lambda: s3.get_object(Bucket=synced.bucket, Key=key))
    write = _refusal(lambda: s3.put_object(Bucket=synced.bucket, Key="events/x", Body=b"x"))
    # Then the bucket policy refuses both: the path alone no longer opens the vault
    for code, message in (read, write):
        assert code == "AccessDenied"
        assert "DenyObjectAccessOutsideTheVault" in message


def test_a_role_with_s3_star_cannot_replace_the_bucket_policy(
    synced: Synced, hostile_role: RoleFactory
) -> None:
    # Given a role whose own policy allows every S3 action, and the bucket's policy
    s3 = hostile_role("s3:*")("s3")
    current = synced.aws.root_client("s3").get_bucket_policy(Bucket=synced.bucket)["Policy"]
    # When it puts a policy (the same one: harmless if it were wrongly allowed) and changes the
    # bucket's lifecycle
    put = _refusal(lambda: s3.put_bucket_policy(Bucket=synced.bucket, Policy=current))
    lifecycle = _refusal(
        lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=synced.bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "x",
                        "Status": "Disabled",
                        "Filter": {"Prefix": "none/"},
                        "Expiration": {"Days": 1},
                    }
                ]
            },
        )
    )
    # Then both are refused by the statement that keeps configuration to the vault's managers
    for code, message in (put, lifecycle):
        assert code == "AccessDenied"
        assert "DenyConfigurationChangesButByManagers" in message


@pytest.mark.parametrize("key_output", [stack_outputs.DATA_KEY_ARN, stack_outputs.SECRETS_KEY_ARN])
def test_a_role_with_kms_star_cannot_delete_repolicy_or_use_the_keys(
    synced: Synced, hostile_role: RoleFactory, key_output: str
) -> None:
    # Given a role whose own policy allows every KMS action, and one of the vault's keys
    kms = hostile_role("kms:*")("kms")
    key_arn = synced.output(key_output)
    root_kms = synced.aws.root_client("kms")
    policy = root_kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
    # When it schedules the key's deletion, puts its policy back, and decrypts directly
    try:
        deletion = _refusal(lambda: kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7))
    finally:
        # Had it been allowed, the shared vault's key must not stay pending deletion.
        if root_kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] != "Enabled":
            root_kms.cancel_key_deletion(KeyId=key_arn)
            root_kms.enable_key(KeyId=key_arn)
    repolicy = _refusal(
        lambda: kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=policy)
    )
    decrypt = _refusal(lambda: kms.decrypt(KeyId=key_arn, CiphertextBlob=b"\x01" * 64))
    # Then KMS refuses each, by the key policy's statements, and the key is still enabled
    assert deletion[0] == repolicy[0] == "AccessDeniedException"
    assert "DenyKeyAdministrationButByManagers" in deletion[1]
    assert "DenyKeyAdministrationButByManagers" in repolicy[1]
    assert decrypt[0] == "AccessDeniedException"
    assert "DenyKeyUseOutsideTheVault" in decrypt[1]
    assert root_kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
