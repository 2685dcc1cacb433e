"""Splitting a daily event log by course: every line lands once, whole, in its course's file.

The split runs against :class:`~edx_vault.devtools.memory_s3.MemoryS3` on generated logs
(:mod:`edx_vault.devtools.synthetic.course_events`), whose lines carry the partition the rules
file them under, spelled independently of the rules. Memory, spills, multipart and failures are
in test_course_files.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterable

import pytest

from edx_vault.devtools.memory_s3 import MemoryS3
from edx_vault.devtools.synthetic.course_events import (
    CorpusLine,
    every_kind_corpus,
    skewed_org_day,
    skewed_weights,
)
from edx_vault.engine import course_split
from edx_vault.engine.course_files import SplitLimits
from edx_vault.engine.course_split import SplitLog, split_event_log
from edx_vault.package.bucket_layout import EVENTS_BY_COURSE_PREFIX, NO_COURSE, UNPARSED
from edx_vault.package.output_keys import course_event_log_output_key, event_log_output_key

KiB = 1024
MiB = 1024 * KiB
BUCKET = "vault"
KMS_KEY = "arn:aws:kms:us-east-1:111122223333:key/data"
DAY = dt.date(2025, 3, 5)
LOG_KEY = event_log_output_key("mitx", "edx", DAY)
SOURCE = {"source-etag": '"3f2a"', "source-version": "v7"}
SPILL_PREFIX = "_work/course-split/run-1/"
# The bounds the brief names: small enough that a few MB of log exercise every mechanism.
SMALL_LIMITS = SplitLimits(
    member_bytes=64 * KiB, pending_bytes=1 * MiB, held_bytes=2 * MiB, part_bytes=5 * MiB
)


# --- helpers, shared with test_course_files.py ------------------------------------------


def put_log(s3: MemoryS3, log: bytes, metadata: dict[str, str] | None = None) -> None:
    """Publish ``log`` (gzip bytes) as the org-day's log, then count S3 calls from zero."""
    s3.put_object(Bucket=BUCKET, Key=LOG_KEY, Body=log, Metadata=metadata or SOURCE)
    s3.calls.clear()


def gzipped(lines: Iterable[CorpusLine]) -> bytes:
    return gzip.compress(b"".join(line.line for line in lines), mtime=0)


def split(
    s3: MemoryS3, limits: SplitLimits | None = None, expected: dict[str, str] | None = None
) -> SplitLog:
    return split_event_log(
        s3,  # type: ignore[arg-type]  # MemoryS3 stands in for the boto3 client
        bucket=BUCKET,
        log_key=LOG_KEY,
        expected_metadata=SOURCE if expected is None else expected,
        kms_key_arn=KMS_KEY,
        key_of=lambda course: course_event_log_output_key("mitx", "edx", course, DAY),
        spill_prefix=SPILL_PREFIX,
        metadata={"split-from": LOG_KEY},
        limits=limits,
    )


def course_of_key(key: str) -> str:
    [level] = [part for part in key.split("/") if part.startswith("course=")]
    return level.removeprefix("course=")


def course_files(s3: MemoryS3) -> dict[str, bytes]:
    """Each current course file's gzip bytes, by course partition."""
    return {
        course_of_key(key): s3.objects[(BUCKET, key)].body
        for key in s3.keys(EVENTS_BY_COURSE_PREFIX)
    }


def lines_of(text: bytes) -> list[bytes]:
    """The lines of a course file's text, each with its "\\n" (every file is whole lines)."""
    assert text.endswith(b"\n") or not text
    return [line + b"\n" for line in text.split(b"\n")[:-1]]


def whole(line: bytes) -> bytes:
    """A line as the split writes it: a last line cut short is given its end of line."""
    return line if line.endswith(b"\n") else line + b"\n"


def expected_files(lines: Iterable[CorpusLine]) -> dict[str, Counter[bytes]]:
    expected: dict[str, Counter[bytes]] = {}
    for line in lines:
        expected.setdefault(line.partition, Counter())[whole(line.line)] += 1
    return expected


def split_files(s3: MemoryS3) -> dict[str, Counter[bytes]]:
    return {
        course: Counter(lines_of(gzip.decompress(body)))
        for course, body in course_files(s3).items()
    }


def assert_split_as_expected(s3: MemoryS3, result: SplitLog, lines: list[CorpusLine]) -> None:
    """Identity (the multiset of output lines is the input's), routing, and the counts."""
    expected = expected_files(lines)
    found = split_files(s3)
    output: Counter[bytes] = Counter()
    for course_lines in found.values():
        output.update(course_lines)
    assert output == Counter(whole(line.line) for line in lines)
    assert found == expected
    partitions = Counter(line.partition for line in lines)
    assert result.lines == len(lines)
    assert result.unassigned == partitions[NO_COURSE]
    assert result.unparsed == partitions[UNPARSED]
    assert result.course_files == len(set(partitions) - {NO_COURSE, UNPARSED})
    assert set(result.files) == set(partitions)
    for course, published in result.files.items():
        stored = s3.objects[(BUCKET, published.key)]
        assert course_of_key(published.key) == course
        assert (published.lines, published.plaintext_bytes) == (
            partitions[course],
            sum(len(line) * count for line, count in expected[course].items()),
        )
        assert (published.bytes, published.version_id) == (stored.size, stored.version_id)


# --- identity and routing ---------------------------------------------------------------


def test_every_kind_of_line_lands_once_whole_in_the_file_of_its_course() -> None:
    # Given a log with a line of every kind the rules tell apart (over 1 MB, invalid UTF-8,
    # not JSON, a last line cut short...)
    corpus = list(every_kind_corpus())
    s3 = MemoryS3()
    put_log(s3, gzipped(corpus))
    # When it is split
    result = split(s3)
    # Then every line is in the file of its partition, once, byte for byte (the cut last line
    # given its "\n"), and the counts say so
    assert_split_as_expected(s3, result, corpus)
    assert result.spills == 0


def test_a_skewed_day_splits_into_its_courses_with_small_limits() -> None:
    # Given an org-day of 300 courses, one with most of the events
    day = list(skewed_org_day(300, 8_000, seed=1))
    s3 = MemoryS3()
    put_log(s3, gzipped(day))
    # When it is split with small limits (the big course's file is many gzip members)
    result = split(s3, SMALL_LIMITS)
    # Then identity, routing and counts hold
    assert_split_as_expected(s3, result, day)
    # And every file carries the split's metadata and is encrypted under the data key
    for published in result.files.values():
        stored = s3.objects[(BUCKET, published.key)]
        assert stored.metadata == {"split-from": LOG_KEY}
        assert stored.encryption == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}


def gzip_members(data: bytes) -> int:
    """How many gzip members ``data`` is, each decompressed whole (raises if one is broken)."""
    members = 0
    while data:
        decompressor = zlib.decompressobj(31)
        decompressor.decompress(data)
        assert decompressor.eof, "a member is cut short"
        data, members = decompressor.unused_data, members + 1
    return members


def test_course_files_are_gzip_any_reader_takes_and_the_same_bytes_on_every_run() -> None:
    # Given a skewed day, split once
    day = gzipped(skewed_org_day(40, 4_000, seed=2))
    first = MemoryS3()
    put_log(first, day)
    split(first, SMALL_LIMITS)
    files = course_files(first)
    # Then every file reads the same with gzip.decompress, GzipFile and gzip -dc, and the big
    # course's file is several members
    for body in files.values():
        text = gzip.decompress(body)
        assert gzip.GzipFile(fileobj=io.BytesIO(body)).read() == text
        assert (
            subprocess.run(["gzip", "-dc"], input=body, capture_output=True, check=True).stdout
            == text
        )
    assert max(gzip_members(body) for body in files.values()) > 1
    # When the same log is split again, into a fresh bucket and over the first split
    again = MemoryS3()
    put_log(again, day)
    split(again, SMALL_LIMITS)
    split(first, SMALL_LIMITS)
    # Then the files are byte-for-byte the same
    assert course_files(again) == files
    assert course_files(first) == files


def test_every_member_of_a_multi_member_log_is_read() -> None:
    # Given a log that is two gzip members, as a concatenated file is
    corpus = list(every_kind_corpus(long_line_bytes=3_000))
    head, tail = corpus[:10], corpus[10:]
    s3 = MemoryS3()
    put_log(s3, gzipped(head) + gzipped(tail))
    # When it is split, then the lines of both members are there
    assert_split_as_expected(s3, split(s3), corpus)


def test_an_empty_log_publishes_no_file() -> None:
    s3 = MemoryS3()
    put_log(s3, gzip.compress(b"", mtime=0))
    result = split(s3)
    assert (result.files, result.lines, result.course_files) == ({}, 0, 0)
    assert s3.keys(EVENTS_BY_COURSE_PREFIX) == []


# --- lines longer than a piece ----------------------------------------------------------

PIECE = 1024


def test_a_line_longer_than_a_piece_lands_whole_under_unparsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given lines are read in pieces of 1 KiB, and a log with a valid event of 5 KB, lines of
    # a piece and one byte, and a line of exactly a piece
    monkeypatch.setattr(course_split, "MAX_LINE_PIECE_BYTES", PIECE)
    corpus = [
        line._replace(partition=UNPARSED) if line.case == "long_line" else line
        for line in every_kind_corpus(long_line_bytes=5_000)
    ]
    over = json.dumps({"context": {"course_id": "course-v1:A+B+C"}, "x": "y" * PIECE}).encode()
    exact = b'{"x": "' + b"z" * (PIECE - 10) + b'"}\n'
    assert len(exact) == PIECE
    corpus[1:1] = [
        CorpusLine(over[: PIECE - 1] + b"\n", UNPARSED, "a-piece-cut-json"),
        CorpusLine(over[:PIECE] + b"\n", UNPARSED, "a-piece-and-one"),
        CorpusLine(exact, NO_COURSE, "exactly-a-piece"),
    ]
    s3 = MemoryS3()
    put_log(s3, gzipped(corpus))
    # When it is split
    result = split(s3)
    # Then each long line is one whole line of the _unparsed file and counted once
    assert_split_as_expected(s3, result, corpus)


def test_a_long_last_line_without_its_end_of_line_is_still_one_whole_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given pieces of 1 KiB and a log whose last line is two pieces long, without "\n"
    monkeypatch.setattr(course_split, "MAX_LINE_PIECE_BYTES", PIECE)
    corpus = [
        CorpusLine(b'{"event_type": "/dashboard"}\n', NO_COURSE, "short"),
        CorpusLine(b"q" * (2 * PIECE), UNPARSED, "long-cut-last-line"),
    ]
    s3 = MemoryS3()
    put_log(s3, gzipped(corpus))
    # When it is split, then it is one whole line of _unparsed, counted
    assert_split_as_expected(s3, split(s3), corpus)


# --- the generated day itself -----------------------------------------------------------


def test_the_skewed_day_has_one_big_course_and_a_long_tail() -> None:
    # Given a generated day of 500 courses
    day = list(skewed_org_day(500, 20_000, seed=5))
    shares = Counter(line.partition for line in day)
    ranked = [count / len(day) for _, count in shares.most_common()]
    big_course, _ = shares.most_common(1)[0]
    # Then one course has about 62% of the lines, no-course events about 8%, every other
    # course under 5%, and over a hundred courses appear
    assert big_course.startswith("MITx-C0000x")
    assert ranked[0] == pytest.approx(0.62, abs=0.02)
    assert shares[NO_COURSE] / len(day) == pytest.approx(0.08, abs=0.01)
    assert max(
        count for course, count in shares.items() if course not in (big_course, NO_COURSE)
    ) < 0.05 * len(day)
    assert len(shares) > 100
    # And the weights the day is drawn from sum to the in-course share
    assert sum(skewed_weights(500, 0.62)) == pytest.approx(0.92)


def test_the_skewed_day_is_whole_json_lines_in_time_order_and_repeats_by_seed() -> None:
    day = [line.line for line in skewed_org_day(20, 3_000, seed="x")]
    events = [json.loads(line) for line in day]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in day)
    times = [event["time"] for event in events]
    assert times == sorted(times)
    assert all(time.startswith("2025-03-05T") for time in times)
    assert day == [line.line for line in skewed_org_day(20, 3_000, seed="x")]
    assert day != [line.line for line in skewed_org_day(20, 3_000, seed="y")]
