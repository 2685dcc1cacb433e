"""Course files in bounded memory, spilled and sent in parts, published all at once or not at all.

The log here is a skewed org-day plus one course of incompressible events (base64 noise), so that
course's file passes S3's 5 MiB part size after a few MB of log. MemoryS3 refuses a part under
5 MiB that is not the last (EntityTooSmall) and injects faults (``fail_on``).
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.devtools.memory_s3 import MemoryS3
from edx_vault.devtools.synthetic.course_events import CorpusLine, skewed_org_day
from edx_vault.engine.course_files import S3_MIN_PART_BYTES, SplitLimits
from edx_vault.engine.errors import PermanentError
from edx_vault.package import course_ids
from edx_vault.package.bucket_layout import EVENTS_BY_COURSE_PREFIX, WORK_PREFIX
from tests.engine.test_course_split import (
    BUCKET,
    KMS_KEY,
    SMALL_LIMITS,
    SOURCE,
    SPILL_PREFIX,
    KiB,
    MiB,
    assert_split_as_expected,
    course_files,
    gzipped,
    put_log,
    split,
)

NOISY_COURSE = ("course-v1:MITx+Noise+2025_T1", "MITx-Noise-2025_T1")
# zlib's fastest level (these tests are about parts and faults, not compression), and room to
# hold every member: S3 calls are then the course files' own, and a fault can be aimed at one.
FAST = SplitLimits(
    member_bytes=64 * KiB, pending_bytes=1 * MiB, held_bytes=16 * MiB, part_bytes=5 * MiB,
    compress_level=1,
)  # fmt: skip
# Held members spill at 128 KiB: dozens of spills, and the noisy course's part read back from them.
SPILLING = SplitLimits(
    member_bytes=16 * KiB, pending_bytes=64 * KiB, held_bytes=128 * KiB, part_bytes=5 * MiB,
    compress_level=1,
)  # fmt: skip


def noisy_day(noise_bytes: int) -> list[CorpusLine]:
    """A skewed day of 40 courses with ``noise_bytes`` of base64 events of one more course,
    shuffled in (base64 of random bytes gzips to about 3/4 of its size)."""
    draw = random.Random(13)
    lines = list(skewed_org_day(40, 1_500, seed=13))
    for _ in range(noise_bytes // 4_000):
        record = {
            "event_type": "problem_check",
            "context": {"course_id": NOISY_COURSE[0]},
            "event": {"answers": base64.b64encode(draw.randbytes(3_000)).decode()},
        }
        lines.append(CorpusLine((json.dumps(record) + "\n").encode(), NOISY_COURSE[1], "noise"))
    draw.shuffle(lines)
    return lines


@pytest.fixture(scope="module")
def day() -> list[CorpusLine]:
    return noisy_day(7_600_000)


@pytest.fixture(scope="module")
def log(day: list[CorpusLine]) -> bytes:
    return gzipped(day)


@dataclass(frozen=True)
class CleanRun:
    """What a split of the log that met no fault published, and the S3 calls it made."""

    files: dict[str, bytes]
    calls: dict[str, int]


@pytest.fixture(scope="module")
def clean_runs(log: bytes) -> dict[SplitLimits, CleanRun]:
    runs = {}
    for limits in (FAST, SPILLING):
        s3 = MemoryS3()
        put_log(s3, log)
        split(s3, limits)
        runs[limits] = CleanRun(course_files(s3), dict(s3.calls))
    return runs


@dataclass
class PartRecordingS3(MemoryS3):
    """MemoryS3 that remembers the size of every part sent, per key."""

    part_sizes: dict[str, list[int]] = field(default_factory=dict)

    def upload_part(self, **call: Any) -> dict[str, Any]:
        self.part_sizes.setdefault(call["Key"], []).append(len(call["Body"]))
        return super().upload_part(**call)


def test_the_big_course_is_sent_in_parts_of_at_least_s3s_minimum(
    day: list[CorpusLine], log: bytes
) -> None:
    # Given a log whose noisy course gzips to over 5 MiB
    s3 = PartRecordingS3()
    put_log(s3, log)
    # When it is split
    result = split(s3, FAST)
    # Then that course went up in parts, every one but the last at least 5 MiB, and the upload
    # completed; every other course was one PUT
    [(key, sizes)] = s3.part_sizes.items()
    assert key == result.files[NOISY_COURSE[1]].key
    assert len(sizes) >= 2
    assert min(sizes[:-1]) >= S3_MIN_PART_BYTES
    assert s3.calls["complete_multipart_upload"] == 1
    assert s3.calls["put_object"] == len(result.files) - 1
    assert s3.uploads == {}
    # And the files hold the log's lines, each in its course's file
    assert_split_as_expected(s3, result, day)


def test_members_spill_when_held_memory_runs_short_and_no_spill_outlives_the_split(
    day: list[CorpusLine], log: bytes
) -> None:
    # Given limits that hold 128 KiB of members at most
    s3 = MemoryS3()
    put_log(s3, log)
    # When the log is split
    result = split(s3, SPILLING)
    # Then members were spilled, SSE-KMS, under the split's own prefix, and read back by range
    spills = [key for (_, key) in s3.versions if key.startswith(WORK_PREFIX)]
    assert len(spills) > 10
    assert all(key.startswith(SPILL_PREFIX) for key in spills)
    for key in spills:
        written, marker = s3.versions[(BUCKET, key)]
        assert written is not None and written.encryption["SSEKMSKeyId"] == KMS_KEY
        assert marker is None  # deleted once the files were published
    assert s3.calls["get_object"] > 1
    assert s3.keys(WORK_PREFIX) == []
    # And the course files are whole all the same
    assert_split_as_expected(s3, result, day)


def test_the_split_counts_the_spills_it_wrote(log: bytes) -> None:
    # Given limits that spill
    s3 = MemoryS3()
    put_log(s3, log)
    # When the log is split, then the result counts the spill objects written
    result = split(s3, SPILLING)
    assert result.spills == sum(1 for (_, key) in s3.versions if key.startswith(WORK_PREFIX)) > 0


# --- all or nothing ---------------------------------------------------------------------


def assert_nothing_left(s3: MemoryS3) -> None:
    """No course file current, no open multipart upload, no spill."""
    assert s3.keys(EVENTS_BY_COURSE_PREFIX) == []
    assert s3.uploads == {}
    assert s3.keys(WORK_PREFIX) == []


# A fault on the last call of its kind that a split meeting no fault makes (for get_object: a
# spill read back while publishing a course's single PUT).
LAST = -1


@pytest.mark.parametrize(
    ("limits", "fault"),
    [
        pytest.param(FAST, {"upload_part": 1}, id="first-part-while-reading"),
        pytest.param(FAST, {"upload_part": 2}, id="last-part-at-publish"),
        pytest.param(FAST, {"put_object": 6}, id="a-course-put-at-publish"),
        pytest.param(FAST, {"complete_multipart_upload": 1}, id="completing-the-upload"),
        pytest.param(SPILLING, {"put_object": 3}, id="writing-a-spill"),
        pytest.param(SPILLING, {"get_object": 4}, id="reading-a-spill-back-for-a-part"),
        pytest.param(SPILLING, {"get_object": LAST}, id="reading-a-spill-back-at-publish"),
    ],
)
def test_a_fault_anywhere_publishes_nothing_and_a_rerun_publishes_the_same_bytes(
    log: bytes, clean_runs: dict[SplitLimits, CleanRun], limits: SplitLimits, fault: dict[str, int]
) -> None:
    # Given S3 fails one call of the split
    clean = clean_runs[limits]
    s3 = MemoryS3()
    put_log(s3, log)
    [(call, number)] = fault.items()
    s3.fail_on = {call: clean.calls[call] if number == LAST else number}
    # When the log is split
    with pytest.raises(ClientError, match="injected"):
        split(s3, limits)
    # Then the fault did happen (publishing goes on to the end), and no course file is
    # current, no upload is open and no spill is left
    assert s3.calls[call] >= s3.fail_on[call]
    assert_nothing_left(s3)
    # And once S3 is well again, the split publishes what a split that met no fault does
    s3.fail_on = {}
    split(s3, limits)
    assert course_files(s3) == clean.files


def test_files_published_before_a_failed_course_are_taken_back(log: bytes) -> None:
    # Given the sixth course PUT of the publish fails
    s3 = MemoryS3()
    put_log(s3, log)
    s3.fail_on = {"put_object": 6}
    # When the log is split
    with pytest.raises(ClientError):
        split(s3, FAST)
    # Then files had been published, and each carries a delete marker now (history is kept)
    histories = [s3.versions[(BUCKET, key)] for (_, key) in s3.versions if "course=" in key]
    assert len(histories) >= 5
    assert all(history[-1] is None and history[0] is not None for history in histories)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-2_000], id="truncated"),
        pytest.param(lambda data: data[:-8], id="trailer-missing"),
        pytest.param(
            lambda data: (
                data[: len(data) // 2]
                + bytes([data[len(data) // 2] ^ 0xFF])
                + data[len(data) // 2 + 1 :]
            ),
            id="a-byte-flipped",
        ),
        pytest.param(lambda data: data + b"not gzip at all", id="trailing-garbage"),
    ],
)
def test_a_damaged_log_is_corrupt_gzip_and_publishes_nothing(log: bytes, damage: Any) -> None:
    # Given a log damaged at the end or in the middle (the noisy course's part is sent first)
    s3 = MemoryS3()
    put_log(s3, damage(log))
    # When it is split, then it is a permanent corrupt-gzip error and nothing is left
    with pytest.raises(PermanentError) as raised:
        split(s3, FAST)
    assert raised.value.code == "corrupt-gzip"
    assert_nothing_left(s3)


def test_a_log_replaced_since_the_split_was_planned_is_not_split(log: bytes) -> None:
    # Given the log at the key is another version than the one planned
    s3 = MemoryS3()
    put_log(s3, log, {**SOURCE, "source-version": "v8"})
    # When it is split, then it is output-replaced, and nothing was written
    with pytest.raises(PermanentError) as raised:
        split(s3)
    assert raised.value.code == "output-replaced"
    assert set(s3.calls) == {"get_object"}
    assert_nothing_left(s3)


def test_a_failed_resplit_leaves_no_new_file_current(
    log: bytes, clean_runs: dict[SplitLimits, CleanRun]
) -> None:
    # Given a bucket where the log was split before, and a new version of the log
    s3 = MemoryS3()
    put_log(s3, gzipped(noisy_day(200_000)))
    split(s3, FAST)
    earlier = {
        key: s3.objects[(BUCKET, key)].version_id for key in s3.keys(EVENTS_BY_COURSE_PREFIX)
    }
    put_log(s3, log)
    # When splitting the new version fails at the last part
    s3.fail_on = {"upload_part": 2}
    with pytest.raises(ClientError):
        split(s3, FAST)
    # Then every course file still current is one of the earlier split's versions (those the
    # failed split published and took back are hidden, earlier version and all, by the marker)
    current = {
        key: s3.objects[(BUCKET, key)].version_id for key in s3.keys(EVENTS_BY_COURSE_PREFIX)
    }
    assert current.items() <= earlier.items()
    assert s3.uploads == {}
    # And the rerun publishes what a split that met no fault does
    s3.fail_on = {}
    split(s3, FAST)
    assert course_files(s3) == clean_runs[FAST].files


# --- bounded memory ---------------------------------------------------------------------

# What the split holds beyond SplitLimits' buffers: the read buffer (1 MiB) and gzip's own,
# the course-id caches (8,192 entries each), one line's JSON, and the per-course bookkeeping.
MEMORY_SLACK = 6 * MiB
# 2,000 courses may cost more than 10 only by their bookkeeping (about 2 KiB a course at
# publish: its state, key, future and result), never by a buffer or a compressor per course.
COURSES_RATIO = 2.5


def traced_peak(courses: int, lines: int) -> tuple[int, int]:
    """The tracemalloc peak of splitting a day of ``courses``, and the day's plaintext size."""
    plaintext = b"".join(line.line for line in skewed_org_day(courses, lines, seed=21))
    s3 = MemoryS3()
    put_log(s3, gzip.compress(plaintext, mtime=0))
    s3.discard_bodies = True  # what the split writes is not what it holds
    course_ids.course_entity.cache_clear()
    course_ids.course_in_text.cache_clear()
    tracemalloc.start()
    try:
        split(s3, SMALL_LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, len(plaintext)


def test_memory_is_bounded_by_the_limits_not_by_the_courses_or_the_log() -> None:
    # Given two logs of the same size (about 10 MB), one of 10 courses and one of 2,000
    # When each is split with small limits, memory traced
    few, few_bytes = traced_peak(10, 16_000)
    many, many_bytes = traced_peak(2_000, 16_000)
    assert many_bytes == pytest.approx(few_bytes, rel=0.05)
    # Then both peaks stay within the limits' documented bound
    for peak in (few, many):
        assert peak < SMALL_LIMITS.peak_bytes + MEMORY_SLACK
    # And the log is not held: 10 courses take under a third of its plaintext (about 2.7 MiB
    # here, mostly the pending lines and the read buffers)
    assert few < few_bytes / 3
    # And 2,000 courses cost little more than 10 (about 4.7 MiB here)
    assert many < few * COURSES_RATIO
