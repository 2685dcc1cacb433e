"""Bad input in a run: each bad file gets a recorded reason, nothing partial is published, no
multipart upload stays open, and every good file of the same run is published."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from dataclasses import dataclass

import pytest

from edx_vault.devtools.synthetic import ciphertext_faults, zip_faults
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.pipeline.manifest_rows import Status
from tests.integration.conftest import PipelineKey, Vault
from tests.integration.sync_driver import SyncOutcome, run_sync, scope_for

ORG = "mitx"
DAY = dt.date(2024, 2, 4)  # a Sunday; each fault gets its own day in this week and the next


def event_key(day: dt.date) -> str:
    return f"{ORG}/edx/events/{day.year}/{ORG}-edx-events-{day}.log.gz.gpg"


@dataclass(frozen=True)
class RunWithFaults:
    outcome: SyncOutcome
    good_plaintext: bytes
    good_member_plaintext: bytes


def day(offset: int) -> dt.date:
    return DAY + dt.timedelta(days=offset)


@pytest.fixture
def run_with_faults(vault: Vault, pipeline_key: PipelineKey, stranger_key: str) -> RunWithFaults:
    keys = [pipeline_key.public_key]
    good = gzip.compress(b'{"event_type": "play_video"}\n' * 100)
    good_cipher = encrypt_to_recipients(good, keys)
    events = {
        day(0): good_cipher,
        day(1): ciphertext_faults.tamper_ciphertext(encrypt_to_recipients(good, keys)),
        day(2): ciphertext_faults.truncate_ciphertext(encrypt_to_recipients(good, keys)),
        day(3): ciphertext_faults.encrypt_to_other_recipient(good, stranger_key),
        day(4): ciphertext_faults.not_openpgp(),
        day(5): ciphertext_faults.empty_object(),
    }
    for when, body in events.items():
        vault.s3.put_object(Bucket=vault.event_bucket, Key=event_key(when), Body=body)
    zips = {
        day(0): zip_faults.zip_with_failed_member(ORG, day(0), keys),
        day(1): zip_faults.zip_with_traversal_member(ORG, day(1)),
        day(2): zip_faults.zip_with_absolute_member(ORG, day(2)),
        day(3): zip_faults.zip_with_absurd_uncompressed_size(ORG, day(3)),
        day(4): zip_faults.zip_with_corrupt_central_directory(ORG, day(4)),
    }
    for when, body in zips.items():
        vault.s3.put_object(Bucket=vault.database_bucket, Key=f"{ORG}-{when}.zip", Body=body)
    # An unrecognised key where edX's event logs live
    vault.s3.put_object(
        Bucket=vault.event_bucket, Key=f"{ORG}/edx/events/{DAY.year}/notes.txt", Body=b"?"
    )
    scope = scope_for(
        vault, ((ORG,),), day(0), day(5), sites=("edx",), categories=("events", "database")
    )
    outcome = run_sync(vault, pipeline_key, scope, run_id="run-1")
    return RunWithFaults(outcome, good, b"id\tusername\n1\tada\n")


def test_each_bad_file_fails_with_its_reason(run_with_faults: RunWithFaults) -> None:
    failures = run_with_faults.outcome.failures()
    by_source = {key: code for (key, _member), code in failures.items()}
    assert by_source[event_key(day(1))] in ("tampered", "corrupt")
    assert by_source[event_key(day(2))] in ("tampered", "corrupt", "decryption-failed")
    assert by_source[event_key(day(3))] == "wrong-recipient"
    assert by_source[event_key(day(4))] in ("not-openpgp", "decryption-failed")
    assert by_source[event_key(day(5))] == "empty-source"
    failed_export = {m: c for (k, m), c in failures.items() if k == f"{ORG}-{day(0)}.zip"}
    assert list(failed_export.values()) == ["edx-export-failed"]
    assert next(iter(failed_export)).endswith(".failed.gpg")  # type: ignore[union-attr]
    traversal = {m: c for (k, m), c in failures.items() if k == f"{ORG}-{day(1)}.zip"}
    assert set(traversal.values()) == {"unsafe-member"} and len(traversal) == 2
    assert by_source[f"{ORG}-{day(2)}.zip"] == "unsafe-member"
    assert by_source[f"{ORG}-{day(3)}.zip"] == "zip-bomb"
    assert by_source[f"{ORG}-{day(4)}.zip"] == "corrupt-zip"


def test_unknown_names_are_reported_not_guessed(run_with_faults: RunWithFaults) -> None:
    unknown = run_with_faults.outcome.plan.unknown
    assert [entry["key"] for entry in unknown] == [f"{ORG}/edx/events/{DAY.year}/notes.txt"]
    assert "expected" in unknown[0]["reason"].lower()


def test_good_files_of_the_same_run_are_published(
    vault: Vault, run_with_faults: RunWithFaults
) -> None:
    published = {
        obj["Key"]
        for prefix in ("events/", "database/")
        for obj in vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix=prefix).get(
            "Contents", []
        )
    }
    good_event = f"events/org={ORG}/site=edx/date={day(0)}/{ORG}-edx-events-{day(0)}.log.gz"
    good_member = (
        f"database/auth_user/org={ORG}/site=edx/course=MITx-6.002x-2012_Fall/"
        f"export_date={day(0)}/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql"
    )
    # Then exactly the two good units are published, with the right bytes
    assert published == {good_event, good_member}
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=good_event)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(run_with_faults.good_plaintext).digest()
    member = vault.s3.get_object(Bucket=vault.target.bucket, Key=good_member)["Body"].read()
    assert member == run_with_faults.good_member_plaintext
    assert vault.s3.list_multipart_uploads(Bucket=vault.target.bucket).get("Uploads", []) == []


def test_manifest_keeps_every_failure_and_the_next_run_does_not_retry_them(
    vault: Vault, pipeline_key: PipelineKey, run_with_faults: RunWithFaults
) -> None:
    failed_rows = [r for r in vault.manifest.scan() if r["status"] == Status.FAILED]
    assert len(failed_rows) == len(run_with_faults.outcome.failures())
    assert all(r["error_reason"] for r in failed_rows)
    # When the next run plans the same files / Then nothing is mirrored or decrypted again
    scope = scope_for(
        vault, ((ORG,),), day(0), day(5), sites=("edx",), categories=("events", "database")
    )
    second = run_sync(vault, pipeline_key, scope, run_id="run-2")
    assert second.mirrored == []
    assert second.decrypted == []
