"""``edx-vault keygen``: a usable RSA key in Secrets Manager, only the public key on disk.

RSA generation takes a few seconds, so only two keys are generated here (a first key, and a
rotation); the refusals happen before any key is generated.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.pipeline.key_metadata import EXPIRES_TAG, FINGERPRINT_TAG
from edx_vault.settings.secret_formats import parse_passphrase, parse_pipeline_keyring
from tests.cli.conftest import (
    Cli,
    DeployedVault,
    KeyPair,
    decrypt_with,
    seed_pipeline_key,
)

EMAIL = "edx-pipeline@example.edu"


def _files_under(directory: Path) -> set[Path]:
    return {Path(root, name) for root, _, names in os.walk(directory) for name in names}


def _secret_tags(vault: DeployedVault, arn: str) -> dict[str, str]:
    described = vault.aws.client("secretsmanager").describe_secret(SecretId=arn)
    return {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}


def test_keygen_stores_a_key_that_decrypts_what_edx_encrypts_to_the_public_key(
    cli: Cli, vault_stack: DeployedVault, cwd: Path, scratch: Path, production_gpg_settings: None
) -> None:
    # Given a deployed vault with no pipeline key
    # When the admin generates the key
    result = cli("keygen", "--email", EMAIL, "--out", "pipeline.asc")
    # Then the public key, and nothing else, is written
    assert result.exit_code == 0, result.stderr
    assert _files_under(cwd) == {cwd / "pipeline.asc"}
    public_key = (cwd / "pipeline.asc").read_text()
    assert public_key.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    # and the temporary GnuPG home is gone, agent and key files with it
    assert _files_under(scratch) == set()
    assert list(scratch.iterdir()) == []
    # and the stored key and passphrase decrypt a file edX encrypts to that public key
    keyring = parse_pipeline_keyring(vault_stack.secret_text(vault_stack.key_secret) or "")
    passphrase = parse_passphrase(vault_stack.secret_text(vault_stack.passphrase_secret) or "")
    [key] = keyring.keys
    message = encrypt_to_recipients(b"edX package file", [public_key])
    plaintext = decrypt_with([key.armored_private_key], passphrase.passphrase, message)
    assert plaintext == b"edX package file"
    # and the key is what edX's guide asks for: the e-mail as user id, a two-year expiry
    today = dt.datetime.now(dt.UTC).date()
    assert key.user_id == EMAIL
    assert key.expires is not None and 729 <= (key.expires - today).days <= 731
    assert keyring.primary == key.fingerprint
    # and the secret's tags carry its fingerprint and expiry for the Report step
    tags = _secret_tags(vault_stack, vault_stack.key_secret)
    assert tags[FINGERPRINT_TAG] == key.fingerprint
    assert tags[EXPIRES_TAG] == key.expires.isoformat()
    # and the output names the fingerprint and what to do, but never the secrets
    assert " ".join(key.fingerprint[i : i + 4] for i in range(0, 40, 4)) in result.stdout
    assert "send pipeline.asc" in result.stdout
    assert passphrase.passphrase not in result.output
    assert "PRIVATE KEY" not in result.output


def test_a_second_keygen_is_refused_and_changes_nothing(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, cwd: Path
) -> None:
    # Given a stored pipeline key
    seed_pipeline_key(vault_stack, fast_key)
    before = vault_stack.secret_text(vault_stack.key_secret)
    # When keygen runs again without --rotate
    result = cli("keygen", "--email", EMAIL, "--out", "again.asc")
    # Then it is refused, naming the stored key and --rotate
    assert result.exit_code == 1
    assert result.stderr.startswith("error: a pipeline key is already stored")
    assert fast_key.fingerprint in result.stderr
    assert "--rotate" in result.stderr
    # and nothing changed: same secret, no file
    assert vault_stack.secret_text(vault_stack.key_secret) == before
    assert not (cwd / "again.asc").exists()


def test_keygen_rotate_keeps_the_old_key_and_both_decrypt(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, cwd: Path
) -> None:
    # Given a stored pipeline key
    seed_pipeline_key(vault_stack, fast_key)
    # When the admin rotates to a new key
    result = cli("keygen", "--email", EMAIL, "--expires", "1y", "--out", "new.asc", "--rotate")
    # Then both keys are stored, the new one primary, under the one existing passphrase
    assert result.exit_code == 0, result.stderr
    keyring = parse_pipeline_keyring(vault_stack.secret_text(vault_stack.key_secret) or "")
    assert len(keyring.keys) == 2
    old, new = keyring.keys
    assert old.fingerprint == fast_key.fingerprint
    assert keyring.primary == new.fingerprint != old.fingerprint
    passphrase = parse_passphrase(vault_stack.secret_text(vault_stack.passphrase_secret) or "")
    assert passphrase.passphrase == fast_key.passphrase
    # and files encrypted to either key decrypt with the stored keys
    armored = [key.armored_private_key for key in keyring.keys]
    to_old = encrypt_to_recipients(b"sent before the handover", [fast_key.public_key])
    to_new = encrypt_to_recipients(b"sent after", [(cwd / "new.asc").read_text()])
    assert decrypt_with(armored, passphrase.passphrase, to_old) == b"sent before the handover"
    assert decrypt_with(armored, passphrase.passphrase, to_new) == b"sent after"
    # and the tags now describe the new primary key
    assert _secret_tags(vault_stack, vault_stack.key_secret)[FINGERPRINT_TAG] == new.fingerprint
    assert fast_key.fingerprint in result.stdout  # the old key is named as kept


def test_keygen_rotate_without_a_stored_key_is_refused(cli: Cli, cwd: Path) -> None:
    # Given no stored key
    # When the admin asks for a rotation
    result = cli("keygen", "--email", EMAIL, "--out", "k.asc", "--rotate")
    # Then there is nothing to rotate
    assert result.exit_code == 1
    assert "no pipeline key is stored yet" in result.stderr
    assert not (cwd / "k.asc").exists()


def test_keygen_refuses_to_overwrite_the_out_file_without_force(
    cli: Cli, vault_stack: DeployedVault, cwd: Path
) -> None:
    # Given a file where the public key would go
    (cwd / "pipeline.asc").write_text("someone's notes")
    # When keygen runs
    result = cli("keygen", "--email", EMAIL, "--out", "pipeline.asc")
    # Then it refuses before making a key
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (cwd / "pipeline.asc").read_text() == "someone's notes"
    assert vault_stack.secret_text(vault_stack.key_secret) is None


def test_keygen_rejects_addresses_that_are_not_institutional(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # When the user id is not an e-mail address, or a personal one
    not_an_address = cli("keygen", "--email", "pipeline", "--out", "k.asc")
    personal = cli("keygen", "--email", "czar@gmail.com", "--out", "k.asc")
    bad_expiry = cli("keygen", "--email", EMAIL, "--expires", "soon", "--out", "k.asc")
    # Then each is a usage error (exit 2) that says why, and nothing is stored
    assert (not_an_address.exit_code, personal.exit_code, bad_expiry.exit_code) == (2, 2, 2)
    assert "is not an e-mail address" in not_an_address.stderr
    assert "personal mail provider" in personal.stderr
    assert "is not an expiry" in bad_expiry.stderr
    assert vault_stack.secret_text(vault_stack.key_secret) is None
