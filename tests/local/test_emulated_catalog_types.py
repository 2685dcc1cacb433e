"""The embedded AWS's emulation of the Glue database and tables and the Athena workgroups.

moto's CloudFormation knows none of the three types; the server makes each with its row of the
emulation table. These tests run the very handlers the server registers, in-process, on the
resources the stacks synthesize (the research catalog) or a workgroup as the workgroup construct
writes it, against moto's backends of an account of their own: no server, no deployment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aws_cdk as cdk
import pytest
from moto.athena.models import athena_backends
from moto.glue.models import glue_backends

# The emulation table itself, not cfn_resources' handlers: defining those CloudFormationModel
# subclasses in the test process would make every later in-process moto deployment (tests/cli's)
# create what the embedded AWS emulates, bucket policies included, which moto then applies.
from edx_vault.devtools.embedded_aws.deploy.emulated_types import EMULATIONS, Resource
from edx_vault.devtools.embedded_aws.resource_support import EMULATED
from stacks.research_catalog import ResearchCatalog

ACCOUNT = "000000000014"  # this test's own: moto's backends are per account
REGION = "us-east-1"
DATABASE = "edxvault_research"


def _catalog_resources() -> dict[str, dict[str, Any]]:
    app = cdk.App()
    stack = cdk.Stack(app, "Catalog", env=cdk.Environment(account=ACCOUNT, region=REGION))
    ResearchCatalog(
        stack,
        "Catalog",
        bucket_name="vault-data",
        orgs=["mitx"],
        first_date=dt.date(2024, 1, 1),
        database_name=DATABASE,
    )
    resources: dict[str, dict[str, Any]] = (
        app.synth().get_stack_by_name("Catalog").template["Resources"]
    )
    return resources


def _resource(name: str, resource: dict[str, Any]) -> Resource:
    """The resource as the server's handlers hand it to the emulation (cfn_resources)."""
    return Resource(name, resource["Type"], resource.get("Properties", {}), ACCOUNT, REGION)


def _create(logical_id: str, resource: dict[str, Any]) -> Any:
    return EMULATIONS[resource["Type"]].create(_resource(logical_id, resource))


def _delete(physical_id: str, resource: dict[str, Any]) -> None:
    EMULATIONS[resource["Type"]].delete(_resource(physical_id, resource))


def test_the_three_types_are_emulated_with_a_reason() -> None:
    for resource_type in ("AWS::Glue::Database", "AWS::Glue::Table", "AWS::Athena::WorkGroup"):
        assert EMULATED[resource_type]
        assert resource_type in EMULATIONS


def test_the_research_catalog_is_created_as_synthesized_and_deleted() -> None:
    # Given the research catalog's template: its database first (the tables depend on it)
    resources = _catalog_resources()
    ordered = sorted(resources.items(), key=lambda item: item[1]["Type"] != "AWS::Glue::Database")
    glue = glue_backends[ACCOUNT][REGION]
    # When each resource is created by its emulation
    created = {logical_id: _create(logical_id, resource) for logical_id, resource in ordered}
    # Then Ref gives the database's and each table's name, as CloudFormation's does
    tables = {
        logical_id: resource["Properties"]["TableInput"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Glue::Table"
    }
    assert {created[logical_id].physical_id for logical_id in tables} == {
        table["Name"] for table in tables.values()
    }
    # And GetTable returns what was synthesized: the location and the projection's properties
    stored = glue.get_table(DATABASE, "events_by_course").as_dict()
    assert stored["StorageDescriptor"]["Location"] == "s3://vault-data/events-by-course/"
    assert stored["Parameters"]["projection.course.type"] == "injected"
    assert stored["Parameters"]["projection.org.values"] == "mitx"
    assert [key["Name"] for key in stored["PartitionKeys"]] == ["org", "site", "course", "date"]
    # When the stack is deleted, the database before one of its tables (moto keeps no order)
    for logical_id, resource in ordered:
        _delete(created[logical_id].physical_id, resource)
    # Then nothing is left, and the table whose database went first is no error
    assert DATABASE not in glue.databases


def test_a_table_needs_its_database() -> None:
    resources = _catalog_resources()
    logical_id, table = next(
        (logical_id, resource)
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Glue::Table"
    )
    with pytest.raises(Exception, match=f"Database {DATABASE} not found"):
        _create(logical_id, table)


def test_a_workgroup_keeps_its_enforced_configuration_and_state() -> None:
    # Given a workgroup as the workgroups construct writes one, for an expired grant
    configuration = {
        "EnforceWorkGroupConfiguration": True,
        "BytesScannedCutoffPerQuery": 10_000_000_000,
        "ResultConfiguration": {
            "OutputLocation": "s3://results/results/ada/",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "arn:key"},
        },
    }
    resource = {
        "Type": "AWS::Athena::WorkGroup",
        "Properties": {
            "Name": "edxvault-ada",
            "Description": "grant ada",
            "State": "DISABLED",
            "RecursiveDeleteOption": True,
            "WorkGroupConfiguration": configuration,
            "Tags": [{"Key": "edx-vault:grant", "Value": "ada"}],
        },
    }
    athena = athena_backends[ACCOUNT][REGION]
    # When it is created (moto passes the Name property as the resource's name)
    created = _create("edxvault-ada", resource)
    # Then Ref is its name, and GetWorkGroup gives its configuration and state
    assert created.physical_id == "edxvault-ada"
    stored = athena.get_work_group("edxvault-ada")
    assert stored["State"] == "DISABLED"
    assert stored["Configuration"]["EnforceWorkGroupConfiguration"] is True
    assert stored["Configuration"]["BytesScannedCutoffPerQuery"] == 10_000_000_000
    assert stored["Configuration"]["ResultConfiguration"]["OutputLocation"] == (
        "s3://results/results/ada/"
    )
    # When it is deleted / Then it is gone
    _delete("edxvault-ada", resource)
    assert athena.get_work_group("edxvault-ada") is None
