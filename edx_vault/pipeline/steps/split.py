"""Split step: split a batch of published daily event logs by course.

For each log of the batch, one after another: claim its split row (one per source version),
split the published org-level log into one file per course
(:func:`~edx_vault.engine.course_split.split_event_log`: all published or none), remove the
course files of an earlier version of the log that this version no longer has, record the
course files in the log's split index, and complete the row with the counts. The batch then
writes one results file for the Report step.

A :class:`~edx_vault.engine.errors.PermanentError` (the log is not whole gzip, or was replaced
since it was planned) is the log's ``failed`` result and row; anything else fails the batch,
which the state machine retries: a rerun of a split publishes the same bytes again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from edx_vault.engine.course_split import SplitLog, split_event_log
from edx_vault.engine.decryption import parse_source
from edx_vault.engine.errors import PermanentError, aws_error_code
from edx_vault.package import output_keys
from edx_vault.package.bucket_layout import COURSE_SPLIT_INDEX_PREFIX, COURSE_SPLIT_SPILL_PREFIX
from edx_vault.pipeline.claims import claim, not_claimed
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest_rows import ClaimOutcome, split_row
from edx_vault.pipeline.run_accounting import COURSE_EVENTS_CATEGORY
from edx_vault.pipeline.run_files import item_digest
from edx_vault.pipeline.steps.batches import batch_summary
from edx_vault.pipeline.work_items import ItemResult, SplitBatch, SplitItem

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_COUNTS = ("course_files", "lines", "unassigned", "unparsed")


def split_batch(context: RunContext, batch: SplitBatch) -> dict[str, Any]:
    """Split one Map iteration's logs; one results file for them."""
    files = context.files(batch.run_id)
    results = [split_one(context, item) for item in batch.items]
    digest = files.batch_digest(item.model_dump() for item in batch.items)
    files.put_json(files.batch_result_key("split", digest), [r.as_json() for r in results])
    return batch_summary(results)


def index_key(log_key: str) -> str:
    """Where the split index of the org-level log at ``log_key`` is kept."""
    return f"{COURSE_SPLIT_INDEX_PREFIX}{log_key}.json"


def split_one(context: RunContext, item: SplitItem) -> ItemResult:
    """Split one log and record it; a ``done`` result carries the counts."""
    manifest = context.manifest
    row = split_row(item.source_bucket, item.source_key)
    outcome, current = claim(
        manifest,
        row,
        version=item.etag,
        run_id=item.run_id,
        retry_failed=item.retry_failed,
        run_has_ended=context.run_has_ended,
    )
    if outcome is ClaimOutcome.ALREADY_DONE and current.get("run_id") == item.run_id:
        # This run's own work, done by an attempt before the batch was retried.
        return _done(item, {name: int(current.get(name, 0)) for name in (*_COUNTS, "bytes")})
    if outcome is not ClaimOutcome.CLAIMED:
        return not_claimed(current, outcome, source_key=item.source_key, stage="split")
    target = context.target
    try:
        source = parse_source(item.source_bucket, item.source_key)
        log_key = output_keys.output_key(source)
        if log_key is None or source.site is None or source.date is None:
            raise PermanentError("not-an-event-log", f"{item.source_key} is not a daily event log")
        site, date = source.site, source.date
        provenance = {
            "source-bucket": item.source_bucket,
            "source-key": item.source_key,
            "source-etag": item.etag,
        }
        split = split_event_log(
            context.vault_s3,
            bucket=target.bucket,
            log_key=log_key,
            expected_metadata=provenance,
            kms_key_arn=target.kms_key_arn,
            key_of=lambda course: output_keys.course_event_log_output_key(
                source.org, site, course, date
            ),
            spill_prefix=(
                f"{COURSE_SPLIT_SPILL_PREFIX}{item.run_id}/"
                f"{item_digest(item.source_bucket, item.source_key)}/"
            ),
            metadata=provenance,
        )
    except PermanentError as error:
        manifest.fail(row, run_id=item.run_id, code=error.code, reason=error.reason)
        return ItemResult(
            status="failed",
            source_key=item.source_key,
            stage="split",
            code=error.code,
            reason=error.reason,
        )
    _replace_index(context.vault_s3, target.bucket, index_key(log_key), item, split)
    counts = {
        "course_files": split.course_files,
        "lines": split.lines,
        "unassigned": split.unassigned,
        "unparsed": split.unparsed,
        "bytes": sum(file.bytes for file in split.files.values()),
    }
    manifest.complete(row, run_id=item.run_id, attributes={**counts, "files": len(split.files)})
    return _done(item, counts)


def _done(item: SplitItem, counts: dict[str, int]) -> ItemResult:
    """A done result; ``counts`` holds :data:`_COUNTS` and ``bytes`` (the course files')."""
    return ItemResult.model_validate(
        {
            "status": "done",
            "source_key": item.source_key,
            "stage": "split",
            "category": COURSE_EVENTS_CATEGORY,
            **counts,
        }
    )


def _replace_index(s3: S3Client, bucket: str, key: str, item: SplitItem, split: SplitLog) -> None:
    """Remove the course files an earlier version of the log had and this one has not, then
    record this version's files.

    The index is written last: a split that fails before it is retried against the earlier
    index, so a course file that is gone is removed by the retry.
    """
    previous = _read_index(s3, bucket, key)
    current = {file.key for file in split.files.values()}
    for stale in sorted(set(previous) - current):
        # A delete marker: the course file is gone from the bucket's listing, its versions stay
        # until the noncurrent-version lifecycle removes them.
        s3.delete_object(Bucket=bucket, Key=stale)
    document = {
        "source_bucket": item.source_bucket,
        "source_key": item.source_key,
        "source_etag": item.etag,
        "files": {
            course: {
                "key": file.key,
                "version_id": file.version_id,
                "bytes": file.bytes,
                "lines": file.lines,
            }
            for course, file in split.files.items()
        },
    }
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, sort_keys=True).encode(),
        ContentType="application/json",
    )


def _read_index(s3: S3Client, bucket: str, key: str) -> list[str]:
    """The course file keys an index lists; none when there is no index yet."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        # 404 with s3:ListBucket on _work/, 403 without it (S3's GetObject reference).
        if aws_error_code(error) in ("NoSuchKey", "404", "AccessDenied", "403"):
            return []
        raise
    return [entry["key"] for entry in json.loads(body)["files"].values()]
