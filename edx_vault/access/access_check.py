"""Would this role be allowed to read this key? Answered from the synthesized policies.

A read of an object in the data bucket is two requests that must both be allowed: S3's
``s3:GetObject`` (identity policy and bucket policy), and the ``kms:Decrypt`` S3 makes with the
caller's credentials for the data key (identity policy and key policy), carrying
``kms:ViaService`` and, because the bucket uses an S3 bucket key, the bucket's ARN as encryption
context. A listing is ``s3:ListBucket`` with ``s3:prefix``. The request context is what AWS
sets for a role session over TLS; tests add or change keys to probe each condition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from edx_vault.access.policy_evaluator import (
    ContextValue,
    Decision,
    Request,
    ResourcePolicyKind,
    evaluate,
)
from edx_vault.access.policy_statements import Statement
from edx_vault.access.template_policies import RolePolicies, VaultPolicies


@dataclass(frozen=True)
class ReadCheck:
    """Whether a principal may read one object: both halves of the read, and their reasons."""

    key: str
    s3: Decision
    kms: Decision

    @property
    def allowed(self) -> bool:
        """Readable only if S3 serves the object and KMS decrypts it."""
        return self.s3.allowed and self.kms.allowed

    @property
    def deciding(self) -> Decision:
        """The decision that settles it: the refusal if any, else S3's allow."""
        if not self.s3.allowed:
            return self.s3
        return self.kms if not self.kms.allowed else self.s3


def timestamp(moment: dt.datetime) -> str:
    """``aws:CurrentTime`` spelling of a moment (UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_context(
    principal_arn: str, at: dt.datetime, overrides: Mapping[str, ContextValue | None] | None = None
) -> dict[str, ContextValue]:
    """The condition keys AWS sets for a role session's request over TLS 1.3.

    Parameters
    ----------
    principal_arn
        The role's ARN (``aws:PrincipalArn``).
    at
        The request's time.
    overrides
        Keys to change; a ``None`` value removes the key.
    """
    context: dict[str, ContextValue] = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": principal_arn.split(":")[4],
        "aws:CurrentTime": timestamp(at),
        "aws:PrincipalIsAWSService": "false",
        "aws:SecureTransport": "true",
        "s3:TlsVersion": "1.3",
    }
    for key, value in (overrides or {}).items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return context


def check_read(
    policies: VaultPolicies,
    role: RolePolicies,
    key: str,
    *,
    at: dt.datetime,
    region: str,
    context: Mapping[str, ContextValue | None] | None = None,
    kms_context: Mapping[str, ContextValue | None] | None = None,
) -> ReadCheck:
    """Evaluate ``s3:GetObject`` on ``key`` and the ``kms:Decrypt`` it needs.

    Parameters
    ----------
    policies
        The vault's synthesized policies.
    role
        The role whose session reads.
    key
        The object key.
    at
        When.
    region
        The deployment's region (``kms:ViaService`` names S3 in it).
    context, kms_context
        Extra or changed condition keys for the S3 and the KMS request.
    """
    s3 = check_bucket_action(policies, role, "s3:GetObject", key=key, at=at, context=context)
    kms = check_key(
        policies,
        role,
        "kms:Decrypt",
        at=at,
        context={
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": policies.bucket_arn,
            **(kms_context or {}),
        },
    )
    return ReadCheck(key=key, s3=s3, kms=kms)


def check_key(
    policies: VaultPolicies,
    role: RolePolicies,
    action: str,
    *,
    at: dt.datetime,
    context: Mapping[str, ContextValue | None] | None = None,
) -> Decision:
    """Evaluate a KMS ``action`` on the data key (identity policy and key policy)."""
    return _evaluate_session(
        role, action, policies.key_arn, policies.key_policy, "kms", at=at, context=context
    )


def check_secrets_key(
    policies: VaultPolicies,
    role: RolePolicies,
    action: str,
    *,
    at: dt.datetime,
    context: Mapping[str, ContextValue | None] | None = None,
) -> Decision:
    """Evaluate a KMS ``action`` on the secrets key (identity policy and key policy)."""
    return _evaluate_session(
        role,
        action,
        policies.secrets_key_arn,
        policies.secrets_key_policy,
        "kms",
        at=at,
        context=context,
    )


def check_bucket_action(
    policies: VaultPolicies,
    role: RolePolicies,
    action: str,
    *,
    key: str | None,
    at: dt.datetime,
    context: Mapping[str, ContextValue | None] | None = None,
) -> Decision:
    """Evaluate any S3 ``action`` on the bucket (``key=None``) or one object."""
    resource = policies.bucket_arn if key is None else f"{policies.bucket_arn}/{key}"
    return _evaluate_session(
        role, action, resource, policies.bucket_policy, "s3", at=at, context=context
    )


def _evaluate_session(
    role: RolePolicies,
    action: str,
    resource: str,
    resource_policy: tuple[Statement, ...],
    resource_policy_kind: ResourcePolicyKind,
    *,
    at: dt.datetime,
    context: Mapping[str, ContextValue | None] | None,
) -> Decision:
    """Evaluate one request of a session of ``role`` on a resource with its resource policy."""
    return evaluate(
        Request(
            action=action,
            resource=resource,
            principal=role.arn,
            context=session_context(role.arn, at, context),
        ),
        identity=role.identity,
        resource_policy=resource_policy,
        resource_policy_kind=resource_policy_kind,
    )


def check_list(
    policies: VaultPolicies,
    role: RolePolicies,
    prefix: str | None,
    *,
    at: dt.datetime,
) -> Decision:
    """Evaluate ``s3:ListBucket`` with ``s3:prefix`` (``None``: a listing without a prefix)."""
    return check_bucket_action(
        policies, role, "s3:ListBucket", key=None, at=at, context={"s3:prefix": prefix}
    )


def check_assume(
    role: RolePolicies,
    *,
    caller: str,
    action: str = "sts:AssumeRole",
    at: dt.datetime,
    context: Mapping[str, ContextValue] | None = None,
) -> Decision:
    """Evaluate the role's trust policy for ``caller`` (a user, role or provider ARN).

    The caller's own account must also allow it to call STS; that side is not modelled.
    """
    return evaluate(
        Request(
            action=action,
            resource=role.arn,
            principal=caller,
            context={"aws:CurrentTime": timestamp(at), **(context or {})},
        ),
        resource_policy=role.trust,
        resource_policy_kind="trust",
    )
