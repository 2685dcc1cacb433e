"""A catalog table as Glue's ``TableInput``: one builder for CloudFormation and the pipeline.

The storage stack deploys the declared tables (``AWS::Glue::Table``, converted by
``stacks/research_catalog.py``) and the UpdateCatalog step creates and updates the ``SELECT *``
tables with Glue's API (``CreateTable`` / ``UpdateTable``). Both take this one document, so a
table made either way has the same SerDe, formats, projection and location template. The
CloudFormation resource's ``TableInput`` property has the API's field names ("TableInput",
AWS::Glue::Table, CloudFormation User Guide), which is why the document is spelled the API's way.

This module is imported by the CDK stacks and by Lambda-side code: no AWS or pydantic imports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Final

from edx_vault.package.table_catalog import (
    EVENT_FORMAT,
    TEXT_INPUT_FORMAT,
    TEXT_OUTPUT_FORMAT,
    CatalogTable,
)

# The source named in the description of a table whose columns come from a header line: the
# same on every run, so a new export alone never makes the table differ.
HEADER_SOURCE: Final = "the header line of the newest export, read by the UpdateCatalog step"


def table_input(
    table: CatalogTable, *, bucket: str, orgs: Iterable[str], first_date: dt.date
) -> dict[str, Any]:
    """Glue's ``TableInput`` of ``table`` over the data bucket ``bucket``.

    Parameters
    ----------
    table
        The catalog table.
    bucket
        The data bucket's name (its location and location template).
    orgs, first_date
        The projection's org values and first date (:meth:`CatalogTable.projection`).

    Returns
    -------
    dict
        ``Name``, ``Description``, ``TableType``, ``Parameters``, ``PartitionKeys`` and
        ``StorageDescriptor``, as ``glue.create_table(TableInput=...)`` takes them. A column
        without a comment has no ``Comment`` key (Glue returns none for it either).
    """
    file_format = table.file_format
    return {
        "Name": table.name,
        "Description": f"{table.prefix} (columns: {table.columns.source})",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": table.parameters(bucket=bucket, orgs=orgs, first_date=first_date),
        # Partition columns are strings: projected dates keep their yyyy-MM-dd spelling, which
        # sorts and compares as the dates do.
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in table.partition_keys],
        "StorageDescriptor": {
            "Location": table.location(bucket),
            "InputFormat": TEXT_INPUT_FORMAT,
            "OutputFormat": TEXT_OUTPUT_FORMAT,
            # The event logs (either tier) are gzip files; the others are not.
            "Compressed": file_format == EVENT_FORMAT,
            "SerdeInfo": {
                "SerializationLibrary": file_format.serde,
                "Parameters": dict(file_format.serde_parameters),
            },
            "Columns": [
                {
                    "Name": column.name,
                    "Type": column.type,
                    **({"Comment": column.comment} if column.comment else {}),
                }
                for column in table.columns.columns
            ],
        },
    }


def column_names(table: Mapping[str, Any]) -> tuple[str, ...]:
    """The data columns' names of a ``TableInput`` or of a table as ``GetTable`` returns it."""
    columns = table.get("StorageDescriptor", {}).get("Columns", [])
    return tuple(str(column["Name"]) for column in columns)


def matches(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether the table ``GetTable`` returned (``current``) already is ``wanted``.

    Only the fields ``wanted`` sets are compared: Glue adds its own (``CreateTime``,
    ``VersionId``, ``DatabaseName``...), which are no difference.
    """
    return bool(_shaped_like(current, wanted) == wanted)


def _shaped_like(current: Any, wanted: Any) -> Any:
    if isinstance(wanted, Mapping) and isinstance(current, Mapping):
        return {name: _shaped_like(current.get(name), value) for name, value in wanted.items()}
    if isinstance(wanted, list) and isinstance(current, list) and len(current) == len(wanted):
        return [_shaped_like(have, want) for have, want in zip(current, wanted, strict=True)]
    return current
