"""Resolving CloudFormation intrinsics into the values the evaluator compares."""

from __future__ import annotations

from typing import Any

import pytest

from edx_vault.access.policy_statements import UnsupportedPolicyError
from edx_vault.access.template_policies import TemplateResolver, load_vault_policies

STORAGE: dict[str, Any] = {
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data-bucket"}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}}},
        "Policy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Sid": "Tls",
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Resource": {
                                "Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]
                            },
                        }
                    ]
                },
            },
        },
    },
    "Outputs": {
        "DataBucketName": {"Value": {"Ref": "Bucket"}},
        "DataKeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}},
        "KeyExport": {
            "Value": {"Fn::GetAtt": ["Key", "Arn"]},
            "Export": {"Name": "Storage:KeyArn"},
        },
    },
}
ACCESS: dict[str, Any] = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "reader",
                "Path": "/edx-vault/researcher/",
                "AssumeRolePolicyDocument": {"Statement": []},
                "Tags": [{"Key": "edx-vault:grant", "Value": "ann"}],
            },
        },
        "Generated": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Statement": []}},
        },
        "Read": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "kms:Decrypt",
                            "Resource": {"Fn::ImportValue": "Storage:KeyArn"},
                        }
                    ]
                },
            },
        },
    }
}


@pytest.fixture
def resolver() -> TemplateResolver:
    return TemplateResolver(
        {"Storage": STORAGE, "Access": ACCESS}, account="111122223333", region="eu-west-1"
    )


@pytest.mark.parametrize(
    ("stack", "value", "expected"),
    [
        ("Storage", {"Ref": "AWS::Partition"}, "aws"),
        ("Storage", {"Ref": "AWS::AccountId"}, "111122223333"),
        ("Storage", {"Ref": "Bucket"}, "data-bucket"),
        ("Storage", {"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:aws:s3:::data-bucket"),
        (
            "Storage",
            {"Fn::GetAtt": "Key.Arn"},
            "arn:aws:kms:eu-west-1:111122223333:key/placeholder-key",
        ),
        (
            "Access",
            {"Fn::GetAtt": ["Role", "Arn"]},
            "arn:aws:iam::111122223333:role/edx-vault/researcher/reader",
        ),
        (
            "Access",
            {"Fn::GetAtt": ["Generated", "Arn"]},
            "arn:aws:iam::111122223333:role/Generated",
        ),
        (
            "Access",
            {"Fn::ImportValue": "Storage:KeyArn"},
            "arn:aws:kms:eu-west-1:111122223333:key/placeholder-key",
        ),
        ("Storage", {"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]}, "a-eu-west-1"),
        ("Storage", {"Fn::Select": [1, {"Fn::Split": [":", "a:b:c"]}]}, "b"),
        ("Storage", [{"Ref": "Bucket"}, "plain"], ["data-bucket", "plain"]),
    ],
)
def test_intrinsics_resolve_to_values_we_control(
    resolver: TemplateResolver, stack: str, value: Any, expected: Any
) -> None:
    assert resolver.resolve(stack, value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::If": ["Cond", "a", "b"]},
        {"Fn::ImportValue": "Nobody:Exports"},
        {"Ref": "Missing"},
        {"Fn::GetAtt": ["Missing", "Arn"]},
    ],
)
def test_unknown_intrinsics_and_references_are_refused(
    resolver: TemplateResolver, value: Any
) -> None:
    with pytest.raises(UnsupportedPolicyError):
        resolver.resolve("Storage", value)


def test_the_vault_policies_are_collected_from_the_templates() -> None:
    # Given the two small templates
    policies = load_vault_policies(
        {"Storage": STORAGE, "Access": ACCESS},
        storage_stack="Storage",
        account="111122223333",
        region="eu-west-1",
    )
    # Then the bucket, its policy and the tagged role with its managed policy are found
    assert policies.bucket_arn == "arn:aws:s3:::data-bucket"
    assert [s.sid for s in policies.bucket_policy] == ["Tls"]
    assert policies.bucket_policy[0].resources == ("arn:aws:s3:::data-bucket/*",)
    role = policies.role_tagged("edx-vault:grant", "ann")
    assert role.arn == "arn:aws:iam::111122223333:role/edx-vault/researcher/reader"
    assert role.identity[0].resources == (policies.key_arn,)
    assert role.identity[0].source == "managed:Read"
    with pytest.raises(LookupError):
        policies.role_tagged("edx-vault:grant", "nobody")
