"""The researcher role's query statements as data: named, time-limited, and small enough for IAM."""

from __future__ import annotations

import json

from edx_vault.access.query_statements import (
    QueryAccess,
    catalog_arns,
    query_statements,
    results_prefix,
)
from edx_vault.access.researcher_roles import MANAGED_POLICY_MAX_CHARS

EXPIRY = "2027-01-01T00:00:00Z"


def statements(access: QueryAccess, researcher: str = "ann", region: str = "us-east-1") -> list:
    return query_statements(
        access,
        researcher=researcher,
        expiry_timestamp=EXPIRY,
        partition="aws",
        region=region,
        account="123456789012",
    )


ACCESS = QueryAccess("EdxVault", "edxvault-results-123456789012-us-east-1", "arn:aws:kms:k")


def test_every_statement_is_named_allows_and_ends_at_the_expiry() -> None:
    # Given the query statements of one grant
    found = statements(ACCESS)
    # Then each has its own Sid, allows, and holds only before the grant's expiry
    sids = [s["Sid"] for s in found]
    assert len(sids) == len(set(sids)) == 6
    assert all(s["Effect"] == "Allow" for s in found)
    assert all(s["Condition"]["DateLessThan"] == {"aws:CurrentTime": EXPIRY} for s in found)


def test_no_statement_names_a_wildcard_resource_or_a_write_to_the_catalog() -> None:
    # Given the query statements
    found = statements(ACCESS)
    resources = [
        r
        for s in found
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    actions = [
        a for s in found for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    # Then every resource is named (the only "*" ends a prefix or the research tables) and
    # nothing creates, updates or deletes
    assert "*" not in resources
    assert all(
        not a.split(":")[1].startswith(("Create", "Update", "Delete", "Put")) or a == "s3:PutObject"
        for a in actions
    )


def test_the_catalog_arns_follow_glues_spelling() -> None:
    assert catalog_arns("aws", "eu-west-1", "111122223333", "edxvault_research") == (
        "arn:aws:glue:eu-west-1:111122223333:catalog",
        "arn:aws:glue:eu-west-1:111122223333:database/edxvault_research",
        "arn:aws:glue:eu-west-1:111122223333:table/edxvault_research/*",
    )


def test_a_results_prefix_ends_in_a_slash_so_no_name_extends_another() -> None:
    assert results_prefix("ann") == "results/ann/"
    assert not "results/ann-2/x".startswith(results_prefix("ann"))


def test_the_longest_names_fit_one_managed_policy() -> None:
    # Given the longest stack prefix whose bucket names fit S3 in the longest region (27
    # characters), the longest researcher name (42), a GovCloud key ARN
    region = "ap-southeast-4"
    access = QueryAccess(
        "A" * 27,
        f"{'a' * 27}-results-123456789012-{region}",
        f"arn:aws-us-gov:kms:{region}:123456789012:key/12345678-1234-1234-1234-123456789012",
    )
    researcher = "r" + "-x" * 20 + "z"
    assert len(researcher) == 42
    document = {"Version": "2012-10-17", "Statement": statements(access, researcher, region)}
    # When it is written as IAM counts it (without whitespace), with "aws-us-gov" for "aws"
    size = len(json.dumps(document, separators=(",", ":")).replace("arn:aws:", "arn:aws-us-gov:"))
    # Then it fits one customer-managed policy with room to spare
    assert size < MANAGED_POLICY_MAX_CHARS // 2, size
