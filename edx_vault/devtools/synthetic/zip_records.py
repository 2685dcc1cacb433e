"""Zips at the record level: writing them with exact names, zip64 records on demand, and reading
the central directory back as a ranged reader would.

Python's ``zipfile`` writes zip64 local headers on request (``force_zip64``) but writes the
central directory in zip64 form only past 4 GiB. edX's real zips are that big;
:func:`with_zip64_end_records` gives a small zip the same shape, so zip64 readers can be tested
without gigabytes. The record layouts are exported for the fault builders that edit them.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

LOCAL_HEADER: Final = struct.Struct("<4sHHHHHLLLHH")
CENTRAL_HEADER: Final = struct.Struct("<4sHHHHHHLLLHHHHHLL")
_END_RECORD: Final = struct.Struct("<4sHHHHLLH")
_ZIP64_END_RECORD: Final = struct.Struct("<4sQHHLLQQQQ")
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
LOCAL_HEADER_SIGNATURE: Final = b"PK\x03\x04"
CENTRAL_HEADER_SIGNATURE: Final = b"PK\x01\x02"
END_RECORD_SIGNATURE: Final = b"PK\x05\x06"
ZIP64_END_RECORD_SIGNATURE: Final = b"PK\x06\x06"
ZIP64_LOCATOR_SIGNATURE: Final = b"PK\x06\x07"
ZIP64_EXTRA_ID: Final = 0x0001
_MAX32: Final = 0xFFFFFFFF
_ZIP64_VERSION: Final = 45
_COPY_BYTES: Final = 64 * 1024


def write_zip(
    target: Path | BinaryIO,
    members: Sequence[tuple[str, bytes | Path]],
    *,
    date: dt.date,
    folders: Sequence[str] = (),
    compression: int = zipfile.ZIP_STORED,
    force_zip64: bool = False,
) -> None:
    """A zip with exactly these member names, not sanitised (``zipfile.write`` would strip ``/``).

    Parameters
    ----------
    target
        The file to write (a path, or a writable binary stream).
    members
        ``(name, content)`` pairs, in order; content is bytes or a file to stream from.
    date
        Every entry's modification date.
    folders
        Directory entries to write first (names ending ``/``), as ``zip -r`` does.
    compression
        ``zipfile.ZIP_STORED`` (ciphertext does not compress) or ``zipfile.ZIP_DEFLATED``.
    force_zip64
        Write zip64 local headers (see :func:`with_zip64_end_records` for the rest).
    """
    stamp = (date.year, date.month, date.day, 0, 0, 0)
    with zipfile.ZipFile(target, "w", compression=compression, allowZip64=True) as archive:
        # `zip -r` writes a directory entry for each folder: readers must skip them.
        for folder in folders:
            info = zipfile.ZipInfo(folder, date_time=stamp)
            info.external_attr = 0o40755 << 16 | 0x10
            archive.writestr(info, b"")
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o100644 << 16
            info.compress_type = compression
            with archive.open(info, "w", force_zip64=force_zip64) as output:
                if isinstance(content, Path):
                    with content.open("rb") as source:
                        shutil.copyfileobj(source, output, _COPY_BYTES)
                else:
                    output.write(content)


@dataclass(frozen=True)
class CentralDirectoryEntry:
    """One central directory record, with zip64 fields resolved.

    Attributes
    ----------
    name
        The member name as stored (not sanitised).
    record_offset
        Where the record starts in the zip.
    local_header_offset
        Where the member's local header starts.
    compressed_size, uncompressed_size
        As the central directory states them.
    compression
        0 stored, 8 deflated.
    zip64
        Whether the record carries a zip64 extra field.
    """

    name: str
    record_offset: int
    local_header_offset: int
    compressed_size: int
    uncompressed_size: int
    compression: int
    zip64: bool


@dataclass(frozen=True)
class CentralDirectory:
    """A zip's central directory and how its end was recorded."""

    entries: tuple[CentralDirectoryEntry, ...]
    offset: int
    size: int
    has_zip64_end_record: bool


def _central_record(data: bytes, position: int) -> tuple[list[Any], bytes, bytes, bytes]:
    """The fixed fields of the central record at ``position``, then its name, extra and comment."""
    fields = list(CENTRAL_HEADER.unpack_from(data, position))
    if fields[0] != CENTRAL_HEADER_SIGNATURE:
        raise ValueError(f"bad central directory record at {position}")
    name_start = position + CENTRAL_HEADER.size
    extra_start = name_start + fields[10]
    comment_start = extra_start + fields[11]
    comment_end = comment_start + fields[12]
    name, extra = data[name_start:extra_start], data[extra_start:comment_start]
    return fields, name, extra, data[comment_start:comment_end]


def read_central_directory(data: bytes) -> CentralDirectory:
    """Read a zip's central directory from its bytes (zip64 included), as a ranged reader would.

    Raises
    ------
    ValueError
        If there is no end record or a record's signature is wrong.
    """
    end = data.rfind(END_RECORD_SIGNATURE)
    if end < 0:
        raise ValueError("no end of central directory record")
    _, _, _, _, count, size, offset, _ = _END_RECORD.unpack_from(data, end)
    locator = end - _ZIP64_LOCATOR.size
    has_zip64 = locator >= 0 and data[locator : locator + 4] == ZIP64_LOCATOR_SIGNATURE
    if has_zip64:
        _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(data, locator)
        signature, *_, count, size, offset = _ZIP64_END_RECORD.unpack_from(data, record_offset)
        if signature != ZIP64_END_RECORD_SIGNATURE:
            raise ValueError("bad zip64 end of central directory record")
    entries = []
    position = offset
    for _ in range(count):
        fields, name, extra, comment = _central_record(data, position)
        compression, compressed, uncompressed = fields[5], fields[8], fields[9]
        header_offset = fields[16]
        zip64_values = _zip64_extra_values(extra)
        values = iter(zip64_values or ())
        if uncompressed == _MAX32:
            uncompressed = next(values)
        if compressed == _MAX32:
            compressed = next(values)
        if header_offset == _MAX32:
            header_offset = next(values)
        utf8 = bool(fields[3] & 0x800)
        entries.append(
            CentralDirectoryEntry(
                name=name.decode("utf-8" if utf8 else "cp437"),
                record_offset=position,
                local_header_offset=header_offset,
                compressed_size=compressed,
                uncompressed_size=uncompressed,
                compression=compression,
                zip64=zip64_values is not None,
            )
        )
        position += CENTRAL_HEADER.size + len(name) + len(extra) + len(comment)
    return CentralDirectory(
        entries=tuple(entries), offset=offset, size=size, has_zip64_end_record=has_zip64
    )


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    position = 0
    while position + 4 <= len(extra):
        header_id, length = struct.unpack_from("<HH", extra, position)
        yield header_id, extra[position + 4 : position + 4 + length]
        position += 4 + length


def _zip64_extra_values(extra: bytes) -> tuple[int, ...] | None:
    for header_id, body in _extra_fields(extra):
        if header_id == ZIP64_EXTRA_ID:
            return struct.unpack_from(f"<{len(body) // 8}Q", body)
    return None


def with_zip64_end_records(data: bytes) -> bytes:
    """A small zip with its central directory and end records rewritten in zip64 form.

    Every central record's sizes and offset move into a zip64 extra field (the 32-bit fields
    become 0xFFFFFFFF), and a zip64 end record and locator precede the classic end record,
    whose fields become 0xFFFF/0xFFFFFFFF. The members' bytes are untouched.
    """
    directory = read_central_directory(data)
    records = bytearray()
    for entry in directory.entries:
        fields, name, extra, comment = _central_record(data, entry.record_offset)
        kept = b"".join(
            struct.pack("<HH", header_id, len(body)) + body
            for header_id, body in _extra_fields(extra)
            if header_id != ZIP64_EXTRA_ID
        )
        zip64_extra = struct.pack(
            "<HHQQQ",
            ZIP64_EXTRA_ID,
            24,
            entry.uncompressed_size,
            entry.compressed_size,
            entry.local_header_offset,
        )
        fields[1] = max(fields[1] & 0xFF, _ZIP64_VERSION) | (fields[1] & 0xFF00)
        fields[2] = max(fields[2], _ZIP64_VERSION)
        fields[8] = fields[9] = fields[16] = _MAX32
        fields[11] = len(zip64_extra) + len(kept)
        records += CENTRAL_HEADER.pack(*fields) + name + zip64_extra + kept + comment
    count = len(directory.entries)
    zip64_end_offset = directory.offset + len(records)
    return (
        data[: directory.offset]
        + bytes(records)
        + _ZIP64_END_RECORD.pack(
            ZIP64_END_RECORD_SIGNATURE,
            _ZIP64_END_RECORD.size - 12,
            _ZIP64_VERSION,
            _ZIP64_VERSION,
            0,
            0,
            count,
            count,
            len(records),
            directory.offset,
        )
        + _ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIGNATURE, 0, zip64_end_offset, 1)
        + _END_RECORD.pack(END_RECORD_SIGNATURE, 0, 0, 0xFFFF, 0xFFFF, _MAX32, _MAX32, 0)
    )
