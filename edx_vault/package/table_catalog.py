"""The published datasets as tables of a Glue Data Catalog, for researchers' SQL (Athena).

Generated from the bucket layout (:data:`~edx_vault.package.bucket_layout.PARTITION_LEVELS`, the
prefixes, :data:`~edx_vault.package.bucket_layout.TABLE_CATEGORIES`) and edX's table names, never
written twice: a table's location, partition keys and ``storage.location.template`` come from the
same levels the pipeline writes keys with.

Tables (names are Athena-safe: lower case, digits and ``_``):

- ``events`` and ``events_by_course``: the daily event logs, whole and split by course (gzip JSON
  lines, OpenX JSON SerDe).
- ``database_{table}`` and ``ora_{table}``: one per ``.sql`` table (TSV with a header row,
  LazySimpleSerDe, :func:`sql_table`). :func:`catalog_tables` holds the ones whose columns are
  declared in :mod:`edx_vault.package.table_columns`, which the storage stack deploys; the
  ``SELECT *`` ones (:func:`header_sql_tables`) are made by the pipeline's UpdateCatalog step
  from the newest export's header line, with the same template (why: see table_columns).
- ``forums`` (mongoexport JSON lines) and ``email_opt_in`` (quoted CSV with a header).
- The de-identified tier (``deidentified/``, docs/deidentification.md), for researchers without
  ``identifiable = true``: ``deid_events_by_course`` (the columns the tier's allowlist keeps,
  :data:`~edx_vault.package.table_columns.DEIDENTIFIED_EVENT_COLUMNS`) and
  ``deid_database_{table}`` for every ``database`` table with a de-identified copy. The copies
  drop columns, so every ``deid_database_`` table is a header table, declared original or not
  (:func:`header_tables`). Same levels, formats and projection as the originals: the tier keeps
  the published key behind its prefix.

Not tables: a course export is a ``.tar.gz`` of OLX XML and an RDX delivery a ``.tar.gz`` of
whatever the request was, neither is rows; a course structure is one pretty-printed JSON object
per file, keyed by block id, which the Hive and OpenX JSON SerDes cannot read ("The Hive and
OpenX libraries expect JSON data to be on a single line", Athena user guide, JSON SerDe
libraries). Researchers read those files directly.

Partitions are found by *partition projection* (Athena user guide, "Partition projection"): no
crawler and no ``MSCK REPAIR``; Athena computes partition locations from table properties:

- ``org``: ``enum`` of the configured orgs, lower-cased as in the keys;
- ``site``: ``enum`` ``edx,edge`` (forums add ``unspecified`` for old file names);
- ``course``: ``injected``: any value, which a query must then give in its ``WHERE`` clause
  (Athena user guide, "Use dynamic ID partitioning": the query "must include at least one value
  for the partition key", as literals, or it fails with CONSTRAINT_VIOLATION). That is a feature
  here: a query names the course it was granted;
- ``date`` and ``export_date``: ``date`` in ``yyyy-MM-dd`` from the first (backfill) date to
  ``NOW``, one day apart (exports are weekly: the days between have no files, which Athena reads
  as empty partitions).

This module is imported by the CDK stacks, so it stays free of AWS and pydantic imports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from edx_vault.package import table_columns
from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    EMAIL_OPT_IN_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    EVENTS_PREFIX,
    FORUMS_PREFIX,
    GRANT_CATEGORY_PREFIXES,
    PARTITION_LEVELS,
    TABLE_CATEGORIES,
    UNSPECIFIED_SITE,
    org_value,
)
from edx_vault.package.edx_spellings import DATABASE_TABLES, EDX_SITE_SPELLINGS, ORA_TABLES
from edx_vault.package.identifying_columns import has_deidentified_copy
from edx_vault.package.table_columns import Column, DeclaredColumns

if TYPE_CHECKING:
    from edx_vault.settings.types import GrantCategory

# The date format of every date partition value (output_keys writes date.isoformat()), in
# Java DateTimeFormatter spelling, as projection.<col>.format takes it.
DATE_FORMAT: Final = "yyyy-MM-dd"
DATE_LEVELS: Final = frozenset({"date", "export_date"})
# Prefixes that hold no table, and why.
NOT_TABLES: Final[Mapping[str, str]] = {
    GRANT_CATEGORY_PREFIXES["course-export"]: "a .tar.gz of OLX XML per course: not rows",
    GRANT_CATEGORY_PREFIXES["course-structure"]: (
        "one pretty-printed JSON object per file: the JSON SerDes need one record per line"
    ),
    "rdx/": "a .tar.gz per research data exchange request: not rows",
}

ProjectionType = Literal["enum", "injected", "date"]

# Hadoop's text formats: TextInputFormat reads .gz files decompressed (by their extension).
TEXT_INPUT_FORMAT: Final = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
OPENX_JSON_SERDE: Final = "org.openx.data.jsonserde.JsonSerDe"
LAZY_SIMPLE_SERDE: Final = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE: Final = "org.apache.hadoop.hive.serde2.OpenCSVSerde"


@dataclass(frozen=True)
class FileFormat:
    """How Athena reads a table's files: the SerDe, its properties, and table properties."""

    serde: str
    serde_parameters: Mapping[str, str]
    classification: str
    # skip.header.line.count is a *table* property (Athena user guide, LazySimpleSerDe,
    # "Ignoring headers": TBLPROPERTIES ("skip.header.line.count"="1")).
    table_parameters: Mapping[str, str] = field(default_factory=dict)


# Gzip JSON lines. ignore.malformed.json: a line that is not JSON (events-by-course keeps them
# under course=_unparsed) reads as a row of NULLs instead of failing the query (Athena user
# guide, OpenX JSON SerDe, optional properties).
EVENT_FORMAT: Final = FileFormat(OPENX_JSON_SERDE, {"ignore.malformed.json": "true"}, "json")
# edX's .sql files: tab-separated, a header row, NULL spelled "NULL", no quoting (tabs inside
# values are written as the two characters \t, so a literal tab always separates fields).
SQL_FORMAT: Final = FileFormat(
    LAZY_SIMPLE_SERDE,
    {"field.delim": "\t", "serialization.format": "\t", "serialization.null.format": "NULL"},
    "csv",
    {"skip.header.line.count": "1"},
)
FORUMS_FORMAT: Final = FileFormat(
    OPENX_JSON_SERDE,
    {
        "ignore.malformed.json": "true",
        # mapping.<column>: the JSON key a column reads (OpenX JSON SerDe, optional properties).
        **{f"mapping.{column}": key for column, key in table_columns.FORUMS_JSON_MAPPING.items()},
    },
    "json",
)
# The opt-in report quotes names holding commas: LazySimpleSerDe does not unquote ("Use this SerDe
# if your data does not have values enclosed in quotes"), OpenCSVSerde does.
EMAIL_OPT_IN_FORMAT: Final = FileFormat(
    OPEN_CSV_SERDE,
    {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
    "csv",
    {"skip.header.line.count": "1"},
)


@dataclass(frozen=True)
class CatalogTable:
    """One table of the research catalog.

    Attributes
    ----------
    name
        The Glue table name (Athena-safe).
    prefix
        The key prefix its files are under, ending in ``/`` (``database/auth_user/``).
    partition_keys
        Its partition columns, in key order (the layout's levels minus ``table``).
    columns
        Its data columns, in file order, and where they were taken from.
    file_format
        How Athena reads its files.
    extra_site_values
        Site values beyond ``edx`` and ``edge`` (forums: ``unspecified``).
    """

    name: str
    prefix: str
    partition_keys: tuple[str, ...]
    columns: DeclaredColumns
    file_format: FileFormat
    extra_site_values: tuple[str, ...] = ()

    def location(self, bucket: str) -> str:
        """The table's ``LOCATION``: its prefix in the bucket."""
        return f"s3://{bucket}/{self.prefix}"

    def location_template(self, bucket: str) -> str:
        """``storage.location.template``: the prefix, then ``name=${name}`` per partition key."""
        levels = "/".join(f"{key}=${{{key}}}" for key in self.partition_keys)
        return f"{self.location(bucket)}{levels}/"

    def projection(self, *, orgs: Iterable[str], first_date: dt.date) -> dict[str, str]:
        """The partition projection's table properties (``projection.*``).

        Parameters
        ----------
        orgs
            The configured org ids (any case): the ``org`` enum's values.
        first_date
            The first day with data (the backfill date): the date ranges' start.

        Raises
        ------
        ValueError
            With no org: an enum projection needs at least one value.
        """
        org_values = ",".join(sorted({org_value(org) for org in orgs}))
        if not org_values:
            raise ValueError("the org enum needs at least one org: configure the orgs first")
        # Property names and values as in the Athena user guide, "Supported types for partition
        # projection" (enum: values; date: range, format, interval, interval.unit; injected).
        parameters = {"projection.enabled": "true"}
        for key in self.partition_keys:
            kind = projection_type(key)
            parameters[f"projection.{key}.type"] = kind
            if key == "org":
                parameters["projection.org.values"] = org_values
            elif key == "site":
                parameters["projection.site.values"] = ",".join(self.site_values)
            elif kind == "date":
                parameters[f"projection.{key}.range"] = f"{first_date.isoformat()},NOW"
                parameters[f"projection.{key}.format"] = DATE_FORMAT
                parameters[f"projection.{key}.interval"] = "1"
                parameters[f"projection.{key}.interval.unit"] = "DAYS"
        return parameters

    @property
    def site_values(self) -> tuple[str, ...]:
        """The ``site`` enum's values."""
        return (*EDX_SITE_SPELLINGS, *self.extra_site_values)

    def parameters(
        self, *, bucket: str, orgs: Iterable[str], first_date: dt.date
    ) -> dict[str, str]:
        """Every table property: external, classification, format, projection, template."""
        return {
            "EXTERNAL": "TRUE",
            "classification": self.file_format.classification,
            **self.file_format.table_parameters,
            **self.projection(orgs=orgs, first_date=first_date),
            "storage.location.template": self.location_template(bucket),
        }


def projection_type(level: str) -> ProjectionType:
    """How a partition level is projected: ``org`` and ``site`` enums, dates, ``course`` injected.

    Raises
    ------
    ValueError
        For a level no table partitions on (``table`` is a folder; ``request`` is rdx's).
    """
    if level in ("org", "site"):
        return "enum"
    if level in DATE_LEVELS:
        return "date"
    if level == "course":
        return "injected"
    raise ValueError(f"{level!r} is not a partition level of any table")


def _keys(prefix: str) -> tuple[str, ...]:
    return tuple(level for level in PARTITION_LEVELS[prefix] if level != "table")


# The name prefix of the de-identified tier's tables (deid_events_by_course, deid_database_*).
DEIDENTIFIED_TABLE_PREFIX: Final = "deid_"


def sql_table(
    category: GrantCategory, table: str, columns: DeclaredColumns, *, deidentified: bool = False
) -> CatalogTable:
    """The catalog table of one ``.sql`` table of ``database/`` or ``ora/``, with ``columns``.

    One template for every kind of ``.sql`` table: the declared ones (deployed by the storage
    stack), the ``SELECT *`` ones and the de-identified tier's copies (``deidentified``:
    ``deid_{category}_{table}`` over ``deidentified/{category}/{table}/``), whose columns the
    UpdateCatalog step reads from the newest file's header line
    (:mod:`edx_vault.pipeline.steps.catalog`).
    """
    header = HeaderTable(category, table, deidentified=deidentified)
    return CatalogTable(
        header.name, header.prefix, _keys(GRANT_CATEGORY_PREFIXES[category]), columns, SQL_FORMAT
    )


@dataclass(frozen=True)
class HeaderTable:
    """A ``.sql`` table whose catalog columns come from its newest file's header line.

    Attributes
    ----------
    category
        ``database`` or ``ora``.
    table
        edX's table name.
    deidentified
        Whether it is the de-identified tier's copy (under ``deidentified/``).
    """

    category: GrantCategory
    table: str
    deidentified: bool = False

    @property
    def name(self) -> str:
        """The Glue table name: ``{category}_{table}``, ``deid_`` before it for the tier's."""
        tier = DEIDENTIFIED_TABLE_PREFIX if self.deidentified else ""
        return f"{tier}{self.category}_{self.table}"

    @property
    def prefix(self) -> str:
        """The key prefix of its files, ending in ``/``."""
        tier = DEIDENTIFIED_PREFIX if self.deidentified else ""
        return f"{tier}{GRANT_CATEGORY_PREFIXES[self.category]}{self.table}/"


def header_sql_tables() -> tuple[tuple[GrantCategory, str], ...]:
    """The original tier's ``SELECT *`` tables (category and table name), whose columns no
    release declares.

    Their catalog tables are made and kept by the UpdateCatalog step from the newest published
    file's header line, never by CloudFormation (see :mod:`edx_vault.package.table_columns`).
    """
    return tuple(
        (category, table)
        for category in sorted(TABLE_CATEGORIES)
        for table in sorted(DATABASE_TABLES if category == "database" else ORA_TABLES)
        if table not in table_columns.EXPORTER_SELECT_COLUMNS
    )


def deidentified_sql_tables() -> tuple[tuple[GrantCategory, str], ...]:
    """The ``.sql`` tables with a de-identified copy (category and table name): all header
    tables in the tier, since a copy drops columns even of a declared table."""
    return tuple(
        (category, table)
        for category in sorted(TABLE_CATEGORIES)
        for table in sorted(DATABASE_TABLES if category == "database" else ORA_TABLES)
        if has_deidentified_copy(category, table)
    )


def header_tables() -> tuple[HeaderTable, ...]:
    """Every table the UpdateCatalog step keeps: the original ``SELECT *`` tables, then the
    de-identified tier's copies."""
    return (
        *(HeaderTable(category, table) for category, table in header_sql_tables()),
        *(
            HeaderTable(category, table, deidentified=True)
            for category, table in deidentified_sql_tables()
        ),
    )


def _sql_tables() -> list[CatalogTable]:
    tables = []
    for category in sorted(TABLE_CATEGORIES):
        names = DATABASE_TABLES if category == "database" else ORA_TABLES
        for table in sorted(names):
            declared = table_columns.EXPORTER_SELECT_COLUMNS.get(table)
            if declared is not None:  # SELECT * tables: see header_sql_tables
                tables.append(sql_table(category, table, declared))
    return tables


def declared_sql_table_names() -> tuple[str, ...]:
    """The Glue names of the ``.sql`` tables with declared columns: CloudFormation's tables,
    which the UpdateCatalog step must never change."""
    return tuple(table.name for table in _sql_tables())


def catalog_tables() -> tuple[CatalogTable, ...]:
    """Every table of the research catalog, generated from the bucket layout."""
    return (
        CatalogTable(
            "events", EVENTS_PREFIX, _keys(EVENTS_PREFIX), table_columns.EVENT_COLUMNS, EVENT_FORMAT
        ),
        CatalogTable(
            "events_by_course",
            EVENTS_BY_COURSE_PREFIX,
            _keys(EVENTS_BY_COURSE_PREFIX),
            table_columns.EVENT_COLUMNS,
            EVENT_FORMAT,
        ),
        CatalogTable(
            f"{DEIDENTIFIED_TABLE_PREFIX}events_by_course",
            f"{DEIDENTIFIED_PREFIX}{EVENTS_BY_COURSE_PREFIX}",
            _keys(EVENTS_BY_COURSE_PREFIX),
            table_columns.DEIDENTIFIED_EVENT_COLUMNS,
            EVENT_FORMAT,
        ),
        *_sql_tables(),
        CatalogTable(
            "forums",
            FORUMS_PREFIX,
            _keys(FORUMS_PREFIX),
            table_columns.FORUMS_COLUMNS,
            FORUMS_FORMAT,
            extra_site_values=(UNSPECIFIED_SITE,),
        ),
        CatalogTable(
            "email_opt_in",
            EMAIL_OPT_IN_PREFIX,
            _keys(EMAIL_OPT_IN_PREFIX),
            table_columns.EMAIL_OPT_IN_COLUMNS,
            EMAIL_OPT_IN_FORMAT,
        ),
    )


__all__ = [
    "CatalogTable",
    "Column",
    "FileFormat",
    "HeaderTable",
    "catalog_tables",
    "declared_sql_table_names",
    "deidentified_sql_tables",
    "header_sql_tables",
    "header_tables",
    "projection_type",
    "sql_table",
]
