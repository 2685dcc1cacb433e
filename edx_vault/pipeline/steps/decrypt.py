"""Decrypt step: decrypt a batch of units and publish each under the data key.

For each unit of the batch, one after another: claim its manifest row, decrypt it with the
pipeline's keyring and publish it (:func:`~edx_vault.engine.decryption.decrypt_unit`), and record
what was published. The batch then writes one results file for the Report step, and one file
of the daily event logs it published or found published, for the split by course
(:mod:`edx_vault.pipeline.steps.split`; Collect joins them). A
:class:`~edx_vault.engine.errors.PermanentError` (corrupt ciphertext, another recipient...) is
the unit's ``failed`` result and row; anything else fails the batch, which the state machine
retries.
"""

from __future__ import annotations

from typing import Any

import gnupg

from edx_vault.engine.decryption import (
    DecryptUnit,
    decrypt_unit,
    describe_unit,
    published_earlier,
)
from edx_vault.engine.errors import PermanentError
from edx_vault.package import member_names, source_keys
from edx_vault.package.edx_spellings import UnknownNameError
from edx_vault.pipeline.claims import claim, not_claimed
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest_rows import ClaimOutcome, unit_row
from edx_vault.pipeline.steps.batches import batch_summary
from edx_vault.pipeline.work_items import DecryptBatch, DecryptItem, ItemResult, SplitItem


def decrypt_batch(
    context: RunContext, gpg: gnupg.GPG, passphrase: str | None, batch: DecryptBatch
) -> dict[str, Any]:
    """Decrypt one Map iteration's units; one results file for them."""
    files = context.files(batch.run_id)
    results = [decrypt_one(context, gpg, passphrase, item) for item in batch.items]
    digest = files.batch_digest(item.model_dump() for item in batch.items)
    splits = [
        split.model_dump(mode="json")
        for item, result in zip(batch.items, results, strict=True)
        if (split := split_of(item, result)) is not None
    ]
    if splits:
        files.put_json(files.batch_splits_key(digest), splits)
    files.put_json(
        files.batch_result_key("decrypt", digest), [result.as_json() for result in results]
    )
    return batch_summary(results)


def split_of(item: DecryptItem, result: ItemResult) -> SplitItem | None:
    """The split to run after ``item``: a daily event log, published for its source version
    (by this run, or before: a log published before the split existed is split now)."""
    published = result.status == "done" or result.why == ClaimOutcome.ALREADY_DONE
    if not published or item.member is not None:
        return None
    try:
        source = source_keys.parse_source_key(item.source_bucket, item.source_key)
    except UnknownNameError:
        return None
    if source.kind is not source_keys.SourceKind.EVENT_LOG:
        return None
    return SplitItem(
        source_bucket=item.source_bucket,
        source_key=item.source_key,
        etag=item.etag,
        raw_size=item.raw_size,
        run_id=item.run_id,
        retry_failed=item.retry_failed,
    )


def decrypt_one(
    context: RunContext, gpg: gnupg.GPG, passphrase: str | None, item: DecryptItem
) -> ItemResult:
    """Decrypt and publish one unit, recording the outcome on its manifest row.

    A retried batch finds the units it had published before the error as done in the manifest;
    those are this run's own work, read back from their rows, so the report counts them as
    published by this run rather than skipped.
    """
    unit = item.unit
    manifest = context.manifest
    row = unit_row(unit.source_bucket, unit.source_key, unit.member_name)
    outcome, current = claim(
        manifest,
        row,
        version=unit.source_etag,
        run_id=item.run_id,
        retry_failed=item.retry_failed,
        run_has_ended=context.run_has_ended,
    )
    done_by_this_run = current.get("run_id") == item.run_id and "output_key" in current
    if outcome is ClaimOutcome.ALREADY_DONE and done_by_this_run:
        return _published(
            item,
            output_key=current["output_key"],
            size=int(current.get("plaintext_bytes", 0)),
            category=current.get("category"),
        )
    if outcome is not ClaimOutcome.CLAIMED:
        return not_claimed(
            current, outcome, source_key=item.source_key, stage="decrypt", member=item.member
        )
    target = context.target
    try:
        described = _describe_for_report(unit)
        # A row claimed before may be one an attempt published and died before recording.
        claimed_before = int(current.get("attempts", 1)) > 1
        earlier = (
            published_earlier(context.vault_s3, unit=unit, bucket=target.bucket)
            if claimed_before
            else None
        )
        published = earlier or decrypt_unit(
            context.vault_s3,
            gpg,
            passphrase=passphrase,
            unit=unit,
            bucket=target.bucket,
            kms_key_arn=target.kms_key_arn,
        )
    except PermanentError as error:
        manifest.fail(row, run_id=item.run_id, code=error.code, reason=error.reason)
        return ItemResult(
            status="failed",
            source_key=item.source_key,
            stage="decrypt",
            code=error.code,
            reason=error.reason,
            member=item.member,
        )
    manifest.complete(
        row,
        run_id=item.run_id,
        attributes={
            "output_key": published.output_key,
            "output_version_id": published.version_id or "",
            "plaintext_bytes": published.plaintext_bytes,
            "plaintext_sha256": published.plaintext_sha256,
            "ciphertext_bytes": published.ciphertext_bytes,
            **described,
        },
    )
    return _published(
        item,
        output_key=published.output_key,
        size=published.plaintext_bytes,
        category=described.get("category"),
    )


def _published(
    item: DecryptItem, *, output_key: str, size: int, category: str | None
) -> ItemResult:
    return ItemResult(
        status="done",
        source_key=item.source_key,
        stage="decrypt",
        output_key=output_key,
        bytes=size,
        category=category,
        member=item.member,
    )


def _describe_for_report(unit: DecryptUnit) -> dict[str, Any]:
    described = describe_unit(unit)
    if isinstance(described, member_names.PackageMember):
        return {"org": described.org, "category": described.category, "table": described.table}
    category = "events" if described.kind is source_keys.SourceKind.EVENT_LOG else "rdx"
    return {"org": described.org, "category": category}
