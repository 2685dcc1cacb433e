"""Streams bytes into the data bucket as one SSE-KMS object, or publishes nothing at all.

We use boto3's managed transfer (s3transfer) rather than hand-written multipart code: it uploads
parts in parallel with bounded memory, switches to a single PutObject for small streams, and
aborts the multipart upload if the source stream raises. The decrypting stream raises on its final
read when gpg did not prove the message intact, so a bad file never completes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final, cast

from boto3.s3.transfer import TransferConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART_BYTES: Final = 8 * 1024 * 1024
UPLOAD_CONCURRENCY: Final = 4
# Parts held in memory at once; with 8 MiB parts this bounds the upload buffers to 32 MiB.
PARTS_IN_MEMORY: Final = 4


@dataclass(frozen=True)
class PublishedObject:
    bucket: str
    key: str
    version_id: str | None
    size: int


def transfer_config() -> TransferConfig:
    config = TransferConfig(
        multipart_threshold=PART_BYTES,
        multipart_chunksize=PART_BYTES,
        max_concurrency=UPLOAD_CONCURRENCY,
        use_threads=True,
    )
    # Not a TransferConfig argument in boto3, but honoured by s3transfer (default 10 parts).
    config.max_in_memory_upload_chunks = PARTS_IN_MEMORY
    return config


def upload_stream(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    stream: io.RawIOBase,
    kms_key_arn: str,
    metadata: dict[str, str],
    content_type: str = "application/octet-stream",
) -> PublishedObject:
    """Upload everything ``stream`` yields; publish only if it ends without raising.

    Most files fit in one part: those are read whole first and sent with one PutObject, once the
    stream has ended cleanly. Larger ones go through s3transfer's multipart upload.

    Raises
    ------
    Exception
        Whatever the stream raised (the multipart upload is aborted first), or the S3 error.
    """
    # Full-sized reads: s3transfer treats a short read as a (too small) part.
    reader = cast(IO[bytes], io.BufferedReader(stream, buffer_size=PART_BYTES))
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
    first_part = reader.read(PART_BYTES)
    if len(first_part) < PART_BYTES:  # the stream ended, and a stream only ends when it is good
        response = s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=first_part,
            Metadata=metadata,
            ContentType=content_type,
            BucketKeyEnabled=True,
            **encryption,  # type: ignore[arg-type]
        )
        return PublishedObject(bucket, key, response.get("VersionId"), len(first_part))
    s3.upload_fileobj(
        cast(IO[bytes], _Prepended(first_part, reader)),
        bucket,
        key,
        ExtraArgs={
            **encryption,
            # No BucketKeyEnabled: s3transfer does not pass it on; the bucket default has it.
            "Metadata": metadata,
            "ContentType": content_type,
        },
        Config=transfer_config(),
    )
    # s3transfer does not return the response; the manifest claim keeps other writers away.
    head = s3.head_object(Bucket=bucket, Key=key)
    return PublishedObject(bucket, key, head.get("VersionId"), head["ContentLength"])


class _Prepended(io.RawIOBase):
    """``head`` followed by the rest of ``tail``; reads are as full as ``tail`` gives them."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            count = len(self._head) if size < 0 else min(size, len(self._head))
            piece = bytes(self._head[:count])
            self._head = self._head[count:]
            if size < 0 or count == size:
                return piece
            return piece + self._tail.read(size - count)
        return self._tail.read(size)
