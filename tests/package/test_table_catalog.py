"""The research catalog against a synthetic package: every published key is in exactly one table's
projected location (or, for what is not a table, in none), and so is every de-identified copy of
one among the tier's tables, and each table's declared columns are the published files' own
header lines.

The synthetic package is laid out without encrypting (``package_layout`` gives each file's
plaintext), so this stays pure and fast. Keys are matched against the Glue parameters the stack
deploys (``storage.location.template`` and ``projection.*``), read with Athena's value rules:
an enum's values, any value for ``injected``, a ``yyyy-MM-dd`` date within the range.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest

from edx_vault.devtools.synthetic.layout import PlannedZip, package_layout
from edx_vault.devtools.synthetic.spec import PackageSpec, demo_package_spec
from edx_vault.package.bucket_layout import NOT_COURSES
from edx_vault.package.catalog_table_input import table_input
from edx_vault.package.deidentified_fields import all_field_rules
from edx_vault.package.member_names import parse_member_name
from edx_vault.package.output_keys import (
    course_event_log_output_key,
    deidentified_output_key,
    output_key,
)
from edx_vault.package.source_keys import SourceKind, parse_source_key
from edx_vault.package.table_catalog import (
    DEIDENTIFIED_TABLE_PREFIX,
    NOT_TABLES,
    CatalogTable,
    catalog_tables,
    deidentified_sql_tables,
    sql_table,
)
from edx_vault.package.table_columns import (
    FORUMS_JSON_MAPPING,
    UNDECLARED_SQL_TABLES,
    DeclaredColumns,
)
from edx_vault.pipeline.deidentify_plan import has_copy

BUCKET = "vault-data"
FIRST_DATE = dt.date(2024, 1, 1)
SPEC: PackageSpec = demo_package_spec(
    rdx=True,
    # Declared tables the exporter writes with an explicit SELECT list, beside the defaults.
    tables=(
        "auth_user",
        "auth_userprofile",
        "user_id_map",
        "student_courseaccessrole",
        "django_comment_client_role_users",
        "student_courseenrollment",
    ),
)
ORGS = tuple(org.org_id for org in SPEC.orgs)
TABLES = catalog_tables()


@dataclass(frozen=True)
class Published:
    """One key the pipeline publishes, and the plaintext there (None: not needed here)."""

    key: str
    table: str | None
    content: bytes | None


def _published(spec: PackageSpec) -> Iterator[Published]:
    """The synthetic package's published keys, as the pipeline spells them, with plaintexts."""
    for bucket, planned in package_layout(spec):
        if isinstance(planned, PlannedZip):
            source = parse_source_key(bucket, planned.key)
            for member in planned.members:
                reading = parse_member_name(source, member.name)
                key = output_key(reading)
                if key is not None:
                    yield Published(key, reading.table, b"".join(member.content()))
            continue
        source = parse_source_key(bucket, planned.name)
        key = output_key(source)
        assert key is not None
        if source.kind is SourceKind.EVENT_LOG:
            content = gzip.decompress(b"".join(planned.content()))
            yield Published(key, None, content)
            assert source.site is not None and source.date is not None
            org = next(org for org in spec.orgs if org.org_id == source.org)
            entities = [c.entity for c in org.courses if c.site == source.site]
            for course in (*entities, *NOT_COURSES):
                split_key = course_event_log_output_key(
                    source.org, source.site, course, source.date
                )
                yield Published(split_key, None, None)
        else:
            yield Published(key, None, None)


PUBLISHED = tuple(_published(SPEC))


def _value_pattern(parameters: Mapping[str, str], key: str) -> str:
    """What Athena accepts as a partition value of ``key``, from the projection's properties."""
    kind = parameters[f"projection.{key}.type"]
    if kind == "enum":
        return "|".join(
            re.escape(value) for value in parameters[f"projection.{key}.values"].split(",")
        )
    if kind == "injected":
        return "[^/]+"
    assert kind == "date" and parameters[f"projection.{key}.format"] == "yyyy-MM-dd"
    return r"\d{4}-\d{2}-\d{2}"


def _in_projected_location(table: CatalogTable, key: str) -> bool:
    """Whether ``key`` is a file directly under one of the table's projected partitions."""
    parameters = table.parameters(bucket=BUCKET, orgs=ORGS, first_date=FIRST_DATE)
    template = parameters["storage.location.template"]
    assert parameters["projection.enabled"] == "true"
    pattern = re.escape(template)
    for name in re.findall(r"\$\{(\w+)\}", template):
        pattern = pattern.replace(
            re.escape(f"${{{name}}}"), f"(?P<{name}>{_value_pattern(parameters, name)})"
        )
    found = re.fullmatch(pattern + r"[^/]+", f"s3://{BUCKET}/{key}")
    if found is None:
        return False
    for name, value in found.groupdict().items():
        if parameters[f"projection.{name}.type"] == "date":
            start, end = parameters[f"projection.{name}.range"].split(",")
            assert end == "NOW"
            if not dt.date.fromisoformat(start) <= dt.date.fromisoformat(value) <= dt.date.today():
                return False
    return True


def test_every_published_key_is_in_exactly_one_table_or_in_none_for_what_is_not_a_table() -> None:
    # Given every key the synthetic package publishes, course-split event logs included
    assert len(PUBLISHED) > 100
    for published in PUBLISHED:
        # When the key is matched against every table's projected location
        matches = [table.name for table in TABLES if _in_projected_location(table, published.key)]
        # Then a table's file is in its table alone; a course export, course structure, RDX
        # archive or undeclared .sql table's file in none
        not_a_table = published.key.startswith(tuple(NOT_TABLES)) or (
            published.table in UNDECLARED_SQL_TABLES
        )
        assert matches == ([] if not_a_table else matches[:1]), published.key
        assert not_a_table or len(matches) == 1, (published.key, matches)


def test_each_kind_of_published_file_is_covered() -> None:
    # Given the tables the published keys fall in
    covered = {
        table.name
        for published in PUBLISHED
        for table in TABLES
        if _in_projected_location(table, published.key)
    }
    # Then the package exercised the event tables, forums (both site spellings), the opt-in
    # report and the declared .sql tables it exports
    assert {
        "events",
        "events_by_course",
        "forums",
        "email_opt_in",
        "database_user_id_map",
        "database_student_courseaccessrole",
        "database_django_comment_client_role_users",
    } <= covered
    assert any("/site=unspecified/" in p.key for p in PUBLISHED if p.key.startswith("forums/"))


def test_a_key_outside_the_projection_is_in_no_table() -> None:
    # Given keys with an org not configured, a site not projected, a date before the backfill
    events = next(table for table in TABLES if table.name == "events")
    for key in (
        "events/org=otherx/site=edx/date=2024-01-06/otherx-edx-events-2024-01-06.log.gz",
        "events/org=mitx/site=prod/date=2024-01-06/mitx-prod-events-2024-01-06.log.gz",
        "events/org=mitx/site=edx/date=2023-12-31/mitx-edx-events-2023-12-31.log.gz",
        "events/org=mitx/site=edx/date=2024-01-06/deeper/file.log.gz",
    ):
        # Then none falls in the table
        assert not _in_projected_location(events, key), key


def _header(published: Published) -> tuple[str, ...]:
    assert published.content is not None
    first_line = published.content.decode().split("\n", 1)[0]
    return tuple(first_line.split("\t"))


_SQL_TABLES = {table.name: table for table in TABLES if table.file_format.classification == "csv"}
_SYNTHETIC_TABLES = sorted(
    {
        f"{published.key.split('/', 1)[0]}_{published.table}"
        for published in PUBLISHED
        if published.table is not None
        and published.table not in UNDECLARED_SQL_TABLES
        and published.key.startswith(("database/", "ora/"))
    }
)


@pytest.mark.parametrize("table_name", sorted(_SYNTHETIC_TABLES))
def test_a_declared_sql_table_has_its_files_header_line(table_name: str) -> None:
    # Given a declared .sql table and the published files of it
    table = _SQL_TABLES[table_name]
    files = [p for p in PUBLISHED if p.key.startswith(table.prefix)]
    assert files
    # Then each file's header row is the declared columns, in order (TSV maps by position)
    for published in files:
        assert _header(published) == table.columns.names, published.key


def test_the_email_opt_in_header_is_the_declared_columns() -> None:
    table = next(table for table in TABLES if table.name == "email_opt_in")
    files = [p for p in PUBLISHED if p.key.startswith(table.prefix)]
    assert files
    for published in files:
        assert published.content is not None
        header = next(csv.reader(io.StringIO(published.content.decode())))
        assert tuple(header) == table.columns.names


def _json_objects(content: bytes) -> Iterator[dict[str, object]]:
    for line in content.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue  # lines that are not JSON read as NULL rows (ignore.malformed.json)
        if isinstance(document, dict):
            yield document


def test_every_field_of_the_event_logs_and_forums_is_a_declared_column() -> None:
    # Given the declared columns of the JSON tables, with the forums' key mapping
    events = next(table for table in TABLES if table.name == "events")
    forums = next(table for table in TABLES if table.name == "forums")
    event_columns = set(events.columns.names)
    context_type = dict((c.name, c.type) for c in events.columns.columns)["context"]
    context_fields = set(re.findall(r"(\w+):", context_type))
    forums_keys = {FORUMS_JSON_MAPPING.get(name, name) for name in forums.columns.names}
    seen_events = seen_forums = 0
    for published in PUBLISHED:
        if published.content is None:
            continue
        if published.key.startswith(events.prefix):
            # Then every top-level field of every event, and of its context, has a column
            for event in _json_objects(published.content):
                seen_events += 1
                assert set(event) <= event_columns, set(event) - event_columns
                context = event.get("context")
                if isinstance(context, dict):
                    assert set(context) <= context_fields, set(context) - context_fields
        elif published.key.startswith(forums.prefix):
            # And every field of every forums document
            for document in _json_objects(published.content):
                seen_forums += 1
                assert set(document) <= forums_keys, set(document) - forums_keys
    assert seen_events > 10 and seen_forums > 10


def test_a_catalog_without_orgs_is_refused() -> None:
    # Given a table / When its projection is asked for no org / Then it is refused, by what
    with pytest.raises(ValueError, match="at least one org"):
        TABLES[0].projection(orgs=[], first_date=FIRST_DATE)


# The de-identified tier's tables: the declared event table, and one header table per copied
# .sql table (its columns are the step's to read; a placeholder here, the location is what counts).
TIER_TABLES = (
    *(table for table in TABLES if table.name.startswith(DEIDENTIFIED_TABLE_PREFIX)),
    *(
        sql_table(category, table, DeclaredColumns((), "header"), deidentified=True)
        for category, table in deidentified_sql_tables()
    ),
)


def test_every_tier_copy_is_in_exactly_one_tier_table_and_in_no_original_one() -> None:
    # Given every de-identified copy the synthetic package's publication would produce
    copies = [deidentified_output_key(p.key) for p in PUBLISHED if has_copy(p.key)]
    assert any(key.startswith("deidentified/events-by-course/") for key in copies)
    assert any(key.startswith("deidentified/database/") for key in copies)
    originals = [table for table in TABLES if table not in TIER_TABLES]
    for key in copies:
        # When it is matched against every table's projected location
        matches = [table.name for table in TIER_TABLES if _in_projected_location(table, key)]
        # Then a copy of a table's file is in one tier table; course content copies in none
        not_a_table = key.removeprefix("deidentified/").startswith(tuple(NOT_TABLES))
        assert len(matches) == (0 if not_a_table else 1), (key, matches)
        assert not any(_in_projected_location(table, key) for table in originals), key
    # And no original file falls in a tier table
    for published in PUBLISHED:
        assert not any(_in_projected_location(t, published.key) for t in TIER_TABLES)


def _struct_paths(hive_type: str, prefix: str) -> set[str]:
    """The dotted paths of a Hive ``struct<...>``'s leaves (``context.module.usage_key``)."""
    paths, stack, name = set(), [prefix], ""
    for token in re.findall(r"struct<|[\w]+:|string|[,>]", hive_type)[1:]:
        if token.endswith(":"):
            name = token[:-1]
        elif token == "struct<":
            stack.append(name)
        elif token == "string":
            paths.add(".".join([*stack, name]))
        elif token == ">":
            stack.pop()
    return paths


def test_the_tier_event_table_has_the_allowlists_kept_top_level_fields_only() -> None:
    # Given the allowlist's top-level kept fields (the envelope's, and "event" for payloads)
    kept = {rule.path.split(".", 1)[0] for _, rule in all_field_rules()}
    table = next(t for t in TABLES if t.name == "deid_events_by_course")
    # Then the tier's event table has exactly a column for each, none dropped by the tier
    assert set(table.columns.names) == kept
    assert not {"ip", "agent", "host", "referer", "accept_language"} & kept
    # And its context struct has a field for each kept context path, nested as the path is
    context = dict((c.name, c.type) for c in table.columns.columns)["context"]
    kept_context = [r.path for _, r in all_field_rules() if r.path.startswith("context.")]
    assert kept_context
    assert _struct_paths(context, "context") == set(kept_context)
    # And it reads the same files the same way as the original, under the tier's prefix
    original = next(t for t in TABLES if t.name == "events_by_course")
    assert table.prefix == f"deidentified/{original.prefix}"
    assert (table.partition_keys, table.file_format) == (
        original.partition_keys,
        original.file_format,
    )
    assert table_input(table, bucket=BUCKET, orgs=ORGS, first_date=FIRST_DATE)["StorageDescriptor"][
        "Compressed"
    ]
