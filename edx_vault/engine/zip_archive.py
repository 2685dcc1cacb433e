"""Reading a mirrored weekly zip member by member, without trusting what the zip claims.

:mod:`zipfile` does the format work (zip64 included) over a ranged-GET file, so only the central
directory and the members we decrypt are fetched. Before a member is opened its directory entry is
checked against the archive: names that escape the package folder, sizes larger than the archive,
and members claiming to expand far beyond what OpenPGP ciphertext can (it does not compress) are
refused as :class:`~edx_vault.engine.errors.PermanentError`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import IO, BinaryIO, Final

from edx_vault.engine.errors import PermanentError

# Every member is OpenPGP ciphertext, which deflate cannot shrink: a legitimate member expands by
# at most a few bytes of framing. Allow generous slack and refuse anything that claims more.
MAX_EXPANSION_RATIO: Final = 2
EXPANSION_SLACK_BYTES: Final = 1024 * 1024
SUPPORTED_COMPRESSION: Final = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True)
class MemberEntry:
    """A member as the central directory describes it."""

    name: str
    compressed_bytes: int
    uncompressed_bytes: int
    is_directory: bool


def open_archive(reader: BinaryIO) -> zipfile.ZipFile:
    """Open a zip from a seekable reader; a damaged zip is a permanent error."""
    try:
        return zipfile.ZipFile(reader)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise PermanentError(
            "corrupt-zip", f"the zip's central directory cannot be read ({error})"
        ) from None


def list_members(archive: zipfile.ZipFile) -> list[MemberEntry]:
    """Every entry of the central directory, in order."""
    return [
        MemberEntry(
            name=info.filename,
            compressed_bytes=info.compress_size,
            uncompressed_bytes=info.file_size,
            is_directory=info.is_dir(),
        )
        for info in archive.infolist()
    ]


def open_member(archive: zipfile.ZipFile, name: str, *, archive_bytes: int) -> IO[bytes]:
    """Open one member for streaming, after checking its directory entry.

    Raises
    ------
    PermanentError
        ``zip-bomb`` for impossible sizes, ``corrupt-zip`` for entries that point outside the
        archive or use an unsupported compression, ``missing-member`` if it is not there.
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise PermanentError("missing-member", f"{name!r} is not in the zip") from None
    if info.compress_type not in SUPPORTED_COMPRESSION:
        raise PermanentError(
            "corrupt-zip", f"{name!r} uses compression method {info.compress_type}"
        )
    if info.header_offset + info.compress_size > archive_bytes:
        raise PermanentError(
            "corrupt-zip", f"{name!r} claims to extend past the end of the archive"
        )
    limit = info.compress_size * MAX_EXPANSION_RATIO + EXPANSION_SLACK_BYTES
    if info.file_size > limit:
        raise PermanentError(
            "zip-bomb",
            f"{name!r} claims {info.file_size} bytes from {info.compress_size} compressed; "
            "encrypted members cannot expand like that",
        )
    try:
        return archive.open(info)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
        raise PermanentError("corrupt-zip", f"{name!r} cannot be opened ({error})") from None
