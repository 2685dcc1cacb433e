"""The split by course in the pipeline's bookkeeping: which logs the decrypt hands on, how the
report counts splits, when an event log is settled, and what the planner takes up again."""

from __future__ import annotations

from typing import Any

import pytest

from edx_vault.pipeline import cost_model
from edx_vault.pipeline.manifest_rows import (
    SPLIT_SETTLED,
    UNITS_FAILED,
    UNITS_SETTLED,
    Status,
    source_up_to_date,
    split_row,
)
from edx_vault.pipeline.manifest_schema import OBJECT_SORT_KEY, SPLIT_SORT_KEY
from edx_vault.pipeline.run_accounting import COURSE_EVENTS_CATEGORY, ItemTally
from edx_vault.pipeline.run_report import _settling, published_count, summary_text
from edx_vault.pipeline.settle import settle_source
from edx_vault.pipeline.steps.decrypt import split_of
from edx_vault.pipeline.work_items import DecryptItem, ItemResult, MirrorItem, RecordedResult

LOG = "mitx/edx/events/2025/mitx-edx-events-2025-01-02.log.gz.gpg"
ZIP = "mitx-2025-01-05.zip"


def decrypt_item(key: str = LOG, member: str | None = None) -> DecryptItem:
    return DecryptItem(
        source_bucket="edx-course-data",
        source_key=key,
        etag='"e1"',
        raw_key=f"raw/edx-course-data/{key}",
        raw_size=1000,
        member=member,
        run_id="run-1",
    )


def result(stage: str, **fields: Any) -> RecordedResult:
    return RecordedResult.model_validate({"source_key": LOG, "stage": stage, **fields})


@pytest.mark.parametrize(
    ("item", "outcome", "split"),
    [
        (decrypt_item(), {"status": "done", "category": "events"}, True),
        (decrypt_item(), {"status": "skipped", "why": "already_done"}, True),
        (decrypt_item(), {"status": "skipped", "why": "already_failed", "code": "x"}, False),
        (decrypt_item(), {"status": "failed", "code": "tampered", "reason": "r"}, False),
        (
            decrypt_item(ZIP, "mitx-2025-01-05/x-auth_user-prod-analytics.sql.gpg"),
            {"status": "done", "category": "database"},
            False,
        ),
    ],
)
def test_the_decrypt_hands_on_only_event_logs_published_for_their_version(
    item: DecryptItem, outcome: dict[str, Any], split: bool
) -> None:
    # Given a unit's decrypt result / When the batch decides what to split
    handed = split_of(
        item,
        ItemResult.model_validate({"source_key": item.source_key, "stage": "decrypt", **outcome}),
    )
    # Then an event log published now or before is split, at its version; nothing else is
    assert (handed is not None) == split
    if handed is not None:
        assert (handed.source_key, handed.etag, handed.run_id) == (LOG, '"e1"', "run-1")


def test_the_tally_counts_course_files_apart_and_a_failed_split_as_a_failure() -> None:
    # Given a tally / When it counts a split done now, one done before, and one that failed
    tally = ItemTally(previously_failed=[])
    row = split_row("edx-course-data", LOG)
    done = {
        "status": "done",
        "category": COURSE_EVENTS_CATEGORY,
        "bytes": 900,
        "course_files": 3,
        "lines": 40,
        "unassigned": 4,
        "unparsed": 1,
    }
    tally.count("split", row, (LOG, None), result("split", **done))
    tally.count("split", row, ("b", None), result("split", status="skipped", why="already_done"))
    failed = {"status": "failed", "code": "corrupt-gzip", "reason": "not whole gzip"}
    tally.count("split", row, ("c", None), result("split", **failed))
    # Then the course files are a category of their own, the counts add up, the earlier split
    # is neither a failure nor counted again, and the failed split is a failure of its log
    assert tally.files == {COURSE_EVENTS_CATEGORY: {"count": 3, "bytes": 900}}
    assert tally.course_split == {
        "logs": 1,
        "course_files": 3,
        "lines": 40,
        "unassigned": 4,
        "unparsed": 1,
    }
    assert [(f["stage"], f["code"]) for f in tally.failures] == [("split", "corrupt-gzip")]
    assert tally.skipped == 0


def test_published_counts_edxs_files_and_the_summary_says_what_the_split_did() -> None:
    # Given a report with decrypted files and course files
    report: dict[str, Any] = {
        "run_id": "r",
        "status": "succeeded",
        "window": {"first_date": "2025-01-01", "last_date": "2025-01-02"},
        "planned": 1,
        "up_to_date": 0,
        "failures": [],
        "missing": [],
        "key_expiry": None,
        "estimated_cost_usd": 0.01,
        "files": {
            "events": {"count": 1, "bytes": 10},
            COURSE_EVENTS_CATEGORY: {"count": 5, "bytes": 12},
        },
        "course_split": {"logs": 1, "course_files": 5, "lines": 9, "unassigned": 2, "unparsed": 1},
    }
    # Then "published" is edX's files only, and the summary names the split's counts
    assert published_count(report) == 1
    assert "split 1 event logs by course: 5 course files, 2 events without a course" in (
        summary_text(report)
    )


def mirror_item(kind: str, key: str = LOG) -> MirrorItem:
    return MirrorItem.model_validate(
        {
            "source_bucket": "edx-course-data",
            "source_key": key,
            "etag": '"e1"',
            "size": 1,
            "last_modified": "2025-01-03T00:00:00Z",
            "kind": kind,
            "org": "mitx",
            "run_id": "r",
        }
    )


@pytest.mark.parametrize(
    ("unit", "split", "settled"),
    [
        ({"status": "done"}, {"status": "done"}, ("settled", 0)),
        (
            {"status": "done"},
            {"status": "failed", "code": "corrupt-gzip", "reason": "r"},
            ("settled", 1),
        ),
        ({"status": "done"}, None, ("from rows", None)),
        (
            {"status": "skipped", "why": "already_done"},
            {"status": "skipped", "why": "already_done"},
            ("settled", 0),
        ),
        ({"status": "failed", "code": "tampered", "reason": "r"}, None, ("settled", 1)),
    ],
)
def test_an_event_log_settles_from_its_results_only_with_its_split_finished(
    unit: dict[str, Any], split: dict[str, Any] | None, settled: tuple[str, int | None]
) -> None:
    # Given an event log mirrored by this run, its unit's result and its split's
    item = mirror_item("event-log")
    source = (item.source_bucket, item.source_key)
    mirror: dict[tuple[str, str | None], RecordedResult] = {
        (LOG, None): result("mirror", status="done")
    }
    splits = {} if split is None else {source: result("split", **split)}
    # When the report decides how to settle it
    to_settle, from_results = _settling(
        [item], mirror, {source: [result("decrypt", **unit)]}, splits
    )
    # Then it settles from the results (marking the split settled) only when both are known
    if settled[0] == "settled":
        assert from_results == [(*source, settled[1], True)] and to_settle == []
    else:
        assert to_settle == [(*source, True)] and from_results == []


class RowsManifest:
    """The two calls settle_source makes, over rows in memory."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.set: dict[str, Any] = {}

    def rows_of_source(self, bucket: str, key: str) -> list[dict[str, Any]]:
        return self.rows

    def set_attributes(self, row: Any, attributes: dict[str, Any]) -> None:
        self.set.update(attributes)


def rows(split_status: str | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"sk": OBJECT_SORT_KEY, "status": Status.DONE, "source_etag": "e", "unit_count": 1},
        {"sk": "decrypt", "status": Status.DONE, "source_etag": "e"},
    ]
    if split_status is not None:
        found.append({"sk": SPLIT_SORT_KEY, "status": split_status, "source_etag": "e"})
    return found


@pytest.mark.parametrize(
    ("split_status", "expected"),
    [
        (None, {}),
        (Status.IN_PROGRESS, {}),
        (Status.DONE, {UNITS_SETTLED: True, UNITS_FAILED: 0, SPLIT_SETTLED: True}),
        (Status.FAILED, {UNITS_SETTLED: True, UNITS_FAILED: 1, SPLIT_SETTLED: True}),
    ],
)
def test_an_event_log_settles_from_its_rows_once_its_split_is_finished(
    split_status: str | None, expected: dict[str, Any]
) -> None:
    # Given an event log's rows: mirrored, its unit published, its split in some state
    manifest = RowsManifest(rows(split_status))
    # When the report settles it
    settle_source(manifest, "edx-course-data", LOG, needs_split=True)  # type: ignore[arg-type]
    # Then the split row is never taken for a unit, and only a finished split settles the log
    assert manifest.set == expected


def test_a_zip_settles_without_a_split() -> None:
    manifest = RowsManifest(rows(None))
    settle_source(manifest, "course-data", ZIP)  # type: ignore[arg-type]
    assert manifest.set == {UNITS_SETTLED: True, UNITS_FAILED: 0}


def test_an_event_log_settled_before_the_split_existed_is_planned_again() -> None:
    # Given an object row settled by an older release (no split_settled)
    row = {"source_etag": "e", "status": Status.DONE, UNITS_SETTLED: True, UNITS_FAILED: 0}
    # Then a zip is up to date, an event log is not (the split is still to run); with the
    # split settled the event log is up to date too
    assert source_up_to_date(row, version="e", retry_failed=False)
    assert not source_up_to_date(row, version="e", retry_failed=False, needs_split=True)
    assert source_up_to_date(
        {**row, SPLIT_SETTLED: True}, version="e", retry_failed=False, needs_split=True
    )


def test_the_cost_estimate_grows_with_what_the_split_did() -> None:
    base = cost_model.RunVolume(
        mirrored_objects=10, mirrored_bytes=10**9, decrypted_units=10, decrypted_bytes=10**9
    )
    split = cost_model.RunVolume(
        mirrored_objects=10,
        mirrored_bytes=10**9,
        decrypted_units=10,
        decrypted_bytes=10**9,
        split_logs=10,
        course_files=2000,
        course_file_bytes=10**9,
    )
    assert cost_model.estimate_run_cost_usd(split) > cost_model.estimate_run_cost_usd(base)
