"""The pipeline's scratch files for one run, under ``_work/{run_id}/`` in the data bucket.

Step Functions passes at most 256 KB between states, and a backfill can plan thousands of files,
so work lists travel through S3: the Distributed Maps read them with an S3 ItemReader. Every task
also writes its result here, so the Report step can check each planned item for a result itself
instead of trusting the Map (which does not fail when items fail).

A backfill leaves tens of thousands of these files; the steps that read them all (Collect and
Report) find them by listing, never by probing, and read them a few at a time in parallel
(:func:`edx_vault.parallel.ordered_map`), in key order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from edx_vault.bucket_layout import WORK_PREFIX
from edx_vault.parallel import ordered_map

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIRROR_ITEMS: Final = "mirror-items.json"
DECRYPT_ITEMS: Final = "decrypt-items.json"
PLAN_SUMMARY: Final = "plan.json"


def item_digest(*parts: str | None) -> str:
    """A short stable name for an item's files (keys can be long and contain anything)."""
    return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RunFiles:
    """Reads and writes one run's files, encrypted under the data key."""

    s3: S3Client
    bucket: str
    kms_key_arn: str
    run_id: str

    def key(self, *parts: str) -> str:
        return "/".join((WORK_PREFIX.rstrip("/"), self.run_id, *parts))

    def put_json(self, key: str, value: Any) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(value, sort_keys=True, default=str).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.kms_key_arn,
        )

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def get_json_or(self, key: str, default: Any, *, present: Collection[str]) -> Any:
        """The document at ``key`` if it is among ``present`` (from :meth:`existing_keys`)."""
        return self.get_json(key) if key in present else default

    def existing_keys(self, *prefix_parts: str, recursive: bool = True) -> frozenset[str]:
        """Every key under a folder of this run (the whole run without ``prefix_parts``).

        Whether a file exists is asked by listing, never by reading it: S3 answers a read of a
        missing key with 403, not 404, to a caller whose ``s3:ListBucket`` is limited by
        ``s3:prefix`` (GetObject carries no prefix), so a missing result could not be told
        from a refusal.

        Parameters
        ----------
        prefix_parts
            The folder, as parts of :meth:`key`.
        recursive
            False for the keys directly in the folder only (a ``/`` delimiter), without
            listing its subfolders: the run's own files without its thousands of items'.
        """
        prefix = self.key(*prefix_parts) + "/"
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = (
            paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            if recursive
            else paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
        )
        return frozenset(entry["Key"] for page in pages for entry in page.get("Contents", []))

    def existing_keys_in(self, *folders: tuple[str, ...]) -> frozenset[str]:
        """The run's own files and every key under each of ``folders``, listed concurrently.

        Each folder is one chain of 1,000-key pages; listing them side by side rather than
        the whole run in one chain also skips the folders the caller does not need.
        """

        def listed(folder: tuple[str, ...]) -> frozenset[str]:
            return self.existing_keys(*folder, recursive=bool(folder))

        return frozenset().union(*ordered_map(listed, [(), *folders]))

    def get_json_many(self, keys: Iterable[str]) -> Iterator[Any]:
        """The documents at ``keys``, read concurrently, in the order of ``keys``.

        A read that fails raises here, unchanged, once the caller reaches its key.
        """
        return ordered_map(self.get_json, keys)

    def list_json(self, *prefix_parts: str) -> list[Any]:
        """Every JSON document under a folder of this run, in key order."""
        return list(self.get_json_many(sorted(self.existing_keys(*prefix_parts))))

    def unit_list_key(self, source_bucket: str, source_key: str) -> str:
        return self.key("units", f"{item_digest(source_bucket, source_key)}.json")

    def result_key(self, stage: str, source_key: str, member: str | None = None) -> str:
        return self.key("results", stage, f"{item_digest(source_key, member)}.json")
