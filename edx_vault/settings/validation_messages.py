"""What the configuration's and the secrets' validation messages share.

How a field is named (``researchers[0].scopes[1].orgs``) and which of pydantic's errors deserve
a line, for :mod:`edx_vault.settings.config` and :mod:`edx_vault.settings.secret_document`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_core import ErrorDetails


def field_path(location: Sequence[int | str]) -> str:
    """A pydantic error location as a dotted path, list indexes in brackets; ``""`` for the top."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def root_causes(errors: Sequence[ErrorDetails]) -> list[ErrorDetails]:
    """``errors`` without the "too short" of a list whose items failed: it would only confuse."""
    locations = [tuple(item["loc"]) for item in errors]

    def inside(outer: tuple[int | str, ...], loc: tuple[int | str, ...]) -> bool:
        return len(loc) > len(outer) and loc[: len(outer)] == outer

    return [
        item
        for item in errors
        if not (
            item["type"] == "too_short"
            and any(inside(tuple(item["loc"]), loc) for loc in locations)
        )
    ]
