"""The secrets a pipeline Lambda reads: edX's credentials (Plan, Mirror), the keyring (Decrypt),
the pseudonym key (Deidentify).

Apart from :mod:`edx_vault.pipeline.lambda_runtime` so that the functions that read no secret
(Collect, Report) import neither the secret formats nor Powertools Parameters.

Secrets are read through Powertools Parameters and cached for the life of the sandbox, with
three exceptions so that an admin's fix is never hidden by a warm sandbox:

- edX's credentials are read again at the first call of each run (Plan reads them at the start
  of every run, Mirror at its first batch of a run), and at the next call after edX rejected
  them: credentials imported between two runs are used by the next run, in every sandbox;
- a value that cannot be used (malformed, or keys gpg will not import) is dropped from the
  cache, so the next call reads the secret again;
- a secret with no value yet is never cached (Secrets Manager answers an error).

A batch of a hundred items still reads each secret once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import boto3
import gnupg
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from edx_vault.engine.errors import (
    CREDENTIALS_REJECTED_CODES,
    EdxCredentialsRejectedError,
    aws_error_code,
)
from edx_vault.engine.gnupg_home import GnupgHome, reuse_or_open
from edx_vault.pipeline.lambda_runtime import settings
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_formats import (
    EDX_CREDENTIALS,
    PASSPHRASE,
    PIPELINE_KEY,
    PSEUDONYM_KEY,
    PseudonymKey,
    SecretNotSetError,
    parse_decryption_keys,
    parse_edx_credentials,
    parse_pseudonym_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Longer than Lambda keeps any sandbox (it recycles them within hours): "for the sandbox's life".
SECRET_CACHE_SECONDS: Final = 24 * 60 * 60


@functools.cache
def _secrets() -> SecretsProvider:
    # A provider of this sandbox's own (not Powertools' module-wide default), built with this
    # function's client: its cache then holds only what this function's role may read.
    return SecretsProvider(boto3_client=boto3.client("secretsmanager"))


def secret_string(secret_arn: str, what: str, *, fresh: bool = False) -> str:
    """A secret's value, from the sandbox's cache unless ``fresh``.

    Raises what Secrets Manager raised (a throttle stays a throttle, which
    :func:`aws_errors_classified` retries), not Powertools' wrapper around it.
    """
    try:
        value = _secrets().get(secret_arn, max_age=SECRET_CACHE_SECONDS, force_fetch=fresh)
    except GetParameterError as error:
        # Powertools wraps every error in GetParameterError, raised inside its except block,
        # so the original is the wrapper's __context__.
        original = error.__context__
        if isinstance(original, Exception):
            if (
                aws_error_code(original) == "ResourceNotFoundException"
            ):  # how the stack deploys a secret: empty
                raise SecretNotSetError(what, secret_arn) from None
            raise original from None
        raise
    if not isinstance(value, str):
        raise SecretFormatError(f"{what}: the secret holds binary data, not JSON text")
    return value


@contextmanager
def forgotten_if_unusable() -> Iterator[None]:
    """Drop the sandbox's cached secrets if what was read from them cannot be used."""
    try:
        yield
    except Exception:
        _secrets().clear_cache()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
        raise


class EdxS3:
    """An S3 client with edX's credentials, made once per run in a sandbox and never logged."""

    def __init__(self) -> None:
        self._client: S3Client | None = None
        self._run_id: str | None = None
        self._rejected = False

    def client(self, run_id: str) -> S3Client:
        """The client for ``run_id``: the credentials are read afresh for a new run."""
        if self._client is None or self._rejected or run_id != self._run_id:
            with forgotten_if_unusable():
                text = secret_string(
                    settings().edx_credentials_secret_arn, EDX_CREDENTIALS, fresh=True
                )
                credentials = parse_edx_credentials(text)
            client = boto3.client(
                "s3",
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
            )
            # Only this client's calls are made with edX's keys: its refusals, and no other
            # call's, mean edX rejected them (our own role's AccessDenied is ours to fix).
            client.meta.events.register("after-call.s3", self._blame_edx_credentials)
            self._client, self._run_id, self._rejected = client, run_id, False
        return self._client

    def _blame_edx_credentials(self, parsed: dict[str, Any], **_: Any) -> None:
        """botocore ``after-call`` hook: an edX refusal becomes :class:`EdxCredentialsRejectedError`."""
        code = parsed.get("Error", {}).get("Code")
        if code in CREDENTIALS_REJECTED_CODES:
            self._rejected = True
            raise EdxCredentialsRejectedError(
                f"edX's S3 rejected the stored credentials ({code}); import new ones with "
                "edx-vault import-credentials"
            )


@functools.cache
def _edx_s3() -> EdxS3:
    return EdxS3()


def edx_s3(run_id: str) -> S3Client:
    """An S3 client with edX's credentials for run ``run_id`` (see :class:`EdxS3`)."""
    return _edx_s3().client(run_id)


class PipelineKeyring:
    """The pipeline's private keys, imported once per sandbox into a private GNUPGHOME."""

    def __init__(self) -> None:
        self._home: GnupgHome | None = None
        self._passphrase: str | None = None

    def gpg(self) -> tuple[gnupg.GPG, str]:
        """A GPG bound to the keyring, and the keys' passphrase."""
        # Nothing is exported from this home, so its keys may unlock fast (see gnupg_config).
        home = reuse_or_open(self._home, fast_unlock=True)
        if home is not self._home or self._passphrase is None:
            current = settings()
            with forgotten_if_unusable():
                keys = parse_decryption_keys(
                    secret_string(current.pipeline_key_secret_arn, PIPELINE_KEY),
                    secret_string(current.pipeline_passphrase_secret_arn, PASSPHRASE),
                )
                gpg = home.gpg()
                for armored in keys.armored_keys:  # primary first, then any still in handover
                    result = gpg.import_keys(armored, passphrase=keys.passphrase)
                    if not result.fingerprints:
                        raise RuntimeError("the stored pipeline key could not be imported")
            passphrase = keys.passphrase
            self._home, self._passphrase = home, passphrase
        return home.gpg(), self._passphrase

    def close(self) -> None:
        """Stop the agent and delete the home (the keys with it); for tests and local runs."""
        if self._home is not None:
            self._home.close()
            self._home = None
            self._passphrase = None


@functools.cache
def keyring() -> PipelineKeyring:
    return PipelineKeyring()


def pseudonym_key() -> PseudonymKey:
    """The de-identified tier's pseudonym key, read once per sandbox (never logged: its ``repr``
    hides the key).

    Raises
    ------
    SecretNotSetError
        When the secret has no value yet; the message names ``edx-vault pseudonym-key init``.
    """
    with forgotten_if_unusable():
        return parse_pseudonym_key(
            secret_string(settings().pseudonym_key_secret_arn, PSEUDONYM_KEY)
        )


def end_sandbox() -> None:
    """Stop the keyring's agent and forget the secrets read; for tests and local runs."""
    if keyring.cache_info().currsize:
        keyring().close()
    for cached in (_secrets, _edx_s3, keyring):
        cached.cache_clear()
