"""The fault builders: broken ciphertexts and hostile zips, checked against gpg and the model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from edx_vault.devtools.synthetic.ciphertext_faults import (
    empty_object,
    encrypt_to_other_recipient,
    not_openpgp,
    openpgp_packets,
    tamper_ciphertext,
    truncate_ciphertext,
    write_fault,
)
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair
from edx_vault.devtools.synthetic.zip_faults import (
    zip_of,
    zip_with_absolute_member,
    zip_with_absurd_uncompressed_size,
    zip_with_corrupt_central_directory,
    zip_with_failed_member,
    zip_with_traversal_member,
)
from edx_vault.devtools.synthetic.zip_records import read_central_directory
from edx_vault.package.edx_spellings import UnsafeMemberNameError
from edx_vault.package.member_names import is_directory_entry, parse_member_name
from edx_vault.package.source_keys import parse_source_key
from tests.devtools.conftest import DAY, Decryptor, needs_gpg

pytestmark = needs_gpg


@pytest.fixture(scope="module")
def good_ciphertext(czar_key: ThrowawayKeyPair) -> bytes:
    return encrypt_to_recipients(b"user_id\tusername\n" * 5000, [czar_key.public_key])


def test_tampered_data_fails_decryption(good_ciphertext: bytes, czar: Decryptor) -> None:
    # Given a ciphertext with one octet flipped in the middle of its encrypted data
    tampered = tamper_ciphertext(good_ciphertext)
    # Then it differs in exactly one octet, and gpg does not report DECRYPTION_OKAY
    assert sum(a != b for a, b in zip(tampered, good_ciphertext, strict=True)) == 1
    result = czar.attempt(tampered)
    assert not result.ok
    assert "DECRYPTION_OKAY" not in result.stderr


def test_a_tampered_mdc_fails_only_after_all_plaintext_came_out(
    good_ciphertext: bytes, czar: Decryptor
) -> None:
    # Given a ciphertext whose modification detection code was altered
    result = czar.attempt(tamper_ciphertext(good_ciphertext, where="mdc"))
    # Then gpg hands out the whole plaintext and only then reports BADMDC: publishing before
    # gpg's verdict would publish tampered data
    assert result.data == b"user_id\tusername\n" * 5000
    assert not result.ok
    assert "BADMDC" in result.stderr and "DECRYPTION_FAILED" in result.stderr


def test_truncated_and_foreign_ciphertexts_fail(
    good_ciphertext: bytes, stranger_key: ThrowawayKeyPair, czar: Decryptor
) -> None:
    # Given a ciphertext cut in half / Then the czar's key does not open it
    assert not czar.attempt(truncate_ciphertext(good_ciphertext)).ok
    # Given a message encrypted to someone else only / Then gpg has no secret key for it
    foreign = czar.attempt(encrypt_to_other_recipient(b"secret\n", stranger_key.public_key))
    assert not foreign.ok and "NO_SECKEY" in foreign.stderr


@pytest.mark.parametrize("data", [not_openpgp(), empty_object()])
def test_non_openpgp_bytes_are_not_messages(data: bytes, czar: Decryptor) -> None:
    # Given plain bytes or nothing under a .gpg name / Then gpg does not decrypt them
    assert not czar.attempt(data).ok
    # And the packet walker refuses them
    if data:
        with pytest.raises(ValueError, match="not an OpenPGP packet"):
            openpgp_packets(data)


def test_hostile_zip_names_are_refused_by_the_model(tmp_path: Path) -> None:
    source = parse_source_key("course-data", "mitx-2024-01-07.zip")
    for build in (zip_with_traversal_member, zip_with_absolute_member):
        # Given a zip with a traversing or absolute member name, written to a file
        path = write_fault(tmp_path / f"{build.__name__}.zip", build("mitx", DAY))
        names = [e.name for e in read_central_directory(path.read_bytes()).entries]
        hostile = [name for name in names if not is_directory_entry(name)]
        assert hostile
        # Then the package model refuses every such name
        for name in hostile:
            with pytest.raises(UnsafeMemberNameError):
                parse_member_name(source, name)


def test_the_failed_member_zip_holds_data_and_a_failed_marker(czar_key: ThrowawayKeyPair) -> None:
    # Given a weekly zip with a failed export
    data = zip_with_failed_member("mitx", DAY, [czar_key.public_key])
    source = parse_source_key("course-data", "mitx-2024-01-07.zip")
    # Then the model reads one data member, then one failed marker
    members = [
        parse_member_name(source, e.name)
        for e in read_central_directory(data).entries
        if not is_directory_entry(e.name)
    ]
    assert [m.failed for m in members] == [False, True]


def test_the_zip_bomb_claims_an_absurd_size_in_both_headers() -> None:
    # Given a zip-bomb-shaped zip claiming a terabyte
    data = zip_with_absurd_uncompressed_size("mitx", DAY, claimed_size=2**40)
    # Then the central directory and the local header both claim it, over a small member
    (entry,) = read_central_directory(data).entries
    assert entry.uncompressed_size == 2**40
    assert entry.compressed_size < 1024
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.infolist()[0].file_size == 2**40


def test_a_corrupt_central_directory_is_unreadable() -> None:
    # Given a zip whose central directory is garbage
    data = zip_with_corrupt_central_directory("mitx", DAY)
    # Then neither zipfile nor the central-directory reader reads it
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(data))
    with pytest.raises(ValueError, match="bad central directory"):
        read_central_directory(data)


def test_zip_of_keeps_names_verbatim() -> None:
    # Given names zipfile would sanitise
    data = zip_of([("/abs/name", b"x"), ("../up", b"y")])
    # Then the zip holds them as given
    assert [e.name for e in read_central_directory(data).entries] == ["/abs/name", "../up"]
