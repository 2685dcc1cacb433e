#!/usr/bin/env python3
"""Benchmark the split of a daily event log by course against ``zcat | wc -l``, and its memory.

Prints one JSON document. For each number of courses (10 and 2,000 by default), a skewed org-day
of the same plaintext size (:func:`edx_vault.devtools.synthetic.course_events.skewed_org_day`:
one course with about 62% of the lines, a long tail, 8% naming no course) is gzip'd to a temp
file (synthetic, not learner data). Then, in N interleaved rounds:

- ``zcat FILE | wc -l``, as subprocesses: the floor, decompressing and finding line ends;
- :func:`edx_vault.engine.course_split.split_event_log` on the same bytes, in a fresh interpreter,
  with :class:`~edx_vault.devtools.memory_s3.MemoryS3` (``discard_bodies=True``) as S3, and the
  default :class:`~edx_vault.engine.course_files.SplitLimits`. Timed around the call only.

So this is the engine alone: gzip reading, the course rules (one JSON parse a line), the
per-course gzip members and their bookkeeping. No S3, no network, no gpg. The medians, the ratio
split/zcat, plaintext MB/s, and the split child's peak RSS (VmHWM, see :func:`own_peak_rss`; the
gzip'd input it holds included, and also reported before the split) per number of courses.

Usage: ``.venv/bin/python bench/course_split.py [--mb 256] [--runs 3] [--courses 10 2000]``.
The machine is shared and noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edx_vault.devtools.memory_s3 import MemoryS3  # noqa: E402
from edx_vault.devtools.synthetic.course_events import skewed_org_day  # noqa: E402
from edx_vault.engine.course_files import SplitLimits  # noqa: E402
from edx_vault.engine.course_split import split_event_log  # noqa: E402
from edx_vault.package.output_keys import (  # noqa: E402
    course_event_log_output_key,
    event_log_output_key,
)

DAY = dt.date(2025, 3, 5)
BUCKET = "bench"
LOG_KEY = event_log_output_key("mitx", "edx", DAY)
GZIP_LEVEL = 6  # gzip's default, as edX's logs
LINES_PER_WRITE = 4096


def write_org_day(path: Path, courses: int, megabytes: int) -> dict[str, int]:
    """Gzip a skewed org-day of about ``megabytes`` of plaintext to ``path``, streaming."""
    sample = [line.line for line in skewed_org_day(courses, 2_000, seed=courses)]
    lines = int(megabytes * 1e6 * len(sample) / sum(map(len, sample)))
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    plaintext = 0
    batch: list[bytes] = []
    with path.open("wb") as out:
        for item in skewed_org_day(courses, lines, seed=courses):
            batch.append(item.line)
            if len(batch) == LINES_PER_WRITE:
                chunk = b"".join(batch)
                plaintext += len(chunk)
                out.write(compressor.compress(chunk))
                batch = []
        chunk = b"".join(batch)
        plaintext += len(chunk)
        out.write(compressor.compress(chunk) + compressor.flush())
    return {"lines": lines, "plaintext_bytes": plaintext, "gzip_bytes": path.stat().st_size}


def time_zcat(path: Path, expected_lines: int) -> float:
    started = time.perf_counter()
    with subprocess.Popen(["zcat", str(path)], stdout=subprocess.PIPE) as zcat:
        counted = subprocess.run(
            ["wc", "-l"], stdin=zcat.stdout, capture_output=True, text=True, check=True
        ).stdout
        assert zcat.wait() == 0
    seconds = time.perf_counter() - started
    assert int(counted.split()[0]) == expected_lines, counted
    return seconds


def own_peak_rss() -> int:
    """This process's peak RSS, VmHWM: the high-water mark of its own memory since exec.

    Not ru_maxrss: on Linux a child's ru_maxrss starts at its parent's RSS when it was spawned
    (exec keeps the larger of the old and new memory's high-water marks), so it would measure
    the benchmark's parent as much as the split.
    """
    status = Path("/proc/self/status").read_text()
    [line] = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) * 1024


def split_in_this_process(path: Path) -> dict[str, Any]:
    """Split the log at ``path`` with MemoryS3 as S3; the figures of the split alone."""
    s3 = MemoryS3()
    s3.put_object(Bucket=BUCKET, Key=LOG_KEY, Body=path.read_bytes(), Metadata={"etag": "e"})
    s3.discard_bodies = True  # keep the sizes of what is written, not the bytes
    peak_before = own_peak_rss()
    started = time.perf_counter()
    result = split_event_log(
        s3,  # type: ignore[arg-type]  # MemoryS3 stands in for the boto3 client
        bucket=BUCKET,
        log_key=LOG_KEY,
        expected_metadata={"etag": "e"},
        kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/bench",
        key_of=lambda course: course_event_log_output_key("mitx", "edx", course, DAY),
        spill_prefix="_work/course-split/bench/",
        metadata={},
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_before_split_bytes": peak_before,
        "peak_rss_bytes": own_peak_rss(),
        # ru_maxrss is in KiB on Linux; see own_peak_rss for why it is not the figure.
        "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "lines": result.lines,
        "files": len(result.files),
        "spills": result.spills,
        "gzip_bytes_written": sum(file.bytes for file in result.files.values()),
    }


def split_in_a_child(path: Path, runs: list[dict[str, Any]]) -> float:
    """Run the split in a fresh interpreter (its own peak RSS); record its figures in ``runs``."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[2]);"
        "from pathlib import Path; from bench.course_split import split_in_this_process;"
        "print(json.dumps(split_in_this_process(Path(sys.argv[1]))))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    runs.append(json.loads(output.strip().splitlines()[-1]))
    return float(runs[-1]["seconds"])


def interleaved(runs: int, *measures: Callable[[], float]) -> list[float]:
    """The median of each measure over ``runs`` rounds, each round running every measure once."""
    times: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for measure, samples in zip(measures, times, strict=True):
            samples.append(measure())
    return [statistics.median(samples) for samples in times]


def bench_courses(path: Path, courses: int, megabytes: int, runs: int) -> dict[str, Any]:
    day = write_org_day(path, courses, megabytes)
    children: list[dict[str, Any]] = []
    zcat, ours = interleaved(
        runs,
        lambda: time_zcat(path, day["lines"]),
        lambda: split_in_a_child(path, children),
    )
    assert all(child["lines"] == day["lines"] for child in children)
    plaintext_mb = day["plaintext_bytes"] / 1e6
    return {
        "courses": courses,
        **day,
        "course_files": children[-1]["files"],
        "spills": children[-1]["spills"],
        "gzip_bytes_written": children[-1]["gzip_bytes_written"],
        "zcat_wc_seconds": round(zcat, 3),
        "split_seconds": round(ours, 3),
        "ratio_split_to_zcat": round(ours / zcat, 2),
        "zcat_plaintext_mb_per_s": round(plaintext_mb / zcat, 1),
        "split_plaintext_mb_per_s": round(plaintext_mb / ours, 1),
        "split_peak_rss_before_split_bytes": max(
            child["peak_rss_before_split_bytes"] for child in children
        ),
        "split_peak_rss_bytes": max(child["peak_rss_bytes"] for child in children),
        "split_ru_maxrss_bytes": max(child["ru_maxrss_bytes"] for child in children),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=256, help="plaintext MB of each org-day")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--courses", type=int, nargs="+", default=[10, 2000])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edxv-bench-split-"))
    try:
        results = [
            bench_courses(work / f"{courses}.log.gz", courses, args.mb, args.runs)
            for courses in args.courses
        ]
        peaks = [result["split_peak_rss_bytes"] for result in results]
        report = {
            "what": "edx-vault split of one event log by course (engine alone: gzip read, course "
            "rules, per-course gzip members) vs zcat FILE | wc -l on the same file; S3 is an "
            "in-memory stand-in that discards what is written; no network, no gpg",
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "load_average_at_start": os.getloadavg(),
            },
            "runs_per_figure": args.runs,
            "log": f"synthetic skewed org-day (skewed_org_day), gzip level {GZIP_LEVEL}",
            "split_limits": "SplitLimits() defaults",
            "split_limits_peak_bytes": SplitLimits().peak_bytes,
            "by_courses": results,
            "peak_rss_difference_mb": round((max(peaks) - min(peaks)) / 2**20, 1),
            "note": "split seconds are timed around split_event_log in the child (no interpreter "
            "start or import); zcat seconds include starting zcat and wc. Peak RSS is the "
            "child's own VmHWM (ru_maxrss, also reported, starts at the parent's RSS on Linux) and "
            "includes the interpreter, the imports and the gzip'd input it holds (see "
            "split_peak_rss_before_split_bytes).",
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
