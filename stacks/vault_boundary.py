"""The vault's boundary: who the vault's principals are, by exact ARN, and the statements that
keep everyone else away from the keys' and buckets' configuration.

Every principal is named by its exact ARN in an ``aws:PrincipalArn`` condition of a statement
whose ``Principal`` is ``*``, never in the ``Principal`` element: KMS refuses a key policy whose
principals do not exist yet ("The principals in the key policy must exist and be visible to
KMS", KMS API Reference, CreateKey/PutKeyPolicy ``Policy``), while a condition compares strings,
so the storage stack can name roles the pipeline and access stacks create later. A role created
later at the same IAM path, with another name, matches none of them and gets nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import DefaultStackSynthesizer, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from edx_vault.settings.iam_paths import PIPELINE_ROLE_PATH, RESEARCHER_ROLE_PATH
from edx_vault.settings.resource_names import PIPELINE_ROLE_STEPS, pipeline_role_name

# What changes who may reach a bucket's objects, or where copies of them or of their names go
# (S3's actions, Service Authorization Reference, "Actions defined by Amazon S3"): the policy,
# ACLs, public access block, ownership, encryption, versioning, logging, CORS, website, object
# lock, tags (CloudFormation tags every bucket), and every *Configuration: replication,
# lifecycle, inventory and analytics exports, notifications (s3:PutBucketNotification), ...
BUCKET_CONFIGURATION_ACTIONS: Final = (
    "s3:PutBucket*",
    "s3:DeleteBucket*",
    "s3:Put*Configuration",
)
# What makes a key unusable, or hands its use to someone else: its policy, its state, its
# deletion, grants, rotation, aliases (a vault alias pointed elsewhere), and tags.
KEY_ADMINISTRATION_ACTIONS: Final = (
    "kms:PutKeyPolicy",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKeyRotation",
    "kms:EnableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:RevokeGrant",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "kms:ImportKeyMaterial",
    "kms:DeleteImportedKeyMaterial",
)
# The cryptographic operations on a symmetric encryption key.
KEY_USE_ACTIONS: Final = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
# A service principal's own request (DynamoDB's work on its grant for the manifest table)
# carries no aws:PrincipalArn of ours and aws:PrincipalIsAWSService "true": the Deny statements
# leave it alone. "...IfExists" counts a request without the key as an IAM principal's, so the
# Deny still holds then (the form of AWS's data-perimeter examples; IAM User Guide, "AWS global
# condition context keys", aws:PrincipalIsAWSService).
_NOT_A_SERVICE: Final = {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}


def _unless_principal(arns: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """``ArnNotEquals aws:PrincipalArn`` for ``arns``; nothing when there are none (the
    statement then holds for every principal: IAM has no empty value list)."""
    unique = list(dict.fromkeys(arns))
    return {"ArnNotEquals": {"aws:PrincipalArn": unique}} if unique else {}


@dataclass(frozen=True)
class VaultPrincipals:
    """The vault's principals, each by exact ARN.

    Attributes
    ----------
    pipeline_roles
        Every pipeline step's role (``{prefix}-pipeline-{step}`` under ``PIPELINE_ROLE_PATH``).
    researcher_roles
        Every configured researcher's role (``{prefix}-{researcher}`` under
        ``RESEARCHER_ROLE_PATH``).
    admin_roles
        The configuration's ``admin_role_arns``.
    deployer
        CloudFormation's execution role of the CDK bootstrap, which creates and updates the
        stacks' resources (``None`` for a synthesizer without one).
    account_root
        The account's root user: the break-glass administrator of the keys (see
        :func:`protect_key`).
    """

    pipeline_roles: tuple[str, ...]
    researcher_roles: tuple[str, ...]
    admin_roles: tuple[str, ...]
    deployer: str | None
    account_root: str

    @property
    def managers(self) -> tuple[str, ...]:
        """Who may change the keys' and buckets' configuration: the admin roles and the
        deployer (CloudFormation applies every change the stacks make)."""
        return (*self.admin_roles, *((self.deployer,) if self.deployer else ()))

    @property
    def data_users(self) -> tuple[str, ...]:
        """Who may use the data key and touch the data bucket's objects."""
        return (*self.pipeline_roles, *self.researcher_roles, *self.admin_roles)


def role_arn(stack: Stack, path: str, name: str) -> str:
    """A role's ARN as ``aws:PrincipalArn`` spells it: with its path."""
    return f"arn:{stack.partition}:iam::{stack.account}:role{path}{name}"


def vault_principals(
    stack: Stack,
    *,
    stack_prefix: str,
    researcher_role_names: Sequence[str],
    admin_role_arns: Sequence[str],
) -> VaultPrincipals:
    """The vault's principals for ``stack``'s account.

    Parameters
    ----------
    stack
        The storage stack (its account, partition and synthesizer).
    stack_prefix
        The deployment's stack prefix (pipeline roles' names derive from it).
    researcher_role_names
        The names of every researcher role the access stack creates.
    admin_role_arns
        The configuration's admin roles.
    """
    return VaultPrincipals(
        pipeline_roles=tuple(
            role_arn(stack, PIPELINE_ROLE_PATH, pipeline_role_name(stack_prefix, step))
            for step in PIPELINE_ROLE_STEPS
        ),
        researcher_roles=tuple(
            role_arn(stack, RESEARCHER_ROLE_PATH, name) for name in researcher_role_names
        ),
        admin_roles=tuple(admin_role_arns),
        deployer=deployment_role_arn(stack),
        account_root=f"arn:{stack.partition}:iam::{stack.account}:root",
    )


def deployment_role_arn(stack: Stack) -> str | None:
    """The ARN of the role CloudFormation deploys ``stack`` with, from its synthesizer.

    The default synthesizer names the bootstrap's execution role with its qualifier and
    ``${AWS::Partition}``-style placeholders; they are replaced with the stack's own values.
    ``None`` for a synthesizer that deploys with the caller's credentials.
    """
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        return None
    arn = synthesizer.cloud_formation_execution_role_arn
    for placeholder, value in (
        ("${AWS::Partition}", stack.partition),
        ("${AWS::AccountId}", stack.account),
        ("${AWS::Region}", stack.region),
    ):
        arn = arn.replace(placeholder, value)
    return arn


def protect_bucket_configuration(bucket: s3.Bucket, managers: Sequence[str]) -> None:
    """Refuse every change of the bucket's configuration to all but ``managers``.

    Without it, a role with ``s3:*`` on ``*`` is refused every object but may replace the
    policy that refuses it. The account's root user needs no exemption for the policy itself:
    it "can always use" Get/Put/DeleteBucketPolicy "even if the policy explicitly denies"
    it (S3 API Reference, PutBucketPolicy), the way back from a policy that locks everyone out.
    """
    bucket.add_to_resource_policy(
        _deny(
            "DenyConfigurationChangesButByManagers",
            actions=list(BUCKET_CONFIGURATION_ACTIONS),
            resources=[bucket.bucket_arn],
            conditions={**_unless_principal(managers), **_NOT_A_SERVICE},
        )
    )


def _deny(
    sid: str, *, actions: list[str], resources: list[str], conditions: dict[str, Any]
) -> iam.PolicyStatement:
    """A resource policy's Deny to every principal, but where ``conditions`` exempt it."""
    return iam.PolicyStatement(
        sid=sid,
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=actions,
        resources=resources,
        conditions=conditions,
    )


def protect_key(
    key: kms.Key,
    principals: VaultPrincipals,
    *,
    users: Sequence[str],
    via_services: Sequence[str],
) -> None:
    """Only the managers (and the root user) administer ``key``; only ``users`` use it, and
    only through ``via_services``.

    The key policy keeps CDK's statement trusting the account (IAM policies grant the vault's
    roles their uses); these Deny statements hold whatever an IAM policy allows. CloudFormation
    creates the key with its execution role, which stays allowed ``kms:PutKeyPolicy``: KMS's
    lockout safety check requires the new policy to "allow the principal that is making the
    request to make a subsequent PutKeyPolicy request" (KMS API Reference, CreateKey,
    ``BypassPolicyLockoutSafetyCheck``). The root user stays a manager, and may use the key
    through its services: unlike S3, KMS has no way back from a policy that locks every
    principal out, and the key would hold the vault's data hostage. (As a manager it could
    rewrite the policy anyway; the account protects it with MFA and no access keys.)

    Parameters
    ----------
    key
        The key.
    principals
        The vault's principals.
    users
        Who may use the key (``kms:Decrypt``, ``Encrypt``, ``GenerateDataKey*``, ``ReEncrypt*``).
    via_services
        The services that may use it on a user's behalf (``kms:ViaService``, e.g.
        ``s3.us-east-1.amazonaws.com``); the admin roles may also use it directly.
    """
    managers = [*principals.managers, principals.account_root]
    statements = [
        _deny(
            "DenyKeyAdministrationButByManagers",
            actions=list(KEY_ADMINISTRATION_ACTIONS),
            resources=["*"],
            conditions={**_unless_principal(managers), **_NOT_A_SERVICE},
        ),
        _deny(
            # Grants made by an integrated service for its resource (DynamoDB's for the
            # manifest table) set kms:GrantIsForAWSResource; a direct CreateGrant does not, and
            # would hand the key's use to any principal.
            "DenyDirectGrantsButByManagers",
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                **_unless_principal(managers),
                "BoolIfExists": {
                    "kms:GrantIsForAWSResource": "false",
                    "aws:PrincipalIsAWSService": "false",
                },
            },
        ),
        _deny(
            "DenyKeyUseOutsideTheVault",
            actions=list(KEY_USE_ACTIONS),
            resources=["*"],
            conditions={
                **_unless_principal([*users, *principals.managers, principals.account_root]),
                **_NOT_A_SERVICE,
            },
        ),
        _deny(
            "DenyKeyUseButThroughItsServices",
            actions=list(KEY_USE_ACTIONS),
            resources=["*"],
            conditions={
                "StringNotEquals": {"kms:ViaService": list(via_services)},
                **_unless_principal(principals.admin_roles),
                **_NOT_A_SERVICE,
            },
        ),
    ]
    for statement in statements:
        key.add_to_resource_policy(statement)
