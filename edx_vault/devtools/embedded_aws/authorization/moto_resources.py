"""What the authorizer reads from moto's backends: resources' policies, their KMS keys, and
whether an object exists.

Every lookup is by the account the server serves and the resource's ARN (its region from the
ARN); a resource that does not exist has no policy and no key. :func:`resource_policy` is the
one entry for the policy of any resource: a table from the IAM service to its lookup and the
kind of policy the evaluator applies.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Final

from edx_vault.access.policy_evaluator import ResourcePolicyKind
from edx_vault.access.policy_statements import Statement, policy_statements

_AWS_MANAGED_SECRETS_KEY: Final = "alias/aws/secretsmanager"


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


# --------------------------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------------------------


def bucket(account: str, name: str) -> Any:
    """moto's bucket of that name, or ``None``."""
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"].buckets.get(name)


def _bucket_policy(account: str, resource: str) -> tuple[Statement, ...]:
    found = bucket(account, resource.removeprefix("arn:aws:s3:::").split("/", 1)[0])
    if found is None or not found.policy:
        return ()
    return policy_statements(found.policy, source="bucket")


def object_exists(account: str, bucket_name: str, key: str) -> bool:
    """Whether the bucket holds an object under ``key``."""
    found = bucket(account, bucket_name)
    return found is not None and found.keys.get(key) is not None


def object_encryption(account: str, bucket_name: str, key: str) -> tuple[str, bool] | None:
    """(KMS key ARN, S3 Bucket Key used) of a stored SSE-KMS object; ``None`` otherwise."""
    found = bucket(account, bucket_name)
    stored = found.keys.get(key) if found is not None else None
    if stored is None or stored.encryption != "aws:kms":
        return None
    key_arn = key_arn_or_none(account, stored.kms_key_id)
    return None if key_arn is None else (key_arn, is_true(stored.bucket_key_enabled))


def is_true(value: Any) -> bool:
    """moto keeps booleans from headers and XML as strings or bools."""
    return str(value).lower() == "true"


# --------------------------------------------------------------------------------------------
# KMS
# --------------------------------------------------------------------------------------------


def _kms_backend(account: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account][region]


def key_arn_or_none(account: str, key_id: str | None, region: str | None = None) -> str | None:
    """The ARN of the key an id, alias or ARN names; ``None`` for no key or an unknown one."""
    if not key_id:
        return None
    region = region or (_region_of(key_id) if key_id.startswith("arn:") else "us-east-1")
    backend = _kms_backend(account, region)
    try:
        resolved = backend.any_id_to_key_id(key_id)
    except Exception:  # moto raises several types for an unknown id
        return None
    key = backend.keys.get(resolved)
    return str(key.arn) if key is not None else None


def ciphertext_key_id(blob: str) -> str | None:
    """The key a (base64) moto ciphertext was encrypted under, or ``None``."""
    from moto.kms.utils import _deserialize_ciphertext_blob

    try:
        return str(_deserialize_ciphertext_blob(base64.b64decode(blob)).key_id)
    except Exception:  # not a moto ciphertext: KMS would refuse it anyway
        return None


def _key_policy(account: str, resource: str) -> tuple[Statement, ...]:
    backend = _kms_backend(account, _region_of(resource))
    key = backend.keys[backend.any_id_to_key_id(resource.split("/", 1)[1])]
    return policy_statements(key.policy, source="key")


# --------------------------------------------------------------------------------------------
# Secrets Manager, SNS, IAM
# --------------------------------------------------------------------------------------------


def secret(account: str, region: str, secret_id: str) -> Any:
    """moto's secret an id or ARN names, or ``None``."""
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        return secretsmanager_backends[account][region].describe_secret(secret_id)
    except Exception:  # moto's ResourceNotFound
        return None


def _secret_policy(account: str, resource: str) -> tuple[Statement, ...]:
    found = secret(account, _region_of(resource), resource)
    if found is None or not found.policy:
        return ()
    return policy_statements(found.policy, source="secret")


def secret_key_arn(account: str, region: str, resource: str) -> str | None:
    """The customer managed key a secret is encrypted under (``None``: AWS managed, or none)."""
    found = secret(account, region, resource)
    if found is None or not found.kms_key_id or found.kms_key_id == _AWS_MANAGED_SECRETS_KEY:
        return None
    return key_arn_or_none(account, found.kms_key_id, region)


def _topic(account: str, resource: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account][_region_of(resource)].topics.get(resource)


def _topic_policy(account: str, resource: str) -> tuple[Statement, ...]:
    topic = _topic(account, resource)
    return policy_statements(topic.policy, source="topic") if topic is not None else ()


def topic_key_arn(account: str, region: str, resource: str) -> str | None:
    """The key an encrypted topic uses, or ``None``."""
    topic = _topic(account, resource)
    if topic is None or not topic.kms_master_key_id:
        return None
    return key_arn_or_none(account, topic.kms_master_key_id, region)


def _trust_policy(account: str, resource: str) -> tuple[Statement, ...]:
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["aws"].get_role_by_arn(resource)
    except Exception:  # no such role: nothing trusts the caller
        return ()
    return policy_statements(role.assume_role_policy_document, source="trust")


# --------------------------------------------------------------------------------------------
# Any resource's policy
# --------------------------------------------------------------------------------------------

# IAM service -> (the lookup of its resources' policies, how the evaluator combines them with
# the caller's identity policies: S3, Secrets Manager and SNS alike, KMS and role trust apart).
_POLICIES: Final[
    Mapping[str, tuple[Callable[[str, str], tuple[Statement, ...]], ResourcePolicyKind]]
] = {
    "s3": (_bucket_policy, "s3"),
    "kms": (_key_policy, "kms"),
    "secretsmanager": (_secret_policy, "s3"),
    "sns": (_topic_policy, "s3"),
    "sts": (_trust_policy, "trust"),
}


def resource_policy(
    account: str, service: str, resource: str
) -> tuple[tuple[Statement, ...], ResourcePolicyKind]:
    """The policy of the resource a check names, and its kind (``none`` where it has none).

    Raises
    ------
    UnsupportedPolicyError
        When the policy uses something the evaluator does not model.
    """
    found = _POLICIES.get(service)
    if resource == "*" or found is None:
        return (), "none"
    lookup, kind = found
    return lookup(account, resource), kind
