"""The report's accounting: what each planned item's result says, and every listed file once.

:class:`ItemTally` counts the planned items one by one, from their results (typed, as the Report
step reads them back: :class:`~edx_vault.pipeline.work_items.RecordedResult`). A planned item
that this run did not publish is never counted as a success: it is a failure (with its code,
e.g. ``held-by-another-run``, or ``no-result`` when its task left no result), or, when it failed
for the same version in an earlier run and no retry was asked for, listed under
``previously_failed``. Only a unit already published for this version (``skipped``) counts as
done without being published by this run.

The identity, :func:`account`, then checks the run as a whole. A run sees ``listed`` objects at edX (counted by the Plan step as it lists them: every object in
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

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from edx_vault.pipeline.claims import HELD_BY_ANOTHER_RUN
from edx_vault.pipeline.manifest_rows import NO_RESULT, ClaimOutcome, RowKey
from edx_vault.pipeline.work_items import RecordedResult, Stage

UNACCOUNTED: Final = "unaccounted"
# The report's category of the course files the splits by course publish.
COURSE_EVENTS_CATEGORY: Final = "events-by-course"
FAILED_BEFORE: Final = "failed-before"
UNKNOWN_NAME: Final = "unknown-name"
NO_RESULT_REASON: Final = (
    "the task failed after its retries and left no result; see the execution's history"
)
NOT_PROCESSED_REASON: Final = "this run did not process the file and did not say why"

# A work list item's key, and its result's: its source key, and its member (None for a whole
# object, so for every mirror item).
ItemKey = tuple[str, str | None]


def failure(
    item: tuple[str | None, str | None], stage: str, code: str | None, reason: str | None
) -> dict[str, Any]:
    """One of the report's ``failures``; ``item`` is ``(None, None)`` for the run as a whole."""
    source_key, member = item
    return {
        "source_key": source_key,
        "member": member,
        "stage": stage,
        "code": code,
        "reason": reason,
    }


def _not_processed(item: ItemKey, stage: Stage, result: RecordedResult) -> dict[str, Any]:
    """A result that is neither done, failed, nor explained: this run did not publish the file.

    This version's steps never write one (a held item is ``failed``), but a run that straddles
    an upgrade may hold an older step's "skipped because busy" result, and an unpublished file
    must not pass for a success.
    """
    busy = result.why == ClaimOutcome.BUSY
    code = HELD_BY_ANOTHER_RUN if busy else "not-processed"
    return failure(item, stage, code, result.reason or NOT_PROCESSED_REASON)


@dataclass
class ItemTally:
    """What the planned items' results add up to, counted in the work lists' order.

    Attributes
    ----------
    previously_failed
        The plan's ``previously_failed`` (whole sources it skipped), and then each planned item
        whose result says it failed for this version in an earlier run.
    failures
        The report's failures, one per item this run did not publish (or did not say why).
    files
        Per category of published file, ``count`` and ``bytes``.
    mirrored_bytes, skipped
        Bytes this run mirrored; units published for this version before this run reached them.
    course_split
        What this run's splits by course counted: ``logs`` split, ``course_files`` published,
        ``lines`` read, ``unassigned`` events (no course) and ``unparsed`` lines (not JSON).
    lost
        The manifest rows of the items that left no result, for the report to release.
    """

    previously_failed: list[dict[str, Any]]
    failures: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"count": 0, "bytes": 0})
    )
    mirrored_bytes: int = 0
    skipped: int = 0
    lost: list[RowKey] = field(default_factory=list)
    course_split: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("logs", "course_files", "lines", "unassigned", "unparsed"), 0
        )
    )

    def count(
        self, stage: Stage, row: RowKey, item: ItemKey, result: RecordedResult | None
    ) -> None:
        """One planned item: published, skipped, failed before, failed, or lost (no result)."""
        if result is None:
            self.lost.append(row)
            self.failures.append(failure(item, stage, NO_RESULT, NO_RESULT_REASON))
        elif result.status == "failed":
            self.failures.append(failure(item, result.stage, result.code, result.reason))
        elif result.status == "done" and stage == "mirror":
            self.mirrored_bytes += result.size or 0
        elif result.status == "done" and stage == "split":
            self._count_split(result)
        elif result.status == "done":
            totals = self.files[result.category or "unknown"]
            totals["count"] += 1
            totals["bytes"] += result.size or 0
        elif stage == "decrypt" and result.why == ClaimOutcome.ALREADY_DONE:
            self.skipped += 1  # published for this version by an earlier run or attempt
        elif stage == "split" and result.why == ClaimOutcome.ALREADY_DONE:
            pass  # split for this version by an earlier run: nothing new to count
        elif result.why == ClaimOutcome.ALREADY_FAILED:
            source_key, member = item  # listed as the plan lists the sources it skipped
            self.previously_failed.append(
                {"key": source_key, "member": member, "error_code": result.code}
            )
        else:
            self.failures.append(_not_processed(item, stage, result))

    def _count_split(self, result: RecordedResult) -> None:
        totals = self.files[result.category or "unknown"]
        totals["count"] += result.course_files or 0
        totals["bytes"] += result.size or 0
        self.course_split["logs"] += 1
        for name in ("course_files", "lines", "unassigned", "unparsed"):
            self.course_split[name] += getattr(result, name) or 0


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
