"""The product end to end on the embedded AWS, as an admin drives it with the CLI.

`local up` (the synthesized stacks deployed into moto), `keygen`, `local seed`,
`import-credentials`, `sync --wait` running the real state machine with the real handlers;
then the published objects, the manifest and the report are checked (each daily event log split
by course too), a second sync must change nothing, and a sync over a package with one corrupt
file must fail loudly while publishing every good file and splitting every good log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.seed import seed, seed_package_spec
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedUnit
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.package.bucket_layout import (
    EVENTS_BY_COURSE_PREFIX,
    EVENTS_PREFIX,
    NO_COURSE,
    NOT_COURSES,
    UNPARSED,
)
from edx_vault.package.course_ids import course_of_line
from edx_vault.package.output_keys import course_event_log_output_key
from edx_vault.pipeline.manifest_rows import SPLIT_SETTLED, object_row, split_row
from edx_vault.pipeline.run_accounting import COURSE_EVENTS_CATEGORY
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import load_config
from tests.local.conftest import EXAMPLE_CONFIG
from tests.local.synced_vault import Synced, sync_and_wait

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("cli_environment"),
]


@dataclass(frozen=True)
class CourseFile:
    """One course file as listed and read: its key, lines, size, encryption and metadata."""

    key: str
    lines: list[bytes]
    size: int
    encryption: tuple[str | None, str | None]
    metadata: dict[str, str]


def event_logs(units: Sequence[GeneratedUnit]) -> list[GeneratedUnit]:
    """The daily event logs among published units."""
    return [u for u in units if u.output_key and u.output_key.startswith(EVENTS_PREFIX)]


def course_files_of(s3: Any, bucket: str, log: GeneratedUnit) -> dict[str, CourseFile]:
    """The course files listed for an event log (its org, site and date), by course partition
    value; each at the key the layout gives it."""
    assert log.output_key is not None and log.site is not None
    _, org, site, date, _ = log.output_key.split("/")
    day = dt.date.fromisoformat(date.removeprefix("date="))
    files: dict[str, CourseFile] = {}
    prefix = f"{EVENTS_BY_COURSE_PREFIX}{org}/{site}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for key in [entry["Key"] for entry in page.get("Contents", [])]:
            if key.split("/")[4] != date:
                continue
            course = key.split("/")[3].removeprefix("course=")
            assert key == course_event_log_output_key(org[4:], log.site, course, day)
            got = s3.get_object(Bucket=bucket, Key=key)
            plaintext = gzip.decompress(got["Body"].read())
            assert plaintext.endswith(b"\n"), f"{key} does not end with a whole line"
            files[course] = CourseFile(
                key=key,
                lines=plaintext.splitlines(keepends=True),
                size=int(got["ContentLength"]),
                encryption=(got.get("ServerSideEncryption"), got.get("SSEKMSKeyId")),
                metadata=got["Metadata"],
            )
    return files


def assert_split_exactly(synced: Synced, unit: GeneratedUnit) -> dict[str, CourseFile]:
    """The log's course files hold exactly its lines, each line in its course's file, under the
    data key, with the provenance of the source version at edX now; the files."""
    assert unit.output_key is not None
    s3 = synced.aws.client("s3")
    log = s3.get_object(Bucket=synced.bucket, Key=unit.output_key)["Body"].read()
    files = course_files_of(s3, synced.bucket, unit)
    assert files, f"no course file for {unit.output_key}"
    split_lines = sum((Counter(file.lines) for file in files.values()), Counter[bytes]())
    assert split_lines == Counter(gzip.decompress(log).splitlines(keepends=True))
    provenance = {
        "source-bucket": unit.source_bucket,
        "source-key": unit.source_key,
        "source-etag": synced.edx_etag(unit),
    }
    data_key = synced.output(stack_outputs.DATA_KEY_ARN)
    for course, file in files.items():
        assert {course_of_line(line) for line in file.lines} == {course}
        assert file.encryption == ("aws:kms", data_key)
        assert {name: file.metadata.get(name) for name in provenance} == provenance
    return files


def test_the_sync_succeeds_and_publishes_every_file_byte_for_byte(synced: Synced) -> None:
    assert synced.first_sync_status == 0
    s3 = synced.aws.client("s3")
    data_key = synced.output(stack_outputs.DATA_KEY_ARN)
    units = synced.seeded.package.published_units
    assert units
    for unit in units:
        assert unit.output_key is not None
        got = s3.get_object(Bucket=synced.bucket, Key=unit.output_key)
        assert hashlib.sha256(got["Body"].read()).hexdigest() == unit.plaintext_sha256
        assert got["ServerSideEncryption"] == "aws:kms"
        assert got["SSEKMSKeyId"] == data_key


def test_the_manifest_records_each_file_with_its_digest(synced: Synced) -> None:
    rows = {row.get("output_key"): row for row in synced.manifest().scan()}
    for unit in synced.seeded.package.published_units:
        row = rows[unit.output_key]
        assert row["status"] == "done"
        assert row["plaintext_sha256"] == unit.plaintext_sha256
        assert row["plaintext_bytes"] == unit.plaintext_size


def test_the_report_counts_every_file_and_no_failure(synced: Synced) -> None:
    report = synced.report(synced.latest_run_id())
    assert report["status"] == "succeeded"
    assert report["failures"] == []
    published = sum(
        totals["count"]
        for category, totals in report["files"].items()
        if category != COURSE_EVENTS_CATEGORY
    )
    assert published == len(synced.seeded.package.published_units)
    assert report["estimated_cost_usd"] > 0
    assert report["key_expiry"]["days_left"] > 300  # keygen's default is two years


def test_every_event_log_is_split_into_course_files_holding_exactly_its_lines(
    synced: Synced,
) -> None:
    # Given the first sync's published event logs
    logs = event_logs(synced.seeded.package.published_units)
    assert logs
    # When their course files are read / Then each log's lines are exactly its files' lines,
    # each in its course's file, under the data key, saying which source version they are
    splits = [assert_split_exactly(synced, unit) for unit in logs]
    courses = {course for files in splits for course in files}
    # And real courses are among them (not only events without a course)
    assert courses - set(NOT_COURSES)
    # And events-by-course/ holds nothing but these logs' files
    listed = synced.aws.client("s3").list_objects_v2(
        Bucket=synced.bucket, Prefix=EVENTS_BY_COURSE_PREFIX
    )
    assert listed["KeyCount"] == sum(len(files) for files in splits)


def test_the_manifest_and_the_report_count_each_split(synced: Synced) -> None:
    # Given the first sync's event logs and their course files
    s3 = synced.aws.client("s3")
    manifest = synced.manifest()
    logs = event_logs(synced.seeded.package.published_units)
    totals = Counter[str]()
    all_bytes = 0
    for unit in logs:
        files = course_files_of(s3, synced.bucket, unit)
        # When the log's split row is read
        row = manifest.get(split_row(unit.source_bucket, unit.source_key))
        # Then it is done for the version at edX, with what its files hold
        assert row is not None
        assert (row["status"], row["source_etag"]) == ("done", synced.edx_etag(unit))
        counted = {
            "course_files": len([course for course in files if course not in NOT_COURSES]),
            "lines": sum(len(file.lines) for file in files.values()),
            "unassigned": len(files[NO_COURSE].lines) if NO_COURSE in files else 0,
            "unparsed": len(files[UNPARSED].lines) if UNPARSED in files else 0,
        }
        assert {name: row[name] for name in counted} == counted
        assert (row["files"], row["bytes"]) == (len(files), sum(f.size for f in files.values()))
        # And the log's object row is settled with its split
        object_item = manifest.get(object_row(unit.source_bucket, unit.source_key))
        assert object_item is not None and object_item.get(SPLIT_SETTLED) is True
        totals.update(counted)
        all_bytes += row["bytes"]
    # And the first run's report adds the splits up
    report = synced.report(synced.latest_run_id())
    assert report["course_split"] == {"logs": len(logs), **totals}
    course_files = {"count": totals["course_files"], "bytes": all_bytes}
    assert report["files"][COURSE_EVENTS_CATEGORY] == course_files


def test_a_second_sync_changes_nothing(synced: Synced) -> None:
    s3 = synced.aws.client("s3")

    def versions() -> int:  # under events/ and events-by-course/ alike
        listed = s3.list_object_versions(Bucket=synced.bucket, Prefix="events")
        return len(listed["Versions"]) + len(listed.get("DeleteMarkers", []))

    before = versions()
    assert sync_and_wait() == 0
    report = synced.report(synced.latest_run_id())
    assert report["planned"] == 0
    assert report["up_to_date"] == len(synced.seeded.package.objects)
    assert report["course_split"]["logs"] == 0
    assert versions() == before


def test_a_corrupt_file_fails_the_run_loudly_and_the_good_files_are_published(
    synced: Synced, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given edX re-issues the package with one tampered event log (every file gets a new ETag)
    reseeded = seed(
        config=load_config(EXAMPLE_CONFIG),
        endpoint=synced.aws.state.endpoint,
        region=synced.aws.state.region,
        credentials_out=synced.work / "credentials-2.csv.gpg",
        size="small",
        corrupt=True,
    )
    assert reseeded.corrupted is not None
    corrupted_key = reseeded.corrupted.partition("/")[2]
    capsys.readouterr()
    # When the admin syncs / Then the command fails and the report names the file and why
    assert sync_and_wait() != 0
    report = synced.report(synced.latest_run_id())
    assert report["status"] == "failed"
    tampered = [f for f in report["failures"] if f["source_key"] == corrupted_key]
    assert [f["code"] for f in tampered] in (["tampered"], ["corrupt"])
    # And every other file of the re-issued package is published with its new content
    s3 = synced.aws.client("s3")
    for unit in reseeded.package.published_units:
        if unit.source_key == corrupted_key:
            continue
        assert unit.output_key is not None
        body = s3.get_object(Bucket=synced.bucket, Key=unit.output_key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == unit.plaintext_sha256
    # And every other event log is split again, its course files from its new version
    logs = event_logs(reseeded.package.published_units)
    good_logs = [unit for unit in logs if unit.source_key != corrupted_key]
    assert good_logs and all(assert_split_exactly(synced, unit) for unit in good_logs)
    assert report["course_split"]["logs"] == len(good_logs)
    assert s3.list_multipart_uploads(Bucket=synced.bucket).get("Uploads", []) == []


def test_a_weekly_zip_dated_the_runs_own_day_is_published_by_that_run(synced: Synced) -> None:
    # Given edX delivers a weekly zip and an email opt-in zip dated today (the default schedule
    # runs on Sundays, the day edX dates its zip), after the runs above
    today = dt.datetime.now(dt.UTC).date()
    spec = dataclasses.replace(
        seed_package_spec(load_config(EXAMPLE_CONFIG), "small"),
        event_dates=(),
        export_dates=(today,),
        failed_member=False,
    )
    public_key = (synced.work / "p.asc").read_text()
    package = generate_package(spec, [public_key], synced.work / "dated-today")
    upload_package(package, synced.aws.root_client("s3"))
    assert {obj.kind for obj in package.objects} == {"weekly-zip", "email-opt-in-zip"}
    # When the admin syncs that same day
    assert sync_and_wait() == 0
    # Then that run publishes every file in them: the window of expected files ends
    # yesterday, but what exists at edX is mirrored whatever its date
    report = synced.report(synced.latest_run_id())
    assert report["planned"] == len(package.objects)
    s3 = synced.aws.client("s3")
    for unit in package.published_units:
        assert unit.output_key is not None
        body = s3.get_object(Bucket=synced.bucket, Key=unit.output_key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == unit.plaintext_sha256
    assert {"database", "email-opt-in"} <= set(report["files"])


def test_a_reissued_event_log_replaces_its_course_files(synced: Synced) -> None:
    # Given an event log split by an earlier run, with a course edX then drops from it: edX
    # re-issues the log without that course's events
    s3 = synced.aws.client("s3")
    logs = event_logs(synced.seeded.package.published_units)
    unit, files = next(
        (unit, files)
        for unit in logs
        for files in [course_files_of(s3, synced.bucket, unit)]
        if set(files) - set(NOT_COURSES)
        and {f.metadata.get("source-etag") for f in files.values()} == {synced.edx_etag(unit)}
    )
    assert unit.output_key is not None
    dropped = sorted(set(files) - set(NOT_COURSES))[0]
    log = s3.get_object(Bucket=synced.bucket, Key=unit.output_key)["Body"].read()
    gone = set(files[dropped].lines)
    kept = [line for line in gzip.decompress(log).splitlines(keepends=True) if line not in gone]
    reissued = gzip.compress(b"".join(kept), mtime=0)
    encrypted = encrypt_to_recipients(reissued, [(synced.work / "p.asc").read_text()])
    edx = synced.aws.root_client("s3")
    edx.put_object(Bucket=unit.source_bucket, Key=unit.source_key, Body=encrypted)
    # When the admin syncs
    assert sync_and_wait() == 0
    # Then the log is published anew and its course files are the new version's, exactly
    assert s3.get_object(Bucket=synced.bucket, Key=unit.output_key)["Body"].read() == reissued
    now = assert_split_exactly(synced, unit)
    assert dropped not in now
    # And the dropped course's file is gone from the listing, its history kept
    versions = s3.list_object_versions(Bucket=synced.bucket, Prefix=files[dropped].key)
    [marker] = versions.get("DeleteMarkers", [])
    assert marker["IsLatest"] and versions["Versions"]
