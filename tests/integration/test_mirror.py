"""Mirroring edX objects into raw/: byte-identical, streamed in parts, idempotent, pinned."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.engine import object_copy as mirror_module
from edx_vault.engine.errors import PermanentError, TransientError
from edx_vault.engine.object_copy import MIRROR_PART_BYTES, SourceVersion, mirror_object
from edx_vault.pipeline.lambda_runtime import aws_errors_classified
from tests.integration.conftest import Vault


def put_source(vault: Vault, key: str, body: bytes) -> SourceVersion:
    vault.s3.put_object(Bucket=vault.database_bucket, Key=key, Body=body)
    head = vault.s3.head_object(Bucket=vault.database_bucket, Key=key)
    return SourceVersion(
        bucket=vault.database_bucket,
        key=key,
        etag=head["ETag"],
        size=head["ContentLength"],
        last_modified=head["LastModified"],
    )


def mirror(vault: Vault, source: SourceVersion) -> object:
    return mirror_object(
        vault.s3,
        vault.s3,
        source=source,
        bucket=vault.target.bucket,
        raw_key=f"raw/{source.bucket}/{source.key}",
        kms_key_arn=vault.target.kms_key_arn,
    )


@pytest.mark.parametrize("size", [1, 5 * 1024 * 1024, MIRROR_PART_BYTES * 2 + 12345])
def test_copy_is_byte_identical_and_records_the_source(vault: Vault, size: int) -> None:
    # Given an edX object of a given size (the largest spans three parts)
    body = os.urandom(size)
    source = put_source(vault, "mitx-2024-03-03.zip", body)
    # When it is mirrored
    mirrored = mirror(vault, source)
    # Then raw/ holds the same bytes, under the data key, with the source's identity
    raw_key = f"raw/{vault.database_bucket}/mitx-2024-03-03.zip"
    got = vault.s3.get_object(Bucket=vault.target.bucket, Key=raw_key)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    assert got["SSEKMSKeyId"] == vault.target.kms_key_arn
    assert got["Metadata"]["source-etag"] == source.etag
    assert got["Metadata"]["source-size"] == str(size)
    assert (
        dt.datetime.fromisoformat(got["Metadata"]["source-last-modified"]) == source.last_modified
    )
    assert mirrored.copied is True  # type: ignore[attr-defined]
    assert vault.s3.list_multipart_uploads(Bucket=vault.target.bucket).get("Uploads", []) == []


def test_second_mirror_of_the_same_version_copies_nothing(vault: Vault) -> None:
    source = put_source(vault, "mitx-2024-03-10.zip", b"zip bytes" * 100)
    first = mirror(vault, source)
    second = mirror(vault, source)
    versions = vault.s3.list_object_versions(Bucket=vault.target.bucket, Prefix="raw/").get(
        "Versions", []
    )
    assert (first.copied, second.copied) == (True, False)  # type: ignore[attr-defined]
    assert len(versions) == 1


def test_a_source_replaced_since_the_plan_is_not_mixed_in(vault: Vault) -> None:
    # Given a plan made before edX re-uploaded the file in place
    planned = put_source(vault, "mitx-2024-03-17.zip", b"first version")
    put_source(vault, "mitx-2024-03-17.zip", b"second version, longer")
    # When the mirror runs with the planned ETag / Then S3 refuses (retried by the next run)
    with pytest.raises(ClientError) as raised:
        mirror(vault, planned)
    assert raised.value.response["Error"]["Code"] in ("PreconditionFailed", "412")
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix="raw/")
    assert listed.get("KeyCount", 0) == 0


def test_empty_source_is_a_permanent_error(vault: Vault) -> None:
    source = put_source(vault, "mitx-2024-03-24.zip", b"")
    with pytest.raises(PermanentError) as raised:
        mirror(vault, source)
    assert raised.value.code == "empty-source"


class ShortBodies:
    """edX's S3 as seen through a connection that drops the end of every body it sends.

    botocore notices a body shorter than its Content-Length only when it is given one; a proxy or
    a load balancer that closes the connection cleanly looks, to the reader, like a short body.
    """

    def __init__(self, s3: Any, *, missing_bytes: int, only_range: str | None = None) -> None:
        self._s3 = s3
        self._missing_bytes = missing_bytes
        self._only_range = only_range

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_object(self, **request: Any) -> Any:
        response = self._s3.get_object(**request)
        if self._only_range is None or request.get("Range") == self._only_range:
            data = response["Body"].read()
            response["Body"] = io.BytesIO(data[: len(data) - self._missing_bytes])
        return response


def test_a_short_body_from_edx_is_retried_not_a_crash(vault: Vault) -> None:
    # Given a small edX object whose GET ends 100 bytes early
    source = put_source(vault, "mitx-2024-03-31.zip", os.urandom(4096))
    edx_s3: Any = ShortBodies(vault.s3, missing_bytes=100)
    # When it is mirrored inside a handler
    with pytest.raises(Exception) as raised, aws_errors_classified():
        mirror_object(
            edx_s3,
            vault.s3,
            source=source,
            bucket=vault.target.bucket,
            raw_key=f"raw/{source.bucket}/{source.key}",
            kms_key_arn=vault.target.kms_key_arn,
        )
    # Then the handler fails with the error the state machine retries, saying what was short,
    # and nothing is mirrored
    assert type(raised.value) is TransientError
    assert "got 3996 bytes, expected 4096" in str(raised.value)
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix="raw/")
    assert listed.get("KeyCount", 0) == 0


def test_a_short_part_from_edx_is_retried_and_leaves_no_upload_open(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an edX object copied in three 5 MiB parts (S3's smallest), the second of which
    # arrives one byte short
    part = 5 * 1024 * 1024
    monkeypatch.setattr(mirror_module, "MIRROR_PART_BYTES", part)
    source = put_source(vault, "mitx-2024-04-07.zip", os.urandom(2 * part + 12345))
    edx_s3: Any = ShortBodies(vault.s3, missing_bytes=1, only_range=f"bytes={part}-{2 * part - 1}")
    # When it is mirrored
    with pytest.raises(TransientError) as raised:
        mirror_object(
            edx_s3,
            vault.s3,
            source=source,
            bucket=vault.target.bucket,
            raw_key=f"raw/{source.bucket}/{source.key}",
            kms_key_arn=vault.target.kms_key_arn,
        )
    # Then it is a retryable short read, the multipart upload is aborted and nothing is mirrored
    assert "part 2" in str(raised.value)
    assert vault.s3.list_multipart_uploads(Bucket=vault.target.bucket).get("Uploads", []) == []
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix="raw/")
    assert listed.get("KeyCount", 0) == 0
