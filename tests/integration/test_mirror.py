"""Mirroring edX objects into raw/: byte-identical, streamed in parts, idempotent, pinned."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from edx_vault.errors import PermanentError
from edx_vault.mirror import MIRROR_PART_BYTES, SourceVersion, mirror_object
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
