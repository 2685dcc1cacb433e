"""Decrypt-and-publish against the embedded AWS with real gpg: good files publish, bad ones don't,
and a failed read of a good one is retried, never recorded against the file."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import os
from collections.abc import Callable
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.zip_faults import zip_of
from edx_vault.engine.decryption import DecryptUnit, decrypt_unit, parse_source, units_of
from edx_vault.engine.errors import PermanentError, TransientError
from edx_vault.engine.ranged_object import DEFAULT_BLOCK_BYTES
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


def assert_nothing_published(vault: Vault, *, prefix: str = "events/") -> None:
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix=prefix)
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


class CutBody:
    """An S3 body whose connection fails after ``good_bytes``: a read past them raises ``error``
    (a read of the whole body raises it too, as botocore's does), or, with no error, the body
    just ends early (a connection closed cleanly mid-body, unnoticed)."""

    def __init__(self, body: Any, *, good_bytes: int, error: BaseException | None) -> None:
        self._body = body
        self._left = good_bytes
        self._error = error

    def read(self, amt: int | None = None) -> bytes:
        if self._left <= 0 or (amt is None and self._error is not None):
            if self._error is not None:
                raise self._error
            return b""
        data: bytes = self._body.read(self._left if amt is None else min(amt, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()


class FaultyGets:
    """The vault's S3 client, except for the GetObject requests ``matches`` picks: those raise
    ``raise_error`` at once, or return a body cut after ``good_bytes``."""

    def __init__(
        self,
        s3: Any,
        *,
        matches: Callable[[dict[str, Any]], bool],
        raise_error: BaseException | None = None,
        good_bytes: int = 0,
        body_error: BaseException | None = None,
    ) -> None:
        self._s3 = s3
        self._matches = matches
        self._raise_error = raise_error
        self._good_bytes = good_bytes
        self._body_error = body_error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_object(self, **request: Any) -> Any:
        if not self._matches(request):
            return self._s3.get_object(**request)
        if self._raise_error is not None:
            raise self._raise_error
        response = self._s3.get_object(**request)
        response["Body"] = CutBody(
            response["Body"], good_bytes=self._good_bytes, error=self._body_error
        )
        return response


def multipart_uploads_started(vault: Vault) -> list[str]:
    """Keys for which the vault's client starts a multipart upload, from now on."""
    started: list[str] = []
    vault.s3.meta.events.register(
        "before-call.s3.CreateMultipartUpload",
        lambda params, **_: started.append(params["url_path"]),
    )
    return started


def test_a_read_timeout_on_the_raw_body_mid_upload_is_retried_and_publishes_nothing(
    vault: Vault, pipeline_key: PipelineKey
) -> None:
    # Given a 12 MB event log whose raw/ body times out after 10 MiB: more than the first part,
    # so the multipart upload has begun when the read fails
    ciphertext = encrypt_to_recipients(big_event_log(12), [pipeline_key.public_key])
    unit = put_raw(vault, ciphertext)
    error = ReadTimeoutError(endpoint_url="https://vault-data.s3.amazonaws.com/raw/")
    faulty = FaultyGets(
        vault.s3, matches=lambda _: True, good_bytes=10 * 1024 * 1024, body_error=error
    )
    started = multipart_uploads_started(vault)
    # When it is decrypted
    with pytest.raises(TransientError) as raised:
        decrypt_unit(
            faulty,  # type: ignore[arg-type]
            pipeline_key.gpg,
            passphrase=pipeline_key.passphrase,
            unit=unit,
            bucket=vault.target.bucket,
            kms_key_arn=vault.target.kms_key_arn,
        )
    # Then the step fails with the error the state machine retries (not a permanent failure
    # recorded against the file), the upload it had begun is aborted, and nothing is published
    assert raised.value.__cause__ is error
    assert len(started) == 1
    assert_nothing_published(vault)


# A weekly zip's member: a database table, encrypted like the rest (no compression in the zip).
ZIP_DAY = dt.date(2024, 3, 3)
ZIP_KEY = f"mitx-{ZIP_DAY}.zip"
MEMBER = f"mitx-{ZIP_DAY}/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg"


def put_raw_zip(vault: Vault, member_ciphertext: bytes) -> DecryptUnit:
    archive = zip_of([(MEMBER, member_ciphertext)], folders=[f"mitx-{ZIP_DAY}/"])
    raw_key = f"raw/{vault.database_bucket}/{ZIP_KEY}"
    response = vault.s3.put_object(Bucket=vault.target.bucket, Key=raw_key, Body=archive)
    return DecryptUnit(
        source_bucket=vault.database_bucket,
        source_key=ZIP_KEY,
        source_etag='"etag"',
        raw_key=raw_key,
        raw_version_id=response.get("VersionId"),
        raw_size=len(archive),
        member_name=MEMBER,
    )


def range_start(request: dict[str, Any]) -> int:
    """The first byte a ranged GET asks for (-1 for a whole-object GET)."""
    if "Range" not in request:
        return -1
    return int(request["Range"].removeprefix("bytes=").split("-")[0])


THROTTLED = ClientError(
    cast(
        Any,
        {
            "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
    ),
    "GetObject",
)


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        pytest.param({"raise_error": THROTTLED}, "SlowDown", id="throttled"),
        pytest.param(
            {"good_bytes": 4096, "body_error": ConnectionClosedError(endpoint_url="https://s3")},
            "ConnectionClosedError",
            id="closed-mid-body",
        ),
        pytest.param({"body_error": None}, "ShortReadError", id="body-empty"),
    ],
)
def test_a_failed_ranged_get_of_a_zip_member_is_retried_and_publishes_nothing(
    vault: Vault, pipeline_key: PipelineKey, fault: dict[str, Any], said: str
) -> None:
    # Given a zip member of 10 MiB whose second block (from 8 MiB on) cannot be read
    member = encrypt_to_recipients(os.urandom(10 * 1024 * 1024), [pipeline_key.public_key])
    unit = put_raw_zip(vault, member)
    faulty = FaultyGets(
        vault.s3,
        # A ranged GET of member data past the first block (the central directory lies after it)
        matches=lambda request: DEFAULT_BLOCK_BYTES <= range_start(request) < len(member),
        **fault,
    )
    # When the member is decrypted
    with pytest.raises(TransientError) as raised:
        decrypt_unit(
            faulty,  # type: ignore[arg-type]
            pipeline_key.gpg,
            passphrase=pipeline_key.passphrase,
            unit=unit,
            bucket=vault.target.bucket,
            kms_key_arn=vault.target.kms_key_arn,
        )
    # Then it is retried, not recorded as a bad file, says why, and nothing is published
    assert said in str(raised.value)
    assert_nothing_published(vault, prefix="database/")


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            {"raise_error": ReadTimeoutError(endpoint_url="https://vault-data.s3.amazonaws.com")},
            id="read-timeout",
        ),
        pytest.param(
            {"body_error": ConnectionResetError(104, "Connection reset by peer")},
            id="reset-mid-body",
        ),
        pytest.param({"body_error": None}, id="body-empty"),
    ],
)
def test_a_network_failure_reading_the_central_directory_is_retried_not_a_corrupt_zip(
    vault: Vault, pipeline_key: PipelineKey, fault: dict[str, Any]
) -> None:
    # Given a mirrored zip whose every ranged GET fails on the network (zipfile would turn an
    # OSError while it looks for the end record into "File is not a zip file")
    unit = put_raw_zip(vault, encrypt_to_recipients(b"id\tusername\n", [pipeline_key.public_key]))
    faulty = FaultyGets(vault.s3, matches=lambda request: "Range" in request, **fault)
    # When its members are listed (the expand step)
    with pytest.raises(TransientError):
        units_of(
            faulty,  # type: ignore[arg-type]
            bucket=vault.target.bucket,
            source=parse_source(unit.source_bucket, unit.source_key),
            source_etag=unit.source_etag,
            raw_key=unit.raw_key,
            raw_version_id=unit.raw_version_id,
            raw_size=unit.raw_size,
        )
    # Then the step is retried: the zip is not recorded as corrupt
