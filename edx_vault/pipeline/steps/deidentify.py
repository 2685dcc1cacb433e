"""De-identify step: rebuild what is due of the de-identified tier from the published files.

It runs after the split by course, in two parts (docs/deidentification.md, "The step"):

- :func:`plan_deidentified`, one task: list the published files that have copies and the
  tier, start a new epoch when the pseudonym key or the rules changed, remove the orphans
  (by delete marker: the bucket is versioned) and write the due copies as a work list of
  batches, and a plan summary for the Report step;
- :func:`deidentify_batch`, one Distributed Map iteration: each due file is streamed from S3,
  transformed line by line and published at its copy's key, SSE-KMS under the data key, with
  its provenance in the object's metadata. :func:`~edx_vault.engine.publish.upload_stream`
  publishes a copy whole or not at all.

A :class:`~edx_vault.engine.errors.PermanentError` (an event log that is not whole gzip) is the
file's ``failed`` result; anything else fails the batch, which the state machine retries (a
copy made again is the same bytes). The pseudonym key never reaches a log, an error or a result:
only its ``created`` time does.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote

from botocore.exceptions import ClientError

from edx_vault.engine.errors import PermanentError, aws_error_code
from edx_vault.engine.parallel import ordered_map
from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.engine.publish import upload_stream
from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    WORK_PREFIX,
)
from edx_vault.package.output_keys import deidentified_output_key
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.deidentify_items import DeidentifyBatch, DeidentifyItem, DeidentifyResult
from edx_vault.pipeline.deidentify_plan import (
    COPIED_PREFIXES,
    Listed,
    TierEpoch,
    copied_table_of,
    plan_tier,
    rules_version,
    tier_version,
)
from edx_vault.pipeline.deidentify_streams import event_copy, same_copy, table_copy
from edx_vault.pipeline.run_files import BATCH_MAX_DATA_BYTES, batches, item_digest

if TYPE_CHECKING:
    import io

    from mypy_boto3_s3 import S3Client

# The tier's epoch marker (TierEpoch): its version in the body, its start in its LastModified.
EPOCH_KEY: Final = f"{WORK_PREFIX}deidentified-tier.json"
# S3's LastModified is in whole seconds (see current_epoch).
EPOCH_SETTLE_SECONDS: Final = 1.0
_BEGINNING: Final = dt.datetime.min.replace(tzinfo=dt.UTC)
# Under _work/{run}/: the due copies, in batches (the Map's ItemReader), and the plan's summary.
DEIDENTIFY_ITEMS: Final = "deidentify-items.json"
DEIDENTIFY_PLAN: Final = "deidentify-plan.json"
RESULTS_FOLDER: Final = "deidentify"
# De-identifying parses every event: about 13 MB/s of plaintext on one core
# (docs/deidentification.md), some 130 MB/s of gzip. A batch of 64 MiB of originals is well
# inside the function's 15 minutes; a larger file is a batch of its own.
DEIDENTIFY_BATCH_MAX_DATA_BYTES: Final = BATCH_MAX_DATA_BYTES // 16


def _listing(s3: S3Client, bucket: str, prefix: str) -> list[Listed]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [
        Listed(entry["Key"], entry["LastModified"], entry.get("Size", 0))
        for page in pages
        for entry in page.get("Contents", [])
    ]


def current_epoch(
    s3: S3Client,
    bucket: str,
    kms_key_arn: str,
    version: str,
    *,
    tier_is_empty: bool,
    wait: Callable[[float], None] = time.sleep,
) -> TierEpoch:
    """The tier's epoch; a new one (the marker written again) when ``version`` differs.

    The epoch starts at the marker's ``LastModified``, S3's clock, which is the clock of every
    copy's ``LastModified`` it is compared with. S3 gives it in whole seconds, and a copy made
    in the marker's second counts as made before it (:func:`plan_tier`); a new epoch over
    existing copies (a rotated key, changed rules) therefore waits out a second before any
    copy of it is made, so that none of them is made again. A new epoch over an empty tier (the
    first run, or a tier deleted by hand) has no copy of another key to tell apart: it starts at
    the beginning of time, without waiting.
    """
    listed = [item for item in _listing(s3, bucket, EPOCH_KEY) if item.key == EPOCH_KEY]
    if listed:
        document = json.loads(s3.get_object(Bucket=bucket, Key=EPOCH_KEY)["Body"].read())
        if document.get("version") == version:
            since = _BEGINNING if document.get("fresh") else listed[0].last_modified
            return TierEpoch(version, since)
    s3.put_object(
        Bucket=bucket,
        Key=EPOCH_KEY,
        Body=json.dumps({"version": version, "fresh": tier_is_empty}).encode(),
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key_arn,
    )
    if tier_is_empty:
        return TierEpoch(version, _BEGINNING)
    since = s3.head_object(Bucket=bucket, Key=EPOCH_KEY)["LastModified"]
    wait(EPOCH_SETTLE_SECONDS)
    return TierEpoch(version, since)


def plan_deidentified(
    context: RunContext,
    run_id: str,
    *,
    key_created: dt.datetime,
    wait: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Plan the run's copies; remove the orphans; write the work list and the plan summary.

    ``wait`` is how a new epoch waits out its first second (:func:`current_epoch`).

    Returns
    -------
    dict
        ``items_key`` (the Map's work list) and the counts.
    """
    s3, target = context.vault_s3, context.target
    files = context.files(run_id)
    rules = rules_version()
    prefixes = [*COPIED_PREFIXES, DEIDENTIFIED_PREFIX]
    *original_lists, copies = ordered_map(
        lambda prefix: _listing(s3, target.bucket, prefix), prefixes
    )
    epoch = current_epoch(
        s3,
        target.bucket,
        target.kms_key_arn,
        tier_version(key_created, rules),
        tier_is_empty=not copies,
        wait=wait,
    )
    plan = plan_tier((item for listing in original_lists for item in listing), copies, epoch)
    # A delete marker: the copy leaves the listing, its versions stay until the
    # noncurrent-version lifecycle removes them.
    for _ in ordered_map(lambda key: s3.delete_object(Bucket=target.bucket, Key=key), plan.orphans):
        pass
    items = [
        DeidentifyItem(key=item.key, size=item.size, run_id=run_id).model_dump()
        for item in plan.due
    ]
    items_key = files.key(DEIDENTIFY_ITEMS)
    files.put_json(
        items_key,
        batches(
            items,
            data_bytes=lambda item: int(item["size"]),
            max_data_bytes=DEIDENTIFY_BATCH_MAX_DATA_BYTES,
        ),
    )
    summary = {
        "due": [item.key for item in plan.due],
        "due_bytes": sum(item.size for item in plan.due),
        "removed": list(plan.orphans),
        "up_to_date": plan.up_to_date,
        "version": epoch.version,
        "epoch_since": epoch.since.isoformat(),
    }
    files.put_json(files.key(DEIDENTIFY_PLAN), summary)
    return {
        "items_key": items_key,
        "due": len(plan.due),
        "removed": len(plan.orphans),
        "up_to_date": plan.up_to_date,
    }


def plan_failed(context: RunContext, run_id: str, *, code: str, reason: str) -> None:
    """Record why the tier could not be planned (no key yet), for the Report step."""
    files = context.files(run_id)
    files.put_json(files.key(DEIDENTIFY_PLAN), {"error": {"code": code, "reason": reason}})


def batch_result_key(context: RunContext, batch: DeidentifyBatch) -> str:
    files = context.files(batch.run_id)
    digest = item_digest(*(item.key for item in batch.items))
    return files.key("results", RESULTS_FOLDER, f"batch-{digest}.json")


def deidentify_batch(
    context: RunContext,
    batch: DeidentifyBatch,
    pseudonyms: Pseudonymizer,
    *,
    key_created: dt.datetime,
) -> dict[str, Any]:
    """Make one Map iteration's copies; one results file for them."""
    provenance = {
        "pseudonym-key-created": key_created.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "rules-version": rules_version(),
    }
    results = [copy_one(context, item, pseudonyms, provenance) for item in batch.items]
    context.files(batch.run_id).put_json(
        batch_result_key(context, batch), [result.as_json() for result in results]
    )
    # As the other steps' batch summaries (steps/batches.py): small, whatever the batch.
    statuses = Counter(result.status for result in results)
    status = "done" if set(statuses) <= {"done", "skipped"} else "failed"
    return {"status": status, "items": statuses.total(), **dict(sorted(statuses.items()))}


def copy_one(
    context: RunContext,
    item: DeidentifyItem,
    pseudonyms: Pseudonymizer,
    provenance: dict[str, str],
) -> DeidentifyResult:
    """Publish one file's de-identified copy; a ``done`` result carries the transform's counts."""
    s3, target = context.vault_s3, context.target
    copy_key = deidentified_output_key(item.key)
    try:
        original = s3.get_object(Bucket=target.bucket, Key=item.key)
    except ClientError as error:
        if aws_error_code(error) not in ("NoSuchKey", "404"):
            raise
        # Gone since the plan listed it: its copy is an orphan the next run removes.
        return DeidentifyResult(status="skipped", key=item.key, copy_key=copy_key)
    body = original["Body"]
    try:
        table = copied_table_of(item.key)
        if item.key.startswith(EVENTS_BY_COURSE_PREFIX):
            stream, counts = event_copy(body, pseudonyms)
        elif table is not None:
            stream, counts = table_copy(table, body, pseudonyms)
        else:
            stream, counts = same_copy(body)
        # Counts are only known once the stream has been read, and metadata goes with the
        # first request: the copy carries its provenance, the result its counts.
        published = upload_stream(
            s3,
            bucket=target.bucket,
            key=copy_key,
            stream=cast("io.RawIOBase", stream),
            kms_key_arn=target.kms_key_arn,
            metadata={
                **provenance,
                # User-defined metadata travels as x-amz-meta- HTTP headers (S3 User Guide,
                # "Working with object metadata"): percent-encoded, a key stays ASCII.
                "original-key": quote(item.key, safe="/=+,"),
                "original-version-id": original.get("VersionId") or "null",
            },
            content_type=original.get("ContentType") or "application/octet-stream",
        )
    except PermanentError as error:
        return DeidentifyResult(
            status="failed", key=item.key, copy_key=copy_key, code=error.code, reason=error.reason
        )
    finally:
        body.close()
    return DeidentifyResult.model_validate(
        {
            "status": "done",
            "key": item.key,
            "copy_key": copy_key,
            "bytes": published.size,
            "lines": counts.lines,
            "written": counts.written,
            "dropped": dict(sorted(counts.by_reason.items())),
            "unknown_types": counts.unknown_types,
        }
    )
