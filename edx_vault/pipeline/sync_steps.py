"""The three per-item steps of a sync, each recorded in the manifest.

Each step takes one JSON work item and returns one JSON result, so the tests can drive the
same code the Lambda handlers run (:mod:`edx_vault.pipeline.pipeline_run` runs a step over each item of
a Map iteration's batch):

1. :func:`mirror_step`: copy one edX object into ``raw/``;
2. :func:`expand_step`: list the decryptable units of a mirrored object (zip members fan out);
3. :func:`decrypt_step`: decrypt one unit and publish it.

A :class:`~edx_vault.engine.errors.PermanentError` becomes a ``failed`` result and a ``failed`` manifest
row with its reason; anything else propagates so the orchestrator retries it. An item already
done or failed for this version is ``skipped``: it is never published twice, nor retried unless
asked. An item another run holds is ``failed`` for this run with the code
:data:`HELD_BY_ANOTHER_RUN` (its manifest row is the other run's and is left alone): this run did
not publish it, so its report must not say it succeeded. A claim held by a run that has ended
(``run_has_ended``, see :mod:`edx_vault.pipeline.run_liveness`) is dead: this run takes it over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import gnupg

from edx_vault.engine.decryption import (
    DecryptUnit,
    decrypt_unit,
    describe_unit,
    parse_source,
    published_earlier,
    units_of,
)
from edx_vault.engine.errors import PermanentError
from edx_vault.engine.object_copy import mirror_object
from edx_vault.package import package_model
from edx_vault.pipeline.manifest import (
    UNITS_FAILED,
    UNITS_SETTLED,
    ClaimOutcome,
    Manifest,
    RowKey,
    Status,
    object_row,
    unit_row,
)
from edx_vault.pipeline.manifest_schema import OBJECT_SORT_KEY
from edx_vault.pipeline.planner import version_from_item

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The failure code of an item another run was processing when this run reached it.
HELD_BY_ANOTHER_RUN: Final = "held-by-another-run"

# Answers whether the run with this id has ended (None: rely on the claim's lease alone).
RunHasEnded = Callable[[str], bool] | None


@dataclass(frozen=True)
class VaultTarget:
    """Where results go: the data bucket and the key every object is encrypted with."""

    bucket: str
    kms_key_arn: str


def _result(status: str, item: dict[str, Any], **details: Any) -> dict[str, Any]:
    return {"status": status, "source_key": item["source_key"], **details}


def _claim(
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


def _not_claimed(
    current: dict[str, Any],
    outcome: ClaimOutcome,
    item: dict[str, Any],
    *,
    stage: str,
    **details: Any,
) -> dict[str, Any]:
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
        return _result(
            "failed", item, stage=stage, code=HELD_BY_ANOTHER_RUN, reason=reason, **details
        )
    if outcome is ClaimOutcome.ALREADY_FAILED:
        details["code"] = current.get("error_code")
    return _result("skipped", item, stage=stage, why=outcome.value, **details)


def mirror_step(
    edx_s3: S3Client,
    vault_s3: S3Client,
    manifest: Manifest,
    item: dict[str, Any],
    *,
    target: VaultTarget,
    run_id: str,
    retry_failed: bool = False,
    run_has_ended: RunHasEnded = None,
) -> dict[str, Any]:
    """Mirror one planned source object; the result carries what :func:`expand_step` needs."""
    version = version_from_item(item)
    row = object_row(version.bucket, version.key)
    outcome, current = _claim(
        manifest,
        row,
        version=version.etag,
        run_id=run_id,
        retry_failed=retry_failed,
        run_has_ended=run_has_ended,
    )
    if outcome is ClaimOutcome.ALREADY_DONE:
        return _mirrored_result(
            item, current["raw_key"], current.get("raw_version_id"), version.size
        )
    if outcome is not ClaimOutcome.CLAIMED:
        return _not_claimed(current, outcome, item, stage="mirror")
    try:
        source = parse_source(version.bucket, version.key)
        mirrored = mirror_object(
            edx_s3,
            vault_s3,
            source=version,
            bucket=target.bucket,
            raw_key=package_model.raw_key(source),
            kms_key_arn=target.kms_key_arn,
        )
    except PermanentError as error:
        manifest.fail(row, run_id=run_id, code=error.code, reason=error.reason)
        return _result("failed", item, stage="mirror", code=error.code, reason=error.reason)
    manifest.complete(
        row,
        run_id=run_id,
        attributes={
            "stage": "mirrored",
            "kind": source.kind.value,
            "org": source.org,
            "source_size": version.size,
            "source_last_modified": version.last_modified.isoformat(),
            "raw_key": mirrored.raw_key,
            "raw_version_id": mirrored.version_id or "",
            UNITS_SETTLED: False,
        },
    )
    return _mirrored_result(item, mirrored.raw_key, mirrored.version_id, mirrored.size)


def _mirrored_result(
    item: dict[str, Any], raw_key: str, raw_version_id: str | None, size: int
) -> dict[str, Any]:
    return _result(
        "done",
        item,
        stage="mirror",
        source_bucket=item["source_bucket"],
        etag=item["etag"],
        raw_key=raw_key,
        raw_version_id=raw_version_id or None,
        bytes=size,
    )


def expand_step(
    vault_s3: S3Client,
    manifest: Manifest,
    mirrored: dict[str, Any],
    *,
    target: VaultTarget,
    run_id: str,
) -> dict[str, Any]:
    """The decrypt work items of one mirrored object (one per zip member).

    A zip whose central directory cannot be read fails here, on its object row.
    """
    if mirrored["status"] != "done":
        return {"units": [], "result": mirrored}
    source = parse_source(mirrored["source_bucket"], mirrored["source_key"])
    row = object_row(source.bucket, source.key)
    try:
        units = units_of(
            vault_s3,
            bucket=target.bucket,
            source=source,
            source_etag=mirrored["etag"],
            raw_key=mirrored["raw_key"],
            raw_version_id=mirrored.get("raw_version_id"),
            raw_size=int(mirrored["bytes"]),
        )
    except PermanentError as error:
        # The copy is fine, its content is not: record it as the one unit of this object.
        manifest.set_attributes(row, {"unit_count": 1})
        unit_failure = unit_row(source.bucket, source.key, None)
        if manifest.claim(unit_failure, version=mirrored["etag"], run_id=run_id) is (
            ClaimOutcome.CLAIMED
        ):
            manifest.fail(unit_failure, run_id=run_id, code=error.code, reason=error.reason)
        settle_source(manifest, source.bucket, source.key)
        failed = _result("failed", mirrored, stage="expand", code=error.code, reason=error.reason)
        return {"units": [], "result": failed}
    manifest.set_attributes(row, {"unit_count": len(units)})
    return {"units": [unit_to_item(unit) for unit in units], "result": None}


def unit_to_item(unit: DecryptUnit) -> dict[str, Any]:
    return {
        "source_bucket": unit.source_bucket,
        "source_key": unit.source_key,
        "etag": unit.source_etag,
        "raw_key": unit.raw_key,
        "raw_version_id": unit.raw_version_id,
        "raw_size": unit.raw_size,
        "member": unit.member_name,
    }


def unit_from_item(item: dict[str, Any]) -> DecryptUnit:
    return DecryptUnit(
        source_bucket=item["source_bucket"],
        source_key=item["source_key"],
        source_etag=item["etag"],
        raw_key=item["raw_key"],
        raw_version_id=item.get("raw_version_id"),
        raw_size=int(item["raw_size"]),
        member_name=item.get("member"),
    )


def decrypt_step(
    vault_s3: S3Client,
    gpg: gnupg.GPG,
    manifest: Manifest,
    item: dict[str, Any],
    *,
    passphrase: str | None,
    target: VaultTarget,
    run_id: str,
    retry_failed: bool = False,
    run_has_ended: RunHasEnded = None,
) -> dict[str, Any]:
    """Decrypt and publish one unit, recording the outcome on its manifest row."""
    unit = unit_from_item(item)
    row = unit_row(unit.source_bucket, unit.source_key, unit.member_name)
    details = {"member": unit.member_name}
    outcome, current = _claim(
        manifest,
        row,
        version=unit.source_etag,
        run_id=run_id,
        retry_failed=retry_failed,
        run_has_ended=run_has_ended,
    )
    if outcome is not ClaimOutcome.CLAIMED:
        return _not_claimed(current, outcome, item, stage="decrypt", **details)
    try:
        described = _describe_for_report(unit)
        # A row claimed before may be one an attempt published and died before recording.
        claimed_before = int(current.get("attempts", 1)) > 1
        earlier = (
            published_earlier(vault_s3, unit=unit, bucket=target.bucket) if claimed_before else None
        )
        published = earlier or decrypt_unit(
            vault_s3,
            gpg,
            passphrase=passphrase,
            unit=unit,
            bucket=target.bucket,
            kms_key_arn=target.kms_key_arn,
        )
    except PermanentError as error:
        manifest.fail(row, run_id=run_id, code=error.code, reason=error.reason)
        return _result(
            "failed", item, stage="decrypt", code=error.code, reason=error.reason, **details
        )
    manifest.complete(
        row,
        run_id=run_id,
        attributes={
            "output_key": published.output_key,
            "output_version_id": published.version_id or "",
            "plaintext_bytes": published.plaintext_bytes,
            "plaintext_sha256": published.plaintext_sha256,
            "ciphertext_bytes": published.ciphertext_bytes,
            **described,
        },
    )
    return _result(
        "done",
        item,
        stage="decrypt",
        output_key=published.output_key,
        bytes=published.plaintext_bytes,
        category=described.get("category"),
        **details,
    )


def _describe_for_report(unit: DecryptUnit) -> dict[str, Any]:
    described = describe_unit(unit)
    if isinstance(described, package_model.PackageMember):
        return {"org": described.org, "category": described.category, "table": described.table}
    category = "events" if described.kind is package_model.SourceKind.EVENT_LOG else "rdx"
    return {"org": described.org, "category": category}


def settle_source(manifest: Manifest, bucket: str, key: str) -> bool:
    """Mark a source settled once every unit is done or failed, so later plans skip it.

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
        if r["sk"] != OBJECT_SORT_KEY
        and r.get("source_etag") == version
        and r.get("status") in (Status.DONE, Status.FAILED)
    ]
    if len(finished) < int(objects[0]["unit_count"]):
        if objects[0].get(UNITS_SETTLED):
            # Settled before, and a --retry-failed run has since left a unit unfinished (its
            # task was lost): plan the source again rather than call it up to date.
            manifest.set_attributes(object_row(bucket, key), {UNITS_SETTLED: False})
        return False
    # How many units failed, so a later plan can tell "settled, all published" from "settled,
    # some failed": only the latter is planned again, and only under --retry-failed.
    mark_settled(
        manifest, bucket, key, failed=sum(1 for r in finished if r.get("status") == Status.FAILED)
    )
    return True


def mark_settled(manifest: Manifest, bucket: str, key: str, *, failed: int) -> None:
    """Record a source as settled with ``failed`` of its units failed (see :func:`settle_source`)."""
    manifest.set_attributes(object_row(bucket, key), {UNITS_SETTLED: True, UNITS_FAILED: failed})
