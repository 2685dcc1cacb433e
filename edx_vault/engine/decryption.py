"""Decrypting one mirrored file, or one member of a mirrored zip, into its published key.

A *unit* is what gpg decrypts in one go: a whole ``.gpg`` object (event log, RDX archive) or one
``.gpg`` member of a weekly or email opt-in zip. Its ciphertext is read from the mirrored copy in
``raw/`` (pinned to the version the mirror wrote), streamed through gpg and uploaded under the
data key; the upload completes only if gpg proves the message intact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final

import gnupg
from botocore.exceptions import ClientError

from edx_vault.engine.errors import PermanentError, aws_error_code
from edx_vault.engine.gpg_stream import DecryptedStream
from edx_vault.engine.publish import upload_stream
from edx_vault.engine.ranged_object import open_ranged
from edx_vault.engine.zip_archive import list_members, open_archive, open_member
from edx_vault.package import edx_spellings, member_names, output_keys, source_keys
from edx_vault.package.edx_spellings import UnknownNameError
from edx_vault.package.member_names import PackageMember
from edx_vault.package.source_keys import SourceObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# A compressed OpenPGP packet can expand without bound. edX's TSV exports compress well (about
# 20x), so allow far more than that before calling it a bomb, and never less than 64 MiB.
MAX_EXPANSION_RATIO: Final = 250
MIN_PLAINTEXT_LIMIT: Final = 64 * 1024 * 1024

_CONTENT_TYPES: Final = {
    ".log.gz": "application/gzip",
    ".tar.gz": "application/gzip",
    ".sql": "text/tab-separated-values; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".mongo": "application/x-ndjson",
}


@dataclass(frozen=True)
class DecryptUnit:
    """One thing to decrypt: a mirrored object, or one member of it."""

    source_bucket: str
    source_key: str
    source_etag: str
    raw_key: str
    raw_version_id: str | None
    raw_size: int
    member_name: str | None = None


@dataclass(frozen=True)
class DecryptedUnit:
    output_key: str
    version_id: str | None
    plaintext_bytes: int
    plaintext_sha256: str
    ciphertext_bytes: int


def _permanent_name_error(error: UnknownNameError) -> PermanentError:
    code = (
        "unsafe-member"
        if isinstance(error, edx_spellings.UnsafeMemberNameError)
        else "unknown-name"
    )
    return PermanentError(code, str(error))


def parse_source(bucket: str, key: str) -> SourceObject:
    try:
        return source_keys.parse_source_key(bucket, key)
    except UnknownNameError as error:
        raise _permanent_name_error(error) from None


def units_of(
    vault_s3: S3Client,
    *,
    bucket: str,
    source: SourceObject,
    source_etag: str,
    raw_key: str,
    raw_version_id: str | None,
    raw_size: int,
) -> list[DecryptUnit]:
    """The units of a mirrored object: itself, or each member listed in its central directory.

    Raises
    ------
    PermanentError
        ``corrupt-zip`` when the central directory cannot be read.
    TransientError
        A ranged GET of the central directory failed in a way that clears up by itself.
    """

    def unit(member_name: str | None) -> DecryptUnit:
        return DecryptUnit(
            source_bucket=source.bucket,
            source_key=source.key,
            source_etag=source_etag,
            raw_key=raw_key,
            raw_version_id=raw_version_id,
            raw_size=raw_size,
            member_name=member_name,
        )

    if not source.is_zip:
        return [unit(None)]
    reader = open_ranged(
        vault_s3, bucket=bucket, key=raw_key, size=raw_size, version_id=raw_version_id
    )
    with reader, open_archive(reader) as archive:
        return [unit(entry.name) for entry in list_members(archive) if not entry.is_directory]


def describe_unit(unit: DecryptUnit) -> SourceObject | PackageMember:
    """What the unit is, from its names alone.

    Raises
    ------
    PermanentError
        ``unknown-name``, ``unsafe-member``, or ``edx-export-failed`` for a ``.failed.gpg`` member.
    """
    source = parse_source(unit.source_bucket, unit.source_key)
    if unit.member_name is None:
        return source
    try:
        member = member_names.parse_member_name(source, unit.member_name)
    except UnknownNameError as error:
        raise _permanent_name_error(error) from None
    if member.failed:
        raise PermanentError(
            "edx-export-failed",
            f"edX's export of {member.table} for {member.entity} failed (a .failed.gpg marker "
            "holding a traceback was delivered instead of data); ask edX to re-run it",
        )
    return member


def content_type_of(name: str) -> str:
    for suffix, content_type in _CONTENT_TYPES.items():
        if name.endswith(suffix):
            return content_type
    return "application/octet-stream"


def decrypt_unit(
    vault_s3: S3Client,
    gpg: gnupg.GPG,
    *,
    passphrase: str | None,
    unit: DecryptUnit,
    bucket: str,
    kms_key_arn: str,
) -> DecryptedUnit:
    """Decrypt ``unit`` from ``raw/`` and publish it at its output key.

    Raises
    ------
    PermanentError
        For anything wrong with the file itself; nothing is published and no multipart upload
        is left open.
    TransientError
        A read of the ciphertext failed in a way that clears up by itself (a timeout, a dropped
        connection, throttling); likewise nothing is published, and nothing is said about the
        file. A failed GET before gpg starts propagates as botocore raised it.
    """
    described = describe_unit(unit)
    output_key = output_keys.output_key(described)
    if output_key is None:
        raise PermanentError("not-publishable", f"{unit.source_key} has no published form")
    with _open_ciphertext(vault_s3, unit, bucket=bucket) as (ciphertext, ciphertext_size):
        plaintext = DecryptedStream(
            gpg,
            ciphertext,
            passphrase=passphrase,
            max_plaintext_bytes=max(MIN_PLAINTEXT_LIMIT, ciphertext_size * MAX_EXPANSION_RATIO),
        )
        try:
            published = upload_stream(
                vault_s3,
                bucket=bucket,
                key=output_key,
                stream=plaintext,
                kms_key_arn=kms_key_arn,
                metadata=output_metadata(unit),
                content_type=content_type_of(output_key),
            )
        finally:
            plaintext.close()
    return DecryptedUnit(
        output_key=output_key,
        version_id=published.version_id,
        plaintext_bytes=plaintext.size,
        plaintext_sha256=plaintext.sha256,
        ciphertext_bytes=plaintext.ciphertext_bytes,
    )


def output_metadata(unit: DecryptUnit) -> dict[str, str]:
    """The metadata a published object carries: which source version and member it is."""
    metadata = {
        "source-bucket": unit.source_bucket,
        "source-key": unit.source_key,
        "source-etag": unit.source_etag,
        "raw-version-id": unit.raw_version_id or "",
    }
    if unit.member_name is not None:
        metadata["source-member"] = unit.member_name
    return metadata


# A HEAD of a key that does not exist is 404 with s3:ListBucket and 403 without it (S3's
# HeadObject reference); the decrypt role may not list the published prefixes, so both mean
# "not there" here. Anything else is raised.
_NOT_THERE: Final = frozenset({"404", "NoSuchKey", "NotFound", "403", "AccessDenied"})
_HASH_CHUNK_BYTES: Final = 1024 * 1024


def published_earlier(
    vault_s3: S3Client, *, unit: DecryptUnit, bucket: str
) -> DecryptedUnit | None:
    """The output of ``unit`` if an earlier attempt published it, else ``None``.

    An attempt that dies after its upload completed and before the manifest recorded it (the
    process killed, the sandbox timed out) leaves the object published and the unit's row
    unfinished; the attempt that takes the row up must record that object, not publish the
    same bytes again as a second version. The object is this unit's exactly when its metadata
    names this source version and member (:func:`output_metadata`): an upload only completes
    when gpg verified the whole stream, so such an object is whole. Its digest is read back
    (the manifest records it, and ``verify`` checks it); the ciphertext size is not known
    without decrypting again and is recorded as 0.
    """
    output_key = output_keys.output_key(describe_unit(unit))
    if output_key is None:
        return None
    try:
        head = vault_s3.head_object(Bucket=bucket, Key=output_key)
    except ClientError as error:
        if aws_error_code(error) in _NOT_THERE:
            return None
        raise
    if head.get("Metadata", {}) != output_metadata(unit):
        return None
    # The object the HEAD saw, by its ETag: a GET by VersionId would need s3:GetObjectVersion,
    # which the decrypt role does not have (S3's actions for a versioned GET).
    body = vault_s3.get_object(Bucket=bucket, Key=output_key, IfMatch=head["ETag"])["Body"]
    digest, size = hashlib.sha256(), 0
    with closing(body):
        for chunk in body.iter_chunks(_HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return DecryptedUnit(
        output_key, head.get("VersionId"), size, digest.hexdigest(), ciphertext_bytes=0
    )


@contextmanager
def _open_ciphertext(
    vault_s3: S3Client, unit: DecryptUnit, *, bucket: str
) -> Iterator[tuple[IO[bytes], int]]:
    """The unit's ciphertext as a stream, and its size; every layer is closed afterwards."""
    if unit.raw_size == 0:
        raise PermanentError("empty-source", "the file is empty (0 bytes)")
    if unit.member_name is None:
        if unit.raw_version_id:
            response = vault_s3.get_object(
                Bucket=bucket, Key=unit.raw_key, VersionId=unit.raw_version_id
            )
        else:
            response = vault_s3.get_object(Bucket=bucket, Key=unit.raw_key)
        body = response["Body"]
        with closing(body):
            yield body, unit.raw_size  # type: ignore[misc]
        return
    with ExitStack() as layers:
        reader = layers.enter_context(
            open_ranged(
                vault_s3,
                bucket=bucket,
                key=unit.raw_key,
                size=unit.raw_size,
                version_id=unit.raw_version_id,
            )
        )
        archive = layers.enter_context(open_archive(reader))
        member = layers.enter_context(
            open_member(archive, unit.member_name, archive_bytes=unit.raw_size)
        )
        entry_size = archive.getinfo(unit.member_name).file_size
        if entry_size == 0:
            raise PermanentError("empty-source", f"{unit.member_name!r} is empty (0 bytes)")
        yield member, entry_size
