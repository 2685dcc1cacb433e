"""Claiming an item's manifest row for this run, and the result when this run cannot.

A step works on an item only once it holds the item's row (:meth:`Manifest.claim_row`). An item
already done or failed for this version is ``skipped``: it is never published twice, nor retried
unless asked. An item another run holds is ``failed`` for this run with the code
:data:`HELD_BY_ANOTHER_RUN` (its manifest row is the other run's and is left alone): this run did
not publish it, so its report must not say it succeeded. A claim held by a run that has ended
(``run_has_ended``, see :mod:`edx_vault.pipeline.run_liveness`) is dead: this run takes it over.
"""

from __future__ import annotations

from typing import Any, Final

from edx_vault.pipeline.context import RunHasEnded
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import ClaimOutcome, RowKey
from edx_vault.pipeline.work_items import ItemResult, Stage

# The failure code of an item another run was processing when this run reached it.
HELD_BY_ANOTHER_RUN: Final = "held-by-another-run"


def claim(
    manifest: Manifest,
    row: RowKey,
    *,
    version: str,
    run_id: str,
    retry_failed: bool,
    run_has_ended: RunHasEnded,
) -> tuple[ClaimOutcome, dict[str, Any]]:
    """Claim ``row``, taking it over when the run holding it has ended; the row as it is now."""
    outcome, current = manifest.claim_row(
        row, version=version, run_id=run_id, retry_failed=retry_failed
    )
    if outcome is not ClaimOutcome.BUSY or run_has_ended is None:
        return outcome, current
    holder = current.get("run_id")
    if not holder or holder == run_id or not run_has_ended(holder):
        return outcome, current
    taken = manifest.take_over(row, version=version, run_id=run_id, holder=holder)
    if taken is not None:
        return ClaimOutcome.CLAIMED, taken
    # Someone else took the row meanwhile: ask again, to say who or what it is now.
    return manifest.claim_row(row, version=version, run_id=run_id, retry_failed=retry_failed)


def not_claimed(
    current: dict[str, Any],
    outcome: ClaimOutcome,
    *,
    source_key: str,
    stage: Stage,
    **details: Any,
) -> ItemResult:
    """The result of an item whose row this run could not claim, from the row the claim read.

    Says who holds the row, or why it failed.
    """
    if outcome is ClaimOutcome.BUSY:
        holder = current.get("run_id", "another run")
        reason = (
            f"run {holder} was processing this file (since {current.get('claimed_at', '?')}) "
            "when this run reached it, so this run did not publish it; that run's report says "
            "whether it did, and if not, the next run takes it up once the claim's lease has "
            "passed"
        )
        return ItemResult(
            status="failed",
            source_key=source_key,
            stage=stage,
            code=HELD_BY_ANOTHER_RUN,
            reason=reason,
            **details,
        )
    if outcome is ClaimOutcome.ALREADY_FAILED:
        details["code"] = current.get("error_code")
    return ItemResult(
        status="skipped", source_key=source_key, stage=stage, why=outcome.value, **details
    )
