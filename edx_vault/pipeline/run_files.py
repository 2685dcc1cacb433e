"""The pipeline's scratch files for one run, under ``_work/{run_id}/`` in the data bucket.

Step Functions passes at most 256 KB between states, and a backfill can plan thousands of files,
so work lists travel through S3: the Distributed Maps read them with an S3 ItemReader. Every task
also writes its result here, so the Report step can check each planned item for a result itself
instead of trusting the Map (which does not fail when items fail).

A backfill plans tens of thousands of items. The work lists are therefore lists of *batches*
(:func:`batches`): each Map iteration, one Lambda invocation, handles a batch of up to
:data:`BATCH_MAX_ITEMS` items and writes one results file (and, for Mirror, one units file) for
the whole batch, so Collect and Report read a few hundred files instead of one per item. The
steps that read them find them by listing, never by probing, and read them a few at a time in
parallel (:func:`edx_vault.engine.parallel.ordered_map`), in key order. A work list or results file
of single items (written before batches) reads the same (:class:`~edx_vault.pipeline.work_items.MirrorBatch` and its kin, :func:`results_of`);
:func:`parsed_entries` reads a file's entries as a model, and a file the pipeline could not have
written fails with :class:`MalformedRunFileError`, which names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from edx_vault.engine.parallel import ordered_map
from edx_vault.package.bucket_layout import WORK_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIRROR_ITEMS: Final = "mirror-items.json"
DECRYPT_ITEMS: Final = "decrypt-items.json"
SPLIT_ITEMS: Final = "split-items.json"
PLAN_SUMMARY: Final = "plan.json"

# A batch's bounds. Items: a results file per batch instead of per item is what makes Collect
# and Report fit their timeouts at backfill scale (bench/pipeline_scale.py); 100 items cut the
# files a hundredfold. Bytes of source data: a batch runs its items one after another in one
# invocation of a 15-minute function, so a batch of large files is cut short (1 GiB copies or
# decrypts in well under a minute at the throughput S3 gives one Lambda). Bytes of work item
# JSON: the batch is a Map iteration's input, which Step Functions limits to 256 KiB.
BATCH_MAX_ITEMS: Final = 100
BATCH_MAX_DATA_BYTES: Final = 1 << 30
BATCH_MAX_JSON_BYTES: Final = 128 * 1024
# Splitting by course parses every event: about ten times the CPU per gzip byte that decrypting
# takes (bench/course_split.py), so a split batch holds an eighth of the bytes.
SPLIT_BATCH_MAX_DATA_BYTES: Final = BATCH_MAX_DATA_BYTES // 8

Entry = TypeVar("Entry", bound=BaseModel)


def item_digest(*parts: str | None) -> str:
    """A short stable name for an item's files (keys can be long and contain anything)."""
    return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()[:32]


def batches(
    items: Iterable[dict[str, Any]],
    *,
    data_bytes: Callable[[dict[str, Any]], int],
    max_data_bytes: int = BATCH_MAX_DATA_BYTES,
) -> list[dict[str, Any]]:
    """``items`` cut into consecutive batches ``{"items": [...]}``, the Maps' work items.

    A batch closes before an item that would take it over :data:`BATCH_MAX_ITEMS` items,
    ``max_data_bytes`` of source data (``data_bytes(item)``) or
    :data:`BATCH_MAX_JSON_BYTES` of JSON; an item over a bound on its own is a batch of one.
    """
    cut: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    data = size = 0
    for item in items:
        item_data = data_bytes(item)
        item_size = len(json.dumps(item, sort_keys=True, default=str)) + 2
        if batch and (
            len(batch) == BATCH_MAX_ITEMS
            or data + item_data > max_data_bytes
            or size + item_size > BATCH_MAX_JSON_BYTES
        ):
            cut.append({"items": batch})
            batch, data, size = [], 0, 0
        batch.append(item)
        data += item_data
        size += item_size
    if batch:
        cut.append({"items": batch})
    return cut


def results_of(document: Any) -> list[dict[str, Any]]:
    """The results in one results file: a batch's list, or one item's result."""
    return list(document) if isinstance(document, list) else [document]


class MalformedRunFileError(ValueError):
    """A run file with an entry the pipeline could not have written: says which file and entry.

    Never a reason to skip the entry: a report that passed over a result it could not read
    would report its item as lost, or not at all. Retrying does not mend the file, so this is
    not a :class:`~edx_vault.engine.errors.TransientError`.
    """

    def __init__(self, key: str, index: int, error: ValidationError) -> None:
        super().__init__(f"run file {key}, entry {index}: {error}")
        self.key = key
        self.index = index


def parsed_entries(
    model: type[Entry], document: Any, *, key: str, context: dict[str, Any] | None = None
) -> list[Entry]:
    """The entries of the run file at ``key`` (a list, or one object) as ``model``.

    ``context`` is pydantic's validation context. An entry that does not validate raises
    :class:`MalformedRunFileError`, naming the file, the entry and (pydantic's message) the field.
    """
    entries: list[Entry] = []
    for index, entry in enumerate(results_of(document)):
        try:
            entries.append(model.model_validate(entry, context=context))
        except ValidationError as error:
            raise MalformedRunFileError(key, index, error) from error
    return entries


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

    def batch_digest(self, items: Iterable[dict[str, Any]]) -> str:
        """A batch's name: the same for every attempt at it, different for every batch."""
        return item_digest(
            *(
                f"{item['source_bucket']}\0{item['source_key']}\0{item.get('member') or ''}"
                for item in items
            )
        )

    def batch_units_key(self, digest: str) -> str:
        return self.key("units", f"batch-{digest}.json")

    def batch_splits_key(self, digest: str) -> str:
        """The event logs a decrypt batch hands on to the split (Collect joins them)."""
        return self.key("splits", f"batch-{digest}.json")

    def batch_result_key(self, stage: str, digest: str) -> str:
        return self.key("results", stage, f"batch-{digest}.json")
