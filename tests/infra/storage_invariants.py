"""The storage stack's security invariants, as checks over a synthesized template.

Each check raises ``AssertionError`` saying what is wrong. The infra tests run every check on
the real stack (must pass) and on a deliberately careless stack (must fail), so a check that
silently stopped checking would be noticed.
"""

from __future__ import annotations

import fnmatch
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
    # A NotAction statement (researchers' "anything but reading") is not a blanket deny.
    raw = statement.get("Action", [])
    actions = raw if isinstance(raw, list) else [raw]
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
    # Only when the header is present ("Null": false): a put without headers gets the default.
    conditions = [
        s.get("Condition", {}).get("StringNotEquals", {})
        for s in statements
        if set(s.get("Condition", {}).get("Null", {}).values()) == {"false"}
    ]
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


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers_action(statement: dict[str, Any], action: str) -> bool:
    """Whether a statement's Action (or NotAction) covers ``action``, IAM wildcards included."""
    if "NotAction" in statement:
        return not any(
            fnmatch.fnmatchcase(action.lower(), pattern.lower())
            for pattern in _as_list(statement["NotAction"])
        )
    return any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower())
        for pattern in _as_list(statement.get("Action", []))
    )


def _for_everyone(statement: dict[str, Any]) -> bool:
    return statement["Effect"] == "Deny" and statement.get("Principal") in ({"AWS": "*"}, "*")


def _objects_arn(bucket_id: str, pattern: str = "*") -> dict[str, Any]:
    return {"Fn::Join": ["", [_get_att_arn(bucket_id), f"/{pattern}"]]}


def bucket_objects_only_for(template: Template, bucket_id: str, principals: set[str]) -> None:
    """Object reads, writes and listings are denied to every principal not in ``principals``
    (the vault's roles and the admin roles, each by exact ARN), on the bucket and every object."""
    assert not any("*" in p or "?" in p for p in principals), "principals must be exact"
    resources = [_get_att_arn(bucket_id), _objects_arn(bucket_id)]
    matching = [
        s
        for s in _bucket_policy_statements(template, bucket_id)
        if _for_everyone(s)
        and all(
            _covers_action(s, action)
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket")
        )
        and all(resource in _as_list(s["Resource"]) for resource in resources)
        and set(
            _as_list(s.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", []))
        )
        == principals
        and set(s.get("Condition", {})) == {"ArnNotEquals"}
    ]
    assert matching, f"{bucket_id}: objects are not denied to principals outside {principals}"


# What must stay with the vault's managers (issue 16): a bucket's policy, replication,
# lifecycle, notifications, ownership and public access block.
CONFIGURATION_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutReplicationConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketNotification",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketLogging",
    "s3:PutBucketAcl",
    "s3:PutInventoryConfiguration",
)


def _unless_principals(statement: dict[str, Any]) -> set[str]:
    return set(
        _as_list(statement.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", []))
    )


def bucket_configuration_only_for(template: Template, bucket_id: str, managers: set[str]) -> None:
    """Every configuration change of the bucket is denied to all but ``managers`` (exact ARNs),
    and no other statement denies the managers (CloudFormation must still update it)."""
    statements = _bucket_policy_statements(template, bucket_id)
    guards = [
        s
        for s in statements
        if _for_everyone(s)
        and _get_att_arn(bucket_id) in _as_list(s["Resource"])
        and all(_covers_action(s, action) for action in CONFIGURATION_ACTIONS)
        and _unless_principals(s) == managers
    ]
    assert guards, f"{bucket_id}: its configuration may be changed by principals outside {managers}"
    for statement in statements:
        if statement in guards or statement["Effect"] != "Deny":
            continue
        if not _covers_action(statement, "s3:PutBucketPolicy"):
            continue
        conditions = statement.get("Condition", {})
        transport_only = conditions in (
            {"Bool": {"aws:SecureTransport": "false"}},
            {"NumericLessThan": {"s3:TlsVersion": 1.2}},
        )
        researchers_only = "ArnLike" in conditions and all(
            "/researcher/" in arn for arn in _as_list(conditions["ArnLike"]["aws:PrincipalArn"])
        )
        assert transport_only or researchers_only, (
            f"{bucket_id}: {statement.get('Sid')} denies bucket configuration to its managers"
        )


def _key_policy(template: Template, key_id: str) -> list[dict[str, Any]]:
    key = template.to_json()["Resources"][key_id]
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def key_administered_only_by(template: Template, key_id: str, managers: set[str]) -> None:
    """Changing the key's policy, disabling it, scheduling its deletion or granting its use is
    denied to all but ``managers``, and the deletion window is the longest KMS allows."""
    statements = [s for s in _key_policy(template, key_id) if _for_everyone(s)]
    for action in ("kms:PutKeyPolicy", "kms:DisableKey", "kms:ScheduleKeyDeletion"):
        assert any(
            _covers_action(s, action) and _unless_principals(s) == managers for s in statements
        ), f"{key_id}: {action} is not kept to {managers}"
    assert any(
        _covers_action(s, "kms:CreateGrant") and _unless_principals(s) == managers
        for s in statements
    ), f"{key_id}: anyone may grant the key's use"
    for statement in statements:
        if not _covers_action(statement, "kms:PutKeyPolicy"):
            continue
        researchers_only = all(
            "/researcher/" in arn
            for arn in _as_list(
                statement["Condition"].get("ArnLike", {}).get("aws:PrincipalArn", ["none"])
            )
        )
        assert researchers_only or managers <= _unless_principals(statement), (
            f"{key_id}: {statement.get('Sid')} would lock a manager out (KMS lockout safety check)"
        )
    window = template.to_json()["Resources"][key_id]["Properties"].get("PendingWindowInDays")
    assert window == 30, f"{key_id}: deletion window {window}, not 30 days"


def key_used_only_by(
    template: Template, key_id: str, users: set[str], via_services: set[str]
) -> None:
    """Decrypt and GenerateDataKey are denied to all but ``users`` (exact ARNs), and to every
    non-admin unless a service in ``via_services`` asks on its behalf."""
    statements = [s for s in _key_policy(template, key_id) if _for_everyone(s)]
    actions = ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt")
    assert any(
        all(_covers_action(s, a) for a in actions)
        and users <= _unless_principals(s)
        and not any("*" in p for p in _unless_principals(s))
        and "StringNotEquals" not in s["Condition"]
        for s in statements
    ), f"{key_id}: principals outside {users} may use the key"
    assert any(
        all(_covers_action(s, a) for a in actions)
        and set(_as_list(s["Condition"].get("StringNotEquals", {}).get("kms:ViaService", [])))
        == via_services
        for s in statements
    ), f"{key_id}: the key may be used outside {via_services}"


def _researcher_statements(
    template: Template, bucket_id: str, researcher_roles: str
) -> list[dict[str, Any]]:
    return [
        s
        for s in _bucket_policy_statements(template, bucket_id)
        if _for_everyone(s)
        and s.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn") == researcher_roles
    ]


def bucket_keeps_researchers_out_of(
    template: Template, bucket_id: str, researcher_roles: str, prefixes: tuple[str, ...]
) -> None:
    """Researcher roles are denied everything on objects under ``prefixes``, unconditionally."""
    for prefix in prefixes:
        resource = _objects_arn(bucket_id, f"{prefix}*")
        assert any(
            _covers_action(s, "s3:GetObject")
            and resource in _as_list(s["Resource"])
            and set(s["Condition"]) == {"ArnLike"}
            for s in _researcher_statements(template, bucket_id, researcher_roles)
        ), f"{bucket_id}: researchers are not kept out of {prefix}"


def bucket_lets_researchers_only_read(
    template: Template, bucket_id: str, researcher_roles: str
) -> None:
    """Researcher roles may only GetObject and ListBucket; anything else is denied."""
    resources = [_get_att_arn(bucket_id), _objects_arn(bucket_id)]
    denied = [
        s
        for s in _researcher_statements(template, bucket_id, researcher_roles)
        if set(s["Condition"]) == {"ArnLike"}
        and all(resource in _as_list(s["Resource"]) for resource in resources)
    ]
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion", "s3:PutBucketAcl"):
        assert any(_covers_action(s, action) for s in denied), (
            f"{bucket_id}: researcher roles are not denied {action}"
        )
    for action in ("s3:GetObject", "s3:ListBucket"):
        assert not any(_covers_action(s, action) for s in denied), (
            f"{bucket_id}: researcher roles cannot even {action}"
        )


def bucket_lists_for_researchers_only_published(
    template: Template, bucket_id: str, researcher_roles: str, published: tuple[str, ...]
) -> None:
    """A researcher's listing must name a prefix under a published category."""
    wanted = {f"{prefix}*" for prefix in published}
    assert any(
        _covers_action(s, "s3:ListBucket")
        and set(_as_list(s["Condition"].get("StringNotLike", {}).get("s3:prefix", []))) == wanted
        for s in _researcher_statements(template, bucket_id, researcher_roles)
    ), f"{bucket_id}: researchers may list outside the published prefixes"


def key_lets_researchers_only_decrypt_through_s3(
    template: Template, key_id: str, researcher_roles: str, region: str
) -> None:
    """In the key policy: researcher roles are denied every KMS action but Decrypt, and
    Decrypt unless it comes through S3."""
    [key] = [
        resource
        for logical_id, resource in template.find_resources("AWS::KMS::Key").items()
        if logical_id == key_id
    ]
    statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if _for_everyone(s)
        and s.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn") == researcher_roles
    ]
    assert any(
        s.get("NotAction") == "kms:Decrypt" and set(s["Condition"]) == {"ArnLike"}
        for s in statements
    ), f"{key_id}: researcher roles may use the key for more than Decrypt"
    assert any(
        _covers_action(s, "kms:Decrypt")
        and s["Condition"].get("StringNotEquals", {}).get("kms:ViaService")
        == f"s3.{region}.amazonaws.com"
        for s in statements
    ), f"{key_id}: researcher roles may decrypt outside S3"
