"""Reading who a message is encrypted to from its first bytes: real gpg output and crafted packets."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gnupg
import pytest

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair, generate_throwaway_key_pair
from edx_vault.engine.openpgp_packets import WILDCARD_KEY_ID, PacketError, message_recipients

KEY_ID_A = bytes.fromhex("0123456789ABCDEF")
KEY_ID_B = bytes.fromhex("FEDCBA9876543210")


def legacy_pkesk(key_id: bytes, mpi_bytes: int = 64) -> bytes:
    """A version 3 PKESK in the legacy format with a two-octet length (as gpg writes RSA ones)."""
    body = (
        bytes([3]) + key_id + bytes([1]) + (mpi_bytes * 8).to_bytes(2, "big") + b"\x55" * mpi_bytes
    )
    return bytes([0x80 | (1 << 2) | 1]) + len(body).to_bytes(2, "big") + body


def current_pkesk(key_id: bytes) -> bytes:
    """A version 3 PKESK in the current format with a one-octet length."""
    body = bytes([3]) + key_id + bytes([18]) + b"\x01\x07\x42" + b"\x00" * 40
    return bytes([0xC1, len(body)]) + body


def v6_pkesk(fingerprint: bytes | None) -> bytes:
    """A version 6 PKESK naming a v6 key by fingerprint (or no key at all)."""
    named = b"" if fingerprint is None else bytes([6]) + fingerprint
    body = bytes([6, len(named)]) + named + bytes([25]) + b"\x11" * 32
    return bytes([0xC1, len(body)]) + body


# A symmetrically encrypted, integrity protected data packet with a partial body length, as the
# data follows the session keys.
SEIPD = bytes([0xD2, 0xE0 + 9]) + b"\x01" + b"\xaa" * 600


@pytest.fixture(scope="module")
def keys() -> Iterator[tuple[ThrowawayKeyPair, ThrowawayKeyPair]]:
    yield generate_throwaway_key_pair(), generate_throwaway_key_pair(email="czar@example.edu")


def subkey_id(key: ThrowawayKeyPair) -> str:
    """The encryption subkey's id, as gpg lists it."""
    home = Path(tempfile.mkdtemp(prefix="edxv-pk-", dir="/tmp"))
    try:
        [listing] = gnupg.GPG(gnupghome=str(home)).scan_keys_mem(key.public_key)
        [found] = listing["subkey_info"]
        return str(found)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_a_message_gpg_encrypted_to_two_keys_names_both(
    keys: tuple[ThrowawayKeyPair, ThrowawayKeyPair],
) -> None:
    # Given a binary message gpg encrypted to two keys, as edX encrypts
    message = encrypt_to_recipients(b"learner data" * 100, [k.public_key for k in keys])
    # When its first bytes are read
    recipients = message_recipients(message[:4096])
    # Then both encryption subkeys are named, and the encrypted data was reached
    assert sorted(recipients.key_ids) == sorted(subkey_id(k) for k in keys)
    assert recipients.complete and recipients.passphrase_packets == 0


def test_an_armored_message_cut_mid_line_is_read(
    keys: tuple[ThrowawayKeyPair, ThrowawayKeyPair],
) -> None:
    # Given an armored message, of which only the start was fetched (cut inside a line)
    message = encrypt_to_recipients(b"x" * 5000, [keys[0].public_key])
    armored = (
        b"-----BEGIN PGP MESSAGE-----\nComment: edX\n\n"
        + b"\n".join(
            base64.b64encode(message)[i : i + 64]
            for i in range(0, len(base64.b64encode(message)), 64)
        )
        + b"\n-----END PGP MESSAGE-----\n"
    )
    # When the first 500 bytes are read
    recipients = message_recipients(armored[:500])
    # Then the recipient is found
    assert recipients.key_ids == (subkey_id(keys[0]),)


def test_legacy_and_current_headers_and_v6_packets_are_all_read() -> None:
    # Given session key packets in both header formats and versions, and a hidden recipient
    fingerprint = bytes(range(32))
    data = (
        legacy_pkesk(KEY_ID_A)
        + current_pkesk(KEY_ID_B)
        + v6_pkesk(fingerprint)
        + v6_pkesk(None)
        + legacy_pkesk(b"\x00" * 8)
        + SEIPD
    )
    # When the recipients are read
    recipients = message_recipients(data)
    # Then each is named: a v6 key by the start of its fingerprint, hidden ones as wildcards
    assert recipients.key_ids == (
        KEY_ID_A.hex().upper(),
        KEY_ID_B.hex().upper(),
        fingerprint[:8].hex().upper(),
        WILDCARD_KEY_ID,
        WILDCARD_KEY_ID,
    )
    assert recipients.complete


def test_bytes_ending_among_the_session_keys_keep_the_ones_read() -> None:
    # Given three recipients, of which only the first and a half fit in the bytes fetched
    data = legacy_pkesk(KEY_ID_A) + legacy_pkesk(KEY_ID_B) + legacy_pkesk(KEY_ID_A) + SEIPD
    first = len(legacy_pkesk(KEY_ID_A))
    # When the cut bytes are read
    recipients = message_recipients(data[: first + 20])
    # Then the recipients read so far are returned, marked incomplete
    assert recipients.key_ids == (KEY_ID_A.hex().upper(), KEY_ID_B.hex().upper())
    assert not recipients.complete
    # and a cut inside the second packet's key id keeps the first only
    assert message_recipients(data[: first + 5]).key_ids == (KEY_ID_A.hex().upper(),)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"id\tusername\n1\tada\n", "not an OpenPGP packet header"),
        # A compressed data packet (tag 8, indeterminate length): signed or plain, not encrypted
        (bytes([0xA3, 0x01]) + b"\x00" * 30, "the first packet has tag 8"),
        (SEIPD, "encrypted data without any session key packet"),
        (bytes([0xC1]), "the bytes end inside a packet header"),
        (b"", "no bytes to read"),
        (bytes([0x84, 10, 4]) + b"\x00" * 9, "unknown version 4"),
        (b"-----BEGIN PGP MESSAGE-----\n\n!!!!\n", "not valid base64"),
    ],
)
def test_what_is_not_an_encrypted_message_is_named(data: bytes, why: str) -> None:
    # Given bytes that do not start a public-key encrypted message
    # When they are read
    with pytest.raises(PacketError) as raised:
        message_recipients(data)
    # Then the error says what was found instead
    assert why in str(raised.value)
