"""UpdateCatalog step: the header tables of the research catalog, from the newest headers.

The storage stack deploys the tables whose columns are declared
(:mod:`edx_vault.package.table_columns`); the other ``.sql`` tables of ``database/`` and ``ora/``
(:func:`~edx_vault.package.table_catalog.header_sql_tables`) are ``SELECT *`` exports whose
columns follow edX's Django migrations, and the de-identified tier's copies
(``deid_database_{table}`` over ``deidentified/database/{table}/``) drop columns of every table
they copy, declared or not. These are the header tables
(:func:`~edx_vault.package.table_catalog.header_tables`). For each, every run, after the files
are published:

1. list ``database/``, ``ora/`` and ``deidentified/database/`` and take each table's file of
   the newest ``export_date`` (any org, site, course): its header is the table's columns as
   that tier holds them now;
2. read only its first line, with one ranged GET of at most
   :data:`~edx_vault.package.catalog_headers.MAX_HEADER_BYTES` (held in memory, never written,
   never logged: it is plaintext of a learner-data file);
3. make the Glue table (``{category}_{table}``, ``deid_{category}_{table}``) match
   (:func:`~edx_vault.package.catalog_table_input.table_input`, the template the stack deploys
   the declared tables with): create it if missing, leave it if equal, update it if the header
   only appends columns; any other change is a **conflict**, and the table is left as it is
   (:mod:`edx_vault.package.catalog_headers` says why).

Stateless: what the step does depends only on the bucket and the catalog, so a run that failed
half-way is healed by the next. A table with no file yet is not an error. A header that cannot
be columns (too long, not names) and a Glue refusal are the table's ``errors``; throttling and
network errors fail the step (the state machine retries it; a rerun does the same). The result
is written to ``_work/{run}/catalog.json`` for the Report step, which turns conflicts and
errors into the run's failures (:func:`catalog_report`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from edx_vault.engine.errors import aws_error_code, is_transient
from edx_vault.engine.parallel import ordered_map
from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    GRANT_CATEGORY_PREFIXES,
    PARTITION_LEVELS,
    TABLE_CATEGORIES,
)
from edx_vault.package.catalog_headers import (
    MAX_HEADER_BYTES,
    HeaderError,
    column_change,
    header_columns,
)
from edx_vault.package.catalog_table_input import (
    HEADER_SOURCE,
    column_names,
    matches,
    table_input,
)
from edx_vault.package.identifying_columns import has_deidentified_copy
from edx_vault.package.table_catalog import HeaderTable, header_tables, sql_table
from edx_vault.package.table_columns import Column, DeclaredColumns
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest_rows import NO_RESULT
from edx_vault.pipeline.run_accounting import failure
from edx_vault.pipeline.run_files import RunFiles

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from edx_vault.settings.types import GrantCategory

# boto3's Glue client: the toolchain has no mypy_boto3_glue stubs.
GlueClient = Any

CATALOG_RESULT: Final = "catalog.json"
CATALOG_STAGE: Final = "catalog"
CATALOG_CONFLICT: Final = "catalog-conflict"
CATALOG_ERROR: Final = "catalog-error"
OUTCOMES: Final = ("created", "updated", "unchanged", "no_file", "conflicts", "errors")
_EXPORT_DATE: Final = "export_date"


@dataclass(frozen=True)
class CatalogScope:
    """Where the tables are and what they project: the data bucket, the Glue database, the
    configured org ids and the first date (as the storage stack deploys the declared tables)."""

    bucket: str
    database: str
    orgs: tuple[str, ...]
    first_date: dt.date


def update_run_catalog(context: RunContext, glue: GlueClient, *, run_id: str) -> dict[str, int]:
    """Bring the header tables (both tiers) up to date and write the result for the Report step.

    Returns
    -------
    dict
        How many tables were ``created``, ``updated``, ``unchanged``, had ``no_file``, and how
        many ``conflicts`` and ``errors`` (the step's output: counts only, no names).

    Raises
    ------
    ValueError
        When the function's environment lacks the database or the first date (a deployment bug).
    """
    settings = context.settings
    if not settings.glue_database or settings.backfill_from is None:
        raise ValueError("the catalog step needs its Glue database and first date in its settings")
    scope = CatalogScope(
        bucket=settings.data_bucket,
        database=settings.glue_database,
        orgs=tuple(org for group in settings.org_groups for org in group),
        first_date=settings.backfill_from,
    )
    result = update_catalog(context.vault_s3, glue, scope)
    files = context.files(run_id)
    files.put_json(files.key(CATALOG_RESULT), result)
    return {outcome: len(entries) for outcome, entries in result.items()}


def update_catalog(s3: S3Client, glue: GlueClient, scope: CatalogScope) -> dict[str, list[Any]]:
    """Each header table (:func:`~edx_vault.package.table_catalog.header_tables`) made to match
    its newest header, a few tables at a time.

    Returns
    -------
    dict
        Per outcome (:data:`OUTCOMES`), its entries in table order: ``created`` and ``updated``
        ``{"table", "key", "added"}`` (the columns added; for a table updated for another
        reason, such as a new org in the projection, none); ``unchanged`` and ``no_file`` the
        table names; ``conflicts`` ``{"table", "key", "current", "newest"}``; ``errors``
        ``{"table", "key", "code", "reason"}``.

    Raises
    ------
    Exception
        A transient AWS or network error, as it is (:func:`~edx_vault.engine.errors.is_transient`).
    """
    result: dict[str, list[Any]] = {outcome: [] for outcome in OUTCOMES}
    newest = newest_files(s3, scope.bucket)

    def one(table: HeaderTable) -> tuple[str, Any]:
        file = newest.get(table)
        if file is None:
            return "no_file", table.name
        return _update_table(s3, glue, scope, table, *file)

    for outcome, entry in ordered_map(one, header_tables()):
        result[outcome].append(entry)
    return result


def _update_table(
    s3: S3Client,
    glue: GlueClient,
    scope: CatalogScope,
    table: HeaderTable,
    key: str,
    size: int,
) -> tuple[str, Any]:
    name = table.name
    try:
        columns = read_header(s3, scope.bucket, key, size)
        declared = DeclaredColumns(tuple(Column(column) for column in columns), HEADER_SOURCE)
        wanted = table_input(
            sql_table(table.category, table.table, declared, deidentified=table.deidentified),
            bucket=scope.bucket,
            orgs=scope.orgs,
            first_date=scope.first_date,
        )
        return _reconcile(glue, scope.database, wanted, key)
    except HeaderError as error:
        return "errors", {"table": name, "key": key, "code": "bad-header", "reason": error.reason}
    except ClientError as error:
        if is_transient(error):
            raise
        code = aws_error_code(error) or "ClientError"
        reason = f"{error.operation_name} was refused with {code}"
        return "errors", {"table": name, "key": key, "code": code, "reason": reason}


def _reconcile(
    glue: GlueClient, database: str, wanted: dict[str, Any], key: str
) -> tuple[str, Any]:
    """Create, leave, update or refuse to change the table, as :func:`update_catalog` says."""
    name, columns = wanted["Name"], column_names(wanted)
    current = _current_table(glue, database, name)
    if current is None:
        try:
            glue.create_table(DatabaseName=database, TableInput=wanted)
        except ClientError as error:
            # Another run created it since GetTable: judge that one like any existing table.
            if aws_error_code(error) != "AlreadyExistsException":
                raise
            current = _current_table(glue, database, name)
        else:
            return "created", {"table": name, "key": key, "added": list(columns)}
    if current is None or matches(current, wanted):
        return "unchanged", name
    existing = column_names(current)
    if column_change(existing, columns) == "conflict":
        return "conflicts", {
            "table": name,
            "key": key,
            "current": list(existing),
            "newest": list(columns),
        }
    glue.update_table(DatabaseName=database, TableInput=wanted)
    return "updated", {"table": name, "key": key, "added": list(columns[len(existing) :])}


def _current_table(glue: GlueClient, database: str, name: str) -> dict[str, Any] | None:
    try:
        table: dict[str, Any] = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except ClientError as error:
        if aws_error_code(error) == "EntityNotFoundException":
            return None
        raise
    return table


def newest_files(s3: S3Client, bucket: str) -> dict[HeaderTable, tuple[str, int]]:
    """Per ``.sql`` table of either tier, the key and size of its file of the newest export date.

    Each table folder's parent is listed whole, once: ``database/``, ``ora/`` and the tier's
    ``deidentified/database/`` (:func:`listed_prefixes`). The export date is the last level of
    a key, after the org, site and course, so no narrower prefix or ``StartAfter`` finds the
    newest file without reading the others, and one listing of ``database/`` costs no more
    pages than one per table folder, and fewer requests. Among the newest date's files (one per
    course) the last key is taken: one export run writes every course's file of a table with
    the same header (and the tier copies each with the same rule).
    """
    newest: dict[HeaderTable, tuple[str, str, int]] = {}
    for prefix, category, deidentified in listed_prefixes():
        levels = PARTITION_LEVELS[GRANT_CATEGORY_PREFIXES[category]]
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for entry in page.get("Contents", []):
                parts = entry["Key"][len(prefix) :].split("/")
                if len(parts) != len(levels) + 1 or not parts[-1].endswith(".sql"):
                    continue
                level, _, date = parts[levels.index(_EXPORT_DATE)].partition("=")
                if level != _EXPORT_DATE:
                    continue
                table = HeaderTable(category, parts[levels.index("table")], deidentified)
                candidate = (date, entry["Key"], int(entry["Size"]))
                if table not in newest or candidate > newest[table]:
                    newest[table] = candidate
    return {table: (key, size) for table, (_, key, size) in newest.items()}


def listed_prefixes() -> tuple[tuple[str, GrantCategory, bool], ...]:
    """The prefixes the step lists, each with its table category and whether it is the
    de-identified tier's: every table category's in the original tier (``database/``,
    ``ora/``), those with a copy behind ``deidentified/`` (``deidentified/database/``). The
    catalog function's S3 grant is made from the same list (``stacks/sync_grants.py``)."""
    categories = sorted(TABLE_CATEGORIES)
    return (
        *((GRANT_CATEGORY_PREFIXES[category], category, False) for category in categories),
        *(
            (f"{DEIDENTIFIED_PREFIX}{GRANT_CATEGORY_PREFIXES[category]}", category, True)
            for category in categories
            if has_deidentified_copy(category)
        ),
    )


def read_header(s3: S3Client, bucket: str, key: str, size: int) -> tuple[str, ...]:
    """The column names of the file's header line, from one ranged GET of its first bytes.

    Raises
    ------
    HeaderError
        For an empty file, or a first line that cannot be a header
        (:func:`~edx_vault.package.catalog_headers.header_columns`).
    """
    if size == 0:
        raise HeaderError(key, "the file is empty: no header line")
    # "Range: bytes=0-65535" returns at most the first 64 KiB (S3 API Reference, GetObject,
    # Range: "Downloads the specified byte range of an object").
    response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_HEADER_BYTES - 1}")
    head = response["Body"].read(MAX_HEADER_BYTES)
    return header_columns(head, object_size=size, key=key)


def catalog_report(
    files: RunFiles, *, expected: bool
) -> tuple[dict[str, list[Any]] | None, list[dict[str, Any]]]:
    """The run's catalog result for its report, and the failures it makes.

    Each conflict and each error fails the run (researchers cannot query the newest data of
    that table until an admin acts); a table with no file yet does not. When ``expected`` (the
    state machine ran the step) and the step left no result, its task failed after its retries:
    a ``no-result`` failure. Found by listing, never by probing (see
    :meth:`RunFiles.existing_keys`).
    """
    key = files.key(CATALOG_RESULT)
    if key not in files.existing_keys(recursive=False):
        if not expected:
            return None, []
        reason = (
            "the UpdateCatalog step failed after its retries and left no result; see the "
            "execution's history. The next run tries again"
        )
        return None, [failure((None, None), CATALOG_STAGE, NO_RESULT, reason)]
    result: dict[str, list[Any]] = files.get_json(key)
    failures = [
        failure(
            (conflict["key"], None), CATALOG_STAGE, CATALOG_CONFLICT, _conflict_reason(conflict)
        )
        for conflict in result.get("conflicts", [])
    ]
    failures.extend(
        failure(
            (error["key"], None),
            CATALOG_STAGE,
            CATALOG_ERROR,
            f"table {error['table']}: {error['reason']}",
        )
        for error in result.get("errors", [])
    )
    return result, failures


def _conflict_reason(conflict: dict[str, Any]) -> str:
    return (
        f"table {conflict['table']}: the newest header's {len(conflict['newest'])} columns do not "
        f"extend the table's {len(conflict['current'])} (a column dropped, renamed or moved), so "
        "the table was left unchanged and this export's new columns cannot be queried; see "
        "docs/operations.md, 'A catalog conflict'"
    )
