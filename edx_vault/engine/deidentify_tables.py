"""De-identifying a ``.sql`` table (edX's TSV), one line at a time, by its column allowlist.

The header line says which column is which (the tables are ``SELECT *`` and drift); the rule of
:mod:`edx_vault.package.identifying_columns` says which names pass. The header written is the
kept names, in the file's order; each row keeps those cells, byte for byte, or their pseudonym.
A table the rules do not copy raises :class:`TableNotCopiedError` before a byte is read.

edX's TSV (``../shared/edx-data-package.md``): tab-separated, ``\\n`` line ends, no quoting,
``NULL`` for a missing value, and tab, newline, carriage return and backslash written as
two-character escapes, so a row is exactly one line and splits exactly on tabs. A row whose
cell count differs from the header's (``courseware_studentmodule`` is known to bend the
conventions) cannot be read column by column: it is dropped and counted, never passed through.

:func:`deidentified_stream` fits the decrypt step's pass: it wraps the decrypted plaintext
stream and is itself a stream to upload.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

from edx_vault.engine.deidentify_events import LineTransform, TransformCounts
from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.package.identifying_columns import ColumnRule, NotCopied, table_rule

NULL: Final = b"NULL"
# The longest row read as a row; a longer one is dropped (memory stays bounded per line).
MAX_ROW_BYTES: Final = 16 * 1024 * 1024
_UNESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


class TableNotCopiedError(Exception):
    """The table has no de-identified copy; ``reason`` says why (for the run report)."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"{table} is not copied to the de-identified tier: {reason}")
        self.table = table
        self.reason = reason


def tsv_unescape(cell: str) -> str:
    r"""A cell's value, edX's two-character escapes undone (``a\\tb`` is ``a<TAB>b``)."""
    if "\\" not in cell:
        return cell
    out, index = [], 0
    while index < len(cell):
        character = cell[index]
        if character == "\\" and index + 1 < len(cell):
            following = cell[index + 1]
            out.append(_UNESCAPES.get(following, following))
            index += 2
        else:
            out.append(character)
            index += 1
    return "".join(out)


class TableDeidentifier:
    """The de-identifying transform of one table's lines; the first line must be the header.

    Parameters
    ----------
    table
        The table's name, as in the member name (``auth_user``).
    pseudonyms
        The pseudonyms of the vault's key.

    Raises
    ------
    TableNotCopiedError
        If the table has no de-identified copy.
    """

    def __init__(self, table: str, pseudonyms: Pseudonymizer) -> None:
        rule = table_rule(table)
        if isinstance(rule, NotCopied):
            raise TableNotCopiedError(table, rule.reason)
        self.table = table
        self._columns = rule.columns
        self._pseudonyms = pseudonyms
        self._kept: list[tuple[int, ColumnRule]] | None = None
        self._width = 0
        self.counts = TransformCounts()
        self.dropped_columns: tuple[str, ...] = ()

    def __call__(self, line: bytes) -> bytes | None:
        """The de-identified line, or ``None`` for a dropped row."""
        self.counts.lines += 1
        text = line.rstrip(b"\n")
        if self._kept is None:
            return self._header(text)
        cells = text.split(b"\t")
        if len(cells) != self._width:
            self.counts.drop("cell-count")
            return None
        try:
            out = [self._cell(cells[index], rule) for index, rule in self._kept]
        except UnicodeDecodeError:
            self.counts.drop("not-utf8")
            return None
        self.counts.written += 1
        return b"\t".join(out) + b"\n"

    def _header(self, text: bytes) -> bytes:
        try:
            names = text.decode().split("\t")
        except UnicodeDecodeError:
            names = []
        self._width = len(names)
        self._kept = [
            (index, self._columns[name])
            for index, name in enumerate(names)
            if name in self._columns
        ]
        self.dropped_columns = tuple(name for name in names if name not in self._columns)
        self.counts.written += 1
        return "\t".join(names[index] for index, _ in self._kept).encode() + b"\n"

    def _cell(self, cell: bytes, rule: ColumnRule) -> bytes:
        if rule.treatment == "keep" or cell in (NULL, b""):
            return cell
        value = tsv_unescape(cell.decode())
        # A pseudonym is [a-z0-9_]: nothing to escape.
        return self._pseudonyms.pseudonym(rule.treatment, value).encode()


def deidentify_table(
    table: str, lines: Iterable[bytes], pseudonyms: Pseudonymizer
) -> Iterator[bytes]:
    """The de-identified lines of a table's lines (header first).

    Raises
    ------
    TableNotCopiedError
        At once (before ``lines`` is read) if the table has no de-identified copy.
    """
    transform = TableDeidentifier(table, pseudonyms)
    return _transformed(lines, transform)


def _transformed(lines: Iterable[bytes], transform: LineTransform) -> Iterator[bytes]:
    for line in lines:
        result = transform(line)
        if result is not None:
            yield result


class _TransformedStream(io.RawIOBase):
    """A byte stream of ``transform`` applied to each line of ``source``."""

    def __init__(self, source: IO[bytes], transform: LineTransform) -> None:
        super().__init__()
        self._source = source
        self._transform = transform
        self._pending = b""
        self._skipping = False  # inside a row longer than MAX_ROW_BYTES
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._ended:
            self._pending = self._next()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next(self) -> bytes:
        line = self._source.readline(MAX_ROW_BYTES)
        if not line:
            self._ended = True
            if self._skipping:  # a too-long last row without its end of line
                self._transform.counts.lines += 1
                self._transform.counts.drop("too-long")
            return b""
        ends = line.endswith(b"\n")
        if self._skipping:  # the rest of a row too long to read: dropped with it
            if ends:
                self._skipping = False
                self._transform.counts.lines += 1
                self._transform.counts.drop("too-long")
            return b""
        if not ends and len(line) >= MAX_ROW_BYTES:
            self._skipping = True
            return b""
        return self._transform(line) or b""


def deidentified_stream(
    table: str, plaintext: IO[bytes], pseudonyms: Pseudonymizer
) -> tuple[IO[bytes], TableDeidentifier]:
    """A readable stream of ``plaintext``'s de-identified table, and its transform's counts.

    For the decrypt step: ``upload_stream(stream=...)`` reads the returned stream as it reads a
    :class:`~edx_vault.engine.gpg_stream.DecryptedStream`. Memory is one row.

    Raises
    ------
    TableNotCopiedError
        At once if the table has no de-identified copy.
    """
    transform = TableDeidentifier(table, pseudonyms)
    stream = io.BufferedReader(_TransformedStream(plaintext, transform), buffer_size=1 << 20)
    return stream, transform
