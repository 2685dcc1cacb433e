"""The manifest's rows as the pipeline reads them: keys, statuses, and what a row says.

Pure functions of a row and its key (:mod:`edx_vault.pipeline.manifest_schema`), no DynamoDB
calls: :mod:`edx_vault.pipeline.manifest` makes the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from edx_vault.pipeline.manifest_schema import (
    DECRYPT_SORT_KEY,
    MEMBER_SORT_KEY_PREFIX,
    OBJECT_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    SPLIT_SORT_KEY,
)

# Object row attributes set when a source is settled (every unit done or failed), and how many
# of its units failed for the row's version.
UNITS_SETTLED: Final = "units_settled"
UNITS_FAILED: Final = "units_failed"
# Set with UNITS_SETTLED on an event log's object row once its split by course is done or failed
# (or cannot happen: its unit failed). A log settled before the split existed lacks it, so the
# planner takes it up once more, and the split runs on the log already published.
SPLIT_SETTLED: Final = "split_settled"


class Status(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    # Its run ended without a verdict on it (released by the run's report): not the file's
    # fault, so unlike ``failed`` it is taken up by the next run without ``--retry-failed``.
    INTERRUPTED = "interrupted"


# The error code a released row carries: the item's task left no result.
NO_RESULT: Final = "no-result"


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    ALREADY_DONE = "already_done"
    ALREADY_FAILED = "already_failed"
    BUSY = "busy"


def source_partition(bucket: str, key: str) -> str:
    """The partition key of a source object: ``{bucket}/{key}``."""
    return f"{bucket}/{key}"


def member_sort_key(member_name: str | None) -> str:
    """The sort key of a decryptable unit: the whole object, or one zip member."""
    return DECRYPT_SORT_KEY if member_name is None else f"{MEMBER_SORT_KEY_PREFIX}{member_name}"


@dataclass(frozen=True)
class RowKey:
    pk: str
    sk: str

    def as_key(self) -> dict[str, str]:
        return {PARTITION_KEY: self.pk, SORT_KEY: self.sk}


def object_row(bucket: str, key: str) -> RowKey:
    return RowKey(source_partition(bucket, key), OBJECT_SORT_KEY)


def unit_row(bucket: str, key: str, member_name: str | None) -> RowKey:
    return RowKey(source_partition(bucket, key), member_sort_key(member_name))


def split_row(bucket: str, key: str) -> RowKey:
    """The row of an event log's split by course."""
    return RowKey(source_partition(bucket, key), SPLIT_SORT_KEY)


def is_unit_row(row: dict[str, Any]) -> bool:
    """Whether a row of a source's partition is one of its decrypt units (not the object row,
    not the split)."""
    return row.get(SORT_KEY) not in (OBJECT_SORT_KEY, SPLIT_SORT_KEY)


def plain_row(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; hand out ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_row(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_row(v) for v in value]
    return value


def source_up_to_date(
    object_item: dict[str, Any], *, version: str, retry_failed: bool, needs_split: bool = False
) -> bool:
    """Whether a source needs no work at ``version``, from its object row.

    Up to date means mirrored and settled at this version (every unit done or failed), and,
    when ``retry_failed``, no unit failed: such a source is planned again, its mirror copy
    reused, its failed units decrypted again and its done units left alone. Without
    ``retry_failed`` a settled source with failed units stays up to date, so a failure is
    reported by the run that met it and not retried every week.

    Parameters
    ----------
    object_item
        The source's object row (as :meth:`Manifest.object_rows` returns it), or ``{}`` for none.
    version
        The source's ETag at edX now.
    retry_failed
        The run was asked to retry failures.
    needs_split
        The source is a daily event log, which is settled only once its split by course is
        (:data:`SPLIT_SETTLED`).

    Returns
    -------
    bool
        True when the planner may count the source as up to date.
    """
    settled = (
        object_item.get("source_etag") == version
        and object_item.get("status") == Status.DONE
        and bool(object_item.get(UNITS_SETTLED))
        and (not needs_split or bool(object_item.get(SPLIT_SETTLED)))
    )
    if not settled or not retry_failed:
        return settled
    # A row settled before failures were counted has no count: retried, to find out (its
    # done units answer "already done" without work).
    return bool(object_item.get(UNITS_FAILED, 1) == 0)
