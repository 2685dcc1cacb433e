"""The three secrets' formats: round trips, rotation, and errors that name the field, never a value."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import (
    EdxCredentials,
    PipelineKey,
    PipelineKeyring,
    PipelinePassphrase,
    PseudonymKey,
    parse_decryption_keys,
    parse_edx_credentials,
    parse_passphrase,
    parse_pipeline_keyring,
    parse_pseudonym_key,
    serialise_edx_credentials,
    serialise_passphrase,
    serialise_pipeline_keyring,
    serialise_pseudonym_key,
)

SECRET = "q9Lw2vXbT8rN4mZ1kP6sY3hD0fG7jC5aE2uR8tW1"
ARMORED = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nsecret-material\n-----END PGP PRIVATE KEY BLOCK-----\n"
# Secret values below are made of this letter alone: no message may contain it, whatever it says.
MARK = "Ж"
OLD, NEW = "A" * 40, "B" * 40


def key(fingerprint: str, expires: dt.date | None = dt.date(2027, 1, 1)) -> PipelineKey:
    return PipelineKey(
        fingerprint=fingerprint,
        armored_private_key=ARMORED.replace("secret-material", f"material-{fingerprint[:4]}"),
        user_id="pipeline@example.edu",
        created=dt.date(2025, 1, 1),
        expires=expires,
    )


def credentials_document(**changes: Any) -> str:
    document = {
        "user_name": "edx-czar",
        "access_key_id": "AKIAZ7EXAMPLE0TESTKY",
        "secret_access_key": SECRET,
        "imported_at": "2024-01-07T06:00:00Z",
    }
    return json.dumps({**document, **changes})


def keyring_document(**changes: Any) -> str:
    document = json.loads(
        serialise_pipeline_keyring(PipelineKeyring(primary=OLD, keys=(key(OLD),)))
    )
    document["keys"][0].update(changes)
    return json.dumps(document)


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


@pytest.mark.parametrize(
    "value",
    [
        EdxCredentials(
            user_name="edx-czar",
            access_key_id="AKIAZ7EXAMPLE0TESTKY",
            secret_access_key=SECRET,
            imported_at=dt.datetime(2024, 1, 7, 6, 0, tzinfo=dt.UTC),
        ),
        PipelineKeyring(primary=OLD, keys=(key(OLD),)),
        PipelinePassphrase(passphrase=SECRET),
    ],
    ids=["credentials", "keyring", "passphrase"],
)
def test_secret_fields_stay_out_of_repr_and_plain_dumps(value: Any) -> None:
    # Given a secret format holding secret material
    # When it is printed, logged or dumped without asking for the secrets
    shown = [repr(value), str(value), json.dumps(value.model_dump(mode="json"))]
    # Then no secret material appears
    for text in shown:
        assert SECRET not in text
        assert "material" not in text


def test_decryption_keys_are_read_from_the_two_strings_primary_first() -> None:
    # Given a rotation handover's key secret and the passphrase secret, as strings
    keyring = PipelineKeyring(primary=OLD, keys=(key(OLD),)).with_new_primary(key(NEW))
    key_secret = serialise_pipeline_keyring(keyring)
    passphrase_secret = serialise_passphrase(PipelinePassphrase(passphrase="one for all"))
    # When a Lambda function reads them
    armored_keys, passphrase, metadata = parse_decryption_keys(key_secret, passphrase_secret)
    # Then the new primary key comes first, then the old one, with the one passphrase
    assert armored_keys == [key(NEW).armored_private_key, key(OLD).armored_private_key]
    assert passphrase == "one for all"
    assert metadata == keyring
    # and their repr shows fingerprints, no key material nor passphrase
    shown = repr(parse_decryption_keys(key_secret, passphrase_secret))
    assert NEW in shown and "material" not in shown and "one for all" not in shown


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json " + SECRET, "the secret value is not JSON"),
        (json.dumps(["a", SECRET]), "the secret value is not a JSON object"),
        (
            json.dumps({"user_name": "u", "access_key_id": SECRET}),
            "missing field(s) secret_access_key, imported_at",
        ),
        (credentials_document(access_key_id=SECRET), "access_key_id is not an AWS access key id"),
        (credentials_document(secret_access_key=SECRET[:-1]), "secret_access_key is not an AWS"),
        (credentials_document(imported_at="2024-01-07T06:00:00"), "imported_at has no timezone"),
        (credentials_document(imported_at=SECRET), "imported_at is not an ISO 8601 timestamp"),
        (credentials_document(user_name=12), "user_name is not a string"),
        (credentials_document(**{SECRET: SECRET}), "unknown field(s) (not shown)"),
    ],
)
def test_malformed_credentials_are_named_but_never_echoed(document: str, expected: str) -> None:
    # When a malformed credentials secret is read
    with pytest.raises(SecretFormatError) as raised:
        parse_edx_credentials(document)
    # Then the secret and the field are named, and no part of the secret appears
    message = str(raised.value)
    assert message.startswith("edX credentials: ")
    assert expected in message
    assert not any(SECRET[start : start + 4] in message for start in range(len(SECRET) - 3))


@pytest.mark.parametrize(
    ("parse", "document", "field"),
    [
        (parse_edx_credentials, "{" + MARK * 40, "the secret value"),
        (parse_edx_credentials, credentials_document(access_key_id=MARK * 20), "access_key_id"),
        (
            parse_edx_credentials,
            credentials_document(secret_access_key=MARK * 40),
            "secret_access_key",
        ),
        (parse_edx_credentials, credentials_document(imported_at=MARK), "imported_at"),
        (parse_edx_credentials, credentials_document(**{MARK * 8: SECRET}), "unknown field"),
        (
            parse_pipeline_keyring,
            keyring_document(armored_private_key=MARK * 99),
            "keys[0].armored_private_key",
        ),
        (parse_pipeline_keyring, keyring_document(fingerprint=MARK * 40), "keys[0].fingerprint"),
        (parse_pipeline_keyring, keyring_document(created=MARK * 10), "keys[0].created"),
        (parse_pipeline_keyring, json.dumps({"primary": OLD, "keys": [MARK]}), "keys[0]"),
        (parse_passphrase, json.dumps({"passphrase": f"{MARK}\n{MARK}"}), "passphrase"),
        (parse_passphrase, json.dumps({"passphrase": [MARK]}), "passphrase"),
    ],
)
def test_no_character_of_a_malformed_secret_reaches_the_message(
    parse: Any, document: str, field: str
) -> None:
    # Given a malformed secret whose values are all made of one letter no message uses
    # When it is read
    with pytest.raises(SecretFormatError) as raised:
        parse(document)
    # Then the message names the field and holds not one character of the values
    assert field in str(raised.value)
    assert MARK not in str(raised.value)


def test_a_format_built_in_code_fails_the_same_way() -> None:
    # When a model is built in code with a bad secret value
    with pytest.raises(SecretFormatError) as raised:
        EdxCredentials(
            user_name="edx-czar",
            access_key_id="AKIAZ7EXAMPLE0TESTKY",
            secret_access_key=MARK * 40,
            imported_at=dt.datetime(2024, 1, 7, tzinfo=dt.UTC),
        )
    # Then it is the same named error (not pydantic's, whose text would quote the input)
    assert str(raised.value).startswith("edX credentials: secret_access_key is not an AWS")
    assert MARK not in str(raised.value)


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
        (
            {"primary": OLD, "keys": [json.loads(keyring_document())["keys"][0]] * 2},
            "a key is listed twice",
        ),
        (json.loads(keyring_document(expires="2024-12-31")), "keys[0]: expires is before created"),
    ],
)
def test_malformed_keyrings_are_refused(document: dict[str, object], expected: str) -> None:
    # When a malformed key secret is read
    with pytest.raises(SecretFormatError) as raised:
        parse_pipeline_keyring(json.dumps(document))
    # Then the problem is named, and only it (a list whose item failed is not "empty" too)
    assert expected in str(raised.value)
    assert str(raised.value).count("keys is empty") == (expected == "keys is empty")


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


def test_a_keyring_too_large_for_secrets_manager_is_refused() -> None:
    # Given more keys than one secret value can hold
    big = ARMORED.replace("secret-material", "m" * 5000)
    keys = tuple(
        PipelineKey(
            fingerprint=f"{number:040X}",
            armored_private_key=big,
            user_id="pipeline@example.edu",
            created=dt.date(2025, 1, 1),
            expires=None,
        )
        for number in range(1, 15)
    )
    # When it is serialised
    with pytest.raises(SecretFormatError) as raised:
        serialise_pipeline_keyring(PipelineKeyring(primary=keys[0].fingerprint, keys=keys))
    # Then the message says what to do
    assert "14 keys exceed Secrets Manager's 65536-character limit; retire old keys" in str(
        raised.value
    )


def test_passphrase_round_trip_and_line_breaks_refused() -> None:
    # A passphrase reads back as written
    written = serialise_passphrase(PipelinePassphrase(passphrase="p4ss"))
    assert parse_passphrase(written).passphrase == "p4ss"
    # and one gpg would cut at a newline is refused without being shown
    with pytest.raises(SecretFormatError) as raised:
        parse_passphrase(json.dumps({"passphrase": "first\nsecond"}))
    assert "passphrase contains a line break" in str(raised.value)
    assert "second" not in str(raised.value)
    # and an empty one, built in code as import-key does, is refused by name
    with pytest.raises(SecretFormatError, match="passphrase is empty"):
        PipelinePassphrase(passphrase="")


def test_a_pseudonym_key_round_trips_and_never_shows_its_key() -> None:
    # Given a generated pseudonym key
    key = PseudonymKey(
        key=base64.b64encode(bytes(range(32))).decode(),
        created=dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC),
    )
    # When it is written and read back / Then it is the same key, and its repr hides it
    assert parse_pseudonym_key(serialise_pseudonym_key(key)).key_bytes == bytes(range(32))
    assert key.key not in repr(key)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("not base64!", "key is not base64"),
        (base64.b64encode(b"short").decode(), "key is shorter than 32 bytes"),
    ],
)
def test_a_pseudonym_key_that_is_not_base64_or_too_short_is_refused(key: str, problem: str) -> None:
    # Given a secret holding a bad key / When it is read / Then the error names the field only
    text = json.dumps({"key": key, "created": "2026-11-30T12:00:00Z"})
    with pytest.raises(SecretFormatError, match=problem) as raised:
        parse_pseudonym_key(text)
    assert key not in str(raised.value)
