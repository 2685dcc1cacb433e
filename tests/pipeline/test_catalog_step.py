"""The UpdateCatalog step's rules for a SELECT * table, against moto's S3 and Glue: the newest
export's header creates the table, an equal one leaves it, appended columns update it, any other
change is a conflict that leaves it alone, a header that cannot be columns is an error naming the
file (never its content), and a table without a file is neither. The de-identified tier's copies
(``deid_database_*``) follow the same rules, independently of the original tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edx_vault.package.catalog_headers import MAX_HEADER_BYTES, column_change
from edx_vault.package.catalog_table_input import HEADER_SOURCE, column_names
from edx_vault.package.table_catalog import declared_sql_table_names, header_tables
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.run_files import PLAN_SUMMARY, RunFiles
from edx_vault.pipeline.run_report import summary_text
from edx_vault.pipeline.steps.catalog import (
    CATALOG_CONFLICT,
    CATALOG_ERROR,
    CATALOG_RESULT,
    OUTCOMES,
    CatalogScope,
    catalog_report,
    update_catalog,
)
from edx_vault.pipeline.steps.report import finish_run
from edx_vault.settings.pipeline_settings import PipelineSettings

BUCKET = "vault-data"
DATABASE = "edxvault_research"
SCOPE = CatalogScope(BUCKET, DATABASE, ("MITx", "harvardx"), dt.date(2024, 1, 1))
TABLE = "database_auth_userprofile"
FOLDER = "database/auth_userprofile/"
HEADER = b"id\tuser_id\tname\tlanguage"
ROW = b"1\t7\tAda Lovelace\ten"  # learner data: never in a result, an error or a log


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[Any, Any]]:
    """moto's S3 and Glue, started once for the module (its start-up is most of a test's time)."""
    with mock_aws():
        yield (
            boto3.client("s3", region_name="us-east-1"),
            boto3.client("glue", region_name="us-east-1"),
        )


@pytest.fixture
def aws(clients: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """An empty data bucket and research database for one test, removed after it."""
    s3, glue = clients
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    yield s3, glue
    glue.delete_database(Name=DATABASE)
    for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=entry["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def publish(
    s3: Any,
    date: str,
    header: bytes,
    *,
    course: str = "MITx-6.002x-2024",
    folder: str = FOLDER,
) -> str:
    table = folder.rstrip("/").rsplit("/", 1)[-1]
    key = (
        f"{folder}org=mitx/site=edx/course={course}/export_date={date}/"
        f"{course}-{table}-prod-analytics.sql"
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=header + b"\n" + ROW + b"\n")
    return key


def columns_of(glue: Any, table: str = TABLE) -> tuple[str, ...]:
    return column_names(glue.get_table(DatabaseName=DATABASE, Name=table)["Table"])


def test_a_table_with_no_file_yet_is_neither_made_nor_an_error(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    # Given an empty bucket / When the step runs
    result = update_catalog(s3, glue, SCOPE)
    # Then every header table of both tiers has no file, and no table was made
    assert result["no_file"] == [table.name for table in header_tables()]
    assert "deid_database_auth_user" in result["no_file"]
    assert result["errors"] == result["conflicts"] == result["created"] == []
    assert glue.get_tables(DatabaseName=DATABASE)["TableList"] == []


def test_the_newest_exports_header_creates_the_table_with_the_declared_template(
    aws: tuple[Any, Any],
) -> None:
    s3, glue = aws
    # Given an older export in a course that sorts last, and the newest in another course
    publish(s3, "2024-01-07", HEADER + b"\told_extra", course="zzX-old-2020")
    key = publish(s3, "2024-01-14", HEADER)
    # When the step runs
    result = update_catalog(s3, glue, SCOPE)
    # Then the table is made from the newest export's header, in its order
    assert result["created"] == [
        {"table": TABLE, "key": key, "added": list(HEADER.decode().split("\t"))}
    ]
    table = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    assert column_names(table) == ("id", "user_id", "name", "language")
    # And with the .sql tables' template: TSV with a header, projected partitions
    storage = table["StorageDescriptor"]
    assert storage["Location"] == f"s3://{BUCKET}/{FOLDER}"
    assert storage["SerdeInfo"]["Parameters"]["field.delim"] == "\t"
    assert table["Parameters"]["skip.header.line.count"] == "1"
    assert table["Parameters"]["projection.org.values"] == "harvardx,mitx"
    assert table["Parameters"]["storage.location.template"].endswith(
        "/org=${org}/site=${site}/course=${course}/export_date=${export_date}/"
    )
    assert HEADER_SOURCE in table["Description"]
    # And no declared table was touched
    names = {t["Name"] for t in glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    assert names == {TABLE} and not names & set(declared_sql_table_names())


def test_an_equal_header_leaves_the_table_and_appended_columns_update_it(
    aws: tuple[Any, Any],
) -> None:
    s3, glue = aws
    # Given a table made from one export
    publish(s3, "2024-01-07", HEADER)
    update_catalog(s3, glue, SCOPE)
    version = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"].get("VersionId")
    # When the step runs again with nothing new / Then the table is unchanged
    again = update_catalog(s3, glue, SCOPE)
    assert TABLE in again["unchanged"] and again["updated"] == []
    assert glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"].get("VersionId") == version
    # When a newer export appends two columns
    key = publish(s3, "2024-01-14", HEADER + b"\tgoals\tbio")
    result = update_catalog(s3, glue, SCOPE)
    # Then the table gains them at the end (older files read NULL there)
    assert result["updated"] == [{"table": TABLE, "key": key, "added": ["goals", "bio"]}]
    assert columns_of(glue) == ("id", "user_id", "name", "language", "goals", "bio")


DEID_TABLE = "deid_database_auth_userprofile"
DEID_FOLDER = "deidentified/database/auth_userprofile/"
DEID_HEADER = b"id\tuser_id\tlanguage"  # the copy drops name


def test_the_tiers_copy_gets_its_own_table_from_its_own_header_independently(
    aws: tuple[Any, Any],
) -> None:
    s3, glue = aws
    # Given an original export and its de-identified copy (fewer columns), and the copy of a
    # declared table (auth_user: CloudFormation's in the original tier, a header table here)
    publish(s3, "2024-01-07", HEADER)
    copy = publish(s3, "2024-01-07", DEID_HEADER, folder=DEID_FOLDER)
    publish(s3, "2024-01-07", b"id\tusername", folder="deidentified/database/auth_user/")
    # When the step runs
    result = update_catalog(s3, glue, SCOPE)
    # Then the tier's tables are made from the copies' headers, over the tier's folders
    assert {entry["table"] for entry in result["created"]} == {
        TABLE,
        DEID_TABLE,
        "deid_database_auth_user",
    }
    assert columns_of(glue, DEID_TABLE) == ("id", "user_id", "language")
    assert columns_of(glue) == ("id", "user_id", "name", "language")
    table = glue.get_table(DatabaseName=DATABASE, Name=DEID_TABLE)["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/{DEID_FOLDER}"
    assert table["Parameters"]["storage.location.template"] == (
        f"s3://{BUCKET}/{DEID_FOLDER}"
        "org=${org}/site=${site}/course=${course}/export_date=${export_date}/"
    )
    assert [e["key"] for e in result["created"] if e["table"] == DEID_TABLE] == [copy]
    # And the declared original (database_auth_user) was never made by the step
    assert "database_auth_user" not in {
        t["Name"] for t in glue.get_tables(DatabaseName=DATABASE)["TableList"]
    }
    # When only the original's newer export appends a column, and only the copy's drops one
    publish(s3, "2024-01-14", HEADER + b"\tgoals")
    publish(s3, "2024-01-14", b"id\tlanguage", folder=DEID_FOLDER)
    result = update_catalog(s3, glue, SCOPE)
    # Then the original is updated and the copy's table is a conflict left alone: one tier's
    # header never changes the other's table
    assert [entry["table"] for entry in result["updated"]] == [TABLE]
    assert [entry["table"] for entry in result["conflicts"]] == [DEID_TABLE]
    assert columns_of(glue) == ("id", "user_id", "name", "language", "goals")
    assert columns_of(glue, DEID_TABLE) == ("id", "user_id", "language")


@pytest.mark.parametrize(
    "newest",
    [b"id\tuser_id\tname", b"id\tname\tuser_id\tlanguage", b"id\tuser_id\tfull_name\tlanguage"],
    ids=["dropped", "reordered", "renamed"],
)
def test_a_header_that_does_not_extend_the_table_is_a_conflict_that_changes_nothing(
    aws: tuple[Any, Any], newest: bytes
) -> None:
    s3, glue = aws
    # Given a table made from one export, and a newer export whose header is not an extension
    publish(s3, "2024-01-07", HEADER)
    update_catalog(s3, glue, SCOPE)
    key = publish(s3, "2024-01-14", newest)
    # When the step runs
    result = update_catalog(s3, glue, SCOPE)
    # Then it reports the conflict with both column lists and the file, and leaves the table
    assert result["conflicts"] == [
        {
            "table": TABLE,
            "key": key,
            "current": ["id", "user_id", "name", "language"],
            "newest": newest.decode().split("\t"),
        }
    ]
    assert columns_of(glue) == ("id", "user_id", "name", "language")


def test_a_new_org_in_the_projection_updates_a_table_whose_columns_are_equal(
    aws: tuple[Any, Any],
) -> None:
    s3, glue = aws
    publish(s3, "2024-01-07", HEADER)
    update_catalog(s3, glue, SCOPE)
    # When the configuration gains an org (the storage stack's tables get it too)
    wider = CatalogScope(BUCKET, DATABASE, (*SCOPE.orgs, "DelftX"), SCOPE.first_date)
    result = update_catalog(s3, glue, wider)
    # Then the table is updated, no column added
    assert result["updated"] == [{"table": TABLE, "key": result["updated"][0]["key"], "added": []}]
    parameters = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]["Parameters"]
    assert parameters["projection.org.values"] == "delftx,harvardx,mitx"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"a" * (MAX_HEADER_BYTES + 10) + b"\n" + ROW, "longer than 65536 bytes"),
        (ROW + b"\n" + ROW, "column(s) 1, 2, 3 of 4"),
        (b"id\tid\tname", "column(s) 1, 2 of its header repeat"),
        (b"", "empty"),
    ],
    ids=["too-long", "a-data-row", "repeated-names", "empty"],
)
def test_a_first_line_that_cannot_be_columns_is_an_error_naming_the_file_not_its_content(
    aws: tuple[Any, Any], content: bytes, says: str
) -> None:
    s3, glue = aws
    # Given a newest file whose first line cannot be a header
    key = f"{FOLDER}org=mitx/site=edx/course=C/export_date=2024-01-07/C-auth_userprofile-prod-analytics.sql"
    s3.put_object(Bucket=BUCKET, Key=key, Body=content)
    # When the step runs
    result = update_catalog(s3, glue, SCOPE)
    # Then the table is an error that names the file and says why, without quoting the line
    [error] = result["errors"]
    assert error["table"] == TABLE and error["key"] == key and error["code"] == "bad-header"
    assert says in error["reason"], error["reason"]
    assert "Ada" not in repr(result) and "Lovelace" not in repr(result)
    assert result["created"] == []


def test_the_report_turns_conflicts_and_errors_into_failures_and_a_missing_result_too(
    aws: tuple[Any, Any],
) -> None:
    s3, _ = aws
    files = RunFiles(s3, BUCKET, "alias/any", "run-1")
    # Given a run whose catalog step never wrote its result
    # Then a deployment without the step reports nothing, one with it a no-result failure
    assert catalog_report(files, expected=False) == (None, [])
    result, [missing] = catalog_report(files, expected=True)
    assert result is None and (missing["stage"], missing["code"]) == ("catalog", "no-result")
    # Given a result with a conflict and an error
    written = {
        "created": [],
        "updated": [],
        "unchanged": [],
        "no_file": ["ora_x"],
        "conflicts": [{"table": TABLE, "key": "k1", "current": ["a"], "newest": ["b"]}],
        "errors": [{"table": "ora_y", "key": "k2", "code": "bad-header", "reason": "why"}],
    }
    s3.put_object(
        Bucket=BUCKET, Key=files.key(CATALOG_RESULT), Body=repr(written).replace("'", '"').encode()
    )
    # When the Report step reads it
    result, failures = catalog_report(files, expected=True)
    # Then each is a failure of the run, naming the file; a table without a file is not
    assert result == written
    assert [(f["code"], f["source_key"]) for f in failures] == [
        (CATALOG_CONFLICT, "k1"),
        (CATALOG_ERROR, "k2"),
    ]
    assert "docs/operations.md" in failures[0]["reason"]


def test_column_change_tells_equal_appended_and_conflict_apart() -> None:
    assert column_change(("a", "b"), ("a", "b")) == "equal"
    assert column_change(("a", "b"), ("a", "b", "c")) == "appended"
    assert column_change(("a", "b"), ("a",)) == "conflict"
    assert column_change(("a", "b"), ("b", "a")) == "conflict"
    assert column_change(("a", "b"), ("a", "c", "b")) == "conflict"


def test_the_email_says_when_tables_were_created_or_gained_columns() -> None:
    # Given a run report whose catalog step created one table and updated another
    report = {
        "run_id": "run-1",
        "status": "succeeded",
        "window": {"first_date": "2024-01-01", "last_date": "2024-01-07"},
        "planned": 1,
        "up_to_date": 0,
        "files": {},
        "failures": [],
        "missing": [],
        "key_expiry": None,
        "estimated_cost_usd": 0.01,
        "catalog": {"created": [{"table": TABLE}], "updated": [{"table": "ora_x"}]},
    }
    # When the summary is written / Then it counts them, without table contents
    assert "research catalog: 1 tables created, 1 updated" in summary_text(report)
    # And a run whose step changed nothing says nothing about it
    report["catalog"] = {"created": [], "updated": []}
    assert "research catalog" not in summary_text(report)


@pytest.mark.parametrize("catalog_result", ["conflict", "missing"])
def test_a_catalog_problem_fails_the_run_report(aws: tuple[Any, Any], catalog_result: str) -> None:
    s3, _ = aws
    # Given a run with nothing planned, whose catalog step found a conflict or left no result,
    # in a deployment that has the step (the Report function is told the database)
    key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    settings = PipelineSettings(
        data_bucket=BUCKET, data_key_arn=key_arn, manifest_table="m", glue_database=DATABASE
    )
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("m")
    context = RunContext(settings=settings, vault_s3=s3, manifest=Manifest(table))
    files = context.files("run-1")
    started = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    files.put_json(
        files.key(PLAN_SUMMARY),
        {
            "run_id": "run-1",
            "started": started.isoformat(),
            "first_date": "2024-01-01",
            "last_date": "2026-02-28",
            "planned": 0,
            "up_to_date": 0,
            "missing": [],
            "unknown": [],
        },
    )
    if catalog_result == "conflict":
        conflict = {"table": TABLE, "key": "k1", "current": ["a"], "newest": ["b"]}
        result = {outcome: [conflict] if outcome == "conflicts" else [] for outcome in OUTCOMES}
        files.put_json(files.key(CATALOG_RESULT), result)
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret = secrets.create_secret(Name=f"key-{catalog_result}", SecretString="x")["ARN"]
    # When the Report step finishes the run
    report = finish_run(
        context,
        secrets,
        None,
        run_id="run-1",
        finished=started,
        topic_arn="",
        key_secret_arn=secret,
    )
    # Then the run failed, for the catalog, and the report says so
    assert report["status"] == "failed"
    [failure] = report["failures"]
    expected = CATALOG_CONFLICT if catalog_result == "conflict" else "no-result"
    assert (failure["stage"], failure["code"]) == ("catalog", expected)
    assert (report["catalog"] is None) is (catalog_result == "missing")
