"""Byte-identical copy of one edX object into ``raw/`` of the data bucket.

The source is read with edX's credentials and the copy written with ours, so S3's server-side
copy (one principal for both) is not an option. Large objects are copied part by part: ranged
GETs in parallel, each part uploaded as it arrives, with a bounded window so memory stays at
``workers x part size``. Every GET carries ``IfMatch`` with the planned ETag: if edX replaces the
file mid-copy, the copy fails and is retried later rather than mixing two files. A body shorter
than planned (a connection closed early) is a :class:`~edx_vault.engine.errors.ShortReadError`, retried
like any other network failure.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from edx_vault.engine.errors import PermanentError, ShortReadError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MIRROR_PART_BYTES: Final = 16 * 1024 * 1024
MIRROR_WORKERS: Final = 4
# S3 allows at most 10,000 parts; beyond that the part size grows.
MAX_PARTS: Final = 10_000

# Object metadata on the mirrored copy: what the planner compares on the next run.
META_SOURCE_BUCKET: Final = "source-bucket"
META_SOURCE_KEY: Final = "source-key"
META_SOURCE_ETAG: Final = "source-etag"
META_SOURCE_SIZE: Final = "source-size"
META_SOURCE_LAST_MODIFIED: Final = "source-last-modified"


@dataclass(frozen=True)
class SourceVersion:
    """The version of an edX object the plan saw."""

    bucket: str
    key: str
    etag: str
    size: int
    last_modified: dt.datetime


@dataclass(frozen=True)
class MirroredObject:
    raw_key: str
    version_id: str | None
    size: int
    copied: bool  # False when an identical copy was already there


def source_metadata(source: SourceVersion) -> dict[str, str]:
    return {
        META_SOURCE_BUCKET: source.bucket,
        META_SOURCE_KEY: source.key,
        META_SOURCE_ETAG: source.etag,
        META_SOURCE_SIZE: str(source.size),
        META_SOURCE_LAST_MODIFIED: source.last_modified.isoformat(),
    }


def existing_copy(
    vault_s3: S3Client, *, bucket: str, raw_key: str, source: SourceVersion
) -> MirroredObject | None:
    """The mirrored copy of exactly this source version, if one is already in the bucket.

    Whether the key exists is asked by listing it, not by HeadObject: S3 answers a HeadObject
    of a missing key with 403, not 404, to a caller without ``s3:ListBucket`` on the whole
    bucket, and the mirror role may list only under ``raw/`` (``s3:prefix``), so a 403 would be
    indistinguishable from a real refusal. A listing names the key exactly when it exists.
    """
    listing = vault_s3.list_objects_v2(Bucket=bucket, Prefix=raw_key, MaxKeys=1)
    if not any(entry["Key"] == raw_key for entry in listing.get("Contents", [])):
        return None
    head = vault_s3.head_object(Bucket=bucket, Key=raw_key)
    metadata = head.get("Metadata", {})
    if metadata.get(META_SOURCE_ETAG) == source.etag and head["ContentLength"] == source.size:
        return MirroredObject(raw_key, head.get("VersionId"), source.size, copied=False)
    return None


def mirror_object(
    edx_s3: S3Client,
    vault_s3: S3Client,
    *,
    source: SourceVersion,
    bucket: str,
    raw_key: str,
    kms_key_arn: str,
) -> MirroredObject:
    """Copy ``source`` to ``s3://bucket/raw_key`` unless an identical copy is there.

    Raises
    ------
    PermanentError
        ``empty-source`` for a zero-byte object (nothing edX sends is empty).
    ShortReadError
        edX sent fewer bytes than planned; nothing is mirrored and no upload is left open.
    """
    if source.size == 0:
        raise PermanentError("empty-source", "the object in edX's bucket is empty (0 bytes)")
    already = existing_copy(vault_s3, bucket=bucket, raw_key=raw_key, source=source)
    if already is not None:
        return already
    put_args: dict[str, Any] = {
        "Bucket": bucket,
        "Key": raw_key,
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": kms_key_arn,
        "BucketKeyEnabled": True,
        "Metadata": source_metadata(source),
        "ContentType": "application/octet-stream",
    }
    if source.size <= MIRROR_PART_BYTES:
        body = edx_s3.get_object(Bucket=source.bucket, Key=source.key, IfMatch=source.etag)
        data = body["Body"].read()
        _check_length(source, len(data))
        response = vault_s3.put_object(Body=data, **put_args)
        return MirroredObject(raw_key, response.get("VersionId"), len(data), copied=True)
    return _multipart_copy(edx_s3, vault_s3, source=source, put_args=put_args)


def _check_length(source: SourceVersion, received: int) -> None:
    if received != source.size:
        raise ShortReadError(
            f"s3://{source.bucket}/{source.key}: got {received} bytes, expected {source.size}"
        )


def _multipart_copy(
    edx_s3: S3Client, vault_s3: S3Client, *, source: SourceVersion, put_args: dict[str, Any]
) -> MirroredObject:
    part_bytes = max(MIRROR_PART_BYTES, -(-source.size // MAX_PARTS))
    ranges = [
        (number, start, min(start + part_bytes, source.size) - 1)
        for number, start in enumerate(range(0, source.size, part_bytes), start=1)
    ]
    upload_id = vault_s3.create_multipart_upload(**put_args)["UploadId"]
    bucket, key = put_args["Bucket"], put_args["Key"]

    def copy_part(number: int, first: int, last: int) -> CompletedPartTypeDef:
        response = edx_s3.get_object(
            Bucket=source.bucket, Key=source.key, IfMatch=source.etag, Range=f"bytes={first}-{last}"
        )
        data = response["Body"].read()
        if len(data) != last - first + 1:
            raise ShortReadError(
                f"s3://{source.bucket}/{source.key}: part {number} got {len(data)} bytes, "
                f"expected {last - first + 1}"
            )
        uploaded = vault_s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"PartNumber": number, "ETag": uploaded["ETag"]}

    try:
        parts: list[CompletedPartTypeDef] = []
        with ThreadPoolExecutor(max_workers=MIRROR_WORKERS, thread_name_prefix="mirror") as pool:
            window: deque[Future[CompletedPartTypeDef]] = deque()
            for number, first, last in ranges:
                if len(window) >= MIRROR_WORKERS:
                    parts.append(window.popleft().result())
                window.append(pool.submit(copy_part, number, first, last))
            parts.extend(future.result() for future in window)
        completed = vault_s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        vault_s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return MirroredObject(key, completed.get("VersionId"), source.size, copied=True)
