"""Collect step: join every mirrored batch's units into the decrypt work list, in batches."""

from __future__ import annotations

from collections import Counter
from typing import Any

from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.run_files import DECRYPT_ITEMS, batches


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


def _unit_data_bytes(units: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Each source's estimated bytes per unit: its object's size shared among its units.

    A zip member's own size is not in its work item (only the zip's), and every member of a
    large zip counted at the zip's size would put each in a batch of its own.
    """
    counts = Counter((unit["source_bucket"], unit["source_key"]) for unit in units)
    sizes = {(unit["source_bucket"], unit["source_key"]): int(unit["raw_size"]) for unit in units}
    return {source: sizes[source] // count for source, count in counts.items()}
