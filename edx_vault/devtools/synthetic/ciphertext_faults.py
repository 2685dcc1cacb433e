"""Bad ciphertexts for the engine's tests: modified, cut short, for someone else, or not OpenPGP.

They model what can reach the pipeline from edX's buckets: a ciphertext modified in transit or
at rest, an upload cut short, a file encrypted to someone else, a non-OpenPGP file named
``.gpg``, an empty object. Each builder returns bytes (write them with :func:`write_fault`
where a file is needed).

The OpenPGP reader here only walks packet framing (RFC 4880 section 4), to find where the
encrypted data starts; it never decrypts. It is independent of the engine's
(:mod:`edx_vault.engine.openpgp_packets`) on purpose, and also reports partial body segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients

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


def write_fault(path: Path, data: bytes) -> Path:
    """Write a fault's bytes to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
