"""``sync --retry-failed`` after fixing a cause: failed units are decrypted again, nothing else is.

The runbook's recovery for ``wrong-recipient`` is "import the missing key, then
``edx-vault sync --retry-failed``". A source whose units were all tried is *settled*, so the
planner must still see that some of them failed, and plan it again only when asked to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import gnupg
import pytest

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.generated import GeneratedPackage
from edx_vault.devtools.synthetic.spec import SyntheticCourse, SyntheticOrg, demo_package_spec
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import object_row, source_up_to_date
from edx_vault.pipeline.planner import plan_sync
from tests.integration.conftest import (
    PIPELINE_PASSPHRASE,
    PipelineKey,
    Vault,
    generate_protected_key,
)
from tests.integration.sync_driver import run_sync, scope_for

pytestmark = pytest.mark.integration

FIRST, LAST = dt.date(2024, 1, 6), dt.date(2024, 1, 7)
DELFTX = SyntheticOrg(
    org_id="delftx", courses=(SyntheticCourse("DelftX", "TPM-1x", "1T-2022", site="edge"),)
)


@dataclass(frozen=True)
class Keys:
    pipeline: PipelineKey
    missing: gnupg.GPG
    missing_public: str


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    """The pipeline's keyring, and a second key edX also encrypts to that it does not hold yet."""
    pipeline = generate_protected_key(tmp_path / "pipeline", "pipeline@example.edu")
    [pipeline_fingerprint] = pipeline.list_keys().fingerprints
    missing = generate_protected_key(tmp_path / "missing", "pipeline-2@example.edu")
    [fingerprint] = missing.list_keys().fingerprints
    return Keys(
        PipelineKey(
            gpg=pipeline,
            passphrase=PIPELINE_PASSPHRASE,
            public_key=str(pipeline.export_keys(pipeline_fingerprint)),
            fingerprint=pipeline_fingerprint,
        ),
        missing,
        str(missing.export_keys(fingerprint)),
    )


def import_the_missing_key(keys: Keys) -> None:
    """What ``edx-vault import-key`` does for the decrypt function's keyring."""
    [fingerprint] = keys.missing.list_keys(secret=True).fingerprints
    armored = keys.missing.export_keys(fingerprint, secret=True, passphrase=PIPELINE_PASSPHRASE)
    assert keys.pipeline.gpg.import_keys(armored, passphrase=PIPELINE_PASSPHRASE).fingerprints


def versions(vault: Vault, prefix: str) -> int:
    listed = vault.s3.list_object_versions(Bucket=vault.target.bucket, Prefix=prefix)
    return len(listed.get("Versions", []))


def test_retry_failed_decrypts_failed_units_again_after_the_missing_key_is_imported(
    vault: Vault, keys: Keys, tmp_path: Path
) -> None:
    # Given a package whose zip carries a failed export (a unit that will always fail), and an
    # event log edX encrypted to a key the pipeline does not hold yet
    public = keys.pipeline.public_key
    spec = dataclasses.replace(
        demo_package_spec(seed=11),
        orgs=(DELFTX,),
        email_opt_in=False,
        event_bucket=vault.event_bucket,
        database_bucket=vault.database_bucket,
    )
    package: GeneratedPackage = generate_package(spec, [public], tmp_path / "package")
    upload_package(package, vault.s3)
    event_log = next(o for o in package.objects if o.key.endswith(".log.gz.gpg"))
    zip_object = next(o for o in package.objects if o.key.endswith(".zip"))
    plaintext = gzip.compress(b'{"event_type": "for the second key"}\n')
    vault.s3.put_object(
        Bucket=event_log.bucket,
        Key=event_log.key,
        Body=encrypt_to_recipients(plaintext, [keys.missing_public]),
    )
    scope = scope_for(vault, (("delftx",),), FIRST, LAST)
    first = run_sync(vault, keys.pipeline, scope, run_id="run-1", retry_failed=False)
    failed_member = next(u for u in package.units if u.failed)
    assert first.failures() == {
        (event_log.key, None): "wrong-recipient",
        (zip_object.key, failed_member.member_name): "edx-export-failed",
    }
    # And a later run without --retry-failed leaves them alone: reported once, not retried
    second = run_sync(vault, keys.pipeline, scope, run_id="run-2", retry_failed=False)
    assert second.plan.to_mirror == []
    assert second.plan.up_to_date == len(package.objects)
    raw_before = versions(vault, "raw/")
    zip_outputs = [u.output_key for u in package.published_units if u.source_key == zip_object.key]
    outputs_before = {key: versions(vault, key) for key in zip_outputs if key}
    # When the missing key is imported and the admin runs sync --retry-failed
    import_the_missing_key(keys)
    third = run_sync(vault, keys.pipeline, scope, run_id="run-3", retry_failed=True)
    # Then exactly the two sources with failed units are planned again
    assert sorted(p.version.key for p in third.plan.to_mirror) == sorted(
        [event_log.key, zip_object.key]
    )
    # And the event log is published, and only the failed export fails again
    assert third.failures() == {(zip_object.key, failed_member.member_name): "edx-export-failed"}
    output_key = package.unit(event_log.key).output_key
    assert output_key is not None
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=output_key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(plaintext).hexdigest()
    # And the mirror copies were reused and the zip's done members were not published again
    assert versions(vault, "raw/") == raw_before
    assert {key: versions(vault, key) for key in outputs_before} == outputs_before
    # And the settled rows say how many units failed, so the next --retry-failed run plans only
    # the zip, whose export edX still has to fix
    rows = vault.manifest.object_rows([(o.bucket, o.key) for o in (event_log, zip_object)])
    assert rows[f"{event_log.bucket}/{event_log.key}"]["units_failed"] == 0
    assert rows[f"{zip_object.bucket}/{zip_object.key}"]["units_failed"] == 1
    fourth = plan_sync(vault.s3, vault.manifest, scope, retry_failed=True)
    assert [p.version.key for p in fourth.to_mirror] == [zip_object.key]


def test_a_source_settled_before_failures_were_counted_is_retried_when_asked(
    vault: Vault,
) -> None:
    # Given a settled object row written before settled rows recorded units_failed
    manifest: Manifest = vault.manifest
    row = object_row("course-data", "delftx-2024-01-07.zip")
    manifest.claim(row, version='"v1"', run_id="run-1")
    manifest.complete(row, run_id="run-1", attributes={"units_settled": True, "unit_count": 3})
    stored = manifest.get(row)
    assert stored is not None
    # Then it is up to date for a plain run, and retried (to find out) under --retry-failed
    assert source_up_to_date(stored, version='"v1"', retry_failed=False)
    assert not source_up_to_date(stored, version='"v1"', retry_failed=True)
    # And a row settled with no failed unit is up to date either way; another version never is
    manifest.set_attributes(row, {"units_failed": 0})
    settled = manifest.get(row)
    assert settled is not None
    assert source_up_to_date(settled, version='"v1"', retry_failed=True)
    assert not source_up_to_date(settled, version='"v2"', retry_failed=False)
