"""The query results bucket and the researchers' Athena workgroups, on a small stack of their own.

The lead's stacks wire them in; these tests pin what each construct promises whoever wires it.
"""

from __future__ import annotations

import tomllib
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from edx_vault.access.grants import ResearcherGrant, compile_grants
from edx_vault.access.researcher_roles import GRANT_TAG
from edx_vault.settings.config import parse_config
from edx_vault.settings.resource_names import query_results_bucket_name
from stacks.query_results import QueryResultsBucket
from stacks.research_workgroups import ResearchWorkgroups
from tests.access.grant_config import ACCOUNT, GRANTS_TOML, REGION, TODAY

RESULTS = query_results_bucket_name("edxvault", ACCOUNT, REGION)
CUTOFF = 10_000_000_000


def grants() -> tuple[ResearcherGrant, ...]:
    config = parse_config(tomllib.loads(GRANTS_TOML))
    return compile_grants(config, today=TODAY)


def build(*, logs: bool = False, own_key: bool = True) -> tuple[Template, dict[str, str]]:
    """A stack with the results bucket and every test grant's workgroup; logical ids by role."""
    app = cdk.App()
    stack = cdk.Stack(app, "Research", env=cdk.Environment(account=ACCOUNT, region=REGION))
    logs_bucket = s3.Bucket(stack, "Logs") if logs else None
    key = None if own_key else kms.Key(stack, "GivenKey")
    results = QueryResultsBucket(
        stack, "Results", name=RESULTS, expire_days=30, kms_key=key, logs_bucket=logs_bucket
    )
    workgroups = ResearchWorkgroups(
        stack,
        "Workgroups",
        grants=grants(),
        results_bucket_name=results.bucket_name,
        kms_key_arn=results.key.key_arn,
        bytes_scanned_cutoff=CUTOFF,
        stack_prefix="EdxVault",
    )
    ids = {
        "bucket": stack.resolve(results.bucket.node.default_child.logical_id),  # type: ignore[union-attr]
        "key": stack.resolve(results.key.node.default_child.logical_id),  # type: ignore[union-attr]
    }
    ids |= {name: stack.resolve(wg.logical_id) for name, wg in workgroups.workgroups.items()}
    return Template.from_stack(stack), ids


@pytest.fixture(scope="module")
def built() -> tuple[Template, dict[str, str]]:
    return build()


def workgroup(built: tuple[Template, dict[str, str]], researcher: str) -> dict[str, Any]:
    template, ids = built
    resource: dict[str, Any] = template.to_json()["Resources"][ids[researcher]]
    return resource["Properties"]


def test_each_grant_gets_one_workgroup_named_by_the_shared_spelling(
    built: tuple[Template, dict[str, str]],
) -> None:
    # Given the four test grants / When their workgroups are built
    template, _ = built
    names = sorted(
        r["Properties"]["Name"] for r in template.find_resources("AWS::Athena::WorkGroup").values()
    )
    # Then there is one per grant, named {prefix}-{researcher}
    assert names == [
        "edxvault-ann-course",
        "edxvault-ben-identified",
        "edxvault-cat-oidc",
        "edxvault-dan-expired",
    ]


def test_a_workgroup_enforces_its_results_location_encryption_and_cutoff(
    built: tuple[Template, dict[str, str]],
) -> None:
    # Given ann's workgroup
    _, ids = built
    properties = workgroup(built, "ann-course")
    configuration = properties["WorkGroupConfiguration"]
    # Then clients cannot override it, a query stops at the cutoff, results go to ann's own
    # prefix of the results bucket, in this account, under SSE-KMS with the results key
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == CUTOFF
    assert configuration["PublishCloudWatchMetricsEnabled"] is True
    assert configuration["RequesterPaysEnabled"] is False
    assert configuration["EngineVersion"] == {"SelectedEngineVersion": "AUTO"}
    result = configuration["ResultConfiguration"]
    assert result["OutputLocation"] == f"s3://{RESULTS}/results/ann-course/"
    assert result["ExpectedBucketOwner"] == ACCOUNT
    assert result["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": [ids["key"], "Arn"]},
    }
    assert properties["State"] == "ENABLED"
    assert properties["RecursiveDeleteOption"] is True
    assert {"Key": GRANT_TAG, "Value": "ann-course"} in properties["Tags"]


def test_researchers_results_locations_are_disjoint(
    built: tuple[Template, dict[str, str]],
) -> None:
    # Given every workgroup's result location
    locations = [
        workgroup(built, name)["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
        for name in ("ann-course", "ben-identified", "cat-oidc", "dan-expired")
    ]
    # Then none is a prefix of another (each ends in its own "/")
    assert all(location.endswith("/") for location in locations)
    assert not any(a != b and b.startswith(a) for a in locations for b in locations)


def test_an_expired_grants_workgroup_is_disabled(built: tuple[Template, dict[str, str]]) -> None:
    # Given dan's grant, expired before the synth / Then its workgroup exists but runs nothing
    assert workgroup(built, "dan-expired")["State"] == "DISABLED"
    assert "expired" in workgroup(built, "dan-expired")["Description"]


def test_the_results_bucket_is_private_encrypted_and_expires_results(
    built: tuple[Template, dict[str, str]],
) -> None:
    # Given the results bucket
    template, ids = built
    bucket = template.to_json()["Resources"][ids["bucket"]]
    properties = bucket["Properties"]
    # Then it is named by the shared spelling, closed to the public, owner-enforced,
    # SSE-KMS under its own key with a bucket key, not versioned, and kept on stack deletion
    assert properties["BucketName"] == RESULTS
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [ids["key"], "Arn"]},
        },
    }
    assert "VersioningConfiguration" not in properties
    assert bucket["DeletionPolicy"] == "Retain"
    # And results expire after expire_days, as do noncurrent versions and abandoned uploads
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 30
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in rule


def test_the_results_bucket_refuses_plain_http(built: tuple[Template, dict[str, str]]) -> None:
    # Given the results bucket's policy / Then it denies every request without TLS (and old TLS)
    template, ids = built
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": ids["bucket"]},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_the_results_key_rotates_and_is_kept(built: tuple[Template, dict[str, str]]) -> None:
    template, ids = built
    key = template.to_json()["Resources"][ids["key"]]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_a_given_key_and_logs_bucket_are_used() -> None:
    # Given a key and a logs bucket passed in
    template, ids = build(logs=True, own_key=False)
    properties = template.to_json()["Resources"][ids["bucket"]]["Properties"]
    # Then the bucket logs there and no key of its own is made
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "query-results/"
    assert len(template.find_resources("AWS::KMS::Key")) == 1
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [ids["key"], "Arn"]
    }
    assert ids["key"].startswith("GivenKey")
