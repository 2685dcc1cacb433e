"""Collect step: join the batches' hand-overs into the next work list, in batches: every mirror
batch's units into the decrypt work list, every decrypt batch's event logs into the split's."""

from __future__ import annotations

from collections import Counter
from typing import Any

from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.run_files import (
    DECRYPT_ITEMS,
    SPLIT_BATCH_MAX_DATA_BYTES,
    SPLIT_ITEMS,
    batches,
)
from edx_vault.pipeline.work_items import WorkList


def collect(context: RunContext, run_id: str, work_list: WorkList) -> dict[str, Any]:
    """Build the work list named by ``work_list``."""
    if work_list == "split":
        return collect_splits(context, run_id)
    return collect_units(context, run_id)


def collect_units(context: RunContext, run_id: str) -> dict[str, Any]:
    """Join every mirrored batch's units into the decrypt work list, in batches.

    One unit list per mirror batch, found by listing and read a few at a time
    (:meth:`~edx_vault.pipeline.run_files.RunFiles.list_json`), joined in key order: the work
    list is the same whatever order the reads finish in, and a read that fails fails the step.
    """
    files = context.files(run_id)
    units = [unit for unit_list in files.list_json("units") for unit in unit_list]
    per_unit = _unit_data_bytes(units)
    files.put_json(
        files.key(DECRYPT_ITEMS),
        batches(units, data_bytes=lambda u: per_unit[(u["source_bucket"], u["source_key"])]),
    )
    return {"units": len(units)}


def collect_splits(context: RunContext, run_id: str) -> dict[str, Any]:
    """Join every decrypt batch's event logs into the split work list, in batches.

    A retried decrypt batch writes its file again, whole; a log appears once per file, and at
    most once in the list (the first file's entry, in key order).
    """
    files = context.files(run_id)
    seen: set[tuple[str, str]] = set()
    logs = []
    for split_list in files.list_json("splits"):
        for item in split_list:
            source = (item["source_bucket"], item["source_key"])
            if source not in seen:
                seen.add(source)
                logs.append(item)
    files.put_json(
        files.key(SPLIT_ITEMS),
        batches(
            logs,
            data_bytes=lambda item: int(item["raw_size"]),
            max_data_bytes=SPLIT_BATCH_MAX_DATA_BYTES,
        ),
    )
    return {"logs": len(logs)}


def _unit_data_bytes(units: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Each source's estimated bytes per unit: its object's size shared among its units.

    A zip member's own size is not in its work item (only the zip's), and every member of a
    large zip counted at the zip's size would put each in a batch of its own.
    """
    counts = Counter((unit["source_bucket"], unit["source_key"]) for unit in units)
    sizes = {(unit["source_bucket"], unit["source_key"]): int(unit["raw_size"]) for unit in units}
    return {source: sizes[source] // count for source, count in counts.items()}
