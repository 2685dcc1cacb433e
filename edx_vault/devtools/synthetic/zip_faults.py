"""Hostile and broken zips for the engine's tests, each returned as bytes.

A weekly zip with a failed export, member names that climb out of the folder or are absolute,
a zip-bomb-shaped member claiming an absurd size, and a garbage central directory; and
:func:`zip_of`, which writes any member names verbatim (``zipfile`` would sanitise them).
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
from collections.abc import Sequence
from typing import Final

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.reports import failed_export_text
from edx_vault.devtools.synthetic.zip_records import (
    CENTRAL_HEADER,
    CENTRAL_HEADER_SIGNATURE,
    LOCAL_HEADER,
    ZIP64_EXTRA_ID,
    read_central_directory,
    with_zip64_end_records,
    write_zip,
)

_REJECTED_FIRST: Final = b"never decrypted: the member name is rejected first"
_ENTRY_DATE: Final = dt.date(2024, 1, 7)


def zip_of(
    members: Sequence[tuple[str, bytes]],
    *,
    folders: Sequence[str] = (),
    compression: int = zipfile.ZIP_STORED,
    force_zip64: bool = False,
) -> bytes:
    """A zip with exactly these member names, not sanitised (``zipfile`` would strip ``/``).

    Parameters
    ----------
    members
        ``(name, content)`` pairs, in order.
    folders
        Directory entries to write first (names ending ``/``).
    compression
        ``zipfile.ZIP_STORED`` or ``zipfile.ZIP_DEFLATED``.
    force_zip64
        Write zip64 local headers and zip64 central directory and end records.
    """
    buffer = io.BytesIO()
    write_zip(
        buffer,
        members,
        date=_ENTRY_DATE,
        folders=folders,
        compression=compression,
        force_zip64=force_zip64,
    )
    data = buffer.getvalue()
    return with_zip64_end_records(data) if force_zip64 else data


def _folder(org: str, date: dt.date) -> str:
    return f"{org}-{date.isoformat()}/"


def zip_with_failed_member(
    org: str,
    date: dt.date,
    public_keys: Sequence[str],
    *,
    entity: str = "MITx-6.002x-2012_Fall",
    table: str = "courseware_studentmodule",
) -> bytes:
    """A weekly zip with one good member and one ``{file}.failed.gpg`` traceback.

    Both are encrypted to ``public_keys``; only the first is data.
    """
    folder = _folder(org, date)
    good = f"{entity}-auth_user-prod-analytics.sql"
    failed = f"{entity}-{table}-prod-analytics.sql"
    return zip_of(
        [
            (f"{folder}{good}.gpg", encrypt_to_recipients(b"id\tusername\n1\tada\n", public_keys)),
            (
                f"{folder}{failed}.failed.gpg",
                encrypt_to_recipients(failed_export_text(failed), public_keys),
            ),
        ],
        folders=[folder],
    )


def zip_with_traversal_member(org: str, date: dt.date, content: bytes = _REJECTED_FIRST) -> bytes:
    """A weekly zip holding ``../evil`` and ``{org}-{date}/../../evil.sql.gpg``."""
    folder = _folder(org, date)
    return zip_of(
        [("../evil", content), (f"{folder}../../evil.sql.gpg", content)], folders=[folder]
    )


def zip_with_absolute_member(org: str, date: dt.date, content: bytes = _REJECTED_FIRST) -> bytes:
    """A weekly zip holding a member with an absolute name, ``/tmp/evil.sql.gpg``."""
    return zip_of([("/tmp/evil.sql.gpg", content)], folders=[_folder(org, date)])  # noqa: S108


def zip_with_absurd_uncompressed_size(
    org: str,
    date: dt.date,
    *,
    claimed_size: int = 2**40,
    actual_size: int = 64 * 1024,
    entity: str = "MITx-6.002x-2012_Fall",
) -> bytes:
    """A zip-bomb-shaped zip: a deflated member that claims ``claimed_size`` bytes unpacked.

    The member's zip64 fields (central directory and local header) are edited after writing,
    so the claim disagrees with the data (``actual_size`` zero octets, deflated to a few
    hundred). A reader must refuse on the claim, before inflating anything.
    """
    name = f"{_folder(org, date)}{entity}-auth_user-prod-analytics.sql.gpg"
    data = bytearray(
        zip_of(
            [(name, b"\0" * actual_size)],
            compression=zipfile.ZIP_DEFLATED,
            force_zip64=True,
        )
    )
    entry = next(e for e in read_central_directory(bytes(data)).entries if e.name == name)
    # The central record's zip64 extra holds (uncompressed, compressed, offset): the first is
    # the claim. The local header's zip64 extra holds (uncompressed, compressed).
    central_extra = entry.record_offset + CENTRAL_HEADER.size + len(name.encode())
    _patch_zip64_uncompressed(data, central_extra, claimed_size)
    local = LOCAL_HEADER.unpack_from(data, entry.local_header_offset)
    local_extra = entry.local_header_offset + LOCAL_HEADER.size + local[9]
    _patch_zip64_uncompressed(data, local_extra, claimed_size)
    return bytes(data)


def _patch_zip64_uncompressed(data: bytearray, extra_start: int, size: int) -> None:
    header_id, _ = struct.unpack_from("<HH", data, extra_start)
    if header_id != ZIP64_EXTRA_ID:
        raise ValueError("expected the zip64 extra field first")
    struct.pack_into("<Q", data, extra_start + 4, size)


def zip_with_corrupt_central_directory(org: str, date: dt.date) -> bytes:
    """A weekly zip whose central directory is garbage while its end record still points at it.

    Its local headers are intact, so a reader that trusts local headers instead of the central
    directory would carry on; a central-directory reader must stop.
    """
    folder = _folder(org, date)
    data = bytearray(
        zip_of(
            [(f"{folder}MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg", b"x" * 100)],
            folders=[folder],
        )
    )
    directory = read_central_directory(bytes(data))
    if data[directory.offset : directory.offset + 4] != CENTRAL_HEADER_SIGNATURE:
        raise AssertionError("the central directory is not where the end record says")
    garbage = bytes((index * 37 + 11) & 0xFF for index in range(directory.size))
    data[directory.offset : directory.offset + directory.size] = garbage
    return bytes(data)
