"""``edx-vault import-credentials``: decrypted in memory, checked, stored; nothing on disk."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.devtools.synthetic.reports import credentials_csv
from edx_vault.settings.secret_formats import parse_edx_credentials
from tests.cli.conftest import Cli, DeployedVault, KeyPair, seed_pipeline_key

ACCESS_KEY_ID = "AKIAZ7EXAMPLE0TESTKY"
SECRET_ACCESS_KEY = "q9Lw2vXbT8rN4mZ1kP6sY3hD0fG7jC5aE2uR8tW1"
USER_NAME = "edx-data-czar-examplex"
CSV = credentials_csv(ACCESS_KEY_ID, SECRET_ACCESS_KEY, USER_NAME)


def _everything_under(*directories: Path) -> dict[Path, bytes]:
    found: dict[Path, bytes] = {}
    for directory in directories:
        for root, _, names in os.walk(directory):
            for name in names:
                path = Path(root, name)
                found[path] = path.read_bytes() if path.is_file() else b""
    return found


@pytest.fixture
def pipeline_key(vault_stack: DeployedVault, fast_key: KeyPair) -> KeyPair:
    seed_pipeline_key(vault_stack, fast_key)
    return fast_key


def test_import_of_the_encrypted_file_stores_the_keys_and_writes_nothing(
    cli: Cli,
    vault_stack: DeployedVault,
    pipeline_key: KeyPair,
    cwd: Path,
    scratch: Path,
) -> None:
    # Given edX's credentials.csv.gpg, encrypted to the pipeline's key (and a czar's)
    encrypted = encrypt_to_recipients(CSV, [pipeline_key.public_key])
    (cwd / "credentials.csv.gpg").write_bytes(encrypted)
    before = _everything_under(cwd)
    # When it is imported
    result = cli("import-credentials", "credentials.csv.gpg")
    # Then the credentials secret holds the keys, with the time of import
    assert result.exit_code == 0, result.stderr
    stored = parse_edx_credentials(vault_stack.secret_text(vault_stack.credentials_secret) or "")
    assert (stored.user_name, stored.access_key_id, stored.secret_access_key) == (
        USER_NAME,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
    )
    assert dt.datetime.now(dt.UTC) - stored.imported_at < dt.timedelta(minutes=1)
    assert vault_stack.secret_json(vault_stack.credentials_secret)["imported_at"].endswith("Z")
    # and no file was written: the working directory is as it was, the GnuPG home is gone
    assert _everything_under(cwd) == before
    assert _everything_under(scratch) == {}
    # and the secret key is shown nowhere; the access key id only masked
    assert SECRET_ACCESS_KEY not in result.output
    assert ACCESS_KEY_ID not in result.output
    assert f"AKIA{'*' * 12}{ACCESS_KEY_ID[-4:]}" in result.stdout
    assert pipeline_key.passphrase not in result.output


def test_import_of_the_plain_csv_from_a_pipe(
    cli: Cli, vault_stack: DeployedVault, cwd: Path
) -> None:
    # Given the czar decrypted the file with their own key and pipes the CSV in
    # (no pipeline key is needed for a plain CSV)
    # When it is imported from standard input
    result = cli("import-credentials", "-", stdin=CSV)
    # Then it is stored, and nothing was written to disk
    assert result.exit_code == 0, result.stderr
    stored = parse_edx_credentials(vault_stack.secret_text(vault_stack.credentials_secret) or "")
    assert stored.access_key_id == ACCESS_KEY_ID
    assert list(cwd.iterdir()) == []


def test_import_of_a_plain_csv_file_with_a_byte_order_mark(
    cli: Cli, vault_stack: DeployedVault, cwd: Path
) -> None:
    # Given a plain CSV saved by a spreadsheet (UTF-8 with BOM, CRLF line ends)
    (cwd / "credentials.csv").write_bytes(b"\xef\xbb\xbf" + CSV.replace(b"\n", b"\r\n"))
    # When it is imported
    result = cli("import-credentials", "credentials.csv", "--check")
    # Then it is stored (and --check asked STS, which the embedded AWS accepts)
    assert result.exit_code == 0, result.stderr
    assert "AWS accepts the keys" in result.stderr
    stored = parse_edx_credentials(vault_stack.secret_text(vault_stack.credentials_secret) or "")
    assert stored.secret_access_key == SECRET_ACCESS_KEY


def test_a_file_for_another_key_is_refused_naming_the_key_ids(
    cli: Cli, vault_stack: DeployedVault, pipeline_key: KeyPair, other_key: KeyPair, cwd: Path
) -> None:
    # Given a credentials file edX encrypted to someone else's key only
    (cwd / "credentials.csv.gpg").write_bytes(encrypt_to_recipients(CSV, [other_key.public_key]))
    # When it is imported
    result = cli("import-credentials", "credentials.csv.gpg")
    # Then the admin learns it is for another key, and nothing is stored
    assert result.exit_code == 1
    assert "not encrypted to the pipeline's key" in result.stderr
    assert "gpg -d FILE | edx-vault import-credentials -" in result.stderr
    assert vault_stack.secret_text(vault_stack.credentials_secret) is None


def test_an_encrypted_file_without_a_pipeline_key_says_to_make_one(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, cwd: Path
) -> None:
    # Given no pipeline key yet
    (cwd / "credentials.csv.gpg").write_bytes(encrypt_to_recipients(CSV, [fast_key.public_key]))
    # When an encrypted file is imported
    result = cli("import-credentials", "credentials.csv.gpg")
    # Then the error says which command fills the key secret
    assert result.exit_code == 1
    assert "pipeline key secret has no value yet" in result.stderr
    assert "edx-vault keygen" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not,a,credentials\nfile,at,all\n", "not edX's header"),
        (
            CSV + b"second-user,AKIAZ7EXAMPLE0TESTK2,q9Lw2vXbT8rN4mZ1kP6sY3hD0fG7jC5aE2uR8tW2\n",
            "2 credential rows",
        ),
        (CSV.split(b"\n")[0] + b"\n", "0 credential rows"),
        (CSV.replace(ACCESS_KEY_ID.encode(), b"NOTAKEY"), "Access Key Id field is not"),
        (CSV.replace(SECRET_ACCESS_KEY.encode(), b"short"), "Secret Access Key field is not"),
        (bytes(range(1, 40)) + b"\xff\xfe", "not UTF-8"),
    ],
    ids=["bad-header", "two-rows", "no-row", "bad-key-id", "bad-secret", "binary"],
)
def test_malformed_files_are_refused_and_the_secret_is_unchanged(
    cli: Cli,
    vault_stack: DeployedVault,
    pipeline_key: KeyPair,
    cwd: Path,
    content: bytes,
    expected: str,
) -> None:
    # Given credentials imported before
    assert cli("import-credentials", "-", stdin=CSV).exit_code == 0
    before = vault_stack.secret_text(vault_stack.credentials_secret)
    # and a malformed file, encrypted to the pipeline's key as edX would send it
    (cwd / "bad.csv.gpg").write_bytes(encrypt_to_recipients(content, [pipeline_key.public_key]))
    # When it is imported
    result = cli("import-credentials", "bad.csv.gpg")
    # Then a clear error, no value from the file echoed, and the stored secret unchanged
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert SECRET_ACCESS_KEY[:10] not in result.output
    assert vault_stack.secret_text(vault_stack.credentials_secret) == before


def test_a_file_that_is_neither_csv_nor_openpgp(
    cli: Cli, vault_stack: DeployedVault, pipeline_key: KeyPair
) -> None:
    # Given a binary file that is not OpenPGP (high bit set, as a packet header would be)
    # When it is imported
    result = cli("import-credentials", "-", stdin=b"\x8c\x00garbage that gpg cannot read")
    # Then gpg's refusal is reported in words, nothing stored
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the file is not an OpenPGP message")
    assert vault_stack.secret_text(vault_stack.credentials_secret) is None
