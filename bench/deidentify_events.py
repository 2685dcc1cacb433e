#!/usr/bin/env python3
"""Benchmark de-identifying event lines against parsing them, side by side in one process.

Prints one JSON document. The lines are the synthetic package's tracking-log events (the demo
package's generator, :func:`edx_vault.devtools.synthetic.event_logs.event_log`: page views,
video, problem, forum and enrollment events, with usernames, IPs and agents; synthetic, not
learner data), decompressed once into memory. Then, in N interleaved rounds over the same lines:

- ``json.loads`` of every line: the floor any per-line transform of JSON pays;
- :func:`edx_vault.package.course_ids.course_of_line` of every line: what the split by course
  pays to file a line;
- :class:`edx_vault.engine.deidentify_events.EventDeidentifier` of every line, under a fixed
  benchmark key: what the Deidentify step pays per line (gzip and S3 aside).

So this is the per-line CPU alone: no gzip, no S3, no network. The medians, plaintext MB/s and
lines/s of each, and the ratios de-identify/parse and de-identify/course rule. The cost model
(``edx_vault/pipeline/cost_model.py``) prices the step from this throughput.

Usage: ``.venv/bin/python bench/deidentify_events.py [--mb 32] [--runs 3]``.
The machine is shared and noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edx_vault.devtools.synthetic.event_logs import event_log  # noqa: E402
from edx_vault.devtools.synthetic.spec import demo_package_spec  # noqa: E402
from edx_vault.engine.deidentify_events import EventDeidentifier  # noqa: E402
from edx_vault.engine.pseudonyms import Pseudonymizer  # noqa: E402
from edx_vault.package.course_ids import course_of_line  # noqa: E402

DAY = dt.date(2024, 1, 7)
# A fixed key: the benchmark's pseudonyms protect nothing (the lines are synthetic).
BENCH_KEY = bytes(range(32))


def event_lines(megabytes: int) -> list[bytes]:
    """About ``megabytes`` of the demo package's first org's events on one day, as lines."""
    spec = dataclasses.replace(demo_package_spec(), event_log_bytes=megabytes * 100_000)
    org = spec.orgs[0]
    compressed = b"".join(event_log(spec, org, "edx", DAY))
    lines = gzip.decompress(compressed).splitlines(keepends=True)
    budget, kept, total = megabytes * 1_000_000, [], 0
    for line in lines:
        if total >= budget:
            break
        kept.append(line)
        total += len(line)
    return kept


def timed(transform: Callable[[bytes], Any], lines: Sequence[bytes]) -> float:
    started = time.perf_counter()
    for line in lines:
        transform(line)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=32, help="plaintext MB of event lines")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = event_lines(args.mb)
    plaintext = sum(map(len, lines))
    deidentifier = EventDeidentifier(Pseudonymizer(BENCH_KEY))
    measures: dict[str, Callable[[bytes], Any]] = {
        "json_parse": json.loads,
        "course_rule": course_of_line,
        "deidentify": deidentifier,
    }
    seconds: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(args.runs):  # interleaved: each round runs every measure once
        for name, transform in measures.items():
            seconds[name].append(timed(transform, lines))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    result = {
        "what": "per-line CPU over the same synthetic event lines, in memory (no gzip, no S3)",
        "lines": len(lines),
        "plaintext_bytes": plaintext,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "seconds": seconds,
        "median_seconds": medians,
        "plaintext_mb_per_s": {n: round(plaintext / 1e6 / s, 1) for n, s in medians.items()},
        "lines_per_s": {n: round(len(lines) / s) for n, s in medians.items()},
        "ratio_deidentify_to_json_parse": round(medians["deidentify"] / medians["json_parse"], 2),
        "ratio_deidentify_to_course_rule": round(medians["deidentify"] / medians["course_rule"], 2),
        # Over every round: the transform's own counts (lines seen, written, dropped, unknown types).
        "deidentify_counts": dataclasses.asdict(deidentifier.counts),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
