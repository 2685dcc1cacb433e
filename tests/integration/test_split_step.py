"""The split by course through the handlers, in the state machine's order, against moto with real gpg.

Each test plays edX with one daily event log of its own making (which lines belong to which
course is known by construction, not computed by the code under test), runs Plan, Mirror,
Collect, Decrypt, Collect (splits), Split and Report as the state machine does (a batch that
raises TransientError is retried), and checks the course files, the split index, the manifest
and the report: a re-issued log replaces its course files, a log that is not whole gzip fails
its split and leaves nothing behind, a log published before the split existed is split without
being mirrored or decrypted again, and a transient fault heals within the run.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import moto.s3.models
import pytest
from botocore.exceptions import ClientError

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.engine import course_files, course_split
from edx_vault.engine.course_files import CourseFiles, SplitLimits
from edx_vault.package.bucket_layout import (
    COURSE_SPLIT_SPILL_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    NO_COURSE,
    UNPARSED,
)
from edx_vault.package.output_keys import course_event_log_output_key, event_log_output_key
from edx_vault.package.source_keys import event_log_key
from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.manifest_rows import SPLIT_SETTLED, object_row, split_row
from edx_vault.pipeline.steps.split import index_key
from edx_vault.settings.types import Site
from tests.integration.conftest import PipelineKey, Vault
from tests.integration.test_handlers import (  # noqa: F401 - `deployed` is a fixture
    CONTEXT,
    deployed,
    handler,
    invoke_item,
    stored_report,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("deployed"),
    # No generated package: each test delivers its own event log (the fixture's secrets,
    # environment and buckets are what it is for).
    pytest.mark.parametrize(
        "deployed",
        [{"event_dates": (), "export_dates": (), "failed_member": False, "email_opt_in": False}],
        indirect=True,
    ),
]

ORG: Final = "mitx"
SITE: Final[Site] = "edx"
DAY: Final = dt.date(2024, 1, 7)
LOG_OUTPUT_KEY: Final = event_log_output_key(ORG, SITE, DAY)
# Three spellings of a course id, and the entity each is filed under.
COURSE_A: Final = ("course-v1:MITx+A.1x+2024_T1", "MITx-A.1x-2024_T1")
COURSE_B: Final = ("MITx/B.2x/2023_Fall", "MITx-B.2x-2023_Fall")
COURSE_C: Final = ("ccx-v1:MITx+C.3x+2024+ccx@7", "MITx-C.3x-2024-ccx-7")
NOT_JSON: Final = "not JSON"


@dataclass(frozen=True)
class EventLog:
    """An event log's lines, and the course partition each belongs to (by construction)."""

    by_course: dict[str, list[bytes]]

    @classmethod
    def of(cls, lines_per_course: dict[tuple[str, str], int], *, seed: int) -> EventLog:
        """``lines_per_course``: (course id or "" or :data:`NOT_JSON`, partition) -> lines."""
        draw = random.Random(seed)
        by_course: dict[str, list[bytes]] = {}
        for (course_id, partition), count in lines_per_course.items():
            by_course[partition] = [_line(course_id, n, draw) for n in range(count)]
        return cls(by_course)

    def lines(self) -> list[bytes]:
        """The lines, the courses interleaved as in a real day's log."""
        queues = [list(lines) for lines in self.by_course.values()]
        mixed = []
        while any(queues):
            for queue in queues:
                if queue:
                    mixed.append(queue.pop(0))
        return mixed

    def gzipped(self) -> bytes:
        return gzip.compress(b"".join(self.lines()), mtime=0)


def _line(course_id: str, n: int, draw: random.Random) -> bytes:
    if course_id == NOT_JSON:
        return f"{draw.randbytes(40).hex()} cut short {{\n".encode()
    # Random answers compress poorly, so a few hundred lines make several KiB of gzip.
    event = {
        "username": f"learner{n}",
        "event_type": "problem_check",
        "event_source": "server",
        "context": {"course_id": course_id, "user_id": n, "org_id": "MITx" if course_id else ""},
        "event": {"answers": {"input_1": draw.randbytes(48).hex()}},
        "time": f"2024-01-07T{n % 24:02d}:00:00+00:00",
    }
    return (json.dumps(event) + "\n").encode()


def deliver(vault: Vault, key: PipelineKey, plaintext: bytes) -> str:
    """edX puts an event log (the plaintext, encrypted to the pipeline); its ETag."""
    body = encrypt_to_recipients(plaintext, [key.public_key])
    put = vault.s3.put_object(
        Bucket=vault.event_bucket, Key=event_log_key(ORG, SITE, DAY), Body=body
    )
    return str(put["ETag"])


def sync(run_id: str, *, retry_failed: bool = False) -> dict[str, Any]:
    """Every step in the state machine's order; the Report's verdict."""
    plan = handler("plan").handler(
        {
            "execution_name": run_id,
            "start_time": "2024-01-08T06:00:00Z",
            "input": {"retry_failed": retry_failed},
        },
        CONTEXT,
    )
    s3, bucket = lambda_runtime.run_context().vault_s3, lambda_runtime.settings().data_bucket

    def work_list(key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        return items

    for batch in work_list(plan["mirror_items_key"]):
        invoke_item("mirror", batch)
    handler("collect").handler({"run_id": run_id}, CONTEXT)
    for batch in work_list(plan["decrypt_items_key"]):
        invoke_item("decrypt", batch)
    handler("collect").handler({"run_id": run_id, "work_list": "split"}, CONTEXT)
    for batch in work_list(plan["split_items_key"]):
        invoke_item("split", batch)
    verdict: dict[str, Any] = handler("report").handler({"run_id": run_id}, CONTEXT)
    return verdict


def results(vault: Vault, run_id: str, stage: str) -> list[dict[str, Any]]:
    """Every result one stage of the run recorded."""
    listed = vault.s3.list_objects_v2(
        Bucket=vault.target.bucket, Prefix=f"_work/{run_id}/results/{stage}/"
    )
    return [
        entry
        for obj in listed.get("Contents", [])
        for entry in json.loads(
            vault.s3.get_object(Bucket=vault.target.bucket, Key=obj["Key"])["Body"].read()
        )
    ]


def course_key(partition: str) -> str:
    return course_event_log_output_key(ORG, SITE, partition, DAY)


def published_courses(vault: Vault) -> dict[str, list[bytes]]:
    """The course files listed now (delete markers hide), by key: their lines."""
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix=EVENTS_BY_COURSE_PREFIX)
    return {
        obj["Key"]: gzip.decompress(
            vault.s3.get_object(Bucket=vault.target.bucket, Key=obj["Key"])["Body"].read()
        ).splitlines(keepends=True)
        for obj in listed.get("Contents", [])
    }


def course_versions(vault: Vault) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every version and delete marker under events-by-course/."""
    listed = vault.s3.list_object_versions(
        Bucket=vault.target.bucket, Prefix=EVENTS_BY_COURSE_PREFIX
    )
    return listed.get("Versions", []), listed.get("DeleteMarkers", [])


def expected_files(log: EventLog) -> dict[str, list[bytes]]:
    return {course_key(partition): lines for partition, lines in log.by_course.items()}


def read_index(vault: Vault) -> dict[str, Any]:
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=index_key(LOG_OUTPUT_KEY))["Body"]
    index: dict[str, Any] = json.loads(body.read())
    return index


def assert_nothing_left_open(vault: Vault) -> None:
    bucket = vault.target.bucket
    assert vault.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    spills = vault.s3.list_objects_v2(Bucket=bucket, Prefix=COURSE_SPLIT_SPILL_PREFIX)
    assert spills.get("KeyCount", 0) == 0


# Buffers of a few KiB instead of MiB: a log of a few hundred KiB then takes every path of the
# course files (members, multipart parts, spills), which a real 8 MiB part would need tens of
# MiB of events for. S3's 5 MiB part minimum is lowered to match, in the code and in moto.
class _SmallCourseFiles(CourseFiles):
    def __init__(self, *args: Any, limits: SplitLimits | None = None, **kwargs: Any) -> None:
        small = SplitLimits(
            member_bytes=1024,
            pending_bytes=6 * 1024,
            held_bytes=10 * 1024,
            part_bytes=16 * 1024,
            publish_concurrency=3,
        )
        super().__init__(*args, limits=limits or small, **kwargs)


@pytest.fixture
def small_buffers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Small course-file buffers; yields the S3 operations the splits made, to check the paths."""
    monkeypatch.setattr(course_files, "S3_MIN_PART_BYTES", 1024)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    monkeypatch.setattr(course_split, "CourseFiles", _SmallCourseFiles)
    calls: list[str] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append(f"{model.name} {params.get('Key', '')}")

    lambda_runtime.run_context().vault_s3.meta.events.register("provide-client-params.s3.*", record)
    yield calls


def fail_once(operation: str, matches: Callable[[str], bool], code: str = "SlowDown") -> list[str]:
    """The vault's S3 fails the first ``operation`` on a key ``matches`` accepts, as S3 does
    when it throttles (no SDK retry: the state machine's retry is what must heal it); the keys
    it failed on."""
    failed: list[str] = []

    def maybe_fail(params: dict[str, Any], **_: Any) -> None:
        if not failed and matches(str(params.get("Key", ""))):
            failed.append(str(params["Key"]))
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    lambda_runtime.run_context().vault_s3.meta.events.register(
        f"provide-client-params.s3.{operation}", maybe_fail
    )
    return failed


FIRST_LOG: Final = {
    COURSE_A: 300,
    COURSE_B: 40,
    ("", NO_COURSE): 12,
    (NOT_JSON, UNPARSED): 3,
}


def test_a_reissued_log_replaces_its_course_files(vault: Vault, pipeline_key: PipelineKey) -> None:
    # Given a log of courses A and B split by a first run
    first = EventLog.of(FIRST_LOG, seed=1)
    deliver(vault, pipeline_key, first.gzipped())
    assert sync("run-1")["status"] == "succeeded"
    assert published_courses(vault) == expected_files(first)
    # When edX re-issues it with A gone, B's lines changed and a new course C, and a run syncs
    second = EventLog.of({COURSE_B: 25, COURSE_C: 30, ("", NO_COURSE): 5}, seed=2)
    etag = deliver(vault, pipeline_key, second.gzipped())
    verdict = sync("run-2")
    # Then the listed course files are exactly the new log's, byte for byte by line
    assert verdict["status"] == "succeeded", stored_report(vault, "run-2")["failures"]
    assert published_courses(vault) == expected_files(second)
    # And A's and _unparsed's files are gone behind a delete marker, their history kept
    _, markers = course_versions(vault)
    gone = {course_key(COURSE_A[1]), course_key(UNPARSED)}
    assert {m["Key"] for m in markers if m["IsLatest"]} == gone
    # And the index names the new set, for the new version
    index = read_index(vault)
    assert index["source_etag"] == etag
    assert {entry["key"] for entry in index["files"].values()} == set(expected_files(second))
    # And the split row and the report count the new log
    row = vault.manifest.get(split_row(vault.event_bucket, event_log_key(ORG, SITE, DAY)))
    assert row is not None
    assert (row["status"], row["source_etag"], row["course_files"]) == ("done", etag, 2)
    assert stored_report(vault, "run-2")["course_split"] == {
        "logs": 1,
        "course_files": 2,
        "lines": len(second.lines()),
        "unassigned": 5,
        "unparsed": 0,
    }


def test_a_log_that_is_not_whole_gzip_fails_its_split_and_leaves_nothing(
    vault: Vault, pipeline_key: PipelineKey, small_buffers: list[str]
) -> None:
    # Given edX delivers a log cut short inside its gzip (gpg decrypts it fine), long enough
    # that the split has multipart uploads and spills under way when it reaches the cut
    whole = EventLog.of(FIRST_LOG, seed=3).gzipped()
    cut = whole[: len(whole) * 3 // 4]
    deliver(vault, pipeline_key, cut)
    # When a run syncs
    verdict = sync("run-cut")
    # Then the org-level log is published as delivered, and the split failed with its code
    assert verdict["status"] == "failed"
    bucket = vault.target.bucket
    assert vault.s3.get_object(Bucket=bucket, Key=LOG_OUTPUT_KEY)["Body"].read() == cut
    failures = stored_report(vault, "run-cut")["failures"]
    assert [(f["stage"], f["code"]) for f in failures] == [("split", "corrupt-gzip")]
    # And the split had started parts and spills, and left no course file, upload or spill
    operations = {call.split()[0] for call in small_buffers}
    assert {"UploadPart", "AbortMultipartUpload"} <= operations
    assert any(call.startswith(f"PutObject {COURSE_SPLIT_SPILL_PREFIX}") for call in small_buffers)
    assert course_versions(vault) == ([], [])
    assert_nothing_left_open(vault)
    row = vault.manifest.get(split_row(vault.event_bucket, event_log_key(ORG, SITE, DAY)))
    assert row is not None
    assert (row["status"], row["error_code"]) == ("failed", "corrupt-gzip")
    # When the admin retries the failures with nothing changed at edX
    retried = sync("run-retry", retry_failed=True)
    # Then the split is tried again and fails the same way, not skipped as settled
    assert retried["status"] == "failed"
    failures = stored_report(vault, "run-retry")["failures"]
    assert [(f["stage"], f["code"]) for f in failures] == [("split", "corrupt-gzip")]
    assert course_versions(vault) == ([], [])
    assert_nothing_left_open(vault)


def test_a_log_published_before_the_split_existed_is_split_by_the_next_run(
    vault: Vault, pipeline_key: PipelineKey
) -> None:
    # Given a log published and settled as a release without the split left it: no split
    # row, no course file, no index, and an object row settled without split_settled
    log = EventLog.of(FIRST_LOG, seed=4)
    deliver(vault, pipeline_key, log.gzipped())
    assert sync("run-old")["status"] == "succeeded"
    source = (vault.event_bucket, event_log_key(ORG, SITE, DAY))
    vault.table.delete_item(Key=split_row(*source).as_key())
    vault.table.update_item(
        Key=object_row(*source).as_key(),
        UpdateExpression="REMOVE #split",
        ExpressionAttributeNames={"#split": SPLIT_SETTLED},
    )
    bucket = vault.target.bucket
    versions, _ = course_versions(vault)
    for version in versions:
        vault.s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    vault.s3.delete_object(Bucket=bucket, Key=index_key(LOG_OUTPUT_KEY))
    before = vault.s3.list_object_versions(Bucket=bucket)["Versions"]
    # When the next run syncs
    verdict = sync("run-new")
    # Then it planned the log again, neither mirrored nor decrypted it again, and split it
    assert verdict["status"] == "succeeded", stored_report(vault, "run-new")["failures"]
    assert stored_report(vault, "run-new")["planned"] == 1
    assert [(r["status"], r.get("why")) for r in results(vault, "run-new", "decrypt")] == [
        ("skipped", "already_done")
    ]
    after = vault.s3.list_object_versions(Bucket=bucket)["Versions"]
    new = {v["Key"] for v in after} - {v["Key"] for v in before}
    assert not [key for key in new if key.startswith(("raw/", "events/"))]
    assert len([v for v in after if v["Key"].startswith(("raw/", "events/"))]) == len(
        [v for v in before if v["Key"].startswith(("raw/", "events/"))]
    )
    assert published_courses(vault) == expected_files(log)
    assert stored_report(vault, "run-new")["course_split"]["logs"] == 1
    # And the log is settled now: the run after plans nothing
    object_item = vault.manifest.get(object_row(*source))
    assert object_item is not None and object_item.get(SPLIT_SETTLED) is True
    assert sync("run-after")["status"] == "succeeded"
    assert stored_report(vault, "run-after")["planned"] == 0


@pytest.mark.parametrize("operation", ["UploadPart", "PutObject"])
def test_a_transient_fault_in_the_split_heals_within_the_run(
    vault: Vault,
    pipeline_key: PipelineKey,
    small_buffers: list[str],
    operation: str,
) -> None:
    # Given a log whose split sends parts (course A) and single PUTs (the others), and S3
    # throttling the first of those calls on a course file
    log = EventLog.of(FIRST_LOG, seed=5)
    deliver(vault, pipeline_key, log.gzipped())
    failed = fail_once(operation, lambda key: key.startswith(EVENTS_BY_COURSE_PREFIX))
    # When a run syncs
    verdict = sync("run-fault")
    # Then the fault happened, and the retried split finished within the same run
    assert failed
    assert verdict["status"] == "succeeded", stored_report(vault, "run-fault")["failures"]
    assert published_courses(vault) == expected_files(log)
    # And every version any attempt published has the same bytes as the one listed
    versions, _ = course_versions(vault)
    bucket = vault.target.bucket
    for version in versions:
        body = vault.s3.get_object(
            Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"]
        )["Body"].read()
        assert body == vault.s3.get_object(Bucket=bucket, Key=version["Key"])["Body"].read()
    assert_nothing_left_open(vault)
    assert any(call.startswith("CompleteMultipartUpload") for call in small_buffers)


def test_a_batch_retried_after_its_split_was_done_reports_the_counts(
    vault: Vault, pipeline_key: PipelineKey
) -> None:
    # Given a split whose batch fails after the split was done (its results file not written)
    log = EventLog.of(FIRST_LOG, seed=6)
    deliver(vault, pipeline_key, log.gzipped())
    failed = fail_once("PutObject", lambda key: "/results/split/" in key, code="InternalError")
    # When the state machine retries the batch
    verdict = sync("run-retried")
    # Then the retry finds the split done by this run and reports its counts, not a skip
    assert failed
    assert verdict["status"] == "succeeded"
    [result] = results(vault, "run-retried", "split")
    assert (result["status"], result["course_files"], result["lines"]) == (
        "done",
        2,
        len(log.lines()),
    )
    assert stored_report(vault, "run-retried")["course_split"] == {
        "logs": 1,
        "course_files": 2,
        "lines": len(log.lines()),
        "unassigned": FIRST_LOG[("", NO_COURSE)],
        "unparsed": FIRST_LOG[(NOT_JSON, UNPARSED)],
    }
    # And the split was not done twice: one version of each course file
    versions, markers = course_versions(vault)
    assert (len(versions), markers) == (len(log.by_course), [])
