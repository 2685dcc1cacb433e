"""What the vault's three Secrets Manager entries hold, typed, and how to read and write them.

The storage stack creates the secrets empty; the admin CLI writes them and the Lambda functions
read them. Both sides go through this module, so the JSON cannot drift between them:

- **edX credentials**: ``{"user_name", "access_key_id", "secret_access_key", "imported_at"}``,
  ``imported_at`` an ISO 8601 UTC timestamp.
- **pipeline key**: ``{"primary": FINGERPRINT, "keys": [{"fingerprint", "armored_private_key",
  "user_id", "created", "expires"}]}``, dates ISO ``YYYY-MM-DD`` and ``expires`` ``null`` for a
  key that never expires. During a rotation handover the old and the new key are both listed (so
  files edX encrypted to either still decrypt) and the new one is primary.
- **passphrase**: ``{"passphrase": "..."}``. One passphrase protects every key in the key secret,
  so a Lambda needs exactly two secret reads to decrypt anything.

Validation errors name the secret and the field and say what is wrong, but never repeat a value:
a malformed secret may still hold most of a real credential.

Reading follows one convention: ``read_*`` returns ``None`` when the secret has no value yet
(the state the stack deploys it in), ``load_*`` raises :class:`SecretNotSetError` saying which
command fills it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# AWS's documented shapes: long-term keys start AKIA, temporary ones ASIA; secrets are 40
# characters of base64 alphabet.
ACCESS_KEY_ID_PATTERN: Final = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
SECRET_ACCESS_KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9/+=]{40}$")
# An OpenPGP v4 fingerprint (40 hex digits) or v5 (64), upper case as gpg prints it.
FINGERPRINT_PATTERN: Final = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")
# Secrets Manager's limit on one secret value.
MAX_SECRET_CHARACTERS: Final = 65536

EDX_CREDENTIALS: Final = "edX credentials"
PIPELINE_KEY: Final = "pipeline key"
PASSPHRASE: Final = "pipeline key passphrase"  # noqa: S105 - a label for messages

# What to run when a secret is still empty, by secret.
_FILLED_BY: Final = {
    EDX_CREDENTIALS: "run `edx-vault import-credentials credentials.csv.gpg`",
    PIPELINE_KEY: "run `edx-vault keygen` (or `edx-vault import-key`)",
    PASSPHRASE: "run `edx-vault keygen` (or `edx-vault import-key`)",
}


class SecretFormatError(ValueError):
    """A secret value that does not have the documented shape; says where, never the value."""


class SecretNotSetError(LookupError):
    """A secret that has no value yet; the message says which command writes it."""

    def __init__(self, what: str, secret_arn: str) -> None:
        self.what = what
        self.secret_arn = secret_arn
        super().__init__(
            f"the {what} secret has no value yet ({secret_arn}): {_FILLED_BY.get(what, '')}"
        )


# --------------------------------------------------------------------------------------------
# The three formats
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdxCredentials:
    """edX's S3 access keys, from the ``credentials.csv`` edX sends the data czar.

    Attributes
    ----------
    user_name
        The IAM user name edX created (not secret, useful to tell key generations apart).
    access_key_id
        ``AKIA...`` (or ``ASIA...``) and 16 more upper-case letters or digits.
    secret_access_key
        40 characters; kept out of ``repr`` so a stray log line cannot show it.
    imported_at
        When it was imported, timezone-aware UTC.
    """

    user_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    imported_at: dt.datetime

    def __post_init__(self) -> None:
        where = EDX_CREDENTIALS
        if not self.user_name.strip():
            raise SecretFormatError(f"{where}: user_name is empty")
        if not ACCESS_KEY_ID_PATTERN.fullmatch(self.access_key_id):
            raise SecretFormatError(
                f"{where}: access_key_id is not an AWS access key id "
                "(AKIA or ASIA followed by 16 upper-case letters or digits)"
            )
        if not SECRET_ACCESS_KEY_PATTERN.fullmatch(self.secret_access_key):
            raise SecretFormatError(
                f"{where}: secret_access_key is not an AWS secret access key "
                "(40 letters, digits, '/', '+' or '=')"
            )
        if self.imported_at.utcoffset() is None:
            raise SecretFormatError(f"{where}: imported_at has no timezone (must be UTC)")

    @property
    def masked_access_key_id(self) -> str:
        """The access key id with all but its last four characters hidden, for messages."""
        return f"{self.access_key_id[:4]}{'*' * 12}{self.access_key_id[-4:]}"


@dataclass(frozen=True)
class PipelineKey:
    """One OpenPGP key of the pipeline, as stored in the key secret.

    Attributes
    ----------
    fingerprint
        Upper-case hex fingerprint of the primary key.
    armored_private_key
        The ASCII-armored secret key, protected by the passphrase secret; out of ``repr``.
    user_id
        The key's user id (the institutional e-mail edX knows it by).
    created
        The day the key was created.
    expires
        The last day edX can encrypt to it (the earlier of the primary key's and its encryption
        subkey's expiry); ``None`` when it never expires.
    """

    fingerprint: str
    armored_private_key: str = field(repr=False)
    user_id: str
    created: dt.date
    expires: dt.date | None

    def __post_init__(self) -> None:
        where = f"{PIPELINE_KEY}: key {self.fingerprint[:16] or '(empty)'}"
        if not FINGERPRINT_PATTERN.fullmatch(self.fingerprint):
            raise SecretFormatError(
                f"{PIPELINE_KEY}: a fingerprint is not 40 (or 64) upper-case hex digits"
            )
        if "-----BEGIN PGP PRIVATE KEY BLOCK-----" not in self.armored_private_key:
            raise SecretFormatError(f"{where}: armored_private_key is not an armored private key")
        if self.expires is not None and self.expires < self.created:
            raise SecretFormatError(f"{where}: expires is before created")

    def days_left(self, today: dt.date) -> int | None:
        """Days until the key expires (negative once it has), ``None`` if it never does."""
        return None if self.expires is None else (self.expires - today).days


@dataclass(frozen=True)
class PipelineKeyring:
    """The key secret: every key the pipeline may decrypt with, and which one is primary.

    The primary key is the one whose public half edX should be encrypting to now. The others
    are kept for a rotation handover: files edX encrypted before it switched still decrypt.

    Attributes
    ----------
    primary
        The primary key's fingerprint.
    keys
        The keys in the order they were added (oldest first).
    """

    primary: str
    keys: tuple[PipelineKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise SecretFormatError(f"{PIPELINE_KEY}: keys is empty")
        fingerprints = [key.fingerprint for key in self.keys]
        if len(set(fingerprints)) != len(fingerprints):
            raise SecretFormatError(f"{PIPELINE_KEY}: a key is listed twice")
        if self.primary not in fingerprints:
            raise SecretFormatError(f"{PIPELINE_KEY}: primary is not one of the listed keys")

    @property
    def primary_key(self) -> PipelineKey:
        """The key edX should be encrypting to."""
        return next(key for key in self.keys if key.fingerprint == self.primary)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """Fingerprints of every stored key, oldest first."""
        return tuple(key.fingerprint for key in self.keys)

    def with_new_primary(self, key: PipelineKey) -> PipelineKeyring:
        """This keyring with ``key`` added and made primary (a rotation handover).

        Raises
        ------
        SecretFormatError
            When a key with the same fingerprint is already stored.
        """
        if key.fingerprint in self.fingerprints:
            raise SecretFormatError(f"{PIPELINE_KEY}: key {key.fingerprint} is already stored")
        return replace(self, primary=key.fingerprint, keys=(*self.keys, key))


@dataclass(frozen=True)
class PipelinePassphrase:
    """The passphrase protecting every key in the key secret (out of ``repr``)."""

    passphrase: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.passphrase:
            raise SecretFormatError(f"{PASSPHRASE}: passphrase is empty")
        # gpg reads a loopback passphrase up to the first newline; anything after would be lost.
        if "\n" in self.passphrase or "\r" in self.passphrase:
            raise SecretFormatError(f"{PASSPHRASE}: passphrase contains a line break")


# --------------------------------------------------------------------------------------------
# Parse and serialise
# --------------------------------------------------------------------------------------------


def _document(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        # json's message quotes the text around the error: never pass it on.
        raise SecretFormatError(f"{what}: the secret value is not JSON") from None
    if not isinstance(document, dict):
        raise SecretFormatError(f"{what}: the secret value is not a JSON object")
    return document


def _fields(document: dict[str, Any], what: str, required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in document]
    if missing:
        raise SecretFormatError(f"{what}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(document) - set(required))
    if unknown:
        raise SecretFormatError(f"{what}: unknown field(s) {', '.join(unknown)}")


def _string(document: dict[str, Any], name: str, what: str) -> str:
    value = document[name]
    if not isinstance(value, str):
        raise SecretFormatError(f"{what}: {name} is not a string")
    return value


def _date(value: Any, name: str, what: str) -> dt.date:
    if not isinstance(value, str) or len(value) != 10:
        raise SecretFormatError(f"{what}: {name} is not an ISO date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SecretFormatError(f"{what}: {name} is not an ISO date (YYYY-MM-DD)") from None


def _utc_timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_edx_credentials(text: str) -> EdxCredentials:
    """Read the edX credentials secret.

    Parameters
    ----------
    text
        The secret's ``SecretString``.

    Raises
    ------
    SecretFormatError
        When it is not the documented JSON; the message never includes a value.
    """
    what = EDX_CREDENTIALS
    document = _document(text, what)
    _fields(document, what, ("user_name", "access_key_id", "secret_access_key", "imported_at"))
    imported_at_text = _string(document, "imported_at", what)
    try:
        imported_at = dt.datetime.fromisoformat(imported_at_text)
    except ValueError:
        raise SecretFormatError(f"{what}: imported_at is not an ISO 8601 timestamp") from None
    if imported_at.utcoffset() is None:
        raise SecretFormatError(f"{what}: imported_at has no timezone (must be UTC)")
    return EdxCredentials(
        user_name=_string(document, "user_name", what),
        access_key_id=_string(document, "access_key_id", what),
        secret_access_key=_string(document, "secret_access_key", what),
        imported_at=imported_at.astimezone(dt.UTC),
    )


def serialise_edx_credentials(credentials: EdxCredentials) -> str:
    """The JSON for the edX credentials secret."""
    return json.dumps(
        {
            "user_name": credentials.user_name,
            "access_key_id": credentials.access_key_id,
            "secret_access_key": credentials.secret_access_key,
            "imported_at": _utc_timestamp(credentials.imported_at),
        }
    )


def _pipeline_key(entry: Any, index: int) -> PipelineKey:
    what = f"{PIPELINE_KEY}: keys[{index}]"
    if not isinstance(entry, dict):
        raise SecretFormatError(f"{what} is not a JSON object")
    _fields(entry, what, ("fingerprint", "armored_private_key", "user_id", "created", "expires"))
    expires = entry["expires"]
    return PipelineKey(
        fingerprint=_string(entry, "fingerprint", what),
        armored_private_key=_string(entry, "armored_private_key", what),
        user_id=_string(entry, "user_id", what),
        created=_date(entry["created"], "created", what),
        expires=None if expires is None else _date(expires, "expires", what),
    )


def parse_pipeline_keyring(text: str) -> PipelineKeyring:
    """Read the pipeline key secret.

    Parameters
    ----------
    text
        The secret's ``SecretString``.

    Raises
    ------
    SecretFormatError
        When it is not the documented JSON; the message never includes key material.
    """
    what = PIPELINE_KEY
    document = _document(text, what)
    _fields(document, what, ("primary", "keys"))
    entries = document["keys"]
    if not isinstance(entries, list):
        raise SecretFormatError(f"{what}: keys is not a list")
    return PipelineKeyring(
        primary=_string(document, "primary", what),
        keys=tuple(_pipeline_key(entry, index) for index, entry in enumerate(entries)),
    )


def serialise_pipeline_keyring(keyring: PipelineKeyring) -> str:
    """The JSON for the pipeline key secret.

    Raises
    ------
    SecretFormatError
        When the result would exceed Secrets Manager's 64 KiB limit (dozens of keys).
    """
    text = json.dumps(
        {
            "primary": keyring.primary,
            "keys": [
                {
                    "fingerprint": key.fingerprint,
                    "armored_private_key": key.armored_private_key,
                    "user_id": key.user_id,
                    "created": key.created.isoformat(),
                    "expires": None if key.expires is None else key.expires.isoformat(),
                }
                for key in keyring.keys
            ],
        }
    )
    if len(text) > MAX_SECRET_CHARACTERS:
        raise SecretFormatError(
            f"{PIPELINE_KEY}: {len(keyring.keys)} keys exceed Secrets Manager's "
            f"{MAX_SECRET_CHARACTERS}-character limit; retire old keys first"
        )
    return text


def parse_passphrase(text: str) -> PipelinePassphrase:
    """Read the passphrase secret.

    Raises
    ------
    SecretFormatError
        When it is not ``{"passphrase": "..."}``; the message never includes the value.
    """
    document = _document(text, PASSPHRASE)
    _fields(document, PASSPHRASE, ("passphrase",))
    return PipelinePassphrase(_string(document, "passphrase", PASSPHRASE))


def serialise_passphrase(passphrase: PipelinePassphrase) -> str:
    """The JSON for the passphrase secret."""
    return json.dumps({"passphrase": passphrase.passphrase})


# --------------------------------------------------------------------------------------------
# Secrets Manager
# --------------------------------------------------------------------------------------------


def read_secret_string(client: SecretsManagerClient, secret_arn: str, what: str) -> str | None:
    """The current value of a secret, or ``None`` if it has none yet.

    Parameters
    ----------
    client
        A Secrets Manager client.
    secret_arn
        The secret (ARN or name).
    what
        What the secret is, for messages (``EDX_CREDENTIALS``, ``PIPELINE_KEY``, ``PASSPHRASE``).

    Raises
    ------
    SecretFormatError
        When the secret holds binary data instead of a string.
    botocore.exceptions.ClientError
        For anything but a missing value (access denied, a KMS key that cannot be used...).
    """
    try:
        response = client.get_secret_value(SecretId=secret_arn)
    except ClientError as error:
        # Also what a secret with no version at all answers: how the stack deploys them.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    if "SecretString" not in response:
        raise SecretFormatError(f"{what}: the secret holds binary data, not JSON text")
    return response["SecretString"]


def _put(client: SecretsManagerClient, secret_arn: str, text: str) -> None:
    # PutSecretValue moves AWSCURRENT to the new version; the old one stays as AWSPREVIOUS,
    # which is how an admin undoes a mistaken import.
    client.put_secret_value(SecretId=secret_arn, SecretString=text)


def read_edx_credentials(client: SecretsManagerClient, secret_arn: str) -> EdxCredentials | None:
    """The stored edX credentials, or ``None`` when none were imported yet."""
    text = read_secret_string(client, secret_arn, EDX_CREDENTIALS)
    return None if text is None else parse_edx_credentials(text)


def load_edx_credentials(client: SecretsManagerClient, secret_arn: str) -> EdxCredentials:
    """The stored edX credentials.

    Raises
    ------
    SecretNotSetError
        When none were imported yet.
    SecretFormatError
        When the secret is malformed.
    """
    credentials = read_edx_credentials(client, secret_arn)
    if credentials is None:
        raise SecretNotSetError(EDX_CREDENTIALS, secret_arn)
    return credentials


def store_edx_credentials(
    client: SecretsManagerClient, secret_arn: str, credentials: EdxCredentials
) -> None:
    """Write the edX credentials secret (a new version; the previous one stays AWSPREVIOUS)."""
    _put(client, secret_arn, serialise_edx_credentials(credentials))


def read_pipeline_keyring(client: SecretsManagerClient, secret_arn: str) -> PipelineKeyring | None:
    """The stored pipeline keys, or ``None`` when no key was generated or imported yet."""
    text = read_secret_string(client, secret_arn, PIPELINE_KEY)
    return None if text is None else parse_pipeline_keyring(text)


def store_pipeline_keyring(
    client: SecretsManagerClient, secret_arn: str, keyring: PipelineKeyring
) -> None:
    """Write the pipeline key secret."""
    _put(client, secret_arn, serialise_pipeline_keyring(keyring))


def read_passphrase(client: SecretsManagerClient, secret_arn: str) -> PipelinePassphrase | None:
    """The stored passphrase, or ``None`` when none was written yet."""
    text = read_secret_string(client, secret_arn, PASSPHRASE)
    return None if text is None else parse_passphrase(text)


def store_passphrase(
    client: SecretsManagerClient, secret_arn: str, passphrase: PipelinePassphrase
) -> None:
    """Write the passphrase secret."""
    _put(client, secret_arn, serialise_passphrase(passphrase))


class LoadedKeyring(NamedTuple):
    """What a decrypting function needs: the keys to import, their passphrase, and metadata.

    A tuple, so ``keys, passphrase, metadata = load_pipeline_keyring(...)`` works.
    """

    armored_keys: list[str]
    passphrase: str
    metadata: PipelineKeyring


def load_pipeline_keyring(
    secretsmanager_client: SecretsManagerClient, key_secret_arn: str, passphrase_secret_arn: str
) -> LoadedKeyring:
    """Read every pipeline key and the passphrase that protects them.

    Import all of ``armored_keys`` into the GnuPG home: during a rotation handover edX may
    still send files encrypted to the old key. Pass ``passphrase`` through loopback pinentry.

    Parameters
    ----------
    secretsmanager_client
        A Secrets Manager client.
    key_secret_arn
        The pipeline key secret (``PipelineKeySecretArn``).
    passphrase_secret_arn
        The passphrase secret (``PipelinePassphraseSecretArn``).

    Returns
    -------
    LoadedKeyring
        ``(armored_keys, passphrase, metadata)``: the armored private keys, primary first; the
        passphrase; and the :class:`PipelineKeyring` (fingerprints, user ids, expiry dates).

    Raises
    ------
    SecretNotSetError
        When either secret has no value yet.
    SecretFormatError
        When either is malformed.
    """
    keyring = read_pipeline_keyring(secretsmanager_client, key_secret_arn)
    if keyring is None:
        raise SecretNotSetError(PIPELINE_KEY, key_secret_arn)
    passphrase = read_passphrase(secretsmanager_client, passphrase_secret_arn)
    if passphrase is None:
        raise SecretNotSetError(PASSPHRASE, passphrase_secret_arn)
    primary = keyring.primary_key
    others = [key for key in keyring.keys if key.fingerprint != keyring.primary]
    return LoadedKeyring(
        armored_keys=[key.armored_private_key for key in (primary, *others)],
        passphrase=passphrase.passphrase,
        metadata=keyring,
    )
