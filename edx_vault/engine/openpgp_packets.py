"""Who an OpenPGP message is encrypted to, read from its first bytes without gpg or any key.

An encrypted message (RFC 9580 section 10.3) starts with one session key packet per recipient,
then the encrypted data. A public-key encrypted session key packet (PKESK, tag 1) names its
recipient's key in the clear: version 3 by an 8-byte key id, version 6 by the key's version and
fingerprint. So the first few kilobytes of a file tell which keys it was encrypted to, which is
what ``edx-vault doctor`` and ``edx-vault keygen --retire`` compare with the pipeline's keys: no
passphrase, no decryption, and a ranged read instead of a download.

Packet headers come in two formats (section 4.2): the legacy one (bit 6 clear: the tag in bits
5-2, the length's size in bits 1-0) and the current one (bit 6 set: the tag in bits 5-0, a
one-, two- or five-octet length, or a partial length that only data packets may use).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

PKESK_TAG: Final = 1
SKESK_TAG: Final = 3
MARKER_TAG: Final = 10
# Packets that hold the encrypted data itself: once one starts, no session key packet follows.
ENCRYPTED_DATA_TAGS: Final = frozenset({9, 18, 20})
# A PKESK that names no key (gpg --throw-keyids, "hidden recipient"): every key must be tried.
WILDCARD_KEY_ID: Final = "0" * 16
_ARMOR_HEADER: Final = b"-----BEGIN PGP MESSAGE-----"


class PacketError(ValueError):
    """The bytes are not the start of an encrypted OpenPGP message; says why."""


@dataclass(frozen=True)
class Recipients:
    """The session key packets at the start of a message.

    Attributes
    ----------
    key_ids
        The recipients' key ids (16 upper-case hex digits), in the order of the packets;
        :data:`WILDCARD_KEY_ID` for a hidden recipient.
    passphrase_packets
        How many symmetric-key (passphrase) session key packets there were.
    complete
        Whether the encrypted data packet was reached, so that no recipient can be missing;
        ``False`` when the bytes ended first.
    """

    key_ids: tuple[str, ...]
    passphrase_packets: int
    complete: bool


def _dearmor(data: bytes) -> bytes:
    """As much of an armored message's binary as ``data`` holds whole (it may be cut short)."""
    lines = data.split(b"\n")
    start = next((index for index, line in enumerate(lines) if line.strip() == _ARMOR_HEADER), None)
    if start is None:
        raise PacketError("armored text without a PGP MESSAGE header")
    index = start + 1
    # Armor headers (Version:, Comment:) end at the first blank line.
    while index < len(lines) and lines[index].strip():
        index += 1
    encoded = bytearray()
    for line in lines[index + 1 :]:
        stripped = line.strip()
        if stripped.startswith((b"=", b"-----")):
            break
        encoded += stripped
    # The last line may be cut anywhere: decode whole 4-character groups only.
    whole = bytes(encoded[: len(encoded) - len(encoded) % 4])
    try:
        return base64.b64decode(whole, validate=True)
    except binascii.Error:
        raise PacketError("the armored message is not valid base64") from None


def _header(data: bytes, offset: int) -> tuple[int, int, int | None]:
    """(tag, body offset, body length) of the packet at ``offset``; length ``None`` if partial
    or indeterminate (only allowed for data packets).

    Raises
    ------
    PacketError
        When the byte there is not a packet header, or the header is cut short.
    """
    first = data[offset]
    if not first & 0x80:
        raise PacketError(f"byte {offset} is not an OpenPGP packet header")
    if first & 0x40:  # the current format
        tag = first & 0x3F
        if offset + 1 >= len(data):
            raise PacketError("the bytes end inside a packet header")
        octet = data[offset + 1]
        if octet < 192:
            return tag, offset + 2, octet
        if octet < 224:
            if offset + 2 >= len(data):
                raise PacketError("the bytes end inside a packet header")
            return tag, offset + 3, ((octet - 192) << 8) + data[offset + 2] + 192
        if octet == 255:
            if offset + 5 >= len(data):
                raise PacketError("the bytes end inside a packet header")
            return tag, offset + 6, int.from_bytes(data[offset + 2 : offset + 6], "big")
        return tag, offset + 2, None  # a partial body length
    tag = (first >> 2) & 0x0F
    length_type = first & 0x03
    if length_type == 3:
        return tag, offset + 1, None  # indeterminate: to the end of the data
    size = 1 << length_type  # 1, 2 or 4 octets
    if offset + size >= len(data):
        raise PacketError("the bytes end inside a packet header")
    length = int.from_bytes(data[offset + 1 : offset + 1 + size], "big")
    return tag, offset + 1 + size, length


def _pkesk_key_id(body: bytes) -> str:
    """The key id a PKESK body names (its start is enough)."""
    if not body:
        raise PacketError("an empty public-key session key packet")
    version = body[0]
    if version == 3:
        if len(body) < 9:
            raise PacketError("the bytes end inside a public-key session key packet")
        return body[1:9].hex().upper()
    if version == 6:
        # One octet: the size of the key version and fingerprint that follow; 0 for anonymous.
        if len(body) < 2:
            raise PacketError("the bytes end inside a public-key session key packet")
        size = body[1]
        if size == 0:
            return WILDCARD_KEY_ID
        if len(body) < 2 + size:
            raise PacketError("the bytes end inside a public-key session key packet")
        key_version, fingerprint = body[2], body[3 : 2 + size]
        # A v6 key's id is the start of its fingerprint, a v4 key's the end.
        key_id = fingerprint[:8] if key_version == 6 else fingerprint[-8:]
        return key_id.hex().upper()
    raise PacketError(f"a public-key session key packet of unknown version {version}")


def message_recipients(data: bytes) -> Recipients:
    """The recipients named at the start of an encrypted OpenPGP message.

    Parameters
    ----------
    data
        The message's first bytes (binary, or ASCII-armored); a few kilobytes cover dozens of
        recipients.

    Returns
    -------
    Recipients
        The key ids, and whether the encrypted data was reached.

    Raises
    ------
    PacketError
        When the bytes do not start an encrypted message (plain data, a signed or compressed
        message, a key, text), saying what was found instead.
    """
    if data.lstrip().startswith(_ARMOR_HEADER):
        data = _dearmor(data.lstrip())
    if not data:
        raise PacketError("no bytes to read")
    key_ids: list[str] = []
    passphrase_packets = 0
    offset = 0
    while offset < len(data):
        try:
            tag, body_offset, length = _header(data, offset)
        except PacketError:
            if key_ids or passphrase_packets:
                # A header cut by the end of the bytes read: the recipients so far stand.
                return Recipients(tuple(key_ids), passphrase_packets, complete=False)
            raise
        if tag in ENCRYPTED_DATA_TAGS:
            if not key_ids and not passphrase_packets:
                raise PacketError("encrypted data without any session key packet before it")
            return Recipients(tuple(key_ids), passphrase_packets, complete=True)
        if tag not in (PKESK_TAG, SKESK_TAG, MARKER_TAG):
            if key_ids or passphrase_packets:
                raise PacketError(f"a packet of tag {tag} among the session key packets")
            raise PacketError(
                f"the first packet has tag {tag}, not a session key packet: the file is not "
                "encrypted to a public key"
            )
        if length is None:
            raise PacketError(f"a packet of tag {tag} with a partial or indeterminate length")
        body = data[body_offset : body_offset + length]
        if tag == PKESK_TAG:
            try:
                key_ids.append(_pkesk_key_id(body))
            except PacketError:
                if body_offset + length > len(data) and key_ids:
                    # This packet is cut by the end of the bytes read: keep the ones before.
                    return Recipients(tuple(key_ids), passphrase_packets, complete=False)
                raise
        elif tag == SKESK_TAG:
            passphrase_packets += 1
        offset = body_offset + length
    if not key_ids and not passphrase_packets:
        raise PacketError("the bytes end before the first session key packet")
    return Recipients(tuple(key_ids), passphrase_packets, complete=False)
