"""S3 bucket names, IAM role and policy names and paths."""

from __future__ import annotations

from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.deploy.rules.check import template_violations
from tests.local.deploy_rules.rule_templates import ACCOUNT, STACK, messages, resource, violations

# --- S3 bucket names --------------------------------------------------------------------------


def bucket(name: Any) -> dict[str, Any]:
    return {"Resources": {"Data": resource("AWS::S3::Bucket", BucketName=name)}}


def joined(prefix: str) -> dict[str, Any]:
    """``{prefix}-data-{account}-{region}``, spelled as CDK synthesizes it."""
    return {
        "Fn::Join": [
            "",
            [f"{prefix}-data-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}],
        ]
    }


def test_a_bucket_name_built_from_account_and_region_within_63_characters_passes() -> None:
    # Given edxvault-data-123456789012-us-east-1 (35 characters) / Then it is accepted
    assert violations(bucket(joined("edxvault"))) == []


def test_a_bucket_name_over_63_characters_is_refused() -> None:
    # Given the longest stack prefix (32) with the account and a long region: 65 characters
    template = bucket(joined("a" * 32))
    # When checked for that region
    found = template_violations(
        template, stack_name=STACK, account=ACCOUNT, region="ap-southeast-4", assembly_dir=None
    )
    # Then the resolved name and S3's length rule are named
    [problem] = [str(v) for v in found]
    assert f"BucketName = '{'a' * 32}-data-123456789012-ap-southeast-4'" in problem
    assert "between 3 (min) and 63 (max) characters long (this one has 65)" in problem


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("EdxVault-data", "only of lowercase letters, numbers, periods (.), and hyphens (-)"),
        ("-data", "must begin and end with a letter or number"),
        ("my..data", "two adjacent periods"),
        ("192.168.5.4", "formatted as an IP address"),
        ("xn--data", "must not start with the prefix xn--"),
        ("data-s3alias", "must not end with the suffix -s3alias"),
    ],
)
def test_bucket_names_s3_refuses_are_refused(name: str, fragment: str) -> None:
    # Given a literal name breaking one naming rule / Then that rule is named
    assert any(fragment in problem for problem in messages(bucket(name)))


def test_a_bucket_name_known_only_at_deployment_is_not_judged() -> None:
    # Given a name imported from another stack / Then no guess is made
    assert violations(bucket({"Fn::ImportValue": "Other:Name"})) == []


# --- IAM names and paths ----------------------------------------------------------------------


def role(**properties: Any) -> dict[str, Any]:
    properties.setdefault("AssumeRolePolicyDocument", {"Statement": []})
    return {"Resources": {"Reader": resource("AWS::IAM::Role", **properties)}}


def test_a_role_name_of_64_characters_and_a_slashed_path_pass() -> None:
    # Given the longest allowed name and a path starting and ending with '/'
    template = role(RoleName="r" * 64, Path="/edx-vault/researcher/")
    # Then it is accepted
    assert violations(template) == []


def test_a_role_name_of_65_characters_is_refused() -> None:
    # Given one character over IAM's limit / When checked / Then the limit is named
    [problem] = messages(role(RoleName="r" * 65))
    assert "RoleName" in problem
    assert "IAM: role names are 1 to 64 characters (this one has 65)" in problem


def test_a_role_name_with_a_space_is_refused() -> None:
    # Given a name with a character IAM does not allow / Then the allowed characters are named
    [problem] = messages(role(RoleName="jane doe"))
    assert "role names must be alphanumeric" in problem


@pytest.mark.parametrize("path", ["edx-vault/", "/edx-vault", "/" + "p" * 511 + "/"])
def test_a_path_without_its_slashes_or_too_long_is_refused(path: str) -> None:
    # Given a path missing a slash, or of 513 characters / Then the Path is refused
    problems = messages(role(Path=path))
    assert problems
    assert all("Path" in problem for problem in problems)


def test_managed_and_inline_policy_names_up_to_128_characters_pass() -> None:
    # Given inline (in the role and standalone) and managed policy names of 128 characters
    template = role(Policies=[{"PolicyName": "p" * 128, "PolicyDocument": {}}])
    template["Resources"]["Managed"] = resource(
        "AWS::IAM::ManagedPolicy", ManagedPolicyName="m" * 128, PolicyDocument={}
    )
    template["Resources"]["Inline"] = resource(
        "AWS::IAM::Policy", PolicyName="i" * 128, PolicyDocument={}, Roles=[{"Ref": "Reader"}]
    )
    # Then they are accepted
    assert violations(template) == []


def test_managed_and_inline_policy_names_over_128_characters_are_refused() -> None:
    # Given the same names, one of 129 characters, one of 129 and one with a '/'
    template = role(Policies=[{"PolicyName": "p" * 129, "PolicyDocument": {}}])
    template["Resources"]["Managed"] = resource(
        "AWS::IAM::ManagedPolicy", ManagedPolicyName="m" * 129, PolicyDocument={}
    )
    template["Resources"]["Inline"] = resource(
        "AWS::IAM::Policy", PolicyName="i/j", PolicyDocument={}, Roles=[{"Ref": "Reader"}]
    )
    # When checked / Then each is named
    problems = messages(template)
    assert any(p.startswith("Reader (AWS::IAM::Role) Policies[0].PolicyName") for p in problems)
    assert any("managed policy names are 1 to 128 characters" in p for p in problems)
    assert any(p.startswith("Inline (AWS::IAM::Policy) PolicyName = 'i/j'") for p in problems)
