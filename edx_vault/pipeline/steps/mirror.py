"""Mirror step: copy a batch of edX objects into ``raw/`` and list each one's decrypt units.

For each object of the batch, one after another: claim its manifest row, copy it
(:func:`~edx_vault.engine.object_copy.mirror_object`), record the copy, and read which units it
holds (a zip fans out into its members). The batch then writes one units file (Collect joins
them into the decrypt work list) and one results file (for the Report step), once every object
has its result. An error that is not an object's own (throttling, a network fault) fails the
whole batch, which the state machine retries: the objects done by then find their work in the
manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edx_vault.engine.decryption import parse_source, units_of
from edx_vault.engine.errors import PermanentError
from edx_vault.engine.object_copy import mirror_object
from edx_vault.package import output_keys, source_keys
from edx_vault.pipeline.claims import claim, not_claimed
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest_rows import UNITS_SETTLED, ClaimOutcome, object_row, unit_row
from edx_vault.pipeline.settle import settle_source
from edx_vault.pipeline.steps.batches import batch_summary
from edx_vault.pipeline.work_items import DecryptItem, ItemResult, MirrorBatch, MirrorItem

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def mirror_batch(context: RunContext, edx_s3: S3Client, batch: MirrorBatch) -> dict[str, Any]:
    """Mirror one Map iteration's objects and write their units and results files."""
    files = context.files(batch.run_id)
    units: list[DecryptItem] = []
    results: list[ItemResult] = []
    for item in batch.items:
        mirrored = mirror_source(context, edx_s3, item)
        item_units, result = expand_source(context, item, mirrored)
        units.extend(item_units)
        results.append(result)
    unit_documents = [unit.model_dump(mode="json") for unit in units]
    digest = files.batch_digest(item.model_dump() for item in batch.items)
    files.put_json(files.batch_units_key(digest), unit_documents)
    files.put_json(
        files.batch_result_key("mirror", digest), [result.as_json() for result in results]
    )
    return batch_summary(results, units=len(units))


def mirror_source(context: RunContext, edx_s3: S3Client, item: MirrorItem) -> ItemResult:
    """Mirror one planned source object; a ``done`` result says where its copy is."""
    version = item.version
    row = object_row(version.bucket, version.key)
    outcome, current = claim(
        context.manifest,
        row,
        version=version.etag,
        run_id=item.run_id,
        retry_failed=item.retry_failed,
        run_has_ended=context.run_has_ended,
    )
    if outcome is ClaimOutcome.ALREADY_DONE:
        return _mirrored(item, current["raw_key"], current.get("raw_version_id"), version.size)
    if outcome is not ClaimOutcome.CLAIMED:
        return not_claimed(current, outcome, source_key=item.source_key, stage="mirror")
    target = context.target
    try:
        source = parse_source(version.bucket, version.key)
        copied = mirror_object(
            edx_s3,
            context.vault_s3,
            source=version,
            bucket=target.bucket,
            raw_key=output_keys.raw_key(source),
            kms_key_arn=target.kms_key_arn,
        )
    except PermanentError as error:
        context.manifest.fail(row, run_id=item.run_id, code=error.code, reason=error.reason)
        return ItemResult(
            status="failed",
            source_key=item.source_key,
            stage="mirror",
            code=error.code,
            reason=error.reason,
        )
    context.manifest.complete(
        row,
        run_id=item.run_id,
        attributes={
            "stage": "mirrored",
            "kind": source.kind.value,
            "org": source.org,
            "source_size": version.size,
            "source_last_modified": version.last_modified.isoformat(),
            "raw_key": copied.raw_key,
            "raw_version_id": copied.version_id or "",
            UNITS_SETTLED: False,
        },
    )
    return _mirrored(item, copied.raw_key, copied.version_id, copied.size)


def _mirrored(item: MirrorItem, raw_key: str, raw_version_id: str | None, size: int) -> ItemResult:
    return ItemResult(
        status="done",
        source_key=item.source_key,
        stage="mirror",
        source_bucket=item.source_bucket,
        etag=item.etag,
        raw_key=raw_key,
        raw_version_id=raw_version_id or None,
        bytes=size,
    )


def expand_source(
    context: RunContext, item: MirrorItem, mirrored: ItemResult
) -> tuple[list[DecryptItem], ItemResult]:
    """The decrypt work items of one mirrored object (one per zip member), and its result.

    A zip whose central directory cannot be read fails here, on its object row, as the one
    failed unit of its object.
    """
    if mirrored.status != "done" or mirrored.raw_key is None:
        return [], mirrored
    source = parse_source(item.source_bucket, item.source_key)
    row = object_row(source.bucket, source.key)
    manifest = context.manifest
    try:
        units = units_of(
            context.vault_s3,
            bucket=context.target.bucket,
            source=source,
            source_etag=item.etag,
            raw_key=mirrored.raw_key,
            raw_version_id=mirrored.raw_version_id,
            raw_size=int(mirrored.size or 0),
        )
    except PermanentError as error:
        # The copy is fine, its content is not: record it as the one unit of this object.
        manifest.set_attributes(row, {"unit_count": 1})
        unit_failure = unit_row(source.bucket, source.key, None)
        if manifest.claim(unit_failure, version=item.etag, run_id=item.run_id) is (
            ClaimOutcome.CLAIMED
        ):
            manifest.fail(unit_failure, run_id=item.run_id, code=error.code, reason=error.reason)
        settle_source(
            manifest,
            source.bucket,
            source.key,
            needs_split=source.kind is source_keys.SourceKind.EVENT_LOG,
        )
        failed = ItemResult(
            status="failed",
            source_key=item.source_key,
            stage="expand",
            code=error.code,
            reason=error.reason,
        )
        return [], failed
    manifest.set_attributes(row, {"unit_count": len(units)})
    decrypt_items = [
        DecryptItem.of_unit(unit, run_id=item.run_id, retry_failed=item.retry_failed)
        for unit in units
    ]
    return decrypt_items, mirrored
