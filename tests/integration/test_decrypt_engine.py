"""Decrypt-and-publish against the embedded AWS with real gpg: good files publish, bad ones don't."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import os
from typing import Any

import pytest

from edx_vault.decryption import DecryptUnit, decrypt_unit
from edx_vault.errors import PermanentError
from edx_vault.synthetic_package import encrypt_to_recipients
from tests.integration.conftest import PipelineKey, Vault

DAY = dt.date(2024, 3, 5)
SOURCE_KEY = f"mitx/edx/events/2024/mitx-edx-events-{DAY}.log.gz.gpg"
OUTPUT_KEY = f"events/org=mitx/site=edx/date={DAY}/mitx-edx-events-{DAY}.log.gz"


def put_raw(vault: Vault, ciphertext: bytes) -> DecryptUnit:
    raw_key = f"raw/{vault.event_bucket}/{SOURCE_KEY}"
    response = vault.s3.put_object(Bucket=vault.target.bucket, Key=raw_key, Body=ciphertext)
    return DecryptUnit(
        source_bucket=vault.event_bucket,
        source_key=SOURCE_KEY,
        source_etag='"etag"',
        raw_key=raw_key,
        raw_version_id=response.get("VersionId"),
        raw_size=len(ciphertext),
    )


def decrypt(vault: Vault, key: PipelineKey, unit: DecryptUnit) -> Any:
    return decrypt_unit(
        vault.s3,
        key.gpg,
        passphrase=key.passphrase,
        unit=unit,
        bucket=vault.target.bucket,
        kms_key_arn=vault.target.kms_key_arn,
    )


def assert_nothing_published(vault: Vault) -> None:
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix="events/")
    assert listed.get("KeyCount", 0) == 0
    uploads = vault.s3.list_multipart_uploads(Bucket=vault.target.bucket)
    assert uploads.get("Uploads", []) == []


def big_event_log(megabytes: int) -> bytes:
    # Random bytes do not compress, so gpg's output is as large as the input: the upload
    # becomes multipart before gpg reaches the integrity check at the end.
    return gzip.compress(os.urandom(megabytes * 1024 * 1024), compresslevel=1)


def test_event_log_is_published_byte_identical_under_the_data_key(
    vault: Vault, pipeline_key: PipelineKey
) -> None:
    # Given an event log encrypted to the pipeline key and mirrored into raw/
    plaintext = big_event_log(12)
    unit = put_raw(vault, encrypt_to_recipients(plaintext, [pipeline_key.public_key]))
    # When it is decrypted
    published = decrypt(vault, pipeline_key, unit)
    # Then the plaintext is published, whole, SSE-KMS under the data key, with its provenance
    assert published.output_key == OUTPUT_KEY
    assert published.plaintext_sha256 == hashlib.sha256(plaintext).hexdigest()
    assert published.plaintext_bytes == len(plaintext)
    head = vault.s3.head_object(Bucket=vault.target.bucket, Key=OUTPUT_KEY)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == vault.target.kms_key_arn
    assert head["Metadata"]["source-key"] == SOURCE_KEY
    assert head["ContentType"] == "application/gzip"
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=OUTPUT_KEY)["Body"].read()
    assert body == plaintext
    assert vault.s3.list_multipart_uploads(Bucket=vault.target.bucket).get("Uploads", []) == []


def tamper(ciphertext: bytes) -> bytes:
    """Flip one bit near the end: the data decompresses fine and only the MDC catches it."""
    middle = len(ciphertext) - 5
    return ciphertext[:middle] + bytes([ciphertext[middle] ^ 0x01]) + ciphertext[middle + 1 :]


@pytest.mark.parametrize(
    ("damage", "codes"),
    [
        (tamper, ("tampered", "corrupt")),
        (lambda c: c[: len(c) * 2 // 3], ("tampered", "corrupt")),
    ],
    ids=["tampered", "truncated"],
)
def test_damaged_ciphertext_publishes_nothing_and_leaves_no_upload_open(
    vault: Vault, pipeline_key: PipelineKey, damage: Any, codes: tuple[str, ...]
) -> None:
    # Given a 12 MB file damaged in transit: gpg emits most plaintext before noticing
    ciphertext = encrypt_to_recipients(big_event_log(12), [pipeline_key.public_key])
    unit = put_raw(vault, damage(ciphertext))
    # When it is decrypted / Then it fails with the reason, and nothing is published
    with pytest.raises(PermanentError) as raised:
        decrypt(vault, pipeline_key, unit)
    assert raised.value.code in codes
    assert_nothing_published(vault)


def test_file_for_another_recipient_is_refused(
    vault: Vault, pipeline_key: PipelineKey, stranger_key: str
) -> None:
    unit = put_raw(vault, encrypt_to_recipients(b"not for us\n", [stranger_key]))
    with pytest.raises(PermanentError) as raised:
        decrypt(vault, pipeline_key, unit)
    assert raised.value.code == "wrong-recipient"
    assert "not encrypted to the pipeline's key" in raised.value.reason
    assert_nothing_published(vault)


def test_file_for_several_recipients_including_ours_decrypts(
    vault: Vault, pipeline_key: PipelineKey, stranger_key: str
) -> None:
    # Given a file edX encrypted to every czar of the org (as it does), ours among them
    ciphertext = encrypt_to_recipients(b"shared\n", [stranger_key, pipeline_key.public_key])
    published = decrypt(vault, pipeline_key, put_raw(vault, ciphertext))
    assert published.plaintext_bytes == len(b"shared\n")


def test_non_openpgp_file_named_gpg_is_refused(vault: Vault, pipeline_key: PipelineKey) -> None:
    unit = put_raw(vault, b"PK\x03\x04 this is a zip, or anything, but not OpenPGP" * 10)
    with pytest.raises(PermanentError) as raised:
        decrypt(vault, pipeline_key, unit)
    assert raised.value.code in ("not-openpgp", "decryption-failed")
    assert_nothing_published(vault)


def test_empty_object_is_refused_before_gpg_runs(vault: Vault, pipeline_key: PipelineKey) -> None:
    unit = put_raw(vault, b"")
    with pytest.raises(PermanentError) as raised:
        decrypt(vault, pipeline_key, unit)
    assert raised.value.code == "empty-source"
    assert_nothing_published(vault)


def test_wrong_passphrase_is_reported_without_the_passphrase(
    vault: Vault, pipeline_key: PipelineKey, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a good file but a wrong passphrase
    unit = put_raw(vault, encrypt_to_recipients(b"data\n", [pipeline_key.public_key]))
    wrong = "wrong passphrase sentinel 7f3a"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError) as raised:
        decrypt_unit(
            vault.s3,
            pipeline_key.gpg,
            passphrase=wrong,
            unit=unit,
            bucket=vault.target.bucket,
            kms_key_arn=vault.target.kms_key_arn,
        )
    # Then the error says what, and no passphrase reaches the error or the logs
    assert raised.value.code in ("bad-passphrase", "decryption-failed")
    for text in (str(raised.value), raised.value.reason, caplog.text):
        assert wrong not in text
        assert pipeline_key.passphrase not in text
    assert_nothing_published(vault)
