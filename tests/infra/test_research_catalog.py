"""The research catalog construct on a small stack of its own: the Glue database and its tables.

The lead's storage stack wires it in; these tests pin what the construct promises: one table
per catalog table, each at its prefix of the data bucket, partition projection spelled from the
bucket layout, and the SerDe of its files.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from edx_vault.package.table_catalog import catalog_tables
from edx_vault.settings.resource_names import glue_database_name
from stacks.research_catalog import ResearchCatalog

ACCOUNT = "123456789012"
BUCKET = "edxvault-data-123456789012-us-east-1"
DATABASE = glue_database_name("edxvault")
FIRST_DATE = dt.date(2023, 9, 1)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, dict[str, Any]]:
    """The catalog on a stack, synthesized with cdk-nag's packs; the template and nag's report."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Catalog", env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    ResearchCatalog(
        stack,
        "Catalog",
        bucket_name=BUCKET,
        orgs=["MITx", "harvardx", "mitx"],
        first_date=FIRST_DATE,
        database_name=DATABASE,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    template = Template.from_stack(stack)
    app.synth()
    report: dict[str, Any] = json.loads((outdir / "validation-report.json").read_text())
    return template, report


@pytest.fixture(scope="module")
def template(synthesized: tuple[Template, dict[str, Any]]) -> Template:
    return synthesized[0]


def test_cdk_nag_finds_nothing_in_the_catalog(synthesized: tuple[Template, dict[str, Any]]) -> None:
    # Given the catalog synthesized with AwsSolutions and NIST 800-53 rev 5
    # Then no pack reports anything (a failing pack would also have raised)
    assert synthesized[1]["pluginReports"] == []


def table_input(template: Template, name: str) -> dict[str, Any]:
    for resource in template.find_resources("AWS::Glue::Table").values():
        found: dict[str, Any] = resource["Properties"]["TableInput"]
        if found["Name"] == name:
            assert resource["Properties"]["DatabaseName"] == DATABASE
            assert resource["Properties"]["CatalogId"] == ACCOUNT
            return found
    raise AssertionError(f"no table {name}")


def test_one_database_and_one_table_per_catalog_table(template: Template) -> None:
    # Given the catalog built on a stack
    databases = template.find_resources("AWS::Glue::Database")
    tables = template.find_resources("AWS::Glue::Table")
    # Then there is the database, named by the shared spelling, and every table, which
    # CloudFormation creates after it
    assert [d["Properties"]["DatabaseInput"]["Name"] for d in databases.values()] == [DATABASE]
    assert sorted(t["Properties"]["TableInput"]["Name"] for t in tables.values()) == sorted(
        table.name for table in catalog_tables()
    )
    assert all(t["DependsOn"] == list(databases) for t in tables.values())


def test_a_course_table_is_at_its_prefix_with_projected_partitions(template: Template) -> None:
    # Given the table of a .sql export
    table = table_input(template, "database_user_id_map")
    parameters = table["Parameters"]
    # Then it reads its own folder of the data bucket
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/database/user_id_map/"
    assert [key["Name"] for key in table["PartitionKeys"]] == [
        "org",
        "site",
        "course",
        "export_date",
    ]
    # And its partitions are projected from the layout's levels
    assert parameters["storage.location.template"] == (
        f"s3://{BUCKET}/database/user_id_map/org=${{org}}/site=${{site}}/course=${{course}}/"
        "export_date=${export_date}/"
    )
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.org.values"] == "harvardx,mitx"  # lower-cased, once each
    assert parameters["projection.site.values"] == "edx,edge"
    assert parameters["projection.course.type"] == "injected"
    assert parameters["projection.export_date.type"] == "date"
    assert parameters["projection.export_date.range"] == "2023-09-01,NOW"
    assert parameters["projection.export_date.format"] == "yyyy-MM-dd"
    # And it reads edX's TSV: tab-separated, NULL as null, the header row skipped
    serde = table["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert serde["Parameters"]["field.delim"] == "\t"
    assert serde["Parameters"]["serialization.null.format"] == "NULL"
    assert parameters["skip.header.line.count"] == "1"
    columns = [column["Name"] for column in table["StorageDescriptor"]["Columns"]]
    assert columns == ["hash_id", "id", "username"]


def test_the_event_tables_read_gzip_json_lines_by_day(template: Template) -> None:
    by_course = table_input(template, "events_by_course")
    events = table_input(template, "events")
    assert by_course["Parameters"]["storage.location.template"] == (
        f"s3://{BUCKET}/events-by-course/org=${{org}}/site=${{site}}/course=${{course}}/"
        "date=${date}/"
    )
    assert "projection.course.type" not in events["Parameters"]  # whole logs: no course level
    for table in (events, by_course):
        serde = table["StorageDescriptor"]["SerdeInfo"]
        assert serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        assert serde["Parameters"] == {"ignore.malformed.json": "true"}
        context = next(c for c in table["StorageDescriptor"]["Columns"] if c["Name"] == "context")
        assert context["Type"].startswith("struct<course_id:string,")


def test_the_tiers_event_table_reads_the_copies_with_the_kept_columns_only(
    template: Template,
) -> None:
    # Given the de-identified tier's event table and the original one
    tier = table_input(template, "deid_events_by_course")
    original = table_input(template, "events_by_course")
    # Then it reads the tier's copies, partitioned and projected as the originals
    assert tier["Parameters"]["storage.location.template"] == (
        f"s3://{BUCKET}/deidentified/events-by-course/org=${{org}}/site=${{site}}/"
        "course=${course}/date=${date}/"
    )
    assert tier["PartitionKeys"] == original["PartitionKeys"]
    projection = {k: v for k, v in tier["Parameters"].items() if k.startswith("projection.")}
    assert projection == {
        k: v for k, v in original["Parameters"].items() if k.startswith("projection.")
    }
    assert tier["StorageDescriptor"]["SerdeInfo"] == original["StorageDescriptor"]["SerdeInfo"]
    assert tier["StorageDescriptor"]["Compressed"] is True
    # And it has no column for what the tier drops
    columns = [c["Name"] for c in tier["StorageDescriptor"]["Columns"]]
    assert "username" in columns and "context" in columns
    assert not {"ip", "agent", "host", "referer", "accept_language"} & set(columns)
    # And no deid_database_ table is CloudFormation's: the step makes them from headers
    names = [
        t["Properties"]["TableInput"]["Name"]
        for t in template.find_resources("AWS::Glue::Table").values()
    ]
    assert not [name for name in names if name.startswith("deid_database_")]


def test_forums_project_the_unspecified_site_and_map_underscored_keys(template: Template) -> None:
    forums = table_input(template, "forums")
    assert forums["Parameters"]["projection.site.values"] == "edx,edge,unspecified"
    assert forums["StorageDescriptor"]["SerdeInfo"]["Parameters"]["mapping.id"] == "_id"


def test_no_table_for_course_exports_course_structures_or_rdx(template: Template) -> None:
    locations = [
        t["Properties"]["TableInput"]["StorageDescriptor"]["Location"]
        for t in template.find_resources("AWS::Glue::Table").values()
    ]
    for prefix in ("course-export/", "course-structure/", "rdx/", "raw/", "reports/", "_work/"):
        assert not any(location.startswith(f"s3://{BUCKET}/{prefix}") for location in locations)
