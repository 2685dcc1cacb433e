"""What the fault matrix checks of the split by course: each case's event log, split exactly once
its run heals, and no course file partial, stray or left half published.

A course file's bytes are not known in advance (the generator knows the org-level log's digest,
not how its lines fall into courses), so a case's course files are checked against the published
org-level log, itself checked byte for byte: together they hold exactly its lines, each in its
course's file, under the data key. A split may publish a course file more than once (a retried
split publishes the same bytes again, over the delete markers of an attempt that failed
part-way), so every version of a course file must have the bytes of the current one.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edx_vault.devtools.synthetic.generated import GeneratedUnit
from edx_vault.package.bucket_layout import EVENTS_BY_COURSE_PREFIX, EVENTS_PREFIX
from edx_vault.package.course_ids import course_of_line
from edx_vault.pipeline.run_accounting import COURSE_EVENTS_CATEGORY


def event_logs(units: Iterable[GeneratedUnit]) -> list[GeneratedUnit]:
    """The daily event logs among a case's published units."""
    return [u for u in units if u.output_key and u.output_key.startswith(EVENTS_PREFIX)]


def is_course_file_of(key: str, log_key: str) -> bool:
    """Whether ``key`` is a course file split from the org-level log at ``log_key``:
    ``events-by-course/{org}/{site}/{course}/{date}/{log name without .log.gz}.{course}.log.gz``."""
    _, org, site, date, name = log_key.split("/")
    parts = key.split("/")
    if len(parts) != 6 or parts[0] != EVENTS_BY_COURSE_PREFIX.rstrip("/"):
        return False
    course = parts[3].removeprefix("course=")
    expected = [
        parts[0],
        org,
        site,
        parts[3],
        date,
        f"{name.removesuffix('.log.gz')}.{course}.log.gz",
    ]
    return parts == expected


def published_count(report: Mapping[str, Any]) -> int:
    """How many of edX's files the report says its run published (course files apart)."""
    return sum(
        int(totals["count"])
        for category, totals in report["files"].items()
        if category != COURSE_EVENTS_CATEGORY
    )


def split_problems(s3: Any, bucket: str, data_key_arn: str, unit: GeneratedUnit) -> list[str]:
    """What is wrong with the course files of one published event log (nothing when right).

    A log that is not published is not looked at (that is the unit's own problem).
    """
    assert unit.output_key is not None
    try:
        log = s3.get_object(Bucket=bucket, Key=unit.output_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return []
    _, org, site, _, _ = unit.output_key.split("/")
    prefix = f"{EVENTS_BY_COURSE_PREFIX}{org}/{site}/"
    keys = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
        if is_course_file_of(entry["Key"], unit.output_key)
    ]
    if not keys:
        return [f"not split by course: {unit.source_key}"]
    problems = []
    lines = Counter[bytes]()
    for key in keys:
        got = s3.get_object(Bucket=bucket, Key=key)
        file_lines = gzip.decompress(got["Body"].read()).splitlines(keepends=True)
        lines.update(file_lines)
        course = key.split("/")[3].removeprefix("course=")
        if {course_of_line(line) for line in file_lines} != {course}:
            problems.append(f"lines of another course in {key}")
        if (got.get("ServerSideEncryption"), got.get("SSEKMSKeyId")) != ("aws:kms", data_key_arn):
            problems.append(f"course file not under the data key: {key}")
    if lines != Counter(gzip.decompress(log).splitlines(keepends=True)):
        problems.append(f"course files do not hold exactly the lines of {unit.output_key}")
    return problems


def course_file_leftovers(
    s3: Any,
    bucket: str,
    key: str,
    entries: Sequence[Mapping[str, Any]],
    log_keys: Sequence[str],
) -> list[str]:
    """What is wrong with the versions of one course file: none of the case's logs' files, a
    delete marker over it, or a version whose bytes are not the current one's."""
    if not any(is_course_file_of(key, log_key) for log_key in log_keys):
        return [f"unexpected object {key}"]
    latest = [entry for entry in entries if entry.get("IsLatest")]
    if not latest or latest[0].get("DeleteMarker"):
        return [f"delete marker on {key}"]
    current = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [
        f"partial or wrong course file {key} ({entry['Size']} bytes)"
        for entry in entries
        if not entry.get("DeleteMarker")
        and s3.get_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])["Body"].read()
        != current
    ]
