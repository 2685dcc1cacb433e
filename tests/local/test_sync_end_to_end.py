"""The product end to end on the embedded AWS, as an admin drives it with the CLI.

`local up` (the synthesized stacks deployed into moto), `keygen`, `local seed`,
`import-credentials`, `sync --wait` running the real state machine with the real handlers;
then the published objects, the manifest and the report are checked, a second sync must change
nothing, and a sync over a package with one corrupt file must fail loudly while publishing every
good file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from edx_vault.cli import main
from edx_vault.devtools.embedded_aws.seed import SeedResult, seed, seed_package_spec
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.pipeline.manifest import Manifest
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import load_config
from tests.local.conftest import EXAMPLE_CONFIG, RunningAws, start, stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORAGE = stack_outputs.stack_name("EdxVault", stack_outputs.STORAGE_STACK_SUFFIX)


@dataclass(frozen=True)
class Synced:
    aws: RunningAws
    seeded: SeedResult
    first_sync_status: int
    work: Path

    def output(self, name: str) -> str:
        return self.aws.output(STORAGE, name)

    @property
    def bucket(self) -> str:
        return self.output(stack_outputs.DATA_BUCKET)

    def report(self, run_id: str) -> dict[str, Any]:
        s3 = self.aws.client("s3")
        body = s3.get_object(Bucket=self.bucket, Key=f"reports/{run_id}.json")["Body"].read()
        report: dict[str, Any] = json.loads(body)
        return report

    def latest_run_id(self) -> str:
        s3 = self.aws.client("s3")
        reports = s3.list_objects_v2(Bucket=self.bucket, Prefix="reports/")["Contents"]
        newest = max(reports, key=lambda entry: entry["LastModified"])
        return str(newest["Key"]).removeprefix("reports/").removesuffix(".json")


def sync_and_wait() -> int:
    return main(["sync", "--wait"])


@pytest.fixture(scope="module")
def synced(vault_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    work = tmp_path_factory.mktemp("e2e")
    aws = start(work / "state" / "local.json", vault_assembly)
    saved = dict(os.environ)
    os.environ.update(aws.state.environment())
    os.environ["EDX_VAULT_CONFIG"] = str(EXAMPLE_CONFIG)
    try:
        # Given the pipeline key, a small package from "edX" and the imported credentials
        assert main(["keygen", "--email", "czar@example.edu", "--out", str(work / "p.asc")]) == 0
        seeded = seed(
            config=load_config(EXAMPLE_CONFIG),
            endpoint=aws.state.endpoint,
            region=aws.state.region,
            credentials_out=work / "credentials.csv.gpg",
            size="small",
        )
        assert main(["import-credentials", str(seeded.credentials_file)]) == 0
        # When the admin runs a sync and waits for it
        status = sync_and_wait()
        yield Synced(aws, seeded, status, work)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stop(aws)


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
    table_name = synced.output(stack_outputs.MANIFEST_TABLE)
    resource = boto3.resource(
        "dynamodb",
        endpoint_url=synced.aws.state.endpoint,
        region_name=synced.aws.state.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    rows = {row.get("output_key"): row for row in Manifest(resource.Table(table_name)).scan()}
    for unit in synced.seeded.package.published_units:
        row = rows[unit.output_key]
        assert row["status"] == "done"
        assert row["plaintext_sha256"] == unit.plaintext_sha256
        assert row["plaintext_bytes"] == unit.plaintext_size


def test_the_report_counts_every_file_and_no_failure(synced: Synced) -> None:
    report = synced.report(synced.latest_run_id())
    assert report["status"] == "succeeded"
    assert report["failures"] == []
    published = sum(totals["count"] for totals in report["files"].values())
    assert published == len(synced.seeded.package.published_units)
    assert report["estimated_cost_usd"] > 0
    assert report["key_expiry"]["days_left"] > 300  # keygen's default is two years


def test_a_second_sync_changes_nothing(synced: Synced) -> None:
    s3 = synced.aws.client("s3")
    before = len(s3.list_object_versions(Bucket=synced.bucket, Prefix="events/")["Versions"])
    assert sync_and_wait() == 0
    report = synced.report(synced.latest_run_id())
    assert report["planned"] == 0
    assert report["up_to_date"] == len(synced.seeded.package.objects)
    after = len(s3.list_object_versions(Bucket=synced.bucket, Prefix="events/")["Versions"])
    assert after == before


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
