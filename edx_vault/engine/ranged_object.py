"""A seekable, read-only file over one version of an S3 object, read by ranged GETs.

It lets :mod:`zipfile` read a weekly zip's central directory and stream single members straight
from S3, so a zip of tens of GB is never downloaded whole. Every GET is pinned to the object's
version (or ETag) so a concurrent overwrite cannot mix two files' bytes.

A GET that fails for a reason that clears up by itself (:func:`edx_vault.engine.errors.is_transient`),
or a body that is empty before the end of the object, raises
:class:`~edx_vault.engine.errors.TransientError`. That is not an ``OSError``, on purpose: :mod:`zipfile`
turns an ``OSError`` raised while it looks for the end of the archive into ``BadZipFile("File is
not a zip file")``, and botocore's read timeouts and the builtin connection errors are
all ``OSError`` subclasses, so a timeout would otherwise read as a corrupt zip.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Final

from edx_vault.engine.errors import ShortReadError, TransientError, describe, is_transient

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Read-ahead per GET: large enough to amortise request latency, small enough to stay flat.
DEFAULT_BLOCK_BYTES: Final = 8 * 1024 * 1024


class RangedObject(io.RawIOBase):
    """Raw, seekable view of ``s3://bucket/key`` at ``version_id`` (or ``etag``)."""

    def __init__(
        self,
        s3: S3Client,
        *,
        bucket: str,
        key: str,
        size: int,
        version_id: str | None = None,
        etag: str | None = None,
    ) -> None:
        super().__init__()
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._size = size
        self._version_id = version_id
        self._etag = etag
        self._position = 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = origin + offset
        if position < 0:
            raise OSError(f"seek before the start of s3://{self._bucket}/{self._key}")
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        last = min(self._position + len(buffer), self._size) - 1
        request: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "Range": f"bytes={self._position}-{last}",
        }
        if self._version_id:
            request["VersionId"] = self._version_id
        if self._etag:
            request["IfMatch"] = self._etag
        where = f"s3://{self._bucket}/{self._key} {request['Range']}"
        try:
            data = self._s3.get_object(**request)["Body"].read()
        except Exception as error:
            if is_transient(error):
                raise TransientError(f"{where}: {describe(error)}") from error
            raise
        self.requests += 1
        count = len(data)
        if count == 0:
            # Read as the end of the object, this would cut the member short for good. A body
            # that is merely short is fine: the buffered reader asks for the rest.
            raise ShortReadError(f"{where}: an empty body before the end of the object")
        buffer[:count] = data
        self._position += count
        return count


def open_ranged(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    size: int,
    version_id: str | None = None,
    etag: str | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> io.BufferedReader:
    """A buffered reader over :class:`RangedObject` that fetches ``block_bytes`` per request."""
    raw = RangedObject(s3, bucket=bucket, key=key, size=size, version_id=version_id, etag=etag)
    return io.BufferedReader(raw, buffer_size=block_bytes)
