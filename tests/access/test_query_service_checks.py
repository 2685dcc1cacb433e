"""What the strict embedded AWS authorizes Athena and Glue calls on: pure functions of the call.

A researcher's query is authorized on its workgroup, a call on a query execution on the
workgroup the query ran in (from moto's Athena backend), a catalog read on the catalog, the
database and the table. An operation the model does not know is refused, never judged on ``*``.
The end-to-end refusal on the running server is ``tests/local/test_query_authorization.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.athena.models import athena_backends

from edx_vault.devtools.embedded_aws.api_requests import UnmodelledRequestError
from edx_vault.devtools.embedded_aws.authorization.service_checks import service_call

ACCOUNT = "123456789012"
REGION = "us-east-1"
WORKGROUPS = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"


def checks(service: str, operation: str, **parameters: object) -> list[tuple[str, str]]:
    call = service_call(service, REGION, operation, parameters, ACCOUNT)
    return [(check.action, check.resource) for check in call.checks]


@pytest.fixture
def execution() -> Iterator[str]:
    """A query execution moto knows, run in the workgroup ``edxvault-ann``."""
    backend = athena_backends[ACCOUNT][REGION]
    backend.create_work_group("edxvault-ann", {}, "", [])
    execution_id = backend.start_query_execution("SELECT 1", "", {}, "edxvault-ann", None)
    yield execution_id
    backend.executions.pop(execution_id, None)
    backend.work_groups.pop("edxvault-ann", None)


def test_starting_a_query_is_authorized_on_the_workgroup_named() -> None:
    assert checks("athena", "StartQueryExecution", QueryString="SELECT 1", WorkGroup="wg-a") == [
        ("athena:StartQueryExecution", f"{WORKGROUPS}/wg-a")
    ]


def test_a_query_without_a_workgroup_runs_in_primary() -> None:
    # Given a call naming no workgroup / Then it is judged on Athena's default, "primary"
    assert checks("athena", "StartQueryExecution", QueryString="SELECT 1") == [
        ("athena:StartQueryExecution", f"{WORKGROUPS}/primary")
    ]


@pytest.mark.parametrize(
    "operation",
    ["GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetQueryRuntimeStatistics"],
)
def test_a_call_on_a_query_is_authorized_on_the_workgroup_it_ran_in(
    execution: str, operation: str
) -> None:
    # Given a query run in edxvault-ann / When it is read or stopped by its id
    # Then the call is judged on edxvault-ann, whoever asks
    assert checks("athena", operation, QueryExecutionId=execution) == [
        (f"athena:{operation}", f"{WORKGROUPS}/edxvault-ann")
    ]


def test_a_batch_of_queries_is_authorized_on_each_workgroup_once(execution: str) -> None:
    assert checks("athena", "BatchGetQueryExecution", QueryExecutionIds=[execution, execution]) == [
        ("athena:BatchGetQueryExecution", f"{WORKGROUPS}/edxvault-ann")
    ]


def test_a_call_on_an_unknown_query_is_refused_not_guessed() -> None:
    with pytest.raises(UnmodelledRequestError, match="unknown query execution"):
        checks("athena", "GetQueryResults", QueryExecutionId="no-such-query")


def test_the_deploys_workgroup_calls_are_authorized_on_the_workgroup() -> None:
    assert checks("athena", "CreateWorkGroup", Name="wg-b") == [
        ("athena:CreateWorkGroup", f"{WORKGROUPS}/wg-b")
    ]
    assert checks("athena", "UpdateWorkGroup", WorkGroup="wg-b") == [
        ("athena:UpdateWorkGroup", f"{WORKGROUPS}/wg-b")
    ]
    assert checks("athena", "ListWorkGroups") == [("athena:ListWorkGroups", "*")]


def test_an_unmodelled_athena_operation_is_refused() -> None:
    with pytest.raises(UnmodelledRequestError, match="athena:CreateNamedQuery"):
        checks("athena", "CreateNamedQuery", WorkGroup="wg-a")


def test_reading_a_table_is_authorized_on_the_catalog_the_database_and_the_table() -> None:
    assert checks("glue", "GetTable", DatabaseName="edxvault_research", Name="events") == [
        ("glue:GetTable", f"{GLUE}:catalog"),
        ("glue:GetTable", f"{GLUE}:database/edxvault_research"),
        ("glue:GetTable", f"{GLUE}:table/edxvault_research/events"),
    ]


def test_creating_a_table_names_it_from_the_table_input() -> None:
    resources = checks(
        "glue", "CreateTable", DatabaseName="edxvault_research", TableInput={"Name": "t"}
    )
    assert resources[-1] == ("glue:CreateTable", f"{GLUE}:table/edxvault_research/t")


def test_database_and_catalog_calls() -> None:
    assert checks("glue", "GetDatabase", Name="edxvault_research") == [
        ("glue:GetDatabase", f"{GLUE}:catalog"),
        ("glue:GetDatabase", f"{GLUE}:database/edxvault_research"),
    ]
    assert checks("glue", "CreateDatabase", DatabaseInput={"Name": "d"})[-1] == (
        "glue:CreateDatabase",
        f"{GLUE}:database/d",
    )
    assert checks("glue", "GetDatabases") == [("glue:GetDatabases", f"{GLUE}:catalog")]


def test_a_call_on_another_accounts_catalog_names_that_catalog() -> None:
    assert checks("glue", "GetDatabase", Name="d", CatalogId="210987654321")[0] == (
        "glue:GetDatabase",
        f"arn:aws:glue:{REGION}:210987654321:catalog",
    )


def test_glue_calls_missing_a_name_or_unmodelled_are_refused() -> None:
    with pytest.raises(UnmodelledRequestError, match="without DatabaseName"):
        checks("glue", "GetTable", Name="events")
    with pytest.raises(UnmodelledRequestError, match="glue:StartCrawler"):
        checks("glue", "StartCrawler", Name="c")
