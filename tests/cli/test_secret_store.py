"""The secrets in Secrets Manager: written and read back through the deployed storage stack."""

from __future__ import annotations

import datetime as dt

import pytest

from edx_vault.settings.secret_formats import (
    PipelineKey,
    PipelineKeyring,
    PipelinePassphrase,
    SecretNotSetError,
)
from edx_vault.settings.secret_store import (
    load_edx_credentials,
    load_pipeline_keyring,
    read_passphrase,
    store_passphrase,
    store_pipeline_keyring,
)
from tests.cli.conftest import DeployedVault

ARMORED = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nmaterial-{}\n-----END PGP PRIVATE KEY BLOCK-----\n"
)
OLD, NEW = "A" * 40, "B" * 40


def key(fingerprint: str) -> PipelineKey:
    return PipelineKey(
        fingerprint=fingerprint,
        armored_private_key=ARMORED.format(fingerprint[:4]),
        user_id="pipeline@example.edu",
        created=dt.date(2025, 1, 1),
        expires=dt.date(2027, 1, 1),
    )


def test_load_pipeline_keyring_returns_primary_first_and_the_passphrase(
    vault_stack: DeployedVault,
) -> None:
    # Given a rotation handover stored in the real secrets
    client = vault_stack.aws.client("secretsmanager")
    keyring = PipelineKeyring(primary=OLD, keys=(key(OLD),)).with_new_primary(key(NEW))
    store_pipeline_keyring(client, vault_stack.key_secret, keyring)
    store_passphrase(
        client, vault_stack.passphrase_secret, PipelinePassphrase(passphrase="one for all")
    )
    # When the CLI loads it
    armored_keys, passphrase, metadata = load_pipeline_keyring(
        client, vault_stack.key_secret, vault_stack.passphrase_secret
    )
    # Then the new primary key comes first, then the old one, with the one passphrase
    assert armored_keys == [key(NEW).armored_private_key, key(OLD).armored_private_key]
    assert passphrase == "one for all"
    assert metadata == keyring


def test_empty_secrets_say_which_command_fills_them(vault_stack: DeployedVault) -> None:
    # Given the secrets as the stack deploys them (no value)
    client = vault_stack.aws.client("secretsmanager")
    # When they are read, or loaded
    assert read_passphrase(client, vault_stack.passphrase_secret) is None
    with pytest.raises(SecretNotSetError) as no_key:
        load_pipeline_keyring(client, vault_stack.key_secret, vault_stack.passphrase_secret)
    with pytest.raises(SecretNotSetError) as no_credentials:
        load_edx_credentials(client, vault_stack.credentials_secret)
    # Then reading finds nothing, and loading names the command to run
    assert "edx-vault keygen" in str(no_key.value)
    assert "edx-vault import-credentials" in str(no_credentials.value)
