"""AccessStack: one role per grant, trusted by its principal only, with nothing but its grant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template

from edx_vault.access.grants import MANAGED_POLICY_MAX_CHARS
from edx_vault.access.template_policies import TemplateResolver, read_assembly_templates
from stacks.vault_app import build_vault_app
from tests.access.conftest import SynthesizedGrants
from tests.access.grant_config import (
    ACCOUNT,
    ANN_CALLER,
    ANN_EXTERNAL_ID,
    BUCKET,
    DAN_USER,
    GRANTS_TOML,
    OIDC_PROVIDER,
    REGION,
    SAML_PROVIDER,
    TODAY,
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
    """The managed policies attached to one researcher's role."""
    role = role_id(template, name)
    return [
        policy["Properties"]
        for policy in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role}]
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


def test_an_iam_principal_needs_its_external_id_and_mfa_before_expiry(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "edxvault-ann-course",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"AWS": ANN_CALLER},
                        "Condition": {
                            "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
                            "StringEquals": {"sts:ExternalId": ANN_EXTERNAL_ID},
                            "Bool": {"aws:MultiFactorAuthPresent": "true"},
                        },
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


def test_a_saml_principal_is_pinned_to_its_subject(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "edxvault-ben-identified",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRoleWithSAML",
                        "Effect": "Allow",
                        "Principal": {"Federated": SAML_PROVIDER},
                        "Condition": {
                            "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
                            "StringEquals": {
                                "SAML:aud": "https://signin.aws.amazon.com/saml",
                                "SAML:sub": "ben@example.edu",
                            },
                        },
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


def test_an_oidc_principal_is_pinned_to_its_subject(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "edxvault-cat-oidc",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Effect": "Allow",
                        "Principal": {"Federated": OIDC_PROVIDER},
                        "Condition": {
                            "DateLessThan": {"aws:CurrentTime": "2026-06-30T00:00:00Z"},
                            "StringEquals": {"login.example.edu/realms/research:sub": "f:1234:cat"},
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
        )
    )
    listing = statements["ListGrantedFolders"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == BUCKET_ARN
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == sorted(
        ["email-opt-in/org=otheru/*", "forums/org=otheru/*", "database/*/org=otheru/*"]
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
    # Given the assembly / Then access deploys after storage, and storage names no later stack
    vault = synthesized.vault
    assert vault.storage in vault.access.dependencies
    storage_text = json.dumps(Template.from_stack(vault.storage).to_json())
    assert "Fn::ImportValue" not in storage_text
    assert "edxvault-ann-course" not in storage_text


def test_a_long_grant_is_split_into_policies_that_fit_iam(tmp_path: Path) -> None:
    # Given a grant of 12 courses x 2 categories x 2 tables over 18 months
    long_scope = """
[[researchers]]
name = "eve-long"
principal = "arn:aws:iam::123456789012:user/eve"
identifiable = true
expires = 2027-01-01

[[researchers.scopes]]
orgs = ["OtherU"]
courses = [{courses}]
sites = ["edx"]
categories = ["database", "course-structure"]
tables = ["auth_user", "student_courseenrollment"]
date_from = 2024-07-01
date_to = 2025-12-31
""".replace("{courses}", ", ".join(f'"OtherU-C{n:03d}-2025"' for n in range(12)))
    config = write_grants_config(tmp_path, GRANTS_TOML + long_scope)
    outdir = tmp_path / "out"
    vault = build_vault_app(
        context={"config": str(config)},
        outdir=str(outdir),
        nag=False,
        bundle_assets=False,
        today=TODAY,
    )
    vault.app.synth()
    templates = read_assembly_templates(outdir)
    resolver = TemplateResolver(templates, account=ACCOUNT, region=REGION)
    access = templates[vault.access.stack_name]
    role = role_id(Template.from_json(access), "eve-long")
    documents = [
        resolver.resolve(vault.access.stack_name, resource["Properties"]["PolicyDocument"])
        for resource in access["Resources"].values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
        and resource["Properties"]["Roles"] == [{"Ref": role}]
    ]
    # Then it takes several managed policies, each within IAM's size limit
    assert len(documents) > 1
    sizes = [len(json.dumps(d, separators=(",", ":"))) for d in documents]
    assert max(sizes) <= MANAGED_POLICY_MAX_CHARS, sizes
    # And together they hold every pattern of the grant, the KMS statement once
    [grant] = [g for g in vault.grants if g.name == "eve-long"]
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
    # Given config/example.toml (the default) / Then its one grant is a role that reads
    vault = build_vault_app(outdir=str(tmp_path), nag=False, bundle_assets=False, today=TODAY)
    template = Template.from_stack(vault.access)
    template.has_resource_properties("AWS::IAM::Role", {"RoleName": "edxvault-jdoe-irb-2026-114"})
    assert isinstance(vault.access, cdk.Stack)
    assert vault.access.stack_name == "EdxVault-Access"
    assert len(policies_of(template, "jdoe-irb-2026-114")) == 1
