"""A whole package through plan, mirror, expand and decrypt, on the embedded AWS with real gpg."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedPackage
from edx_vault.devtools.synthetic.spec import demo_package_spec
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.pipeline.manifest_rows import Status, source_partition
from edx_vault.pipeline.planner import plan_sync
from tests.integration.conftest import SMALL_PACKAGE, Aws, PipelineKey, Vault, make_vault
from tests.integration.sync_driver import SyncOutcome, run_sync, scope_for

FIRST, LAST = dt.date(2024, 1, 6), dt.date(2024, 1, 7)
ORG_GROUPS = (("mitx",), ("harvardx",), ("delftx",))


def make_package(
    vault: Vault, pipeline_key: PipelineKey, directory: Path, **overrides: Any
) -> GeneratedPackage:
    spec = dataclasses.replace(
        demo_package_spec(seed=7),
        event_bucket=vault.event_bucket,
        database_bucket=vault.database_bucket,
        force_zip64=True,
        **overrides,
    )
    generated = generate_package(spec, [pipeline_key.public_key], directory)
    upload_package(generated, vault.s3)
    return generated


@pytest.fixture
def package(vault: Vault, pipeline_key: PipelineKey, tmp_path: Path) -> GeneratedPackage:
    """A small package of the vault's own (the whole demo package is the module's ``synced``)."""
    return make_package(vault, pipeline_key, tmp_path / "package", **SMALL_PACKAGE)


@dataclass(frozen=True)
class Synced:
    """One vault after one sync of the demo package, shared by the tests that only read it."""

    vault: Vault
    package: GeneratedPackage
    outcome: SyncOutcome


@pytest.fixture(scope="module")
def synced(aws: Aws, pipeline_key: PipelineKey, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    vault = make_vault(aws)
    package = make_package(vault, pipeline_key, tmp_path_factory.mktemp("package"))
    outcome = run_sync(vault, pipeline_key, scope_for(vault, ORG_GROUPS, FIRST, LAST), run_id="r1")
    return Synced(vault, package, outcome)


def published_sha256(vault: Vault, key: str) -> str:
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def test_every_file_kind_is_published_where_the_package_model_says(synced: Synced) -> None:
    # Given the demo package (every awkward name, both sites, zip64 zips) in edX's buckets
    # When one sync ran
    vault, package, outcome = synced.vault, synced.package, synced.outcome
    # Then every unit that carries data is published with the plaintext edX encrypted
    for unit in package.published_units:
        assert unit.output_key is not None
        assert published_sha256(vault, unit.output_key) == unit.plaintext_sha256, unit.output_key
        head = vault.s3.head_object(Bucket=vault.target.bucket, Key=unit.output_key)
        assert head["SSEKMSKeyId"] == vault.target.kms_key_arn
    # And the failed export is reported, not published
    failed_units = [u for u in package.units if u.failed]
    assert failed_units
    for unit in failed_units:
        assert outcome.failures()[(unit.source_key, unit.member_name)] == "edx-export-failed"
    # And nothing else failed, and the raw mirror holds every object
    assert len(outcome.failures()) == len(failed_units)
    raw = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix="raw/")["KeyCount"]
    assert raw == len(package.objects)


def test_manifest_records_every_unit_with_its_digest(synced: Synced) -> None:
    vault, package = synced.vault, synced.package
    # One scan, grouped by source (as rows_of_source reads them): a query per unit is slow on moto
    scanned = vault.manifest.scan()
    rows_by_source: dict[str, list[dict[str, Any]]] = {}
    for scanned_row in scanned:
        rows_by_source.setdefault(scanned_row["pk"], []).append(scanned_row)
    some_unit = package.published_units[0]
    assert sorted(
        map(str, rows_by_source[source_partition(some_unit.source_bucket, some_unit.source_key)])
    ) == sorted(
        map(str, vault.manifest.rows_of_source(some_unit.source_bucket, some_unit.source_key))
    )
    for unit in package.published_units:
        rows = rows_by_source[source_partition(unit.source_bucket, unit.source_key)]
        sort_key = "decrypt" if unit.member_name is None else f"member#{unit.member_name}"
        [row] = [r for r in rows if r["sk"] == sort_key]
        assert row["status"] == Status.DONE
        assert row["plaintext_sha256"] == unit.plaintext_sha256
        assert row["plaintext_bytes"] == unit.plaintext_size
        assert row["output_key"] == unit.output_key
    objects = [r for r in scanned if r["sk"] == "object"]
    assert len(objects) == len(package.objects)
    assert all(r["units_settled"] for r in objects)


def test_second_run_is_a_no_op(synced: Synced, pipeline_key: PipelineKey) -> None:
    # Given a completed sync
    vault, package = synced.vault, synced.package
    scope = scope_for(vault, ORG_GROUPS, FIRST, LAST)
    versions_before = vault.s3.list_object_versions(Bucket=vault.target.bucket)["Versions"]
    # When the next run starts / Then it plans nothing and writes nothing
    second = run_sync(vault, pipeline_key, scope, run_id="r2")
    assert second.plan.to_mirror == []
    assert second.plan.up_to_date == len(package.objects)
    versions_after = vault.s3.list_object_versions(Bucket=vault.target.bucket)["Versions"]
    assert len(versions_after) == len(versions_before)


def test_a_file_re_issued_by_edx_is_processed_again(
    vault: Vault, pipeline_key: PipelineKey, package: GeneratedPackage
) -> None:
    scope = scope_for(vault, ORG_GROUPS, FIRST, LAST)
    run_sync(vault, pipeline_key, scope, run_id="r1")
    # Given edX re-issues one event log in place (new content, so a new ETag)
    event_log = next(o for o in package.objects if o.key.endswith(".log.gz.gpg"))
    reissued = gzip.compress(b'{"event_type": "reissued"}\n')
    ciphertext = encrypt_to_recipients(reissued, [pipeline_key.public_key])
    vault.s3.put_object(Bucket=event_log.bucket, Key=event_log.key, Body=ciphertext)
    # When the next run plans / Then exactly that file is mirrored and decrypted again
    second = run_sync(vault, pipeline_key, scope, run_id="r2")
    assert [p.version.key for p in second.plan.to_mirror] == [event_log.key]
    assert [r["status"] for r in second.decrypted] == ["done"]
    output_key = package.unit(event_log.key).output_key
    assert output_key is not None
    assert published_sha256(vault, output_key) == hashlib.sha256(reissued).hexdigest()


def test_missing_days_and_weeks_are_listed(synced: Synced) -> None:
    # Given a range days and a week longer than what edX delivered
    scope = scope_for(synced.vault, ORG_GROUPS, dt.date(2024, 1, 1), dt.date(2024, 1, 14))
    # When it is planned
    plan = plan_sync(synced.vault.s3, synced.vault.manifest, scope)
    missing = {(m.kind, m.org, m.site, m.period) for m in plan.missing}
    # Then the days without a mitx edx event log are missing, the delivered ones are not
    assert ("event-log", "mitx", "edx", "2024-01-05") in missing
    assert ("event-log", "mitx", "edx", "2024-01-06") not in missing
    # And the week without a zip is missing, the week with one is not
    assert ("weekly-zip", "mitx", None, "2024-01-08/2024-01-14") in missing
    assert ("weekly-zip", "mitx", None, "2024-01-01/2024-01-07") not in missing


def test_a_sync_on_the_packages_sunday_publishes_that_sundays_zip(
    vault: Vault, pipeline_key: PipelineKey, package: GeneratedPackage
) -> None:
    # Given the package edX dated Saturday and Sunday, with its weekly zip dated Sunday
    sunday = max(package.spec.export_dates)
    assert sunday.weekday() == 6
    # When the sync runs that Sunday (its window of expectations ends on Saturday)
    scope = scope_for(vault, ORG_GROUPS, FIRST, sunday - dt.timedelta(days=1))
    outcome = run_sync(vault, pipeline_key, scope, run_id="sunday")
    # Then the zip, its email opt-in report and Sunday's event logs are published that day
    assert len(outcome.plan.to_mirror) == len(package.objects)
    for unit in package.published_units:
        assert unit.output_key is not None
        assert published_sha256(vault, unit.output_key) == unit.plaintext_sha256, unit.output_key
    # And nothing of Sunday is reported missing: it is not expected before Monday
    assert all(sunday.isoformat() not in m.period for m in outcome.plan.missing)
