"""The research catalog after the shared sync on the strict embedded AWS: every ``.sql`` table the
synthetic package published has a Glue table whose columns are its files' header line (the
declared ones from CloudFormation, the ``SELECT *`` ones from the UpdateCatalog step, which ran as
its own role under the embedded AWS's policy checks), and every published ``.sql`` key falls in
exactly one table's projected location. So does the de-identified tier: every
``deidentified/database/{table}`` copy has a ``deid_database_{table}`` table of its own header
(made by the step), and ``deid_events_by_course`` is deployed. The step's role cannot change a
declared table.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from edx_vault.access.policy_evaluator import Request, evaluate
from edx_vault.access.policy_statements import statements_of
from edx_vault.devtools.embedded_aws.authorization.service_checks import service_call
from edx_vault.package.catalog_headers import MAX_HEADER_BYTES
from edx_vault.package.catalog_table_input import HEADER_SOURCE, column_names
from edx_vault.package.table_catalog import declared_sql_table_names
from edx_vault.settings import stack_outputs
from edx_vault.settings.resource_names import pipeline_role_name
from tests.local.synced_vault import Synced

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _published_sql_keys(
    synced: Synced, prefixes: tuple[str, ...] = ("database/", "ora/")
) -> list[str]:
    s3 = synced.aws.client("s3")  # the admin role: the bucket refuses the root user
    keys = []
    for prefix in prefixes:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=synced.bucket, Prefix=prefix)
        keys.extend(e["Key"] for page in pages for e in page.get("Contents", []))
    return [key for key in keys if key.endswith(".sql")]


def _tables(synced: Synced) -> dict[str, dict[str, Any]]:
    glue = synced.aws.root_client("glue")
    database = synced.output(stack_outputs.RESEARCH_DATABASE)
    pages = glue.get_paginator("get_tables").paginate(DatabaseName=database)
    return {table["Name"]: table for page in pages for table in page["TableList"]}


def _in_projected_location(table: dict[str, Any], key: str, bucket: str) -> bool:
    """Whether ``key`` is a file directly under one of the table's projected partitions: the
    location template with each enum's values, any value for the other partitions."""
    parameters = table["Parameters"]
    pattern = re.escape(parameters["storage.location.template"])
    for name in re.findall(r"\$\{(\w+)\}", parameters["storage.location.template"]):
        values = parameters.get(f"projection.{name}.values")
        value = "|".join(map(re.escape, values.split(","))) if values else "[^/]+"
        pattern = pattern.replace(re.escape(f"${{{name}}}"), f"(?:{value})")
    return re.fullmatch(pattern + r"[^/]+", f"s3://{bucket}/{key}") is not None


def test_every_published_sql_table_has_a_table_of_its_header_and_each_key_one_table(
    synced: Synced,
) -> None:
    # Given every .sql file the shared sync published, and the research database's tables
    keys = _published_sql_keys(synced)
    tables = _tables(synced)
    s3 = synced.aws.client("s3")  # the admin role: the bucket refuses the root user
    made_by_the_step = set()
    assert keys
    for key in keys:
        category, table_folder = key.split("/")[:2]
        table = tables[f"{category}_{table_folder}"]
        # Then the table's columns are the file's header line, in order
        head = s3.get_object(Bucket=synced.bucket, Key=key, Range=f"bytes=0-{MAX_HEADER_BYTES - 1}")
        header = head["Body"].read().split(b"\n", 1)[0].decode().split("\t")
        assert column_names(table) == tuple(header), key
        if HEADER_SOURCE in table["Description"]:
            made_by_the_step.add(table["Name"])
        # And the key is in exactly this table's projected location
        matches = [n for n, t in tables.items() if _in_projected_location(t, key, synced.bucket)]
        assert matches == [table["Name"]], key
    # And the step made the SELECT * tables among them; CloudFormation's are the declared ones
    assert made_by_the_step
    assert not made_by_the_step & set(declared_sql_table_names())
    # And the run's report says what the step did, with no conflict or error
    report = synced.report(synced.latest_run_id())
    assert {entry["table"] for entry in report["catalog"]["created"]} >= made_by_the_step
    assert report["catalog"]["conflicts"] == report["catalog"]["errors"] == []


def test_every_tier_copy_of_a_table_has_a_deid_table_of_its_header(synced: Synced) -> None:
    # Given every .sql copy the shared sync's de-identify step wrote, and the database's tables
    keys = _published_sql_keys(synced, ("deidentified/database/",))
    tables = _tables(synced)
    s3 = synced.aws.client("s3")
    assert keys
    for key in keys:
        folder = key.split("/")[2]
        table = tables[f"deid_database_{folder}"]
        # Then its deid_ table was made by the step from the copy's header line, in order
        head = s3.get_object(Bucket=synced.bucket, Key=key, Range=f"bytes=0-{MAX_HEADER_BYTES - 1}")
        header = head["Body"].read().split(b"\n", 1)[0].decode().split("\t")
        assert column_names(table) == tuple(header), key
        assert HEADER_SOURCE in table["Description"]
        # And the copy is in that table's projected location alone
        matches = [n for n, t in tables.items() if _in_projected_location(t, key, synced.bucket)]
        assert matches == [table["Name"]], key
    # And the tier's event table is deployed over the tier's course event files
    events = tables["deid_events_by_course"]
    assert events["StorageDescriptor"]["Location"] == (
        f"s3://{synced.bucket}/deidentified/events-by-course/"
    )
    assert not {"ip", "agent"} & set(column_names(events))


def test_the_catalog_role_as_deployed_cannot_change_a_declared_table(synced: Synced) -> None:
    # Given the catalog function's role as the embedded AWS holds it
    iam = synced.aws.root_client("iam")
    role_name = pipeline_role_name("EdxVault", "catalog")
    role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    statements = [
        statement
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        for statement in statements_of(
            iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"],
            source=name,
        )
    ]
    database = synced.output(stack_outputs.RESEARCH_DATABASE)
    account = role_arn.split(":")[4]

    def allowed(operation: str, table: str) -> bool:
        # The checks the embedded AWS makes of the call (catalog, database, table ARNs)
        call = service_call(
            "glue",
            synced.aws.state.region,
            operation,
            {"DatabaseName": database, "TableInput": {"Name": table}, "Name": table},
            account,
        )
        return all(
            evaluate(
                Request(action=c.action, resource=c.resource, principal=role_arn, context={}),
                identity=statements,
            ).allowed
            for c in call.checks
        )

    # Then it may update a SELECT * table and a tier copy's table, but neither create nor
    # update a declared one
    assert allowed("UpdateTable", "database_auth_userprofile")
    assert allowed("CreateTable", "deid_database_auth_user")
    assert not allowed("UpdateTable", "deid_events_by_course")
    for table in declared_sql_table_names():
        assert not allowed("UpdateTable", table), table
        assert not allowed("CreateTable", table), table
