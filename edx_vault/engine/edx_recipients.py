"""Which keys edX encrypts to now: an org's newest file, and the recipients its first bytes name.

edX encrypts every file to the data czar keys registered for the org when it exports the file,
so its newest file says which keys it encrypts to today. Finding it takes a few listings with
edX's keys: the event logs of the latest year folder that has any (per site spelling), and the
weekly zips. Reading its recipients takes the first :data:`HEAD_BYTES` of the file with a ranged
GET; for a zip, the first encrypted member's first bytes, found through the zip's central
directory and the member's local header (:mod:`edx_vault.engine.zip_archive` over
:mod:`edx_vault.engine.ranged_object`), so a multi-gigabyte zip is never downloaded.

Nothing is decrypted, and nothing but the session key packets is interpreted
(:mod:`edx_vault.engine.openpgp_packets`). ``edx-vault doctor`` asks it whether edX encrypts to the
pipeline's primary key; ``edx-vault keygen --retire`` (:mod:`edx_vault.cli.key_retirement`)
whether edX's newest files, or the unpublished ``raw/`` copies in the vault, are still encrypted
to the key it is asked to remove.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from edx_vault.engine import zip_archive
from edx_vault.engine.errors import PermanentError
from edx_vault.engine.openpgp_packets import PacketError, Recipients, message_recipients
from edx_vault.engine.ranged_object import open_ranged
from edx_vault.package import source_keys
from edx_vault.package.edx_spellings import UnknownNameError
from edx_vault.package.source_keys import SourceKind

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Enough for dozens of RSA-4096 session key packets (about 520 bytes each).
HEAD_BYTES: Final = 16 * 1024
# Per ranged GET while reading a zip: its end record, central directory and one member's start.
ZIP_BLOCK_BYTES: Final = 64 * 1024


class UnreadableFileError(Exception):
    """The newest file cannot say who it is encrypted to; the message says why."""


@dataclass(frozen=True)
class EdxFile:
    """One of edX's objects.

    Attributes
    ----------
    bucket, key
        Where it is.
    size, etag, last_modified
        From the listing; ``last_modified`` is when edX wrote (and so encrypted) it.
    kind
        An event log or a weekly zip.
    date
        The day of the log, or the export date of the zip.
    """

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    kind: SourceKind
    date: dt.date

    @property
    def uri(self) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class FileRecipients:
    """Who one of edX's files is encrypted to.

    Attributes
    ----------
    file
        The file.
    member
        The zip member read, for a zip; ``None`` for an event log.
    recipients
        The session key packets at the start of the (member's) ciphertext.
    """

    file: EdxFile
    member: str | None
    recipients: Recipients

    @property
    def where(self) -> str:
        """``s3://bucket/key``, and ``[member]`` for a zip: what was read."""
        return _where(self.file, self.member)


def _where(file: EdxFile, member: str | None) -> str:
    return file.uri + (f" [{member}]" if member else "")


def _listed(edx_s3: S3Client, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    paginator = edx_s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])  # type: ignore[misc]


def _files(
    bucket: str, entries: Iterable[dict[str, Any]], org: str, kind: SourceKind
) -> Iterator[EdxFile]:
    """The entries that are ``kind`` files of exactly ``org`` (prefixes also match longer ids)."""
    for entry in entries:
        try:
            source = source_keys.parse_source_key(bucket, entry["Key"])
        except UnknownNameError:
            continue
        if source.org != org or source.kind is not kind or source.date is None:
            continue
        yield EdxFile(
            bucket=bucket,
            key=entry["Key"],
            size=int(entry["Size"]),
            etag=str(entry["ETag"]),
            last_modified=entry["LastModified"],
            kind=kind,
            date=source.date,
        )


def _newest(files: Iterable[EdxFile]) -> EdxFile | None:
    return max(files, key=lambda f: (f.last_modified, f.date, f.key), default=None)


def newest_event_log(
    edx_s3: S3Client,
    *,
    bucket: str,
    org: str,
    site_spellings: Iterable[str],
    first_year: int,
    last_year: int,
) -> EdxFile | None:
    """The org's most recently written event log, or ``None`` when it has none.

    Year folders are listed from ``last_year`` back to ``first_year``, and for each site
    spelling the first folder with a log ends the search: usually one listing per spelling.
    """
    found: list[EdxFile] = []
    for spelling in site_spellings:
        for year in range(last_year, first_year - 1, -1):
            prefix = source_keys.event_log_list_prefix(org, spelling, year)
            logs = list(
                _files(bucket, _listed(edx_s3, bucket, prefix), org.lower(), SourceKind.EVENT_LOG)
            )
            if logs:
                found.extend(logs)
                break
    return _newest(found)


def newest_weekly_zip(edx_s3: S3Client, *, bucket: str, org: str) -> EdxFile | None:
    """The org's most recently written weekly zip, or ``None`` when it has none."""
    prefix = source_keys.weekly_zip_list_prefix(org)
    return _newest(
        _files(bucket, _listed(edx_s3, bucket, prefix), org.lower(), SourceKind.WEEKLY_ZIP)
    )


def newest_file(candidates: Iterable[EdxFile | None]) -> EdxFile | None:
    """The most recently written of the candidates (``None`` ones ignored)."""
    return _newest(candidate for candidate in candidates if candidate is not None)


def _event_log_head(edx_s3: S3Client, file: EdxFile) -> bytes:
    response = edx_s3.get_object(
        Bucket=file.bucket, Key=file.key, Range=f"bytes=0-{HEAD_BYTES - 1}", IfMatch=file.etag
    )
    return response["Body"].read(HEAD_BYTES)


def _zip_member_head(edx_s3: S3Client, file: EdxFile) -> tuple[str, bytes]:
    """The first encrypted member's name and first bytes.

    Raises
    ------
    UnreadableFileError
        When the zip cannot be read or holds no member with data.
    """
    reader = open_ranged(
        edx_s3,
        bucket=file.bucket,
        key=file.key,
        size=file.size,
        etag=file.etag,
        block_bytes=ZIP_BLOCK_BYTES,
    )
    try:
        archive = zip_archive.open_archive(reader)
        members = [
            member
            for member in zip_archive.list_members(archive)
            # `zip -r` writes a directory entry for each folder; they hold nothing.
            if not member.is_directory and member.compressed_bytes > 0
        ]
        if not members:
            raise UnreadableFileError(f"{file.uri} holds no member with data")
        # Every member of one export is encrypted to the same keys: the first one will do.
        chosen = next((m for m in members if m.name.endswith(".gpg")), members[0])
        with zip_archive.open_member(archive, chosen.name, archive_bytes=file.size) as member:
            return chosen.name, member.read(HEAD_BYTES)
    except PermanentError as error:
        raise UnreadableFileError(f"{file.uri}: {error.reason}") from None


def read_recipients(edx_s3: S3Client, file: EdxFile) -> FileRecipients:
    """Who ``file`` (or, for a zip, its first encrypted member) is encrypted to.

    Parameters
    ----------
    edx_s3
        An S3 client with edX's keys.
    file
        From :func:`newest_event_log` or :func:`newest_weekly_zip`.

    Raises
    ------
    UnreadableFileError
        When the bytes are not an encrypted OpenPGP message, or the zip cannot be read.
    botocore.exceptions.ClientError
        When edX's S3 refuses the read.
    """
    member: str | None = None
    if file.kind is SourceKind.WEEKLY_ZIP:
        member, head = _zip_member_head(edx_s3, file)
    else:
        head = _event_log_head(edx_s3, file)
    try:
        recipients = message_recipients(head)
    except PacketError as error:
        raise UnreadableFileError(f"{_where(file, member)}: {error}") from None
    return FileRecipients(file=file, member=member, recipients=recipients)
