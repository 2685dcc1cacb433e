"""Settling a source: once every unit of its version is done or failed, later plans skip it.

The Report step settles the sources of a run after writing its report (see
:mod:`edx_vault.pipeline.run_report`); the Mirror step settles a source whose content cannot be
expanded into units at once, as its one failed unit.
"""

from __future__ import annotations

from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import (
    SPLIT_SETTLED,
    UNITS_FAILED,
    UNITS_SETTLED,
    Status,
    is_unit_row,
    object_row,
)
from edx_vault.pipeline.manifest_schema import OBJECT_SORT_KEY, SPLIT_SORT_KEY

_FINISHED = (Status.DONE, Status.FAILED)


def settle_source(manifest: Manifest, bucket: str, key: str, *, needs_split: bool = False) -> bool:
    """Mark a source settled once every unit is done or failed, so later plans skip it.

    A daily event log (``needs_split``) is settled once its split by course is done or failed
    too, or when its one unit failed (there is nothing to split); a failed split counts among
    its failed units, so ``--retry-failed`` splits it again.

    The object row also records how many of its units failed (``units_failed``):
    :meth:`Manifest.source_up_to_date` plans a settled source again under ``retry_failed`` when
    that count is not zero, so a key imported after a ``wrong-recipient`` heals with
    ``sync --retry-failed``.

    Called once per source after its units ran (by the run's report), not after every unit:
    a zip of hundreds of members would otherwise re-read its rows hundreds of times.
    """
    rows = manifest.rows_of_source(bucket, key)
    objects = [r for r in rows if r["sk"] == OBJECT_SORT_KEY]
    if not objects or objects[0].get("status") != Status.DONE or "unit_count" not in objects[0]:
        return False
    # Only units of the version the object row holds: after edX re-issues a file, the rows of
    # the old version stay (a member the new zip lacks, or one not yet decrypted again) and
    # must not stand in for the new version's units.
    version = objects[0].get("source_etag")
    finished = [
        r
        for r in rows
        if is_unit_row(r) and r.get("source_etag") == version and r.get("status") in _FINISHED
    ]
    if len(finished) < int(objects[0]["unit_count"]):
        if objects[0].get(UNITS_SETTLED):
            # Settled before, and a --retry-failed run has since left a unit unfinished (its
            # task was lost): plan the source again rather than call it up to date.
            manifest.set_attributes(object_row(bucket, key), {UNITS_SETTLED: False})
        return False
    # How many units failed, so a later plan can tell "settled, all published" from "settled,
    # some failed": only the latter is planned again, and only under --retry-failed.
    failed = sum(1 for r in finished if r.get("status") == Status.FAILED)
    if needs_split and not failed:
        splits = [
            r
            for r in rows
            if r["sk"] == SPLIT_SORT_KEY
            and r.get("source_etag") == version
            and r.get("status") in _FINISHED
        ]
        if not splits:
            return False
        failed += splits[0].get("status") == Status.FAILED
    mark_settled(manifest, bucket, key, failed=failed, split_settled=needs_split or None)
    return True


def mark_settled(
    manifest: Manifest, bucket: str, key: str, *, failed: int, split_settled: bool | None = None
) -> None:
    """Record a source as settled with ``failed`` of its units failed (see :func:`settle_source`),
    and for an event log that its split is settled too."""
    attributes: dict[str, bool | int] = {UNITS_SETTLED: True, UNITS_FAILED: failed}
    if split_settled:
        attributes[SPLIT_SETTLED] = True
    manifest.set_attributes(object_row(bucket, key), attributes)
