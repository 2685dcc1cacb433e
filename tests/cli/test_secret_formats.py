"""The three secrets' JSON: round trips, rotation, and errors that never echo a value."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from edx_vault.settings.secret_formats import (
    EdxCredentials,
    PipelineKey,
    PipelineKeyring,
    PipelinePassphrase,
    SecretFormatError,
    SecretNotSetError,
    load_edx_credentials,
    load_pipeline_keyring,
    parse_edx_credentials,
    parse_passphrase,
    parse_pipeline_keyring,
    serialise_edx_credentials,
    serialise_passphrase,
    serialise_pipeline_keyring,
    store_passphrase,
    store_pipeline_keyring,
)
from tests.cli.conftest import DeployedVault

SECRET = "q9Lw2vXbT8rN4mZ1kP6sY3hD0fG7jC5aE2uR8tW1"
ARMORED = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nsecret-material\n-----END PGP PRIVATE KEY BLOCK-----\n"


def key(fingerprint: str, expires: dt.date | None = dt.date(2027, 1, 1)) -> PipelineKey:
    return PipelineKey(
        fingerprint=fingerprint,
        armored_private_key=ARMORED.replace("secret-material", f"material-{fingerprint[:4]}"),
        user_id="pipeline@example.edu",
        created=dt.date(2025, 1, 1),
        expires=expires,
    )


OLD, NEW = "A" * 40, "B" * 40


def test_credentials_round_trip_as_documented_json() -> None:
    # Given credentials imported at a known time
    credentials = EdxCredentials(
        user_name="edx-czar",
        access_key_id="AKIAZ7EXAMPLE0TESTKY",
        secret_access_key=SECRET,
        imported_at=dt.datetime(2024, 1, 7, 6, 0, tzinfo=dt.UTC),
    )
    # When serialised
    text = serialise_edx_credentials(credentials)
    # Then it is exactly the documented JSON, and reads back the same
    assert json.loads(text) == {
        "user_name": "edx-czar",
        "access_key_id": "AKIAZ7EXAMPLE0TESTKY",
        "secret_access_key": SECRET,
        "imported_at": "2024-01-07T06:00:00Z",
    }
    assert parse_edx_credentials(text) == credentials
    # and the secret key is kept out of repr, so a stray log line cannot show it
    assert SECRET not in repr(credentials)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json " + SECRET, "not JSON"),
        (json.dumps(["a", SECRET]), "not a JSON object"),
        (json.dumps({"user_name": "u", "access_key_id": SECRET}), "missing field"),
        (
            json.dumps(
                {
                    "user_name": "u",
                    "access_key_id": SECRET,
                    "secret_access_key": SECRET,
                    "imported_at": "2024-01-07T06:00:00Z",
                }
            ),
            "access_key_id is not an AWS access key id",
        ),
        (
            json.dumps(
                {
                    "user_name": "u",
                    "access_key_id": "AKIAZ7EXAMPLE0TESTKY",
                    "secret_access_key": SECRET,
                    "imported_at": "2024-01-07T06:00:00",
                }
            ),
            "no timezone",
        ),
    ],
)
def test_malformed_credentials_are_named_but_never_echoed(document: str, expected: str) -> None:
    # When a malformed credentials secret is read
    with pytest.raises(SecretFormatError) as raised:
        parse_edx_credentials(document)
    # Then the problem is named and no value appears in the message
    assert expected in str(raised.value)
    assert SECRET[:12] not in str(raised.value)


def test_a_rotation_appends_the_new_key_as_primary() -> None:
    # Given a keyring of one key
    keyring = PipelineKeyring(primary=OLD, keys=(key(OLD),))
    # When a new key is added
    rotated = keyring.with_new_primary(key(NEW, expires=None))
    # Then both are kept, oldest first, the new one primary, and it survives a round trip
    assert rotated.fingerprints == (OLD, NEW)
    assert rotated.primary_key.fingerprint == NEW
    document = json.loads(serialise_pipeline_keyring(rotated))
    assert document["primary"] == NEW
    assert document["keys"][1]["expires"] is None
    assert document["keys"][0]["created"] == "2025-01-01"
    assert parse_pipeline_keyring(serialise_pipeline_keyring(rotated)) == rotated
    # and the same key cannot be added twice
    with pytest.raises(SecretFormatError, match="already stored"):
        rotated.with_new_primary(key(NEW))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"primary": OLD, "keys": []}, "keys is empty"),
        ({"primary": NEW, "keys": ["K"]}, "keys[0] is not a JSON object"),
        ({"primary": "lowercase", "keys": [{"fingerprint": "x"}]}, "missing field"),
    ],
)
def test_malformed_keyrings_are_refused(document: dict[str, object], expected: str) -> None:
    # When a malformed key secret is read
    with pytest.raises(SecretFormatError) as raised:
        parse_pipeline_keyring(json.dumps(document))
    # Then the problem is named
    assert expected in str(raised.value)


def test_a_keyring_whose_primary_is_not_listed_is_refused() -> None:
    # Given a primary that is not one of the keys
    text = serialise_pipeline_keyring(PipelineKeyring(primary=OLD, keys=(key(OLD),)))
    text = text.replace(f'"primary": "{OLD}"', f'"primary": "{NEW}"')
    # When it is read
    with pytest.raises(SecretFormatError, match="primary is not one of the listed keys"):
        parse_pipeline_keyring(text)
    # and key material never appears in the message
    with pytest.raises(SecretFormatError) as raised:
        parse_pipeline_keyring(text.replace("BEGIN PGP PRIVATE KEY BLOCK", "nope"))
    assert "material" not in str(raised.value)


def test_passphrase_round_trip_and_line_breaks_refused() -> None:
    # A passphrase reads back as written
    assert parse_passphrase(serialise_passphrase(PipelinePassphrase("p4ss"))).passphrase == "p4ss"
    # and one gpg would cut at a newline is refused without being shown
    with pytest.raises(SecretFormatError) as raised:
        parse_passphrase(json.dumps({"passphrase": "first\nsecond"}))
    assert "line break" in str(raised.value)
    assert "second" not in str(raised.value)


def test_load_pipeline_keyring_returns_primary_first_and_the_passphrase(
    vault_stack: DeployedVault,
) -> None:
    # Given a rotation handover stored in the real secrets
    client = vault_stack.aws.client("secretsmanager")
    keyring = PipelineKeyring(primary=OLD, keys=(key(OLD),)).with_new_primary(key(NEW))
    store_pipeline_keyring(client, vault_stack.key_secret, keyring)
    store_passphrase(client, vault_stack.passphrase_secret, PipelinePassphrase("one for all"))
    # When the Lambda side loads it
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
    # When they are loaded
    with pytest.raises(SecretNotSetError) as no_key:
        load_pipeline_keyring(client, vault_stack.key_secret, vault_stack.passphrase_secret)
    with pytest.raises(SecretNotSetError) as no_credentials:
        load_edx_credentials(client, vault_stack.credentials_secret)
    # Then the message names the command to run
    assert "edx-vault keygen" in str(no_key.value)
    assert "edx-vault import-credentials" in str(no_credentials.value)
