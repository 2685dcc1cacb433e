"""What a run's steps leave for the Report step: plan summary, work lists, results, rows.

Shared by the tests of the report (:mod:`edx_vault.pipeline.run_report`): a run of
:data:`SOURCES` event logs whose mirror and decrypt tasks succeeded, failed, or were lost (left
no result), written with the pipeline's own models, and the S3 and DynamoDB faults those tests
inject.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from edx_vault.package.source_keys import SourceKind
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import RowKey, object_row, split_row, unit_row
from edx_vault.pipeline.run_files import (
    DECRYPT_ITEMS,
    MIRROR_ITEMS,
    PLAN_SUMMARY,
    SPLIT_ITEMS,
    RunFiles,
    batches,
)
from edx_vault.pipeline.work_items import (
    DecryptItem,
    ItemResult,
    MirrorItem,
    SplitItem,
    Stage,
)
from edx_vault.settings.pipeline_settings import PipelineSettings
from tests.integration.conftest import Vault

RUN = "run-parallel"
STARTED = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
FINISHED = STARTED + dt.timedelta(hours=1)
SOURCES = 22
VERSION = '"v1"'


@dataclass(frozen=True)
class Source:
    """One planned source and what its tasks left: ``done``, ``failed`` or ``lost``."""

    bucket: str
    key: str
    mirror: str
    decrypt: str


def outcome(index: int, every: int, offset: int) -> str:
    if index % every == offset:
        return "failed"
    if index % (every + 4) == offset + 1:
        return "lost"
    return "done"


def sources(vault: Vault) -> list[Source]:
    return [
        Source(
            bucket=vault.event_bucket,
            key=f"mitx/edx/events/2026/mitx-edx-events-2026-01-{index:03d}.log.gz.gpg",
            mirror=outcome(index, 7, 3),
            decrypt=outcome(index, 5, 2),
        )
        for index in range(SOURCES)
    ]


def context_for(vault: Vault) -> RunContext:
    settings = PipelineSettings(
        data_bucket=vault.target.bucket,
        data_key_arn=vault.target.kms_key_arn,
        manifest_table=vault.table_name,
    )
    return RunContext(settings=settings, vault_s3=vault.s3, manifest=vault.manifest)


def mirror_item(source: Source) -> MirrorItem:
    return MirrorItem(
        source_bucket=source.bucket,
        source_key=source.key,
        etag=VERSION,
        size=100,
        last_modified=STARTED,
        kind=SourceKind.EVENT_LOG,
        org="mitx",
        run_id=RUN,
    )


def split_of(source: Source) -> SplitItem:
    return SplitItem(
        source_bucket=source.bucket,
        source_key=source.key,
        etag=VERSION,
        raw_size=100,
        run_id=RUN,
    )


def unit_of(source: Source) -> DecryptItem:
    """The one decrypt unit of a mirrored source (an event log)."""
    return DecryptItem(
        source_bucket=source.bucket,
        source_key=source.key,
        etag=VERSION,
        raw_key=f"raw/{source.key}",
        raw_size=100,
        run_id=RUN,
    )


def plan_summary(planned: int) -> dict[str, Any]:
    return {
        "run_id": RUN,
        "started": STARTED.isoformat(),
        "first_date": "2026-01-01",
        "last_date": "2026-02-28",
        "planned": planned,
        "up_to_date": 0,
        "previously_failed": [],
        "unknown": [],
        "missing": [],
    }


def leave_run(vault: Vault, planned: list[Source]) -> RunFiles:
    """What Plan, Mirror, Collect, Decrypt and Split leave: work lists, results, manifest rows.

    The work lists are in batches, as Plan and Collect write them; each result is a file of
    its own, a single object (as results were written before batches: it reads the same). A
    ``lost`` task left no result file (and a claimed row); its unit is not settled.
    """
    files = context_for(vault).files(RUN)
    manifest = vault.manifest
    mirror_items = [mirror_item(s).model_dump(mode="json") for s in planned]
    units = [unit_of(s).model_dump(mode="json") for s in planned if s.mirror == "done"]
    files.put_json(files.key(PLAN_SUMMARY), plan_summary(len(planned)))
    files.put_json(files.key(MIRROR_ITEMS), batches(mirror_items, data_bytes=lambda _: 100))
    files.put_json(files.key(DECRYPT_ITEMS), batches(units, data_bytes=lambda _: 100))
    # Every published event log is split by course, and its split done.
    splits = [
        split_of(s).model_dump(mode="json")
        for s in planned
        if s.mirror == "done" and s.decrypt == "done"
    ]
    files.put_json(files.key(SPLIT_ITEMS), batches(splits, data_bytes=lambda _: 100))
    for source in planned:
        row = object_row(source.bucket, source.key)
        manifest.claim(row, version=VERSION, run_id=RUN)
        if source.mirror == "failed":
            leave_failure(files, manifest, row, source.key, "mirror", "tampered")
            continue
        if source.mirror == "lost":
            continue
        manifest.complete(row, run_id=RUN, attributes={"units_settled": False, "unit_count": 1})
        mirrored = ItemResult(status="done", source_key=source.key, stage="mirror", bytes=100)
        files.put_json(files.result_key("mirror", source.key), mirrored.as_json())
        unit = unit_row(source.bucket, source.key, None)
        manifest.claim(unit, version=VERSION, run_id=RUN)
        if source.decrypt == "done":
            manifest.complete(unit, run_id=RUN, attributes={"output_key": f"events/{source.key}"})
            done = ItemResult(
                status="done", source_key=source.key, stage="decrypt", category="events", bytes=1000
            )
            files.put_json(files.result_key("decrypt", source.key, None), done.as_json())
            split = split_row(source.bucket, source.key)
            manifest.claim(split, version=VERSION, run_id=RUN)
            manifest.complete(split, run_id=RUN, attributes={"course_files": 2})
            split_done = ItemResult(
                status="done",
                source_key=source.key,
                stage="split",
                category="events-by-course",
                bytes=900,
                course_files=2,
            )
            files.put_json(files.result_key("split", source.key, None), split_done.as_json())
        elif source.decrypt == "failed":
            leave_failure(files, manifest, unit, source.key, "decrypt", "wrong-recipient")
    return files


# The reason of each stage's failure, by its code.
REASONS = {"tampered": "the copy did not verify", "wrong-recipient": "not for us"}


def leave_failure(
    files: RunFiles, manifest: Manifest, row: RowKey, source_key: str, stage: Stage, code: str
) -> None:
    """What a task that failed for good leaves: its row failed, and its result."""
    manifest.fail(row, run_id=RUN, code=code, reason=REASONS[code])
    failed = ItemResult(
        status="failed", source_key=source_key, stage=stage, code=code, reason=REASONS[code]
    )
    files.put_json(files.result_key(stage, source_key, None), failed.as_json())


def shuffle_reads(vault: Vault, seed: int) -> None:
    """Make every read of a result file take a random few milliseconds, so they finish shuffled."""
    delays = random.Random(seed)
    lock = threading.Lock()

    def delay(params: dict[str, Any], **_: Any) -> None:
        if "/results/" in params["Key"] or "/units/" in params["Key"]:
            with lock:
                pause = delays.uniform(0.0, 0.015)
            time.sleep(pause)

    vault.s3.meta.events.register("provide-client-params.s3.GetObject", delay)


def fail_reads_of(client: Any, event: str, matches: Any, error: ClientError) -> list[Any]:
    """Make the calls whose parameters ``matches`` raise ``error``; returns the calls failed."""
    failed: list[Any] = []

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if matches(params):
            failed.append(params)
            raise error

    client.meta.events.register(event, refuse)
    return failed


def service_error(code: str, status: int, operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)
