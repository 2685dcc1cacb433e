"""Reading and writing the vault's secrets in Secrets Manager with a boto3 client (the CLI's way).

The formats are :mod:`edx_vault.settings.secret_formats`'s; this module only moves their JSON.
The Lambda functions do not use it: they fetch the strings through Powertools Parameters (with a
cache) and parse them with the same formats.

Reading follows one convention: ``read_*`` returns ``None`` when the secret has no value yet
(the state the stack deploys it in), ``load_*`` raises :class:`SecretNotSetError` saying which
command fills it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import ClientError

from edx_vault.settings.secret_document import SecretDocument, SecretFormatError
from edx_vault.settings.secret_formats import (
    DecryptionKeys,
    EdxCredentials,
    PipelineKeyring,
    PipelinePassphrase,
    PseudonymKey,
    SecretNotSetError,
    decryption_keys,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

_Document = TypeVar("_Document", bound=SecretDocument)


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


def read_secret(
    client: SecretsManagerClient, secret_arn: str, document: type[_Document]
) -> _Document | None:
    """The secret's value as ``document``, or ``None`` when it has none yet.

    Raises
    ------
    SecretFormatError
        When the secret is malformed.
    """
    text = read_secret_string(client, secret_arn, document.what)
    return None if text is None else document.from_secret_string(text)


def load_secret(
    client: SecretsManagerClient, secret_arn: str, document: type[_Document]
) -> _Document:
    """The secret's value as ``document``.

    Raises
    ------
    SecretNotSetError
        When it has no value yet (the message names the command that writes it).
    SecretFormatError
        When it is malformed.
    """
    value = read_secret(client, secret_arn, document)
    if value is None:
        raise SecretNotSetError(document.what, secret_arn)
    return value


def store_secret(client: SecretsManagerClient, secret_arn: str, value: SecretDocument) -> None:
    """Write a secret (a new version; the previous one stays as AWSPREVIOUS).

    The previous version is how an admin undoes a mistaken import.
    """
    client.put_secret_value(SecretId=secret_arn, SecretString=value.to_secret_string())


def read_edx_credentials(client: SecretsManagerClient, secret_arn: str) -> EdxCredentials | None:
    """The stored edX credentials, or ``None`` when none were imported yet."""
    return read_secret(client, secret_arn, EdxCredentials)


def load_edx_credentials(client: SecretsManagerClient, secret_arn: str) -> EdxCredentials:
    """The stored edX credentials; :class:`SecretNotSetError` when none were imported yet."""
    return load_secret(client, secret_arn, EdxCredentials)


def store_edx_credentials(
    client: SecretsManagerClient, secret_arn: str, credentials: EdxCredentials
) -> None:
    """Write the edX credentials secret."""
    store_secret(client, secret_arn, credentials)


def read_pipeline_keyring(client: SecretsManagerClient, secret_arn: str) -> PipelineKeyring | None:
    """The stored pipeline keys, or ``None`` when no key was generated or imported yet."""
    return read_secret(client, secret_arn, PipelineKeyring)


def store_pipeline_keyring(
    client: SecretsManagerClient, secret_arn: str, keyring: PipelineKeyring
) -> None:
    """Write the pipeline key secret."""
    store_secret(client, secret_arn, keyring)


def read_passphrase(client: SecretsManagerClient, secret_arn: str) -> PipelinePassphrase | None:
    """The stored passphrase, or ``None`` when none was written yet."""
    return read_secret(client, secret_arn, PipelinePassphrase)


def store_passphrase(
    client: SecretsManagerClient, secret_arn: str, passphrase: PipelinePassphrase
) -> None:
    """Write the passphrase secret."""
    store_secret(client, secret_arn, passphrase)


def read_pseudonym_key(client: SecretsManagerClient, secret_arn: str) -> PseudonymKey | None:
    """The stored pseudonym key, or ``None`` when none was generated yet."""
    return read_secret(client, secret_arn, PseudonymKey)


def store_pseudonym_key(client: SecretsManagerClient, secret_arn: str, key: PseudonymKey) -> None:
    """Write the pseudonym key secret (the previous key stays as AWSPREVIOUS)."""
    store_secret(client, secret_arn, key)


def load_pipeline_keyring(
    secretsmanager_client: SecretsManagerClient, key_secret_arn: str, passphrase_secret_arn: str
) -> DecryptionKeys:
    """Read every pipeline key and the passphrase that protects them.

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
    DecryptionKeys
        ``(armored_keys, passphrase, metadata)``: the armored private keys, primary first; the
        passphrase; and the :class:`PipelineKeyring` (fingerprints, user ids, expiry dates).

    Raises
    ------
    SecretNotSetError
        When either secret has no value yet.
    SecretFormatError
        When either is malformed.
    """
    return decryption_keys(
        load_secret(secretsmanager_client, key_secret_arn, PipelineKeyring),
        load_secret(secretsmanager_client, passphrase_secret_arn, PipelinePassphrase),
    )
