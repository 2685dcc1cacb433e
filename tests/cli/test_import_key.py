"""``edx-vault import-key``: only a sound, protected private key with the right passphrase."""

from __future__ import annotations

from pathlib import Path

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.keys import generate_throwaway_key_pair
from edx_vault.pipeline.key_metadata import FINGERPRINT_TAG
from edx_vault.settings.secret_formats import parse_passphrase, parse_pipeline_keyring
from tests.cli.conftest import (
    Cli,
    DeployedVault,
    KeyPair,
    decrypt_with,
    make_key_pair,
    seed_pipeline_key,
    stop_agent,
)


def _key_file(directory: Path, armored: str) -> str:
    path = directory / "key.asc"
    path.write_text(armored)
    return str(path)


def test_import_key_stores_a_working_key_and_its_passphrase(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, tmp_path: Path, scratch: Path
) -> None:
    # Given an existing protected private key
    key_file = _key_file(tmp_path, fast_key.secret_key)
    # When it is imported with its passphrase on stdin
    result = cli(
        "import-key", key_file, "--passphrase-stdin", stdin=f"{fast_key.passphrase}\n".encode()
    )
    # Then the stored key and passphrase decrypt what is encrypted to its public key
    assert result.exit_code == 0, result.stderr
    keyring = parse_pipeline_keyring(vault_stack.secret_text(vault_stack.key_secret) or "")
    passphrase = parse_passphrase(vault_stack.secret_text(vault_stack.passphrase_secret) or "")
    assert keyring.primary == fast_key.fingerprint
    assert passphrase.passphrase == fast_key.passphrase
    message = encrypt_to_recipients(b"weekly export", [fast_key.public_key])
    assert (
        decrypt_with([keyring.primary_key.armored_private_key], passphrase.passphrase, message)
        == b"weekly export"
    )
    # and its expiry (the fixture's keys expire in a year) and tags are recorded
    assert keyring.primary_key.expires is not None
    described = vault_stack.aws.client("secretsmanager").describe_secret(
        SecretId=vault_stack.key_secret
    )
    assert {"Key": FINGERPRINT_TAG, "Value": fast_key.fingerprint} in described["Tags"]
    # and neither the passphrase nor key material is printed, nor a GnuPG home left behind
    assert fast_key.passphrase not in result.output
    assert "PRIVATE KEY" not in result.output
    assert list(scratch.iterdir()) == []


def test_a_wrong_passphrase_is_refused_and_nothing_is_stored(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, tmp_path: Path
) -> None:
    # Given a key and the wrong passphrase for it
    key_file = _key_file(tmp_path, fast_key.secret_key)
    # When it is imported
    result = cli("import-key", key_file, "--passphrase-stdin", stdin=b"not the passphrase\n")
    # Then it is refused as such, and no secret is written
    assert result.exit_code == 1
    assert "the passphrase does not unlock key" in result.stderr
    assert "not the passphrase" not in result.output
    assert vault_stack.secret_text(vault_stack.key_secret) is None
    assert vault_stack.secret_text(vault_stack.passphrase_secret) is None


def test_a_public_key_is_refused(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, tmp_path: Path
) -> None:
    # Given only the public half
    key_file = _key_file(tmp_path, fast_key.public_key)
    # When it is imported
    result = cli("import-key", key_file, "--passphrase-stdin", stdin=b"whatever\n")
    # Then the admin is told a private key is needed
    assert result.exit_code == 1
    assert "public key only" in result.stderr
    assert vault_stack.secret_text(vault_stack.key_secret) is None


def test_an_unprotected_key_is_refused(
    cli: Cli, vault_stack: DeployedVault, tmp_path: Path
) -> None:
    # Given a private key without a passphrase
    unprotected = generate_throwaway_key_pair()
    key_file = _key_file(tmp_path, unprotected.secret_key)
    # When it is imported with some passphrase
    result = cli("import-key", key_file, "--passphrase-stdin", stdin=b"anything at all\n")
    # Then it is refused: the pipeline keeps key and passphrase apart
    assert result.exit_code == 1
    assert "has no passphrase" in result.stderr
    assert vault_stack.secret_text(vault_stack.key_secret) is None


def test_the_passphrase_is_never_taken_from_the_command_line(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, tmp_path: Path
) -> None:
    # Given no --passphrase-stdin and no terminal
    key_file = _key_file(tmp_path, fast_key.secret_key)
    # When the key is imported
    result = cli("import-key", key_file, stdin=b"")
    # Then it is a usage error pointing at --passphrase-stdin
    assert result.exit_code == 2
    assert "--passphrase-stdin" in result.stderr


def test_rotate_with_another_passphrase_is_refused(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, other_key: KeyPair, tmp_path: Path
) -> None:
    # Given a stored key, and a new key protected by another passphrase
    seed_pipeline_key(vault_stack, fast_key)
    before = vault_stack.secret_text(vault_stack.key_secret)
    key_file = _key_file(tmp_path, other_key.secret_key)
    # When the new key is imported as a rotation
    result = cli(
        "import-key",
        key_file,
        "--passphrase-stdin",
        "--rotate",
        stdin=other_key.passphrase.encode(),
    )
    # Then it is refused (one passphrase protects every stored key) and nothing changes
    assert result.exit_code == 1
    assert "passphrase differs from the one protecting the stored key" in result.stderr
    assert vault_stack.secret_text(vault_stack.key_secret) == before


def test_rotate_with_the_same_passphrase_keeps_both_keys(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, tmp_path: Path
) -> None:
    # Given a stored key, and a new key under the same passphrase
    seed_pipeline_key(vault_stack, fast_key)
    new_key = make_key_pair(tmp_path / "home", "pipeline-2@example.edu", fast_key.passphrase)
    stop_agent(tmp_path / "home")
    key_file = _key_file(tmp_path, new_key.secret_key)
    # When it is imported as a rotation
    result = cli(
        "import-key", key_file, "--passphrase-stdin", "--rotate", stdin=fast_key.passphrase.encode()
    )
    # Then both are stored, the new one primary
    assert result.exit_code == 0, result.stderr
    keyring = parse_pipeline_keyring(vault_stack.secret_text(vault_stack.key_secret) or "")
    assert keyring.fingerprints == (fast_key.fingerprint, new_key.fingerprint)
    assert keyring.primary == new_key.fingerprint


def test_import_without_rotate_over_a_stored_key_is_refused(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, other_key: KeyPair, tmp_path: Path
) -> None:
    # Given a stored key
    seed_pipeline_key(vault_stack, fast_key)
    key_file = _key_file(tmp_path, other_key.secret_key)
    # When another is imported without --rotate
    result = cli("import-key", key_file, "--passphrase-stdin", stdin=other_key.passphrase.encode())
    # Then it is refused
    assert result.exit_code == 1
    assert "already stored" in result.stderr


def test_key_and_passphrase_cannot_both_come_from_stdin(cli: Cli, fast_key: KeyPair) -> None:
    # When the key file is '-' and the passphrase is also to come from stdin
    result = cli("import-key", "-", "--passphrase-stdin", stdin=fast_key.secret_key.encode())
    # Then it is a usage error, before anything is read
    assert result.exit_code == 2
    assert "cannot both come from standard input" in result.stderr
