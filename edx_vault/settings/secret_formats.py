"""What the vault's four Secrets Manager entries hold, typed, and how to parse and write them.

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
- **pseudonym key**: ``{"key": BASE64, "created"}``, at least 32 random bytes: the HMAC key of
  the de-identified tier's pseudonyms (docs/deidentification.md); ``created`` an ISO 8601 UTC
  timestamp, since a new key starts a new pseudonym space.

Each format is a pydantic model (:mod:`edx_vault.settings.secret_document`); each ``parse_*``
takes the secret's ``SecretString`` and raises :class:`SecretFormatError` naming the secret and
the field, never a value. Nothing here talks to AWS: the Lambda functions fetch the strings
through Powertools Parameters, the CLI through :mod:`edx_vault.settings.secret_store`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Annotated, ClassVar, Final, NamedTuple, Self

from pydantic import AfterValidator, Field, field_serializer, model_validator

from edx_vault.settings.secret_document import (
    MAX_SECRET_CHARACTERS,
    SecretDocument,
    SecretFormatError,
    SecretModel,
    SecretText,
    document_problem,
    field_check,
    field_problem,
)

# AWS's documented shapes: long-term keys start AKIA, temporary ones ASIA; secrets are 40
# characters of base64 alphabet.
ACCESS_KEY_ID_PATTERN: Final = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
SECRET_ACCESS_KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9/+=]{40}$")
# An OpenPGP v4 fingerprint (40 hex digits) or v5 (64), upper case as gpg prints it.
FINGERPRINT_PATTERN: Final = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")
_ARMORED_PRIVATE_KEY: Final = "-----BEGIN PGP PRIVATE KEY BLOCK-----"

EDX_CREDENTIALS: Final = "edX credentials"
PIPELINE_KEY: Final = "pipeline key"
PASSPHRASE: Final = "pipeline key passphrase"  # noqa: S105 - a label for messages
PSEUDONYM_KEY: Final = "pseudonym key"
# HMAC-SHA256's key should be at least the hash's output, 32 bytes (RFC 2104, section 3); the
# same floor as edx_vault.engine.pseudonyms (which the settings layer may not import).
PSEUDONYM_KEY_MIN_BYTES: Final = 32

# What to run when a secret is still empty, by secret.
_FILLED_BY: Final = {
    EDX_CREDENTIALS: "run `edx-vault import-credentials credentials.csv.gpg`",
    PIPELINE_KEY: "run `edx-vault keygen` (or `edx-vault import-key`)",
    PASSPHRASE: "run `edx-vault keygen` (or `edx-vault import-key`)",
    PSEUDONYM_KEY: "run `edx-vault pseudonym-key init`",
}


class SecretNotSetError(LookupError):
    """A secret that has no value yet; the message says which command writes it."""

    def __init__(self, what: str, secret_arn: str) -> None:
        self.what = what
        self.secret_arn = secret_arn
        super().__init__(
            f"the {what} secret has no value yet ({secret_arn}): {_FILLED_BY.get(what, '')}"
        )


def _in_utc(value: dt.datetime) -> dt.datetime:
    if value.utcoffset() is None:
        raise field_problem("has no timezone (must be UTC)")
    return value.astimezone(dt.UTC)


class EdxCredentials(SecretDocument):
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
        When it was imported, timezone-aware, converted to UTC.
    """

    what: ClassVar[str] = EDX_CREDENTIALS

    user_name: Annotated[str, field_check(str.strip, "is empty")]
    access_key_id: Annotated[
        str,
        field_check(
            ACCESS_KEY_ID_PATTERN.fullmatch,
            "is not an AWS access key id "
            "(AKIA or ASIA followed by 16 upper-case letters or digits)",
        ),
    ]
    secret_access_key: Annotated[
        SecretText,
        field_check(
            SECRET_ACCESS_KEY_PATTERN.fullmatch,
            "is not an AWS secret access key (40 letters, digits, '/', '+' or '=')",
        ),
    ]
    imported_at: Annotated[dt.datetime, AfterValidator(_in_utc)]

    @field_serializer("imported_at")
    def _utc_timestamp(self, value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def masked_access_key_id(self) -> str:
        """The access key id with all but its last four characters hidden, for messages."""
        return f"{self.access_key_id[:4]}{'*' * 12}{self.access_key_id[-4:]}"


class PipelineKey(SecretModel):
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

    what: ClassVar[str] = PIPELINE_KEY

    fingerprint: Annotated[
        str, field_check(FINGERPRINT_PATTERN.fullmatch, "is not 40 (or 64) upper-case hex digits")
    ]
    armored_private_key: Annotated[
        SecretText,
        field_check(lambda text: _ARMORED_PRIVATE_KEY in text, "is not an armored private key"),
    ]
    user_id: str
    created: dt.date
    expires: dt.date | None

    @model_validator(mode="after")
    def _expires_after_created(self) -> Self:
        if self.expires is not None and self.expires < self.created:
            raise document_problem("expires is before created")
        return self

    def days_left(self, today: dt.date) -> int | None:
        """Days until the key expires (negative once it has), ``None`` if it never does."""
        return None if self.expires is None else (self.expires - today).days


class PipelineKeyring(SecretDocument):
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

    what: ClassVar[str] = PIPELINE_KEY

    primary: str
    keys: tuple[PipelineKey, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _primary_among_distinct_keys(self) -> Self:
        if len(set(self.fingerprints)) != len(self.keys):
            raise document_problem("a key is listed twice")
        if self.primary not in self.fingerprints:
            raise document_problem("primary is not one of the listed keys")
        return self

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
        return PipelineKeyring(primary=key.fingerprint, keys=(*self.keys, key))

    def too_large(self) -> str:
        return (
            f"{len(self.keys)} keys exceed Secrets Manager's {MAX_SECRET_CHARACTERS}-character "
            "limit; retire old keys first"
        )


class PipelinePassphrase(SecretDocument):
    """The passphrase protecting every key in the key secret (out of ``repr``)."""

    what: ClassVar[str] = PASSPHRASE

    passphrase: Annotated[
        SecretText,
        field_check(bool, "is empty"),
        # gpg reads a loopback passphrase up to the first newline; anything after would be lost.
        field_check(lambda text: not {"\n", "\r"} & set(text), "contains a line break"),
    ]


def _pseudonym_key_bytes(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise field_problem("is not base64") from None
    if len(key) < PSEUDONYM_KEY_MIN_BYTES:
        raise field_problem(f"is shorter than {PSEUDONYM_KEY_MIN_BYTES} bytes")
    return key


class PseudonymKey(SecretDocument):
    """The key of the de-identified tier's pseudonyms (HMAC-SHA256), out of ``repr``.

    Attributes
    ----------
    key
        At least :data:`PSEUDONYM_KEY_MIN_BYTES` random bytes, base64.
    created
        When it was generated: a rotation starts a new pseudonym space, and copies made before
        it no longer join copies made after.
    """

    what: ClassVar[str] = PSEUDONYM_KEY

    key: Annotated[
        SecretText,
        # Raises its own problem (not base64, too short); a key it returns is never empty.
        field_check(_pseudonym_key_bytes, "is empty"),
    ]
    created: Annotated[dt.datetime, AfterValidator(_in_utc)]

    @field_serializer("created")
    def _utc_timestamp(self, value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def key_bytes(self) -> bytes:
        """The key's bytes, for :class:`edx_vault.engine.pseudonyms.Pseudonymizer`."""
        return base64.b64decode(self.key)


class DecryptionKeys(NamedTuple):
    """What a decrypting function needs: the keys to import, their passphrase, and metadata.

    A tuple, so ``keys, passphrase, metadata = parse_decryption_keys(...)`` works; its ``repr``
    shows fingerprints only.
    """

    armored_keys: list[str]
    passphrase: str
    metadata: PipelineKeyring

    def __repr__(self) -> str:
        return f"DecryptionKeys(fingerprints={self.metadata.fingerprints!r}, secrets hidden)"


def parse_edx_credentials(text: str) -> EdxCredentials:
    """Read the edX credentials secret from its ``SecretString``.

    Raises
    ------
    SecretFormatError
        When it is not the documented JSON; the message names the field, never a value.
    """
    return EdxCredentials.from_secret_string(text)


def parse_pipeline_keyring(text: str) -> PipelineKeyring:
    """Read the pipeline key secret from its ``SecretString`` (see :func:`parse_edx_credentials`)."""
    return PipelineKeyring.from_secret_string(text)


def parse_passphrase(text: str) -> PipelinePassphrase:
    """Read the passphrase secret from its ``SecretString`` (see :func:`parse_edx_credentials`)."""
    return PipelinePassphrase.from_secret_string(text)


def decryption_keys(keyring: PipelineKeyring, passphrase: PipelinePassphrase) -> DecryptionKeys:
    """Every key of ``keyring``, primary first, with the passphrase that protects them all.

    Import all of ``armored_keys`` into the GnuPG home: during a rotation handover edX may
    still send files encrypted to the old key. Pass ``passphrase`` through loopback pinentry.
    """
    others = [key for key in keyring.keys if key.fingerprint != keyring.primary]
    return DecryptionKeys(
        armored_keys=[key.armored_private_key for key in (keyring.primary_key, *others)],
        passphrase=passphrase.passphrase,
        metadata=keyring,
    )


def parse_decryption_keys(key_secret_string: str, passphrase_secret_string: str) -> DecryptionKeys:
    """The pipeline key and passphrase secrets' ``SecretString``, read into :class:`DecryptionKeys`.

    Raises
    ------
    SecretFormatError
        When either is malformed (see :func:`parse_edx_credentials`).
    """
    return decryption_keys(
        parse_pipeline_keyring(key_secret_string), parse_passphrase(passphrase_secret_string)
    )


def serialise_edx_credentials(credentials: EdxCredentials) -> str:
    """The JSON for the edX credentials secret."""
    return credentials.to_secret_string()


def serialise_pipeline_keyring(keyring: PipelineKeyring) -> str:
    """The JSON for the pipeline key secret.

    Raises
    ------
    SecretFormatError
        When the result would exceed Secrets Manager's 64 KiB limit (dozens of keys).
    """
    return keyring.to_secret_string()


def serialise_passphrase(passphrase: PipelinePassphrase) -> str:
    """The JSON for the passphrase secret."""
    return passphrase.to_secret_string()


def parse_pseudonym_key(text: str) -> PseudonymKey:
    """Read the pseudonym key secret from its ``SecretString`` (see :func:`parse_edx_credentials`)."""
    return PseudonymKey.from_secret_string(text)


def serialise_pseudonym_key(key: PseudonymKey) -> str:
    """The JSON for the pseudonym key secret."""
    return key.to_secret_string()
