"""The manifest: what was mirrored and decrypted, and every failure, in DynamoDB.

Rows are keyed as :mod:`edx_vault.pipeline.manifest_schema` says. Every status change is a conditional
write, so two runs (a scheduled one and a manual one, or a retried Lambda) can never both publish
the same file, and a failure is never overwritten by a stale success:

- ``claim`` moves a row to ``in_progress`` for one run only if nobody holds it, or it is done or
  failed for an older version of the source, or another run's claim has gone stale, or the same
  run holds it for the same version (Step Functions retrying that run's own attempt);
- ``complete`` and ``fail`` only apply to the run holding the claim;
- ``release`` ends a claim its run could not finish (the item's retries all died of a transient
  fault, so it left no result): the row becomes ``interrupted``, which any run claims at once.
  Without it the next weekly run would find the row still held and wait out the lease.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from edx_vault.pipeline.manifest_batch_get import batch_get_rows
from edx_vault.pipeline.manifest_rows import (
    NO_RESULT,
    ClaimOutcome,
    RowKey,
    Status,
    object_row,
    plain_row,
    source_partition,
)
from edx_vault.pipeline.manifest_schema import PARTITION_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# A claim older than this is presumed dead (Lambda's maximum run time is 15 minutes).
DEFAULT_LEASE: Final = dt.timedelta(minutes=20)


# The attributes a claim sets, as expression names (claim and take_over).
_CLAIM_NAMES: Final = {
    "#status": "status",
    "#version": "source_etag",
    "#run_id": "run_id",
    "#claimed_at": "claimed_at",
    "#updated_at": "updated_at",
    "#attempts": "attempts",
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Manifest:
    """Conditional status transitions over the manifest table.

    Parameters
    ----------
    table
        A boto3 DynamoDB ``Table`` resource.
    clock
        Returns the current UTC time; injected so tests can age a claim.
    lease
        How long a claim protects a row from other runs.
    """

    def __init__(
        self,
        table: Table,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> None:
        self._table = table
        self._clock = clock
        self._lease = lease
        self._per_thread = threading.local()

    def for_this_thread(self) -> Manifest:
        """This manifest for the calling thread: same table, clock and lease, and client.

        boto3 clients may be shared between threads, its resources may not ("Resource
        instances are not thread safe and should not be shared across threads or processes",
        boto3's guide, Resources, Multithreading or multiprocessing with resources). Each
        thread that asks gets a ``Table`` resource of its own, made once, over this one's
        client, so the Report step can settle many sources at once on one connection pool.

        Returns
        -------
        Manifest
            The calling thread's manifest, the same one on every call from that thread.
        """
        own: Manifest | None = getattr(self._per_thread, "manifest", None)
        if own is None:
            table = type(self._table)(self._table.name, client=self._table.meta.client)
            own = Manifest(table, clock=self._clock, lease=self._lease)
            self._per_thread.manifest = own
        return own

    def claim(
        self, row: RowKey, *, version: str, run_id: str, retry_failed: bool = False
    ) -> ClaimOutcome:
        """Take ``row`` for ``run_id`` to process ``version`` of its source.

        ``version`` is the source ETag: a row done or failed for another version is claimable
        again (edX re-issued the file). A failure for the same version is left alone unless
        ``retry_failed``, so a corrupt file is reported once, not retried forever.

        A row ``in_progress`` under ``run_id`` for ``version`` is claimed again: it is that run's
        own earlier attempt at this item, which ended with an error Step Functions retries
        (a TransientError). Step Functions starts a retry only after the attempt failed, so
        the two never overlap; answering BUSY would leave the file unpublished and the row
        locked for the whole lease.

        A row ``interrupted`` (released by the run that could not finish it) is claimed by any
        run, for any version.
        """
        return self.claim_row(row, version=version, run_id=run_id, retry_failed=retry_failed)[0]

    def claim_row(
        self, row: RowKey, *, version: str, run_id: str, retry_failed: bool = False
    ) -> tuple[ClaimOutcome, dict[str, Any]]:
        """:meth:`claim`, answering with the row too, so a step needs no second read of it.

        Returns
        -------
        tuple[ClaimOutcome, dict]
            The outcome, and the row: as the claim wrote it when ``CLAIMED`` (its ``attempts``
            count this claim), else as it stands (who holds it, what failed; ``{}`` for none).
        """
        now = self._clock()
        condition = (
            "attribute_not_exists(#pk)"
            " OR (#status IN (:done, :failed) AND #version <> :version)"
            " OR (#status = :in_progress AND #claimed_at < :stale)"
            " OR (#status = :in_progress AND #run_id = :run_id AND #version = :version)"
            " OR #status = :interrupted"
        )
        if retry_failed:
            condition += " OR #status = :failed"
        try:
            claimed = self._table.update_item(
                Key=row.as_key(),
                UpdateExpression=(
                    "SET #status = :in_progress, #version = :version, #run_id = :run_id, "
                    "#claimed_at = :now, #updated_at = :now, "
                    "#attempts = if_not_exists(#attempts, :zero) + :one "
                    "REMOVE #error_code, #error_reason"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    **_CLAIM_NAMES,
                    "#pk": PARTITION_KEY,
                    "#error_code": "error_code",
                    "#error_reason": "error_reason",
                },
                ExpressionAttributeValues={
                    ":in_progress": Status.IN_PROGRESS.value,
                    ":done": Status.DONE.value,
                    ":failed": Status.FAILED.value,
                    ":interrupted": Status.INTERRUPTED.value,
                    ":version": version,
                    ":run_id": run_id,
                    ":now": now.isoformat(),
                    ":stale": (now - self._lease).isoformat(),
                    ":zero": 0,
                    ":one": 1,
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            current = self.get(row) or {}
            if current.get("status") == Status.DONE and current.get("source_etag") == version:
                return ClaimOutcome.ALREADY_DONE, current
            if current.get("status") == Status.FAILED and current.get("source_etag") == version:
                return ClaimOutcome.ALREADY_FAILED, current
            return ClaimOutcome.BUSY, current
        return ClaimOutcome.CLAIMED, plain_row(claimed["Attributes"])

    def take_over(
        self, row: RowKey, *, version: str, run_id: str, holder: str
    ) -> dict[str, Any] | None:
        """Claim ``row`` for ``run_id`` from ``holder``, a run that has ended (see
        :mod:`edx_vault.pipeline.run_liveness`), if ``holder`` still holds it.

        Returns
        -------
        dict or None
            The row as ``run_id`` now holds it (as :meth:`claim_row` answers a claim); ``None``
            when someone else got there first.
        """
        now = self._clock()
        try:
            taken = self._table.update_item(
                Key=row.as_key(),
                UpdateExpression=(
                    "SET #version = :version, #run_id = :run_id, #claimed_at = :now, "
                    "#updated_at = :now, #attempts = if_not_exists(#attempts, :zero) + :one"
                ),
                ConditionExpression="#status = :in_progress AND #run_id = :holder",
                ExpressionAttributeNames=_CLAIM_NAMES,
                ExpressionAttributeValues={
                    ":in_progress": Status.IN_PROGRESS.value,
                    ":holder": holder,
                    ":version": version,
                    ":run_id": run_id,
                    ":now": now.isoformat(),
                    ":zero": 0,
                    ":one": 1,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        row_now: dict[str, Any] = plain_row(taken["Attributes"])
        return row_now

    def complete(self, row: RowKey, *, run_id: str, attributes: dict[str, Any]) -> None:
        """Mark ``row`` done with ``attributes`` (output key, sizes, sha256...), if still ours."""
        self._finish(row, run_id=run_id, status=Status.DONE, attributes=attributes)

    def fail(self, row: RowKey, *, run_id: str, code: str, reason: str) -> None:
        """Record a failure with its code and reason, if the claim is still ours."""
        self._finish(
            row,
            run_id=run_id,
            status=Status.FAILED,
            attributes={"error_code": code, "error_reason": reason},
        )

    def release(self, row: RowKey, *, run_id: str, reason: str) -> None:
        """End ``run_id``'s claim on ``row`` without a verdict, if the claim is still its own.

        The run's report calls this for an item that left no result, so the next run takes the
        item up at once. A row another run holds, or one the item finished before its result
        file was lost, is left as it is.
        """
        try:
            self._finish(
                row,
                run_id=run_id,
                status=Status.INTERRUPTED,
                attributes={"error_code": NO_RESULT, "error_reason": reason},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _finish(
        self, row: RowKey, *, run_id: str, status: Status, attributes: dict[str, Any]
    ) -> None:
        names = {"#status": "status", "#run_id": "run_id", "#updated_at": "updated_at"}
        values: dict[str, Any] = {
            ":status": status.value,
            ":in_progress": Status.IN_PROGRESS.value,
            ":run_id": run_id,
            ":now": self._clock().isoformat(),
        }
        assignments = ["#status = :status", "#updated_at = :now"]
        for index, (name, value) in enumerate(sorted(attributes.items())):
            names[f"#a{index}"] = name
            values[f":a{index}"] = value
            assignments.append(f"#a{index} = :a{index}")
        self._table.update_item(
            Key=row.as_key(),
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression="#status = :in_progress AND #run_id = :run_id",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def set_attributes(self, row: RowKey, attributes: dict[str, Any]) -> None:
        """Set bookkeeping attributes that carry no status (counts, flags)."""
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":a{i}": value for i, value in enumerate(attributes.values())}
        self._table.update_item(
            Key=row.as_key(),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(attributes))),
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={**names, "#pk": PARTITION_KEY},
            ExpressionAttributeValues=values,
        )

    def get(self, row: RowKey) -> dict[str, Any] | None:
        item = self._table.get_item(Key=row.as_key(), ConsistentRead=True).get("Item")
        return None if item is None else plain_row(item)

    def rows_of_source(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """The object row and every unit row of one source object."""
        rows: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": source_partition(bucket, key)},
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**request)
            rows.extend(plain_row(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return rows
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def object_rows(self, sources: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """The object rows of many sources, by partition key (BatchGetItem, 100 at a time)."""
        keys = [object_row(bucket, key).as_key() for bucket, key in sources]
        return batch_get_rows(self._table, keys)

    def scan(self) -> list[dict[str, Any]]:
        """Every row (for status, verify and reports on a small manifest)."""
        rows: list[dict[str, Any]] = []
        request: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self._table.scan(**request)
            rows.extend(plain_row(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return rows
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
