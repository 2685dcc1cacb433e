"""Storing a new pipeline key: the rules ``keygen`` and ``import-key`` share.

- With no key stored, the key and its passphrase are written (passphrase first: a key without
  its passphrase would be unusable, a passphrase without a key is simply overwritten next time).
- With a key stored, nothing is replaced unless ``--rotate``: the new key is then appended and
  made primary, the old ones stay so that files edX encrypted to them still decrypt, and the
  passphrase secret is left alone (one passphrase protects every stored key).
- Either way the key secret's tags are set to the primary key's fingerprint and expiry
  (:mod:`edx_vault.pipeline.key_metadata`): the Report step reads them with ``DescribeSecret`` to warn
  before the key expires, without being able to read the key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edx_vault.cli.errors import CliError
from edx_vault.pipeline.key_metadata import key_tags
from edx_vault.settings.deployment import StorageResources
from edx_vault.settings.secret_formats import PipelineKey, PipelineKeyring, PipelinePassphrase
from edx_vault.settings.secret_store import (
    read_passphrase,
    read_pipeline_keyring,
    store_passphrase,
    store_pipeline_keyring,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import TagTypeDef


def describe_key(key: PipelineKey, today: dt.date) -> str:
    """``FINGERPRINT (user id, expires DATE, N days left)``: no key material."""
    days = key.days_left(today)
    expiry = "never expires" if key.expires is None else f"expires {key.expires}, {days} days left"
    return f"{key.fingerprint} ({key.user_id}, {expiry})"


@dataclass(frozen=True)
class KeySlot:
    """What is stored now, read before making or checking a new key.

    Attributes
    ----------
    keyring
        The stored keys; ``None`` for a first key.
    passphrase
        The stored passphrase; set exactly when rotating.
    """

    keyring: PipelineKeyring | None
    passphrase: PipelinePassphrase | None

    @property
    def rotating(self) -> bool:
        """Whether the new key joins existing ones."""
        return self.keyring is not None


def reserve_key_slot(
    client: SecretsManagerClient, storage: StorageResources, *, rotate: bool, today: dt.date
) -> KeySlot:
    """Check a new key may be stored, before any work is done to make or check it.

    Raises
    ------
    CliError
        A key is stored and ``rotate`` is off; ``rotate`` is on and there is nothing to
        rotate; or a key is stored without its passphrase.
    """
    keyring = read_pipeline_keyring(client, storage.pipeline_key_secret_arn)
    if keyring is None:
        if rotate:
            raise CliError("--rotate: no pipeline key is stored yet; run again without --rotate")
        return KeySlot(keyring=None, passphrase=None)
    if not rotate:
        raise CliError(
            f"a pipeline key is already stored: {describe_key(keyring.primary_key, today)}. "
            "Replacing it would stop the pipeline decrypting files edX encrypted to it; to hand "
            "over to a new key, run again with --rotate (the old key stays usable for decryption)"
        )
    passphrase = read_passphrase(client, storage.pipeline_passphrase_secret_arn)
    if passphrase is None:
        raise CliError(
            "a pipeline key is stored but its passphrase secret is empty, so the stored key "
            f"cannot be used; restore {storage.pipeline_passphrase_secret_arn} from its "
            "previous version (aws secretsmanager get-secret-value --version-stage AWSPREVIOUS)"
        )
    return KeySlot(keyring=keyring, passphrase=passphrase)


def store_new_key(
    client: SecretsManagerClient,
    storage: StorageResources,
    slot: KeySlot,
    key: PipelineKey,
    passphrase: PipelinePassphrase,
) -> PipelineKeyring:
    """Write ``key`` (and, for a first key, ``passphrase``) as :func:`reserve_key_slot` allowed.

    Returns
    -------
    PipelineKeyring
        What the key secret now holds.

    Raises
    ------
    CliError
        When the key is already stored.
    """
    if slot.keyring is None:
        store_passphrase(client, storage.pipeline_passphrase_secret_arn, passphrase)
        keyring = PipelineKeyring(primary=key.fingerprint, keys=(key,))
    else:
        if key.fingerprint in slot.keyring.fingerprints:
            raise CliError(f"key {key.fingerprint} is already stored; nothing to rotate to")
        keyring = slot.keyring.with_new_primary(key)
    store_pipeline_keyring(client, storage.pipeline_key_secret_arn, keyring)
    primary = keyring.primary_key
    tags: list[TagTypeDef] = [
        {"Key": tag["Key"], "Value": tag["Value"]}
        for tag in key_tags(primary.fingerprint, primary.expires)
    ]
    client.tag_resource(SecretId=storage.pipeline_key_secret_arn, Tags=tags)
    return keyring
