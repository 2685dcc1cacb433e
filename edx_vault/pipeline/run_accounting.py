"""The report's accounting identity: every file edX listed in the window, exactly once.

A run sees ``listed`` objects at edX (counted by the Plan step as it lists them: every object in
scope, plus every name under our prefixes the package model does not know). The report puts
each in exactly one place:

- **published**: planned, and every unit of it is published for this version (by this run, or
  by an earlier attempt: ``skipped``);
- **up to date**: the planner found it mirrored and settled at this version;
- **failed**: this run met a failure on it (the report's ``failures`` say which and why);
- **deferred**, with a reason: ``failed-before`` (it failed for this version in an earlier run
  and ``--retry-failed`` was not asked for) or ``unknown-name`` (not a name edX's package
  model knows, so not mirrored).

The sum must be ``listed``. When it is not, some file was neither published nor explained, and
the report must not say the run succeeded: :func:`account` says by how many, and the report
turns that into a failure with code :data:`UNACCOUNTED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

UNACCOUNTED: Final = "unaccounted"
FAILED_BEFORE: Final = "failed-before"
UNKNOWN_NAME: Final = "unknown-name"


def account(
    *,
    listed: int | None,
    up_to_date: int,
    planned_keys: Iterable[str],
    failures: Iterable[Mapping[str, Any]],
    previously_failed: Iterable[Mapping[str, Any]],
    unknown: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """Where each listed file ended up, and whether that adds up.

    Parameters
    ----------
    listed
        How many objects the Plan step listed at edX; ``None`` for a plan written before it
        counted them (the identity is then not checked).
    up_to_date
        How many of them the planner found up to date.
    planned_keys
        The source key of each planned (to be mirrored) object.
    failures
        This run's failures (each with ``source_key``).
    previously_failed
        Entries (each with ``key``) that failed for this version in an earlier run and were not
        retried: whole sources the planner skipped, or units of a planned source.
    unknown
        Names under our prefixes that the package model does not know.

    Returns
    -------
    dict
        ``listed``, ``published``, ``up_to_date``, ``failed``, ``deferred`` (count per reason)
        and ``unaccounted`` (listed minus the rest; 0 when the identity holds, and always 0
        when ``listed`` is ``None``).
    """
    planned = set(planned_keys)
    failed = {str(failure["source_key"]) for failure in failures} & planned
    failed_before = {str(entry["key"]) for entry in previously_failed} - failed
    # A planned source with a unit that failed before is deferred, not published: a unit of it
    # is not. A source the planner skipped as failed is deferred too.
    deferred_planned = failed_before & planned
    deferred_unplanned = failed_before - planned
    published = len(planned) - len(failed) - len(deferred_planned)
    deferred = {
        FAILED_BEFORE: len(deferred_planned) + len(deferred_unplanned),
        UNKNOWN_NAME: sum(1 for _ in unknown),
    }
    explained = published + up_to_date + len(failed) + sum(deferred.values())
    return {
        "listed": listed,
        "published": published,
        "up_to_date": up_to_date,
        "failed": len(failed),
        "deferred": deferred,
        "unaccounted": 0 if listed is None else listed - explained,
    }


def unaccounted_reason(accounting: Mapping[str, Any]) -> str:
    """Why a report whose identity does not hold is a failure, in words."""
    deferred = accounting["deferred"]
    return (
        f"edX listed {accounting['listed']} files in the window, but this run accounts for "
        f"{accounting['listed'] - accounting['unaccounted']}: {accounting['published']} "
        f"published, {accounting['up_to_date']} up to date, {accounting['failed']} failed, "
        f"{deferred[FAILED_BEFORE]} failed before, {deferred[UNKNOWN_NAME]} unknown names; "
        "the rest were neither published nor explained. Run `edx-vault sync --wait` again, "
        "and report it to the edx-vault team if it persists"
    )
