"""Hostile principals of the vault's own account against its boundary (issue 16), judged on the
synthesized policies by :mod:`edx_vault.access.policy_evaluator`.

The matrix: each hostile principal (rows) makes each request (columns) with a policy of its own
that allows it; :data:`MATRIX` states every cell's outcome and the statement that decides it.
The principals are a role created later at the pipeline's IAM path and one at the researchers'
(named like no vault role), a storage administrator with ``s3:*`` and ``kms:*`` on ``*``, and
an IAM administrator with ``iam:*``. The last is the residual risk the bucket and key policies
cannot close (docs/architecture.md, "The boundary"): it may rewrite a vault role's policies or
trust and act as that role; the tests below show what that does and does not give it.

The strict embedded AWS refuses the same calls end to end: tests/local/test_hostile_principals.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Final

import pytest

from edx_vault.access.access_check import (
    check_bucket_action,
    check_key,
    check_read,
    check_secrets_key,
)
from edx_vault.access.policy_evaluator import Decision, Request, evaluate
from edx_vault.access.policy_statements import Statement
from edx_vault.access.template_policies import RolePolicies, VaultPolicies
from tests.access.conftest import SynthesizedGrants
from tests.access.grant_config import ACCOUNT, ADMIN_ROLE, NOW, REGION

ROLE: Final = f"arn:aws:iam::{ACCOUNT}:role"
LATER_PIPELINE: Final = f"{ROLE}/edx-vault/pipeline/edxvault-pipeline-backfill"
LATER_RESEARCHER: Final = f"{ROLE}/edx-vault/researcher/edxvault-mallory"
STORAGE_ADMIN: Final = f"{ROLE}/StorageAdmin"
IAM_ADMIN: Final = f"{ROLE}/IamAdmin"
DEPLOYER: Final = f"{ROLE}/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}"
ROOT: Final = f"arn:aws:iam::{ACCOUNT}:root"
PUBLISHED: Final = "events/org=examplex/site=edx/date=2025-03-10/x.log.gz"


def role_allowed(arn: str, *actions: str) -> RolePolicies:
    """A role of the vault's account whose own policy allows ``actions`` on everything."""
    allow = Statement(effect="Allow", actions=actions, resources=("*",), source="identity")
    return RolePolicies(arn=arn, trust=(), identity=(allow,), tags={})


HOSTILE: Final = {
    "later pipeline-path role": role_allowed(LATER_PIPELINE, "s3:*", "kms:*"),
    "later researcher-path role": role_allowed(LATER_RESEARCHER, "s3:*", "kms:*"),
    "s3:* and kms:* role": role_allowed(STORAGE_ADMIN, "s3:*", "kms:*"),
    "iam:* role": role_allowed(IAM_ADMIN, "iam:*"),
}

Probe = Callable[[VaultPolicies, RolePolicies], Decision]


def _bucket(action: str, key: str | None = None) -> Probe:
    return lambda policies, role: check_bucket_action(policies, role, action, key=key, at=NOW)


def _data_key(action: str) -> Probe:
    return lambda policies, role: check_key(policies, role, action, at=NOW)


def _secrets_key(action: str) -> Probe:
    return lambda policies, role: check_secrets_key(policies, role, action, at=NOW)


def _read(policies: VaultPolicies, role: RolePolicies) -> Decision:
    return check_read(policies, role, PUBLISHED, at=NOW, region=REGION).deciding


REQUESTS: Final[dict[str, Probe]] = {
    "read a published object": _read,
    "write an object": _bucket("s3:PutObject", "events/x"),
    "put the bucket policy": _bucket("s3:PutBucketPolicy"),
    "delete the bucket policy": _bucket("s3:DeleteBucketPolicy"),
    "replicate the bucket": _bucket("s3:PutReplicationConfiguration"),
    "change the lifecycle": _bucket("s3:PutLifecycleConfiguration"),
    "notify elsewhere": _bucket("s3:PutBucketNotification"),
    "lift the public access block": _bucket("s3:PutBucketPublicAccessBlock"),
    "put the data key's policy": _data_key("kms:PutKeyPolicy"),
    "disable the data key": _data_key("kms:DisableKey"),
    "schedule the data key's deletion": _data_key("kms:ScheduleKeyDeletion"),
    "grant the data key's use": _data_key("kms:CreateGrant"),
    "decrypt with the data key directly": _data_key("kms:Decrypt"),
    "put the secrets key's policy": _secrets_key("kms:PutKeyPolicy"),
    "schedule the secrets key's deletion": _secrets_key("kms:ScheduleKeyDeletion"),
    "decrypt with the secrets key directly": _secrets_key("kms:Decrypt"),
}

# The statement that refuses each request to a principal with s3:* and kms:* of its own.
_REFUSED_BY: Final = {
    "read a published object": "DenyObjectAccessOutsideTheVault",
    "write an object": "DenyObjectAccessOutsideTheVault",
    "put the bucket policy": "DenyConfigurationChangesButByManagers",
    "delete the bucket policy": "DenyConfigurationChangesButByManagers",
    "replicate the bucket": "DenyConfigurationChangesButByManagers",
    "change the lifecycle": "DenyConfigurationChangesButByManagers",
    "notify elsewhere": "DenyConfigurationChangesButByManagers",
    "lift the public access block": "DenyConfigurationChangesButByManagers",
    "put the data key's policy": "DenyKeyAdministrationButByManagers",
    "disable the data key": "DenyKeyAdministrationButByManagers",
    "schedule the data key's deletion": "DenyKeyAdministrationButByManagers",
    "grant the data key's use": "DenyDirectGrantsButByManagers",
    "decrypt with the data key directly": "DenyKeyUseOutsideTheVault",
    "put the secrets key's policy": "DenyKeyAdministrationButByManagers",
    "schedule the secrets key's deletion": "DenyKeyAdministrationButByManagers",
    "decrypt with the secrets key directly": "DenyKeyUseOutsideTheVault",
}

# Every cell: (outcome, the Sid that must be among the deciding statements). The bucket and
# key policies' Deny statements hold whatever a principal's own policy says, so the IAM
# administrator (whose own policy allows nothing in S3 or KMS) is refused by the same ones; its
# residual power is in IAM, below.
MATRIX: Final[dict[tuple[str, str], tuple[str, str]]] = {
    (principal, request): ("explicit-deny", sid)
    for principal in HOSTILE
    for request, sid in _REFUSED_BY.items()
}


def test_the_matrix_decides_every_cell() -> None:
    # Given the hostile principals and the requests / Then every pair has a stated outcome
    assert set(MATRIX) == {(p, r) for p in HOSTILE for r in REQUESTS}


@pytest.mark.parametrize(("principal", "request_name"), list(MATRIX))
def test_a_hostile_principal_is_refused(
    synthesized: SynthesizedGrants, principal: str, request_name: str
) -> None:
    # Given a hostile principal of the vault's account and a request its own policy allows
    policies = synthesized.policies
    outcome, sid = MATRIX[principal, request_name]
    # When the request is judged against the synthesized bucket and key policies
    decision = REQUESTS[request_name](policies, HOSTILE[principal])
    # Then it is refused, by the statement the matrix names
    assert decision.outcome == outcome, decision
    assert sid in {s.sid for s in decision.deciding}, decision.deciding


@pytest.mark.parametrize("manager", [ADMIN_ROLE, DEPLOYER])
def test_the_admin_and_cloudformation_still_manage_the_buckets_and_keys(
    synthesized: SynthesizedGrants, manager: str
) -> None:
    # Given the configured admin role and CloudFormation's execution role, each allowed
    # everything by its own policy
    policies = synthesized.policies
    role = role_allowed(manager, "s3:*", "kms:*")
    # When they change the bucket's configuration or the keys' policies (KMS's lockout safety
    # check needs CloudFormation's role to keep kms:PutKeyPolicy), or schedule a deletion
    decisions = [
        REQUESTS[name](policies, role)
        for name in (
            "put the bucket policy",
            "replicate the bucket",
            "put the data key's policy",
            "schedule the data key's deletion",
            "put the secrets key's policy",
        )
    ]
    # Then each is allowed
    assert all(decision.allowed for decision in decisions), decisions


def test_the_root_user_keeps_the_way_back(synthesized: SynthesizedGrants) -> None:
    # Given the account's root user (every permission of its own)
    policies = synthesized.policies
    root = role_allowed(ROOT, "*")
    # When it replaces the bucket policy or the keys' policies, or reads an object
    bucket_policy = REQUESTS["put the bucket policy"](policies, root)
    key_policies = [
        REQUESTS["put the data key's policy"](policies, root),
        REQUESTS["put the secrets key's policy"](policies, root),
    ]
    read = _read(policies, root)
    # Then the policies can be repaired (S3's rule for root, and a key-policy exemption: KMS
    # has no way back from a key policy that locks everyone out), but objects stay closed
    assert bucket_policy.allowed
    assert all(decision.allowed for decision in key_policies)
    assert read.outcome == "explicit-deny"


def _vault_role(policies: VaultPolicies, name: str) -> RolePolicies:
    [role] = [role for arn, role in policies.roles.items() if arn.endswith(name)]
    return role


def test_a_vault_role_given_everything_still_cannot_strip_the_boundary(
    synthesized: SynthesizedGrants,
) -> None:
    # Given the Decrypt function's role with "Allow * on *" attached by hand (what an IAM
    # administrator could do)
    policies = synthesized.policies
    decrypt = _vault_role(policies, "/edxvault-pipeline-decrypt")
    everything = Statement(effect="Allow", actions=("*",), resources=("*",), source="by-hand")
    broadened = dataclasses.replace(decrypt, identity=(*decrypt.identity, everything))
    # When it removes the bucket policy, replicates the bucket, schedules the keys' deletion or
    # decrypts directly
    refused = {
        name: REQUESTS[name](policies, broadened)
        for name in (
            "delete the bucket policy",
            "replicate the bucket",
            "schedule the data key's deletion",
            "put the secrets key's policy",
            "decrypt with the data key directly",
        )
    }
    # Then each is refused by the bucket or key policy
    for name, decision in refused.items():
        assert decision.outcome == "explicit-deny", (name, decision)
        assert {s.source for s in decision.deciding} <= {"bucket", "key", "secrets-key"}
    # But, as a vault role, it reads every object (the residual risk of IAM write access)
    assert check_read(policies, broadened, "raw/course-data/x.zip", at=NOW, region=REGION).allowed


def test_iam_write_access_can_take_over_a_vault_role(synthesized: SynthesizedGrants) -> None:
    """The residual risk: an IAM administrator may attach a policy to a vault role or rewrite
    its trust policy, then act as it. An SCP or permissions boundary of the institution's
    closes it (docs/architecture.md, "The boundary"); the vault's own policies cannot."""
    # Given the IAM administrator and the vault's Decrypt role
    policies = synthesized.policies
    iam_admin = HOSTILE["iam:* role"]
    decrypt = _vault_role(policies, "/edxvault-pipeline-decrypt")
    # When it asks to attach a policy to that role and to rewrite its trust policy
    decisions = [
        evaluate(
            Request(action=action, resource=decrypt.arn, principal=iam_admin.arn),
            identity=iam_admin.identity,
        )
        for action in ("iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy")
    ]
    # Then its own policy allows both: nothing in the vault's resource policies can refuse them
    assert all(decision.allowed for decision in decisions)
