"""Encryption as edX does it: binary OpenPGP to every recipient's public key, unsigned."""

from __future__ import annotations

import pytest

from edx_vault.devtools.synthetic.ciphertext_faults import (
    PUBLIC_KEY_ENCRYPTED_SESSION_KEY_TAG,
    SYMMETRICALLY_ENCRYPTED_MDC_TAG,
    openpgp_packets,
)
from edx_vault.devtools.synthetic.encryption import RecipientEncryptor, encrypt_to_recipients
from edx_vault.devtools.synthetic.keys import ThrowawayKeyPair
from tests.devtools.conftest import Decryptor, needs_gpg

pytestmark = needs_gpg

SESSION_KEY = PUBLIC_KEY_ENCRYPTED_SESSION_KEY_TAG


def test_messages_are_encrypted_to_every_recipient_and_unsigned(
    czar_key: ThrowawayKeyPair, stranger_key: ThrowawayKeyPair, czar: Decryptor
) -> None:
    # Given two recipients (edX encrypts to every czar key plus its master key)
    # When a message is encrypted to both
    ciphertext = encrypt_to_recipients(b"hello\n", [czar_key.public_key, stranger_key.public_key])
    # Then there is one session-key packet per recipient, and either key decrypts it
    assert [p.tag for p in openpgp_packets(ciphertext)] == [
        SESSION_KEY,
        SESSION_KEY,
        SYMMETRICALLY_ENCRYPTED_MDC_TAG,
    ]
    result = czar.attempt(ciphertext)
    assert result.ok and result.data == b"hello\n"
    assert not result.valid and result.fingerprint is None  # no signature


def test_the_encryptor_refuses_secret_keys(czar_key: ThrowawayKeyPair) -> None:
    # Given a secret key (edX holds public keys only; a generator holding a secret key would
    # hide mistakes)
    # When an encryptor is made with it / Then it refuses
    with pytest.raises(ValueError, match="public keys only"):
        RecipientEncryptor([czar_key.secret_key])
