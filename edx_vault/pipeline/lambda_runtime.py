"""What every pipeline Lambda sets up once per sandbox: settings, clients, the keyring.

Handlers stay thin: they call :func:`run_context` and friends, then one function of
:mod:`edx_vault.pipeline.pipeline_run`. This is the one module on the Lambda side that reads the
environment (through :meth:`PipelineSettings.from_environment`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
import gnupg

from edx_vault.engine.errors import (
    CREDENTIALS_REJECTED_CODES,
    EdxCredentialsRejectedError,
    TransientError,
    as_transient,
    is_transient,
)
from edx_vault.engine.gnupg_home import GnupgHome, reuse_or_open
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.pipeline_run import RunContext
from edx_vault.pipeline.run_liveness import RunLiveness
from edx_vault.settings.pipeline_settings import PipelineSettings
from edx_vault.settings.secret_store import load_pipeline_keyring

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@functools.cache
def settings() -> PipelineSettings:
    return PipelineSettings.from_environment(os.environ)


@functools.cache
def run_context() -> RunContext:
    current = settings()
    table = boto3.resource("dynamodb").Table(current.manifest_table)
    liveness = None
    if current.sync_state_machine_arn:
        stepfunctions = boto3.client("stepfunctions")
        liveness = RunLiveness(stepfunctions, current.sync_state_machine_arn).has_ended
    return RunContext(
        settings=current,
        vault_s3=boto3.client("s3"),
        manifest=Manifest(table),
        run_has_ended=liveness,
    )


def edx_s3() -> S3Client:
    """An S3 client with edX's credentials (read fresh each cold start; never logged)."""
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=settings().edx_credentials_secret_arn
    )
    credentials = json.loads(secret["SecretString"])
    client = boto3.client(
        "s3",
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
    )
    # Only this client's calls are made with edX's keys: its refusals, and no other call's,
    # mean edX rejected them (our own role's AccessDenied is ours to fix, not edX's).
    client.meta.events.register("after-call.s3", _blame_edx_credentials)
    return client


def _blame_edx_credentials(parsed: dict[str, Any], **_: Any) -> None:
    """botocore ``after-call`` hook: an edX refusal becomes :class:`EdxCredentialsRejectedError`."""
    code = parsed.get("Error", {}).get("Code")
    if code in CREDENTIALS_REJECTED_CODES:
        raise EdxCredentialsRejectedError(
            f"edX's S3 rejected the stored credentials ({code}); import new ones with "
            "edx-vault import-credentials"
        )


class PipelineKeyring:
    """The pipeline's private keys, imported once per sandbox into a private GNUPGHOME."""

    def __init__(self) -> None:
        self._home: GnupgHome | None = None
        self._imported: tuple[str, ...] = ()
        self._passphrase: str | None = None

    def gpg(self) -> tuple[gnupg.GPG, str]:
        """A GPG bound to the keyring, and the keys' passphrase."""
        # Nothing is exported from this home, so its keys may unlock fast (see gnupg_home).
        home = reuse_or_open(self._home, fast_unlock=True)
        if home is not self._home or self._passphrase is None:
            current = settings()
            armored_keys, passphrase, _ = load_pipeline_keyring(
                boto3.client("secretsmanager"),
                current.pipeline_key_secret_arn,
                current.pipeline_passphrase_secret_arn,
            )
            gpg = home.gpg()
            for armored in armored_keys:
                result = gpg.import_keys(armored, passphrase=passphrase)
                if not result.fingerprints:
                    raise RuntimeError("the stored pipeline key could not be imported")
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


@contextmanager
def aws_errors_classified() -> Iterator[None]:
    """Turn errors that clear up by themselves into exactly :class:`TransientError`.

    Which errors those are is :func:`edx_vault.engine.errors.is_transient`'s call. Lambda names the
    error by its class, and the state machine retries only ``TransientError``, so a subclass
    (:class:`~edx_vault.engine.errors.ShortReadError`) is re-raised as the plain class too. Every other
    error passes through unchanged, and is not retried.
    """
    try:
        yield
    except Exception as error:
        if type(error) is not TransientError and is_transient(error):
            raise as_transient(error) from error
        raise


def event_item(event: dict[str, Any]) -> dict[str, Any]:
    """The work item of a Map iteration (the ItemSelector puts it under ``item``)."""
    item = event.get("item", event)
    assert isinstance(item, dict)
    return item
