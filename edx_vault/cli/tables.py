"""Plain-text tables for people; scripts use ``--json`` instead."""

from __future__ import annotations

from collections.abc import Sequence


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Left-aligned columns, two spaces apart, with a header row.

    Parameters
    ----------
    headers
        Column titles.
    rows
        The cells (converted with ``str``; ``None`` shows as ``-``).

    Returns
    -------
    list of str
        The lines, without trailing spaces.
    """
    cells = [[str(h) for h in headers]] + [
        ["-" if cell is None else str(cell) for cell in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
