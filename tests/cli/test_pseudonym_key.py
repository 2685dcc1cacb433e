"""``edx-vault pseudonym-key``: init, rotate and status against the storage stack in moto."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging

import pytest

from edx_vault.cli.sync import unset_secrets
from edx_vault.settings.deployment import Deployment
from edx_vault.settings.secret_formats import PseudonymKey, parse_pseudonym_key
from tests.cli.conftest import Cli, DeployedVault, seed_pseudonym_key


def _secret(vault: DeployedVault) -> str:
    return vault.pseudonym_key_secret


def _stored_key(vault: DeployedVault) -> PseudonymKey:
    return parse_pseudonym_key(vault.secret_text(_secret(vault)) or "")


def _never_shown(key: PseudonymKey, *texts: str) -> None:
    """Neither the key's base64 nor its bytes in any readable form appear in ``texts``."""
    forms = (key.key, key.key_bytes.hex(), base64.urlsafe_b64encode(key.key_bytes).decode())
    for text in texts:
        for form in forms:
            assert form not in text


def test_init_stores_a_random_key_once_and_status_shows_when_never_what(
    cli: Cli, vault_stack: DeployedVault, caplog: pytest.LogCaptureFixture
) -> None:
    # The product's own log records, at every level (botocore's wire log is off unless an admin
    # turns it on, and then shows every request body: that is AWS's tool, not our log)
    caplog.set_level(logging.DEBUG, logger="edx_vault")
    # Given a deployed storage stack whose pseudonym key secret is empty, as deployed
    assert vault_stack.secret_text(_secret(vault_stack)) is None
    before = cli("pseudonym-key", "status", "--json")
    assert before.exit_code == 0, before.stderr
    assert json.loads(before.stdout)["state"] == "unset"
    # When the admin creates the key
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    created = cli("pseudonym-key", "init")
    # Then the secret holds 32 bytes and when they were made, in the documented format (that
    # they are fresh each time: the rotation test)
    assert created.exit_code == 0, created.stderr
    key = _stored_key(vault_stack)
    assert len(key.key_bytes) == 32
    assert started <= key.created <= dt.datetime.now(dt.UTC)
    # When init runs again
    again = cli("pseudonym-key", "init")
    # Then it is refused, names the explicit rotation, and the key is unchanged
    assert again.exit_code == 1
    assert "pseudonym-key rotate --yes-break-linkage" in again.stderr
    assert _stored_key(vault_stack).key == key.key
    # And status says it is set and when it was created
    status = cli("pseudonym-key", "status")
    status_json = cli("pseudonym-key", "status", "--json")
    assert status.exit_code == 0
    assert "pseudonym key: set, created" in status.stdout
    assert json.loads(status_json.stdout) == {
        "secret_arn": _secret(vault_stack),
        "state": "set",
        "created": key.created.isoformat().replace("+00:00", "Z"),
    }
    # And no output or log record ever showed the key
    logged = "\n".join(record.getMessage() for record in caplog.records)
    _never_shown(key, created.output, again.output, status.output, status_json.output, logged)


def test_rotate_explains_and_changes_nothing_without_the_flag_then_replaces_with_it(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given no key yet: rotating is refused, pointing at init
    nothing = cli("pseudonym-key", "rotate", "--yes-break-linkage")
    assert nothing.exit_code == 1
    assert "pseudonym-key init" in nothing.stderr
    assert vault_stack.secret_text(_secret(vault_stack)) is None
    # Given a stored key
    assert cli("pseudonym-key", "init").exit_code == 0
    old = _stored_key(vault_stack)
    # When the admin asks to rotate without the flag
    refused = cli("pseudonym-key", "rotate")
    # Then it says what breaks, exits non-zero, and the key is the same
    assert refused.exit_code == 1
    assert "no longer join" in refused.stdout
    assert "rebuilds the whole de-identified tier" in refused.stdout
    assert "saved analyses and joins" in refused.stdout
    assert "--yes-break-linkage" in refused.stderr
    assert _stored_key(vault_stack).key == old.key
    # When the admin rotates with the flag
    rotated = cli("pseudonym-key", "rotate", "--yes-break-linkage")
    # Then a different 32-byte key is current, the old one is the previous version, and
    # neither key was shown
    assert rotated.exit_code == 0, rotated.stderr
    new = _stored_key(vault_stack)
    assert new.key != old.key and len(new.key_bytes) == 32
    assert new.created > old.created  # a new generation, even within the same second
    client = vault_stack.aws.client("secretsmanager")
    previous = client.get_secret_value(SecretId=_secret(vault_stack), VersionStage="AWSPREVIOUS")
    assert parse_pseudonym_key(previous["SecretString"]).key == old.key
    assert "no longer join" in rotated.stdout
    _never_shown(old, refused.output, rotated.output)
    _never_shown(new, refused.output, rotated.output)


def test_a_malformed_value_is_never_overwritten_by_init(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a secret someone filled by hand with something that is not a key
    client = vault_stack.aws.client("secretsmanager")
    client.put_secret_value(SecretId=_secret(vault_stack), SecretString='{"key": "short"}')
    # When the admin runs init, then status
    init = cli("pseudonym-key", "init")
    status = cli("pseudonym-key", "status")
    # Then init refuses (the value stays), and status says it is malformed and how to fix it
    assert init.exit_code == 1
    assert "not a valid pseudonym key" in init.stderr
    assert vault_stack.secret_text(_secret(vault_stack)) == '{"key": "short"}'
    assert "MALFORMED" in status.stdout and "rotate --yes-break-linkage" in status.stdout


def test_sync_and_doctor_name_an_unset_pseudonym_key_with_its_command(
    vault_stack: DeployedVault,
) -> None:
    # Given every secret stored but the pseudonym key
    client = vault_stack.aws.client("secretsmanager")
    for arn in (
        vault_stack.credentials_secret,
        vault_stack.key_secret,
        vault_stack.passphrase_secret,
    ):
        client.put_secret_value(SecretId=arn, SecretString="stored")
    storage = Deployment.discover(vault_stack.aws.client("cloudformation"), vault_stack.prefix)
    # When sync's check of unset secrets runs (doctor's secrets check is the same function)
    missing = unset_secrets(client, storage.storage)
    # Then it names the pseudonym key and the command that creates it, and nothing else
    assert missing == ["the pseudonym key (run `edx-vault pseudonym-key init`)"]
    # And once the key is stored (as init stores it), nothing is missing
    seed_pseudonym_key(vault_stack)
    assert unset_secrets(client, storage.storage) == []
