"""Checks 2 and 3 of ``keygen --retire``: no unpublished ``raw/`` file, no newest edX file needs it.

A ``raw/`` file is published when the manifest says it was mirrored at the version it holds,
split into its units, and every unit is done (or failed for a reason no key can change). Each
unpublished file's session key packets (for a zip, its first encrypted member's) are read with
a ranged GET; each org's newest file at edX is found and read as ``doctor`` does. A file whose
recipients cannot be told counts against retiring: the checks must prove the key is not needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from edx_vault.cli.checks import Check, verdict_for
from edx_vault.cli.edx_newest_files import newest_recipients
from edx_vault.cli.errors import CliError
from edx_vault.cli.key_retirement.plan import NOTHING_CHANGED, KeyNames
from edx_vault.engine.edx_recipients import (
    EdxFile,
    FileRecipients,
    UnreadableFileError,
    read_recipients,
)
from edx_vault.engine.errors import TransientError
from edx_vault.package import source_keys
from edx_vault.package.bucket_layout import RAW_PREFIX
from edx_vault.package.edx_spellings import UnknownNameError
from edx_vault.package.source_keys import SourceKind
from edx_vault.pipeline.manifest_rows import Status, is_unit_row, source_partition
from edx_vault.pipeline.manifest_schema import OBJECT_SORT_KEY, PARTITION_KEY, SORT_KEY
from edx_vault.settings.config import EdxConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Unit failures no key can change: such a unit will never be published, whatever is stored.
KEY_INDEPENDENT_FAILURES: Final = frozenset({"edx-export-failed", "not-publishable"})
# How many files a check lists by name; the rest are counted.
SHOWN_FILES: Final = 10
STORED_KEYS: Final = verdict_for("stored-keys", "Stored keys")
RAW_MIRROR: Final = verdict_for("raw-mirror", "raw/ mirror")
EDX_NEWEST: Final = verdict_for("edx-newest", "edX's newest files")


def _shown(lines: list[str]) -> tuple[str, ...]:
    if len(lines) <= SHOWN_FILES:
        return tuple(lines)
    return (*lines[:SHOWN_FILES], f"... and {len(lines) - SHOWN_FILES} more")


@dataclass(frozen=True)
class RawFile:
    """One object under ``raw/`` in the data bucket, as listed."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: dt.datetime

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def source(self) -> tuple[str, str] | None:
        """The edX (bucket, key) it mirrors: ``raw/{bucket}/{key}``; ``None`` for another name."""
        bucket, slash, key = self.key.removeprefix(RAW_PREFIX).partition("/")
        return (bucket, key) if bucket and slash and key else None


def raw_files(s3: S3Client, bucket: str) -> list[RawFile]:
    """Every current object under ``raw/`` in the data bucket."""
    found: list[RawFile] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RAW_PREFIX):
        for entry in page.get("Contents", []):
            found.append(
                RawFile(
                    bucket=bucket,
                    key=entry["Key"],
                    size=int(entry["Size"]),
                    etag=str(entry["ETag"]),
                    last_modified=entry["LastModified"],
                )
            )
    return found


def unpublished_reason(rows: list[dict[str, Any]]) -> str | None:
    """Why a mirrored source is not published yet, from its manifest rows; ``None`` if it is.

    Published: mirrored (object row done), split into its units (``unit_count``), and every unit
    of the mirrored version done, or failed for a reason no key can change
    (:data:`KEY_INDEPENDENT_FAILURES`).
    """
    objects = [row for row in rows if row.get(SORT_KEY) == OBJECT_SORT_KEY]
    if not objects:
        return "no manifest row"
    mirrored = objects[0]
    status = mirrored.get("status")
    if status != Status.DONE:
        code = mirrored.get("error_code")
        return f"mirror {status}" + (f" ({code})" if code else "")
    if "unit_count" not in mirrored:
        return "mirrored, not yet split into units to decrypt"
    version = mirrored.get("source_etag")
    units = [row for row in rows if is_unit_row(row) and row.get("source_etag") == version]
    expected = int(mirrored["unit_count"])
    open_units: list[str] = []
    for unit in units:
        unit_status = unit.get("status")
        code = unit.get("error_code")
        if unit_status == Status.DONE:
            continue
        if unit_status == Status.FAILED and code in KEY_INDEPENDENT_FAILURES:
            continue
        open_units.append(f"failed ({code})" if unit_status == Status.FAILED else str(unit_status))
    not_started = max(0, expected - len(units))
    if not open_units and not not_started:
        return None
    states = sorted(set(open_units)) + (["not started"] if not_started else [])
    return f"{len(open_units) + not_started} of {expected} unit(s) not published: " + ", ".join(
        states
    )


def raw_recipients(s3: S3Client, raw: RawFile) -> FileRecipients:
    """Who a ``raw/`` file (or, for a zip, its first encrypted member) is encrypted to.

    Raises
    ------
    UnreadableFileError
        The bytes are not an encrypted message, or the zip cannot be read.
    TransientError, botocore.exceptions.ClientError
        The read failed.
    """
    source: source_keys.SourceObject | None = None
    if raw.source is not None:
        try:
            source = source_keys.parse_source_key(*raw.source)
        except UnknownNameError:
            source = None
    is_zip = source.is_zip if source is not None else raw.key.endswith(".zip")
    # read_recipients reads a weekly zip's first encrypted member through its central directory
    # and any other file's first bytes: an email opt-in zip reads as a weekly zip does, and an
    # RDX archive (encrypted whole) as an event log does.
    file = EdxFile(
        bucket=raw.bucket,
        key=raw.key,
        size=raw.size,
        etag=raw.etag,
        last_modified=raw.last_modified,
        kind=SourceKind.WEEKLY_ZIP if is_zip else SourceKind.EVENT_LOG,
        date=source.date if source is not None and source.date else raw.last_modified.date(),
    )
    return read_recipients(s3, file)


def check_raw_mirror(
    s3: S3Client, bucket: str, manifest_rows: Iterable[dict[str, Any]], names: KeyNames
) -> Check:
    """Check 2: no unpublished ``raw/`` file is (or may be) encrypted to the key.

    Raises
    ------
    CliError
        When a ``raw/`` file cannot be read for a reason that may clear up (run again).
    botocore.exceptions.ClientError
        When AWS refuses a listing or read.
    """
    rows_by_source: dict[str, list[dict[str, Any]]] = {}
    for row in manifest_rows:
        rows_by_source.setdefault(str(row.get(PARTITION_KEY)), []).append(row)
    files = raw_files(s3, bucket)
    published = 0
    other_keys: list[str] = []
    no_key: list[str] = []
    blockers: list[str] = []
    for raw in files:
        source = raw.source
        reason = (
            unpublished_reason(rows_by_source.get(source_partition(*source), []))
            if source is not None
            else "not a name the pipeline writes (raw/{bucket}/{key})"
        )
        if reason is None:
            published += 1
            continue
        if raw.size == 0:
            no_key.append(f"{raw.uri}: {reason}; empty, so no key decrypts it")
            continue
        try:
            found = raw_recipients(s3, raw)
        except UnreadableFileError as error:
            no_key.append(f"{error} ({reason}): not an encrypted message, no key decrypts it")
            continue
        except TransientError as error:
            raise CliError(
                f"could not read {raw.uri} ({error}); run the command again. {NOTHING_CHANGED}"
            ) from None
        line = f"{found.where}: {reason}; encrypted to {names.label(found.recipients.key_ids)}"
        needs = names.needs_key(found.recipients)
        (blockers if needs else other_keys).append(line)
    counts = (
        f"{len(files)} raw file(s) in s3://{bucket}/{RAW_PREFIX} checked against the manifest: "
        f"{published} published, {len(other_keys)} unpublished and encrypted only to other "
        f"keys, {len(no_key)} unpublished that no key decrypts"
    )
    if blockers:
        return RAW_MIRROR(
            "FAIL",
            f"{len(blockers)} unpublished raw file(s) still need the key or cannot tell; {counts}",
            details=_shown(blockers) + _shown(other_keys) + _shown(no_key),
            fix=(
                "publish them first: `edx-vault sync --wait`, or, once the cause of a failure "
                "is fixed, `edx-vault sync --wait --retry-failed` (failure codes: "
                "docs/operations.md#failure-codes-in-reports); then retire again"
            ),
        )
    return RAW_MIRROR("PASS", counts, details=_shown(other_keys) + _shown(no_key))


def check_edx_newest(edx_s3: S3Client, edx: EdxConfig, names: KeyNames, *, this_year: int) -> Check:
    """Check 3: no org's newest file at edX is (or may be) encrypted to the key."""
    details: list[str] = []
    blockers: list[str] = []
    read = 0
    for newest in newest_recipients(edx_s3, edx, this_year=this_year):
        found = newest.found
        if newest.problem is not None:
            line = f"{newest.org}: cannot tell who edX encrypts to: {newest.problem}"
            details.append(line)
            blockers.append(line)
            continue
        if found is None:
            details.append(f"{newest.org}: no event log or weekly zip at edX yet")
            continue
        read += 1
        details.append(
            f"{newest.org}: {found.where} (written {found.file.last_modified:%Y-%m-%d}) is "
            f"encrypted to {names.label(found.recipients.key_ids)}"
        )
        needs = names.needs_key(found.recipients)
        if needs:
            blockers.append(f"{newest.org}: {found.where} {needs}")
    if blockers:
        return EDX_NEWEST(
            "FAIL",
            "; ".join(blockers[:3])
            + (f" (and {len(blockers) - 3} more)" if len(blockers) > 3 else ""),
            details=tuple(details),
            fix=(
                "ask edX to stop encrypting to the old key (to remove it from the data czar "
                "keys of your orgs), wait for their next export, and check with `edx-vault "
                "doctor`; then retire again"
            ),
        )
    if read == 0:
        return EDX_NEWEST(
            "FAIL",
            "edX has no event log or weekly zip for any org yet: nothing shows edX no longer "
            "encrypts to the key",
            details=tuple(details),
            fix="retire it after edX's first export to the new key",
        )
    return EDX_NEWEST(
        "PASS",
        f"the newest file of {read} org(s) at edX is not encrypted to the key",
        details=tuple(details),
    )
