"""AccessStack: one role per grant, trusted by its principal only, with nothing but its grant."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from edx_vault.access.researcher_roles import MANAGED_POLICY_MAX_CHARS
from stacks.vault_app import build_vault_app
from tests.access.conftest import SynthesizedGrants, synthesize
from tests.access.grant_config import (
    ANN_CALLER,
    ANN_EXTERNAL_ID,
    BUCKET,
    DAN_USER,
    GRANTS_TOML,
    OIDC_PROVIDER,
    REGION,
    SAML_PROVIDER,
    TODAY,
    researcher_toml,
    write_grants_config,
)

BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"


@pytest.fixture(scope="module")
def template(synthesized: SynthesizedGrants) -> Template:
    return Template.from_stack(synthesized.vault.access)


def role_id(template: Template, name: str) -> str:
    roles = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": f"edxvault-{name}"}}
    )
    [logical_id] = roles
    return logical_id


def policies_of(template: Template, name: str) -> list[dict[str, Any]]:
    """The read policies attached to one researcher's role (not its SQL policy, which
    tests/access/test_query_access_matrix.py covers)."""
    role = role_id(template, name)
    return [
        policy["Properties"]
        for policy in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role}]
        and "Athena workgroup" not in policy["Properties"].get("Description", "")
    ]


def test_one_role_per_grant_under_the_researcher_path(template: Template) -> None:
    # Given the four grants / Then four roles, named for the grant, under the bucket policy's path
    template.resource_count_is("AWS::IAM::Role", 4)
    for name, identifiable in [
        ("ann-course", "false"),
        ("ben-identified", "true"),
        ("cat-oidc", "true"),
        ("dan-expired", "false"),
    ]:
        template.has_resource_properties(
            "AWS::IAM::Role",
            {
                "RoleName": f"edxvault-{name}",
                "Path": "/edx-vault/researcher/",
                "MaxSessionDuration": 3600,
                "Tags": Match.array_with(
                    [
                        {"Key": "edx-vault:grant", "Value": name},
                        {"Key": "edx-vault:identifiable", "Value": identifiable},
                    ]
                ),
            },
        )


def test_roles_have_no_inline_policies_and_no_other_permissions(template: Template) -> None:
    template.resource_count_is("AWS::IAM::Policy", 0)
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "Policies" not in role["Properties"]
        assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize(
    ("name", "action", "principal", "expires", "conditions"),
    [
        (
            "ann-course",
            "sts:AssumeRole",
            {"AWS": ANN_CALLER},
            "2027-01-01",
            {
                "StringEquals": {"sts:ExternalId": ANN_EXTERNAL_ID},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
            },
        ),
        (
            "ben-identified",
            "sts:AssumeRoleWithSAML",
            {"Federated": SAML_PROVIDER},
            "2027-01-01",
            {
                "StringEquals": {
                    "SAML:aud": "https://signin.aws.amazon.com/saml",
                    "SAML:sub": "ben@example.edu",
                }
            },
        ),
        (
            "cat-oidc",
            "sts:AssumeRoleWithWebIdentity",
            {"Federated": OIDC_PROVIDER},
            "2026-06-30",
            {"StringEquals": {"login.example.edu/realms/research:sub": "f:1234:cat"}},
        ),
    ],
    ids=[
        "an IAM principal needs its external id and MFA",
        "a SAML principal is pinned to its subject",
        "an OIDC principal is pinned to its subject",
    ],
)
def test_a_role_trusts_only_its_principal_on_its_terms_before_expiry(
    template: Template,
    name: str,
    action: str,
    principal: dict[str, str],
    expires: str,
    conditions: dict[str, Any],
) -> None:
    # Given a grant's principal / Then its role's trust policy is one statement for it, with the
    # principal's own conditions and the grant's expiry
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": f"edxvault-{name}",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": action,
                        "Effect": "Allow",
                        "Principal": principal,
                        "Condition": {
                            "DateLessThan": {"aws:CurrentTime": f"{expires}T00:00:00Z"},
                            **conditions,
                        },
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


def test_a_grant_reads_lists_and_decrypts_only_until_expiry(template: Template) -> None:
    # Given ben's one managed policy
    [policy] = policies_of(template, "ben-identified")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    expiry = {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}
    # Then it reads its patterns, lists its folders and decrypts through S3 only
    assert set(statements) == {
        "ReadGrantedObjects",
        "ListGrantedFolders",
        "DecryptGrantedObjectsThroughS3",
    }
    read = statements["ReadGrantedObjects"]
    assert read["Action"] == "s3:GetObject"
    assert read["Condition"] == expiry
    assert sorted(read["Resource"]) == sorted(
        f"{BUCKET_ARN}/{pattern}"
        for pattern in (
            "email-opt-in/org=otheru/*",
            "forums/org=otheru/site=*/course=*/*",
            "database/*/org=otheru/site=*/course=*/*",
            "events/org=otheru/site=*/*",
            "events-by-course/org=otheru/site=*/course=*/*",
        )
    )
    listing = statements["ListGrantedFolders"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == BUCKET_ARN
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == sorted(
        [
            "email-opt-in/org=otheru/*",
            "forums/org=otheru/*",
            "database/*/org=otheru/*",
            "events/org=otheru/*",
            "events-by-course/org=otheru/*",
        ]
    )
    decrypt = statements["DecryptGrantedObjectsThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt"
    # The storage stack's data key, by cross-stack reference
    assert "KeysDataKey" in decrypt["Resource"]["Fn::ImportValue"]
    assert decrypt["Condition"] == {
        **expiry,
        "StringEquals": {
            "kms:ViaService": f"s3.{REGION}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": BUCKET_ARN,
        },
    }


def test_an_expired_grant_gets_a_role_that_denies_everything(template: Template) -> None:
    [policy] = policies_of(template, "dan-expired")
    assert policy["PolicyDocument"]["Statement"] == [
        {"Sid": "GrantExpired", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ]
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "edxvault-dan-expired",
            "Description": Match.string_like_regexp("expired"),
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"AWS": DAN_USER},
                            "Condition": {
                                "DateLessThan": {"aws:CurrentTime": "2025-12-31T00:00:00Z"}
                            },
                        }
                    )
                ]
            },
        },
    )


def test_an_expired_grant_warns_on_its_role(synthesized: SynthesizedGrants) -> None:
    annotations = Annotations.from_stack(synthesized.vault.access)
    annotations.has_warning(
        "/EdxVault-Access/ResearcherDanExpired/Role",
        Match.string_like_regexp("research grant 'dan-expired' expired on 2025-12-31"),
    )
    annotations.has_no_warning("/EdxVault-Access/ResearcherAnnCourse/Role", Match.any_value())


def test_every_role_arn_is_an_output(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert set(outputs) == {
        "ResearcherRoleArnAnnCourse",
        "ResearcherRoleArnBenIdentified",
        "ResearcherRoleArnCatOidc",
        "ResearcherRoleArnDanExpired",
    }
    assert outputs["ResearcherRoleArnAnnCourse"]["Value"] == {
        "Fn::GetAtt": [role_id(template, "ann-course"), "Arn"]
    }


def test_access_depends_on_storage_and_storage_on_nothing_of_access(
    synthesized: SynthesizedGrants,
) -> None:
    # Given the assembly / Then access deploys after storage, and storage refers to no later
    # stack: it names the researcher roles by their fixed ARNs (its policies' exact principals),
    # not through a reference
    vault = synthesized.vault
    assert vault.storage in vault.access.dependencies
    storage_text = json.dumps(Template.from_stack(vault.storage).to_json())
    assert "Fn::ImportValue" not in storage_text
    assert "role/edx-vault/researcher/edxvault-ann-course" in storage_text


def test_a_long_grant_is_split_into_policies_that_fit_iam(tmp_path: Path) -> None:
    # Given a grant of 12 courses x 2 categories x 2 tables over 18 months
    long_scope = researcher_toml(
        name="eve-long",
        principal="arn:aws:iam::123456789012:user/eve",
        identifiable=True,
        expires=dt.date(2027, 1, 1),
        scopes=[
            {
                "orgs": ["OtherU"],
                "courses": [f"OtherU-C{n:03d}-2025" for n in range(12)],
                "sites": ["edx"],
                "categories": ["database", "course-structure"],
                "tables": ["auth_user", "student_courseenrollment"],
                "date_from": dt.date(2024, 7, 1),
                "date_to": dt.date(2025, 12, 31),
            }
        ],
    )
    config = write_grants_config(tmp_path, GRANTS_TOML + long_scope)
    synthesized = synthesize(config, tmp_path / "out")
    access = Template.from_json(synthesized.templates[synthesized.vault.access.stack_name])
    documents = synthesized.access_policy_documents(role_id(access, "eve-long"))
    # Then it takes several managed policies, each within IAM's size limit
    assert len(documents) > 1
    sizes = [len(json.dumps(d, separators=(",", ":"))) for d in documents]
    assert max(sizes) <= MANAGED_POLICY_MAX_CHARS, sizes
    # And together they hold every pattern of the grant, the KMS statement once
    [grant] = [g for g in synthesized.vault.grants if g.name == "eve-long"]
    resources = {
        r
        for d in documents
        for s in d["Statement"]
        if s["Sid"] == "ReadGrantedObjects"
        for r in s["Resource"]
    }
    assert resources == {f"{BUCKET_ARN}/{p}" for p in grant.key_patterns}
    sids = [s["Sid"] for d in documents for s in d["Statement"]]
    assert sids.count("DecryptGrantedObjectsThroughS3") == 1


def test_the_example_configuration_deploys_its_researcher(tmp_path: Path) -> None:
    # Given config/example.toml (the default) / Then its first grant is a role that reads
    vault = build_vault_app(outdir=str(tmp_path), nag=False, bundle_assets=False, today=TODAY)
    template = Template.from_stack(vault.access)
    template.has_resource_properties("AWS::IAM::Role", {"RoleName": "edxvault-jdoe-irb-2026-114"})
    assert isinstance(vault.access, cdk.Stack)
    assert vault.access.stack_name == "EdxVault-Access"
    assert len(policies_of(template, "jdoe-irb-2026-114")) == 1
