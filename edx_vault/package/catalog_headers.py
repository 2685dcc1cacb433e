"""The header line of a published ``.sql`` file, as the columns of its catalog table.

edX's ``.sql`` files are tab-separated with a header row (../shared/edx-data-package.md). For a
``SELECT *`` table the header is the only statement of its columns, and it changes when a
Django migration adds a column. A TSV table maps columns by *position*, so what the catalog may
do with a new header depends on how it differs (:func:`column_change`):

- **equal**: nothing to do;
- **appended**: the new header is the old one plus trailing columns. Older files have fewer
  fields per line, which Athena reads as NULL in the new columns: right, so the table is
  updated. Athena supports this for TSV: "you can use the ALTER TABLE ADD COLUMNS statement to
  add columns after existing columns" in CSV and TSV too (Athena User Guide, "Add columns at
  the end of the table");
- **conflict**: anything else (a column dropped, renamed or moved). "Do not add columns at the
  beginning or in the middle of the table in CSV and TSV, as these formats depend on
  ordering" (Athena User Guide, "Add columns at the beginning or in the middle of the
  table"): every older file would read its values under the wrong names, silently. The table
  is left alone and the conflict reported, for the admin to decide (docs/operations.md).

The header is plaintext of a learner-data file. It is read from at most
:data:`MAX_HEADER_BYTES` bytes held in memory, and an error never quotes it: a first line that
is not a header (a data row) could hold learner data, so errors name positions, not values.

This module is pure: no AWS imports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal

# How much of a file is read for its header (one ranged GET): the widest edX table has a few
# dozen columns of under 64 characters each, so 64 KiB is far more than any real header needs.
MAX_HEADER_BYTES: Final = 64 * 1024
# A Glue column name "must be a UTF-8 string and should be in lower case ... not less than 1 or
# more than 255 bytes long" (Athena User Guide, "Name databases, tables, and columns"). Stricter
# here: ASCII letters, digits and "_" only (MySQL's column names in edX's tables), starting
# with a letter or "_", so that a first line that is a data row (an id, a NULL) is refused
# instead of becoming column names.
_COLUMN_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,254}")

ColumnChange = Literal["equal", "appended", "conflict"]


class HeaderError(ValueError):
    """A published file whose first line cannot be a table's columns; names the file's key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def header_columns(head: bytes, *, object_size: int, key: str) -> tuple[str, ...]:
    """The column names of the header line at the start of the file ``key``.

    Parameters
    ----------
    head
        The file's first bytes: at most :data:`MAX_HEADER_BYTES`, fewer for a smaller file.
    object_size
        The file's size, to tell a short file from a header longer than ``head``.
    key
        The file's key, for the error.

    Raises
    ------
    HeaderError
        When the first line is longer than :data:`MAX_HEADER_BYTES`, is not UTF-8, or holds a
        name that is not a valid column name, or a name twice. The message says which
        positions, never what they hold.
    """
    line, newline, _ = head.partition(b"\n")
    if not newline and object_size > len(head):
        raise HeaderError(
            key,
            f"no line end in its first {len(head)} bytes: a header line longer than "
            f"{MAX_HEADER_BYTES} bytes is refused (not a TSV file with a header?)",
        )
    try:
        text = line.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise HeaderError(key, "its first line is not UTF-8") from None
    names = tuple(text.split("\t"))
    invalid = [
        str(position) for position, name in enumerate(names, 1) if not _COLUMN_NAME.fullmatch(name)
    ]
    if invalid:
        raise HeaderError(
            key,
            f"column(s) {', '.join(invalid[:10])} of {len(names)} in its first line are not valid "
            "Glue column names (lower-case ASCII letters, digits and _, starting with a letter "
            "or _, at most 255): not a header line?",
        )
    repeated = [str(position) for position, name in enumerate(names, 1) if names.count(name) > 1]
    if repeated:
        raise HeaderError(
            key, f"column(s) {', '.join(repeated[:10])} of its header repeat another's name"
        )
    return names


def column_change(current: Sequence[str], newest: Sequence[str]) -> ColumnChange:
    """How the newest header differs from a table's columns: ``equal``, ``appended`` (the same
    columns, then more) or ``conflict`` (any other difference, fewer columns included)."""
    current, newest = tuple(current), tuple(newest)
    if newest == current:
        return "equal"
    if len(newest) > len(current) and newest[: len(current)] == current:
        return "appended"
    return "conflict"
