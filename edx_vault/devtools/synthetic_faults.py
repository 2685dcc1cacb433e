"""Bad inputs for the engine's tests: broken ciphertext, hostile zips, things that are not data.

Each builder returns bytes (write them with :func:`write_fault` where a file is needed). They
model what can reach the pipeline from edX's buckets: a ciphertext modified in transit or at
rest, an upload cut short, a file encrypted to someone else, a non-OpenPGP file named ``.gpg``,
an empty object, a failed export, and zips whose names or sizes are hostile.

The OpenPGP reader here only walks packet framing (RFC 4880 section 4), to find where the
encrypted data starts; it never decrypts.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from edx_vault.devtools.synthetic_package import (
    CENTRAL_HEADER_SIGNATURE,
    ZIP64_EXTRA_ID,
    encrypt_to_recipients,
    promote_to_zip64_end_records,
    read_central_directory,
)

# OpenPGP packet tags that hold encrypted data.
SYMMETRICALLY_ENCRYPTED_TAG: Final = 9
SYMMETRICALLY_ENCRYPTED_MDC_TAG: Final = 18
AEAD_ENCRYPTED_TAG: Final = 20
PUBLIC_KEY_ENCRYPTED_SESSION_KEY_TAG: Final = 1
_ENCRYPTED_DATA_TAGS: Final = (
    SYMMETRICALLY_ENCRYPTED_MDC_TAG,
    AEAD_ENCRYPTED_TAG,
    SYMMETRICALLY_ENCRYPTED_TAG,
)
# A v1 SEIPD body starts with a version octet, then a random prefix of one cipher block plus two
# repeated octets (18 octets for AES); the MDC packet (22 octets) closes the encrypted data.
_SEIPD_HEADER: Final = 1 + 16 + 2
_MDC_PACKET: Final = 22

_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")


@dataclass(frozen=True)
class OpenPgpPacket:
    """One OpenPGP packet's framing.

    Attributes
    ----------
    tag
        The packet tag (1: public-key encrypted session key, 18: encrypted data with MDC...).
    start
        Offset of the packet's first header octet.
    body
        ``(start, end)`` offsets of each body segment (several with partial body lengths,
        which gpg uses when it streams).
    """

    tag: int
    start: int
    body: tuple[tuple[int, int], ...]

    @property
    def body_length(self) -> int:
        """The body's length without the partial-length headers between segments."""
        return sum(end - start for start, end in self.body)

    def offset_of(self, body_index: int) -> int:
        """The file offset of one octet of the body, counting body octets only."""
        remaining = body_index
        for start, end in self.body:
            if remaining < end - start:
                return start + remaining
            remaining -= end - start
        raise IndexError(f"body octet {body_index} is past the body ({self.body_length})")


def openpgp_packets(data: bytes) -> list[OpenPgpPacket]:
    """Walk the packet framing of a binary OpenPGP message.

    Raises
    ------
    ValueError
        If the bytes are not binary OpenPGP (armored text, a zip, nothing) or a packet runs
        past the end.
    """
    packets: list[OpenPgpPacket] = []
    position = 0
    while position < len(data):
        start = position
        first = data[position]
        if not first & 0x80:
            raise ValueError(f"octet {position} is not an OpenPGP packet header")
        position += 1
        segments: list[tuple[int, int]] = []
        if first & 0x40:  # new-format header
            tag = first & 0x3F
            while True:
                length, header_length, partial = _new_format_length(data, position)
                position += header_length
                segments.append((position, position + length))
                position += length
                if not partial:
                    break
        else:  # old-format header
            tag = (first >> 2) & 0x0F
            length_type = first & 0x03
            if length_type == 3:
                length = len(data) - position
            else:
                size = (1, 2, 4)[length_type]
                length = int.from_bytes(data[position : position + size], "big")
                position += size
            segments.append((position, position + length))
            position += length
        if position > len(data):
            raise ValueError(f"the packet at {start} runs past the end of the data")
        packets.append(OpenPgpPacket(tag=tag, start=start, body=tuple(segments)))
    return packets


def _new_format_length(data: bytes, position: int) -> tuple[int, int, bool]:
    """(body length, header octets, whether it is a partial length) at ``position``."""
    if position >= len(data):
        raise ValueError("the data ends inside a packet header")
    octet = data[position]
    if octet < 192:
        return octet, 1, False
    if octet < 224:
        return ((octet - 192) << 8) + data[position + 1] + 192, 2, False
    if octet == 255:
        return int.from_bytes(data[position + 1 : position + 5], "big"), 5, False
    return 1 << (octet & 0x1F), 1, True


def tamper_ciphertext(ciphertext: bytes, *, where: Literal["data", "mdc"] = "data") -> bytes:
    """Flip one octet of the encrypted data, past all headers, so integrity checking fails.

    Parameters
    ----------
    ciphertext
        A binary OpenPGP message.
    where
        ``data``: an octet in the middle of the encrypted data. ``mdc``: the last octet, inside
        the modification detection code: every plaintext octet still decrypts correctly and
        only the final check fails (``BADMDC``, ``DECRYPTION_FAILED``), the case that catches
        a pipeline publishing before gpg exits.

    Notes
    -----
    With ``data``, gpg 2.2 usually stops inside the compressed stream ("zlib inflate problem",
    exit code 2) after emitting part of the plaintext, *without* a ``BADMDC`` or
    ``DECRYPTION_FAILED`` status line: only the missing ``DECRYPTION_OKAY`` and the exit code
    tell. A pipeline must require success, not merely the absence of failure statuses.
    """
    packet = _encrypted_data_packet(ciphertext)
    length = packet.body_length
    if where == "mdc":
        index = length - 1
    else:
        payload = max(1, length - _SEIPD_HEADER - _MDC_PACKET)
        index = min(length - 1, _SEIPD_HEADER + payload // 2)
    tampered = bytearray(ciphertext)
    tampered[packet.offset_of(index)] ^= 0x01
    return bytes(tampered)


def _encrypted_data_packet(ciphertext: bytes) -> OpenPgpPacket:
    for packet in openpgp_packets(ciphertext):
        if packet.tag in _ENCRYPTED_DATA_TAGS:
            return packet
    raise ValueError("no encrypted data packet in the message")


def truncate_ciphertext(ciphertext: bytes, *, keep_fraction: float = 0.5) -> bytes:
    """Cut a message short, as an interrupted upload would (at least the first octet is kept)."""
    if not 0 < keep_fraction < 1:
        raise ValueError("keep_fraction must be between 0 and 1, exclusive")
    return ciphertext[: max(1, int(len(ciphertext) * keep_fraction))]


def encrypt_to_other_recipient(plaintext: bytes, other_public_key: str) -> bytes:
    """A well-formed message the pipeline's key cannot open (encrypted to someone else only)."""
    return encrypt_to_recipients(plaintext, [other_public_key])


def not_openpgp(text: str = "user_id,username\n1,not-encrypted\n") -> bytes:
    """Plain bytes to be stored under a ``.gpg`` name: not an OpenPGP message at all."""
    return text.encode()


def empty_object() -> bytes:
    """A zero-byte object (an upload that created the key and nothing else)."""
    return b""


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
    stamp = (2024, 1, 7, 0, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for folder in folders:
            archive.writestr(zipfile.ZipInfo(folder, date_time=stamp), b"")
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = compression
            with archive.open(info, "w", force_zip64=force_zip64) as target:
                target.write(content)
    data = buffer.getvalue()
    if not force_zip64:
        return data
    # The zip64 rewrite works on a file: the zips here are small.
    with tempfile.TemporaryDirectory(prefix="edxv-zip-") as scratch:
        path = Path(scratch) / "fault.zip"
        path.write_bytes(data)
        promote_to_zip64_end_records(path)
        return path.read_bytes()


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
    traceback = (
        "An error occurred generating this file.\nTraceback (most recent call last):\n"
        f"exporter.tasks.FatalTaskError: Unable to copy {failed}\n"
    )
    return zip_of(
        [
            (f"{folder}{good}.gpg", encrypt_to_recipients(b"id\tusername\n1\tada\n", public_keys)),
            (
                f"{folder}{failed}.failed.gpg",
                encrypt_to_recipients(traceback.encode(), public_keys),
            ),
        ],
        folders=[folder],
    )


_REJECTED_FIRST: Final = b"never decrypted: the member name is rejected first"


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
    central_extra = entry.record_offset + 46 + len(name.encode())
    _patch_zip64_uncompressed(data, central_extra, claimed_size)
    local = _LOCAL_HEADER.unpack_from(data, entry.local_header_offset)
    local_extra = entry.local_header_offset + _LOCAL_HEADER.size + local[9]
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


def write_fault(path: Path, data: bytes) -> Path:
    """Write a fault's bytes to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
