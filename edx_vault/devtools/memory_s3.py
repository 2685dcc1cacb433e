# ruff: noqa: N803 - the methods take boto3's own argument names
"""An S3 client stand-in that keeps objects in memory: for engine tests and benchmarks that must
measure the engine alone (moto's HTTP server would dominate both the time and the memory).

Only the calls the split engine makes: put_object, get_object (whole, or one byte range),
create/upload_part/complete/abort multipart upload, delete_object, list_multipart_uploads.
Versioned like the data bucket: every write makes a new version, a delete adds a marker.
``fail_on`` injects a fault: ``{"upload_part": 3}`` raises on the third upload_part call.
``discard_bodies`` keeps sizes only (for benchmarks of gigabytes).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


@dataclass
class StoredObject:
    body: bytes
    size: int
    metadata: dict[str, str]
    version_id: str
    encryption: dict[str, str]


@dataclass
class MemoryS3:
    """In-memory S3 for one bucket's worth of keys (bucket names are kept apart too)."""

    fail_on: dict[str, int] = field(default_factory=dict)
    discard_bodies: bool = False
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    versions: dict[tuple[str, str], list[StoredObject | None]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.fail_on.get(name) == self.calls[name]:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, name)

    def _store(
        self, bucket: str, key: str, body: bytes, metadata: dict[str, str], **extra: Any
    ) -> str:
        version = f"v{next(self._ids)}"
        stored = StoredObject(
            body=b"" if self.discard_bodies else body,
            size=len(body),
            metadata=dict(metadata),
            version_id=version,
            encryption={
                k: v for k, v in extra.items() if k.startswith("SSE") or k == "ServerSideEncryption"
            },
        )
        self.objects[(bucket, key)] = stored
        self.versions.setdefault((bucket, key), []).append(stored)
        return version

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: bytes,
        Metadata: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        self._call("put_object")
        return {"VersionId": self._store(Bucket, Key, bytes(Body), Metadata or {}, **extra)}

    def get_object(
        self, *, Bucket: str, Key: str, Range: str | None = None, **_: Any
    ) -> dict[str, Any]:
        self._call("get_object")
        stored = self.objects.get((Bucket, Key))
        if stored is None:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        body = stored.body
        if Range is not None:
            first, last = (int(n) for n in Range.removeprefix("bytes=").split("-"))
            body = body[first : last + 1]
        return {
            "Body": io.BytesIO(body),
            "Metadata": dict(stored.metadata),
            "VersionId": stored.version_id,
        }

    def delete_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self._call("delete_object")
        if self.objects.pop((Bucket, Key), None) is not None:
            self.versions[(Bucket, Key)].append(None)  # a delete marker
        return {}

    def create_multipart_upload(
        self, *, Bucket: str, Key: str, Metadata: dict[str, str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        self._call("create_multipart_upload")
        upload_id = f"u{next(self._ids)}"
        self.uploads[upload_id] = {
            "bucket": Bucket,
            "key": Key,
            "parts": {},
            "metadata": Metadata or {},
            "extra": extra,
        }
        return {"UploadId": upload_id}

    def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes, **_: Any
    ) -> dict[str, Any]:
        self._call("upload_part")
        upload = self.uploads[UploadId]
        upload["parts"][PartNumber] = b"" if self.discard_bodies else bytes(Body)
        upload.setdefault("sizes", {})[PartNumber] = len(Body)
        return {"ETag": f'"{UploadId}-{PartNumber}"'}

    def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        self._call("complete_multipart_upload")
        upload = self.uploads.pop(UploadId)
        numbers = [part["PartNumber"] for part in MultipartUpload["Parts"]]
        sizes = upload.get("sizes", {})
        for number in numbers[:-1]:
            if sizes[number] < 5 * 1024 * 1024:
                raise ClientError(
                    {"Error": {"Code": "EntityTooSmall", "Message": "part"}},
                    "CompleteMultipartUpload",
                )
        body = b"".join(upload["parts"][n] for n in numbers)
        version = self._store(Bucket, Key, body, upload["metadata"], **upload["extra"])
        if self.discard_bodies:
            self.objects[(Bucket, Key)].size = sum(sizes[n] for n in numbers)
        return {"VersionId": version}

    def abort_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, **_: Any
    ) -> dict[str, Any]:
        self._call("abort_multipart_upload")
        self.uploads.pop(UploadId, None)
        return {}

    def list_multipart_uploads(self, *, Bucket: str, **_: Any) -> dict[str, Any]:
        return {
            "Uploads": [
                {"Key": u["key"], "UploadId": i}
                for i, u in self.uploads.items()
                if u["bucket"] == Bucket
            ]
        }

    def keys(self, prefix: str = "") -> list[str]:
        """The keys with a current version under ``prefix``, sorted."""
        return sorted(key for (_, key) in self.objects if key.startswith(prefix))
