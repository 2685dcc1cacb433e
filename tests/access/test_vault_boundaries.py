"""The storage stack's bucket and key policies, judged on the synthesized policies: they hold
against a researcher role given everything and against principals outside the vault, and let
the admin role and every pipeline permission through.

The judge is :mod:`edx_vault.access.policy_evaluator`, through :mod:`edx_vault.access.access_check`;
``test_access_matrix.py`` judges what each researcher may do.
"""

from __future__ import annotations

import dataclasses

import pytest

from edx_vault.access.access_check import check_bucket_action, check_key, check_list, check_read
from edx_vault.access.policy_statements import Statement
from edx_vault.access.researcher_roles import GRANT_TAG
from edx_vault.access.template_policies import RolePolicies
from tests.access.conftest import SynthesizedGrants
from tests.access.grant_config import ADMIN_ROLE, NOW, REGION

OTHERU_EVENTS = "events/org=otheru/site=edx/date=2025-03-10/otheru-edx-events-2025-03-10.log.gz"
EXAMPLEX_EVENTS = (
    "events/org=examplex/site=edx/date=2025-03-10/examplex-edx-events-2025-03-10.log.gz"
)


def test_the_bucket_and_key_policies_hold_even_if_a_researcher_role_is_given_everything(
    synthesized: SynthesizedGrants,
) -> None:
    # Given a researcher role to which someone attached "Allow * on *" by hand
    policies = synthesized.policies
    role = policies.role_tagged(GRANT_TAG, "ann-course")
    everything = Statement(effect="Allow", actions=("*",), resources=("*",), source="by-hand")
    broadened = dataclasses.replace(role, identity=(*role.identity, everything))
    # When it reaches into raw/, writes, lists the bucket root or uses KMS directly
    raw = check_read(
        policies, broadened, "raw/course-data/examplex-2025-03-02.zip", at=NOW, region=REGION
    )
    put = check_bucket_action(policies, broadened, "s3:PutObject", key="events/x", at=NOW)
    root_listing = check_list(policies, broadened, None, at=NOW)
    encrypt = check_key(policies, broadened, "kms:Encrypt", at=NOW)
    # Then the storage stack's policies still refuse each one
    for decision in (raw.s3, put, root_listing, encrypt):
        assert decision.outcome == "explicit-deny"
        assert {s.source for s in decision.deciding} <= {"bucket", "key"}
    # And what the identity policy alone now allows is only reads of published data
    assert check_read(policies, broadened, OTHERU_EVENTS, at=NOW, region=REGION).allowed


def pipeline_put_headers(key_arn: str) -> dict[str, str | None]:
    return {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
    }


def outside_role(arn: str, *, tags: dict[str, str] | None = None) -> RolePolicies:
    """A role of the same account, outside the vault, whose own policy allows everything."""
    everything = Statement(effect="Allow", actions=("*",), resources=("*",), source="identity")
    return RolePolicies(arn=arn, trust=(), identity=(everything,), tags=tags or {})


DEPLOYER = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
ROOT = "arn:aws:iam::123456789012:root"


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::123456789012:role/AnalyticsTeam",
        "arn:aws:iam::123456789012:role/edx-vault-lookalike/x",
        "arn:aws:iam::123456789012:role/edx-vault/pipeline/edxvault-pipeline-backfill",
        "arn:aws:iam::123456789012:role/edx-vault/researcher/edxvault-mallory",
        DEPLOYER,
        ROOT,
        "arn:aws:iam::123456789012:user/intern",
    ],
)
def test_principals_outside_the_vault_cannot_touch_objects(
    synthesized: SynthesizedGrants, principal: str
) -> None:
    # Given a same-account principal whose own policy allows everything (roles created later
    # at the vault's IAM paths included)
    policies = synthesized.policies
    role = outside_role(principal)
    # When it reads, writes or lists the data bucket's objects, or replaces its policy
    decisions = [
        check_read(policies, role, EXAMPLEX_EVENTS, at=NOW, region=REGION).s3,
        check_bucket_action(policies, role, "s3:PutObject", key="events/x", at=NOW),
        check_list(policies, role, "events/", at=NOW),
    ]
    replace_policy = check_bucket_action(policies, role, "s3:PutBucketPolicy", key=None, at=NOW)
    # Then the bucket policy refuses, by the statement that names the vault's principals
    for decision in decisions:
        assert decision.outcome == "explicit-deny"
        assert "DenyObjectAccessOutsideTheVault" in {s.sid for s in decision.deciding}
    # And only CloudFormation's role and the root user (S3's own rule) may replace the policy
    if principal in (DEPLOYER, ROOT):
        assert replace_policy.allowed
    else:
        assert replace_policy.outcome == "explicit-deny"
        assert "DenyConfigurationChangesButByManagers" in {s.sid for s in replace_policy.deciding}


def test_the_admin_role_from_the_config_may_read_everything(synthesized: SynthesizedGrants) -> None:
    # Given the configured admin role with an allow-everything policy of its own
    policies = synthesized.policies
    admin = outside_role(ADMIN_ROLE)
    # Then it reads raw/ and reports/ and lists the bucket
    assert check_read(
        policies, admin, "raw/course-data/otheru-2025-03-02.zip", at=NOW, region=REGION
    ).allowed
    assert check_read(policies, admin, "reports/run.json", at=NOW, region=REGION).allowed
    assert check_list(policies, admin, None, at=NOW).allowed


def test_every_pipeline_permission_on_the_data_survives_the_bucket_and_key_policies(
    synthesized: SynthesizedGrants,
) -> None:
    # Given every pipeline role and each thing its own policy allows on the bucket or data key
    policies = synthesized.policies
    pipeline = [role for arn, role in policies.roles.items() if "/edx-vault/pipeline/" in arn]
    assert len(pipeline) >= 6
    checked = 0
    for role in pipeline:
        for statement in role.identity:
            if statement.effect != "Allow" or statement.actions is None:
                continue
            for action in statement.actions:
                for resource in statement.resources or ():
                    # When the allowed request is made (wildcards filled in)
                    concrete = resource.replace("*", "probe")
                    context: dict[str, str | None] = {
                        key: values[0].replace("*", "probe")
                        for block in statement.conditions.values()
                        for key, values in block.items()
                    }
                    if action == "s3:PutObject":
                        # What the pipeline sends on every put (edx_vault/engine/publish.py).
                        context |= pipeline_put_headers(policies.key_arn)
                    if action.startswith("kms:"):
                        # The pipeline uses the data key only through S3 and DynamoDB.
                        context.setdefault("kms:ViaService", f"s3.{REGION}.amazonaws.com")
                    if concrete.startswith(policies.bucket_arn):
                        key = concrete.removeprefix(policies.bucket_arn).removeprefix("/") or None
                        decision = check_bucket_action(
                            policies, role, action, key=key, at=NOW, context=context
                        )
                    elif concrete == policies.key_arn:
                        decision = check_key(policies, role, action, at=NOW, context=context)
                    else:
                        continue
                    # Then the bucket and key policies let it through
                    assert decision.allowed, (role.arn, action, concrete, decision)
                    checked += 1
    assert checked >= 30


def test_puts_are_denied_only_when_they_ask_for_another_encryption(
    synthesized: SynthesizedGrants,
) -> None:
    """The storage stack denies a put that names another encryption or key; a put without
    encryption headers (as every UploadPart request is) gets the bucket default, the data key,
    and must pass. (An earlier "...IfExists" form denied those too: found by this evaluator.)"""
    # Given the Decrypt function's role, which may write events/
    policies = synthesized.policies
    [decrypt] = [role for arn, role in policies.roles.items() if arn.endswith("-pipeline-decrypt")]
    key = "events/org=examplex/site=edx/date=2025-03-10/x.log.gz"
    # When it puts with the data key's headers, without headers, and asking for SSE-S3
    with_headers = check_bucket_action(
        policies,
        decrypt,
        "s3:PutObject",
        key=key,
        at=NOW,
        context=pipeline_put_headers(policies.key_arn),
    )
    without = check_bucket_action(policies, decrypt, "s3:PutObject", key=key, at=NOW)
    sse_s3 = check_bucket_action(
        policies,
        decrypt,
        "s3:PutObject",
        key=key,
        at=NOW,
        context={
            **pipeline_put_headers(policies.key_arn),
            "s3:x-amz-server-side-encryption": "AES256",
        },
    )
    # Then only the request asking for another encryption is refused
    assert with_headers.allowed
    assert without.allowed
    assert sse_s3.outcome == "explicit-deny"
    assert {s.sid for s in sse_s3.deciding} == {"DenyPutsNotEncryptedWithKms"}
