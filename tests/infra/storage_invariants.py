"""The storage stack's security invariants, as checks over a synthesized template.

Each check raises ``AssertionError`` saying what is wrong. The infra tests run every check on
the real stack (must pass) and on a deliberately careless stack (must fail), so a check that
silently stopped checking would be noticed.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template


def _matching(template: Template, resource_type: str, props: Any) -> set[str]:
    return set(template.find_resources(resource_type, {"Properties": props}))


def _require(logical_id: str, matches: set[str], what: str) -> None:
    assert logical_id in matches, f"{logical_id}: {what}"


def _get_att_arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def bucket_encrypted_with_key(template: Template, bucket_id: str, key_id: str) -> None:
    """SSE-KMS under exactly ``key_id``, with an S3 bucket key to cut KMS request costs."""
    props = {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {
                    "BucketKeyEnabled": True,
                    "ServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": _get_att_arn(key_id),
                    },
                }
            ]
        }
    }
    _require(bucket_id, _matching(template, "AWS::S3::Bucket", props), "not SSE-KMS with the key")


def bucket_blocks_public_access(template: Template, bucket_id: str) -> None:
    props = {
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }
    _require(bucket_id, _matching(template, "AWS::S3::Bucket", props), "public access possible")


def bucket_versioned(template: Template, bucket_id: str) -> None:
    props = {"VersioningConfiguration": {"Status": "Enabled"}}
    _require(bucket_id, _matching(template, "AWS::S3::Bucket", props), "not versioned")


def bucket_expires_noncurrent_versions(template: Template, bucket_id: str) -> None:
    rule = Match.object_like(
        {
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": Match.any_value()},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": Match.any_value()},
        }
    )
    props = {"LifecycleConfiguration": {"Rules": Match.array_with([rule])}}
    _require(
        bucket_id,
        _matching(template, "AWS::S3::Bucket", props),
        "no lifecycle for noncurrent versions and abandoned multipart uploads",
    )


def bucket_logs_to(template: Template, bucket_id: str, logs_bucket_id: str) -> None:
    assert bucket_id != logs_bucket_id, "access logs must go to a separate bucket"
    props = {
        "LoggingConfiguration": {
            "DestinationBucketName": {"Ref": logs_bucket_id},
            "LogFilePrefix": Match.any_value(),
        }
    }
    _require(bucket_id, _matching(template, "AWS::S3::Bucket", props), "no access logs")


def _bucket_policy_statements(template: Template, bucket_id: str) -> list[dict[str, Any]]:
    for policy in template.find_resources("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
            return statements
    raise AssertionError(f"{bucket_id}: has no bucket policy")


def _denies(statement: dict[str, Any], action: str) -> bool:
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    return (
        statement["Effect"] == "Deny"
        and statement.get("Principal") in ({"AWS": "*"}, "*")
        and (action in actions or "s3:*" in actions)
    )


def bucket_requires_tls(template: Template, bucket_id: str) -> None:
    statements = _bucket_policy_statements(template, bucket_id)
    plain_http = [
        s
        for s in statements
        if _denies(s, "s3:GetObject")
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    old_tls = [
        s
        for s in statements
        if _denies(s, "s3:GetObject")
        and s.get("Condition", {}).get("NumericLessThan", {}).get("s3:TlsVersion") == 1.2
    ]
    assert plain_http, f"{bucket_id}: plain HTTP is not denied"
    assert old_tls, f"{bucket_id}: TLS older than 1.2 is not denied"


def bucket_denies_puts_without_key(template: Template, bucket_id: str, key_id: str) -> None:
    """Puts that ask for another encryption type, or another KMS key, are refused."""
    statements = [
        s for s in _bucket_policy_statements(template, bucket_id) if _denies(s, "s3:PutObject")
    ]
    conditions = [s.get("Condition", {}).get("StringNotEqualsIfExists", {}) for s in statements]
    assert any(c.get("s3:x-amz-server-side-encryption") == "aws:kms" for c in conditions), (
        f"{bucket_id}: puts with another encryption type are not denied"
    )
    assert any(
        c.get("s3:x-amz-server-side-encryption-aws-kms-key-id") == _get_att_arn(key_id)
        for c in conditions
    ), f"{bucket_id}: puts with another KMS key are not denied"


def key_rotates(template: Template, key_id: str) -> None:
    props = {"EnableKeyRotation": True}
    _require(key_id, _matching(template, "AWS::KMS::Key", props), "key rotation is off")


def resource_retained(template: Template, logical_id: str, resource_type: str) -> None:
    matches = template.find_resources(
        resource_type, {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    )
    _require(logical_id, set(matches), "would be deleted with the stack")


def secret_empty_and_encrypted_with(template: Template, secret_id: str, key_id: str) -> None:
    """No value in the template (neither given nor generated) and the secrets key, not AWS's."""
    props = {
        "KmsKeyId": _get_att_arn(key_id),
        "GenerateSecretString": Match.absent(),
        "SecretString": Match.absent(),
    }
    _require(
        secret_id,
        _matching(template, "AWS::SecretsManager::Secret", props),
        "has a value in the template or is not encrypted with the secrets key",
    )


def table_encrypted_and_recoverable(template: Template, table_id: str, key_id: str) -> None:
    props = {
        "SSESpecification": {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": _get_att_arn(key_id),
        },
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
    }
    _require(
        table_id,
        _matching(template, "AWS::DynamoDB::Table", props),
        "not KMS-encrypted with the data key, without point-in-time recovery or deletable",
    )
