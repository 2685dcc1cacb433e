"""The KMS permissions a request implies on AWS, beyond its own action.

Reading an SSE-KMS object needs ``kms:Decrypt`` on its key, writing one ``kms:GenerateDataKey``
(and ``kms:Decrypt`` for a multipart upload), each through S3 (``kms:ViaService``); a secret
under a customer managed key needs ``kms:Decrypt`` to read and ``kms:GenerateDataKey`` to write,
through Secrets Manager; publishing to an encrypted topic needs ``kms:GenerateDataKey*`` and
``kms:Decrypt`` through SNS. One table, :data:`_KEY_ACTIONS`, says which calls use a key and
how; one function per service finds the key and the encryption context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.devtools.embedded_aws.api_requests import ApiCall
from edx_vault.devtools.embedded_aws.authorization.moto_resources import (
    bucket,
    is_true,
    key_arn_or_none,
    object_encryption,
    secret_key_arn,
    topic_key_arn,
)

# (service, operation) -> the KMS actions it implies on the key it uses, in order.
_KEY_ACTIONS: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("s3", "GetObject"): ("kms:Decrypt",),
    ("s3", "PutObject"): ("kms:GenerateDataKey",),
    ("s3", "CopyObject"): ("kms:GenerateDataKey",),
    ("s3", "CreateMultipartUpload"): ("kms:GenerateDataKey", "kms:Decrypt"),
    ("secretsmanager", "CreateSecret"): ("kms:GenerateDataKey",),
    ("secretsmanager", "GetSecretValue"): ("kms:Decrypt",),
    ("secretsmanager", "PutSecretValue"): ("kms:GenerateDataKey",),
    ("secretsmanager", "UpdateSecret"): ("kms:GenerateDataKey",),
    ("sns", "Publish"): ("kms:GenerateDataKey", "kms:Decrypt"),
}


@dataclass(frozen=True)
class KeyUse:
    """One KMS permission a request implies.

    Attributes
    ----------
    action, key_arn
        The KMS action and the key it is on.
    service
        The service calling KMS on the principal's behalf (``s3``, ``secretsmanager``, ``sns``).
    encryption_context
        The service's documented encryption context: S3's ``aws:s3:arn`` (the object's ARN, or
        the bucket's when an S3 Bucket Key is used), Secrets Manager's ``SecretARN``, SNS's
        ``aws:sns:topicArn``.
    """

    action: str
    key_arn: str
    service: str
    encryption_context: Mapping[str, str]


def implied_key_uses(call: ApiCall, account: str, region: str) -> Iterator[KeyUse]:
    """The KMS permissions ``call`` needs besides its own checks."""
    actions = _KEY_ACTIONS.get((call.service, call.operation))
    if actions is None:
        return
    found = _KEYS[call.service](call, account, region)
    if found is None:
        return
    key_arn, encryption_context = found
    for action in actions:
        yield KeyUse(action, key_arn, call.service, encryption_context)


# A key found for a call: its ARN and the encryption context the service uses with it.
_Found = tuple[str, dict[str, str]] | None


def _object_key(call: ApiCall, account: str, region: str) -> _Found:
    """The key an object read decrypts with (the stored object's), or a write encrypts under."""
    if not call.bucket or not call.key:
        return None
    if call.operation == "GetObject":
        used = object_encryption(account, call.bucket, call.key)
    else:
        used = _write_encryption(account, region, call)
    if used is None:
        return None
    key_arn, bucket_key = used
    encrypted = call.bucket if bucket_key else f"{call.bucket}/{call.key}"
    return key_arn, {"aws:s3:arn": f"arn:aws:s3:::{encrypted}"}


def _write_encryption(account: str, region: str, call: ApiCall) -> tuple[str, bool] | None:
    """(KMS key ARN, S3 Bucket Key used) an object write encrypts under: the request's
    settings, else the bucket's default encryption; ``None`` when no customer key is used."""
    context = call.checks[-1].context
    found = bucket(account, call.bucket) if call.bucket else None
    rules = (found.encryption or {}).get("Rule", []) if found is not None else []
    default_rule: dict[str, Any] = next(iter(rules if isinstance(rules, list) else [rules]), {})
    default = default_rule.get("ApplyServerSideEncryptionByDefault", {})
    requested_bucket_key = call.parameters.get("BucketKeyEnabled")
    bucket_key = (
        bool(requested_bucket_key)
        if requested_bucket_key is not None
        else is_true(default_rule.get("BucketKeyEnabled"))
    )
    if context.get("s3:x-amz-server-side-encryption") == "aws:kms":
        requested = context.get("s3:x-amz-server-side-encryption-aws-kms-key-id")
        if isinstance(requested, str):
            key_arn = key_arn_or_none(account, requested, region)
            return None if key_arn is None else (key_arn, bucket_key)
        return None  # the AWS managed aws/s3 key: no key policy of the vault's to judge
    if "s3:x-amz-server-side-encryption" in context:
        return None
    if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
        key_arn = key_arn_or_none(account, default["KMSMasterKeyID"], region)
        return None if key_arn is None else (key_arn, bucket_key)
    return None


def _secret_key(call: ApiCall, account: str, region: str) -> _Found:
    """The customer managed key a secret is (CreateSecret: will be) encrypted under."""
    if not call.checks:
        return None
    secret_arn = call.checks[0].resource
    if call.operation == "CreateSecret":
        requested = call.parameters.get("KmsKeyId")
        with_value = "SecretString" in call.parameters or "SecretBinary" in call.parameters
        key_arn = (
            key_arn_or_none(account, str(requested), region) if requested and with_value else None
        )
    else:
        key_arn = secret_key_arn(account, region, secret_arn)
    return None if key_arn is None else (key_arn, {"SecretARN": secret_arn})


def _topic_key(call: ApiCall, account: str, region: str) -> _Found:
    """The key of the topic a Publish sends to."""
    if not call.checks:
        return None
    topic_arn = call.checks[0].resource
    key_arn = topic_key_arn(account, region, topic_arn)
    return None if key_arn is None else (key_arn, {"aws:sns:topicArn": topic_arn})


_KEYS: Final[Mapping[str, Callable[[ApiCall, str, str], _Found]]] = {
    "s3": _object_key,
    "secretsmanager": _secret_key,
    "sns": _topic_key,
}
