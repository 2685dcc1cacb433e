"""``edx-vault doctor`` against the embedded AWS: each check passing, and failing as it would.

The vault is the test harness's (``conftest``): the real storage stack in moto, a stand-in
pipeline stack with the real outputs, an access stack with the real role outputs, and edX's
buckets holding files gpg really encrypted, to the pipeline's key or to someone else's. edX's
S3 refusals come from :class:`~tests.cli.conftest.RefusingFront`, since moto accepts any key.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gnupg
import pytest

from edx_vault.cli import context as cli_context
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.package.source_keys import event_log_key, weekly_zip_key
from edx_vault.settings import stack_outputs
from tests.cli.conftest import (
    EDX_SECRET_ACCESS_KEY,
    Cli,
    CliRun,
    DeployedVault,
    EdxBuckets,
    KeyPair,
    RefusingFront,
    _wait_for_stack,
    create_schedule,
    deploy_access_stack,
    deploy_pipeline_stack,
    seed_edx_credentials,
    seed_pipeline_key,
    seed_pseudonym_key,
    stop_agent,
    subscribe_email,
    tag_pipeline_key,
)

NOW = dt.datetime(2024, 1, 8, 9, 0, tzinfo=dt.UTC)
LOG_DAY = dt.date(2024, 1, 6)
ZIP_DAY = dt.date(2024, 1, 7)
PASS_MACHINE = {"StartAt": "Report", "States": {"Report": {"Type": "Pass", "End": True}}}
# The example configuration's researchers.
RESEARCHERS = ("jdoe-irb-2026-114", "asmith-irb-2026-201")
ALERTS_EMAIL = "research-data@example.edu"  # and its alerts email


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_context, "utc_now", lambda: NOW)


# --------------------------------------------------------------------------------------------
# edX's files, really encrypted
# --------------------------------------------------------------------------------------------


def put_event_log(
    vault: DeployedVault, buckets: EdxBuckets, org: str, day: dt.date, keys: list[KeyPair]
) -> str:
    """One day's event log of ``org``, encrypted (as edX does) to each of ``keys``."""
    plaintext = gzip.compress(b'{"event_type": "page_view", "org_id": "' + org.encode() + b'"}\n')
    key = event_log_key(org, "edx", day)
    vault.aws.client("s3").put_object(
        Bucket=buckets.events,
        Key=key,
        Body=encrypt_to_recipients(plaintext, [k.public_key for k in keys]),
    )
    return key


def put_weekly_zip(
    vault: DeployedVault, buckets: EdxBuckets, org: str, day: dt.date, keys: list[KeyPair]
) -> str:
    """One weekly zip of ``org``: a folder entry first (as `zip -r` writes), then a member
    encrypted to each of ``keys``, deflated."""
    folder = f"{org}-{day.isoformat()}"
    member = encrypt_to_recipients(b"id\tusername\n1\tada\n", [k.public_key for k in keys])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(f"{folder}/"), b"")
        archive.writestr(f"{folder}/{org}-CS101-2024_T1-auth_user-prod-analytics.sql.gpg", member)
    key = weekly_zip_key(org, day)
    vault.aws.client("s3").put_object(Bucket=buckets.database, Key=key, Body=buffer.getvalue())
    return key


def encryption_key_id(key: KeyPair, home: Path) -> str:
    """The id of the key's encryption subkey, as gpg lists it (independent of the code tested)."""
    home.mkdir(mode=0o700)
    try:
        [listing] = gnupg.GPG(gnupghome=str(home)).scan_keys_mem(key.public_key)
        [subkey_id] = listing["subkey_info"]
        return str(subkey_id)
    finally:
        stop_agent(home)


# --------------------------------------------------------------------------------------------
# A healthy vault, and running doctor
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vault:
    deployed: DeployedVault
    buckets: EdxBuckets
    machine: str


def pipeline_only(vault: DeployedVault) -> str:
    """The stand-in pipeline stack, with its schedule and a confirmed subscription."""
    machine = deploy_pipeline_stack(vault, PASS_MACHINE)
    create_schedule(vault, machine)
    subscribe_email(vault, ALERTS_EMAIL, confirmed=True)
    return machine


@pytest.fixture
def healthy(
    cli: Cli,
    vault_stack: DeployedVault,
    edx_buckets: EdxBuckets,
    fast_key: KeyPair,
    other_key: KeyPair,
) -> Vault:
    """Every stack as configured, every secret stored, a key with a year to go, a confirmed
    subscription, an enabled schedule, and each org's files at edX encrypted to the pipeline's
    key as well as to another czar's."""
    machine = pipeline_only(vault_stack)
    deploy_access_stack(vault_stack, RESEARCHERS)
    expires = NOW.date() + dt.timedelta(days=365)
    seed_pipeline_key(vault_stack, fast_key, expires=expires)
    tag_pipeline_key(vault_stack, fast_key.fingerprint, expires.isoformat())
    seed_edx_credentials(vault_stack)
    seed_pseudonym_key(vault_stack)
    put_event_log(vault_stack, edx_buckets, "examplex", LOG_DAY, [other_key, fast_key])
    put_weekly_zip(vault_stack, edx_buckets, "otheru", ZIP_DAY, [fast_key, other_key])
    return Vault(vault_stack, edx_buckets, machine)


def doctor(cli: Cli) -> tuple[CliRun, dict[str, dict[str, Any]]]:
    """Run ``doctor --json``; the run and each check by name."""
    result = cli("doctor", "--json")
    document = json.loads(result.stdout)
    return result, {check["name"]: check for check in document["checks"]}


# --------------------------------------------------------------------------------------------
# Everything passes
# --------------------------------------------------------------------------------------------


def test_a_healthy_vault_passes_every_check(
    cli: Cli, healthy: Vault, fast_key: KeyPair, scratch: Path
) -> None:
    # Given a vault set up as the runbook says
    # When a script runs the doctor
    result, checks = doctor(cli)
    # Then every check passes, with its evidence, and the exit status is 0
    assert result.exit_code == 0, result.output
    assert {name: check["status"] for name, check in checks.items()} == {
        "storage-stack": "PASS",
        "pipeline-stack": "PASS",
        "access-stack": "PASS",
        "secrets": "PASS",
        "key-expiry": "PASS",
        "edx-credentials": "PASS",
        "edx-encryption": "PASS",
        "alerts-subscription": "PASS",
        "schedule": "PASS",
    }
    prefix = healthy.deployed.prefix
    assert f"data bucket {healthy.deployed.data_bucket}" in checks["storage-stack"]["evidence"]
    assert f"{len(RESEARCHERS)} researcher role(s)" in checks["access-stack"]["evidence"]
    assert "expires on 2025-01-07, in 365 days" in checks["key-expiry"]["evidence"]
    # each org's listings were made with edX's keys
    assert "AKIA************MPLE" in checks["edx-credentials"]["evidence"]
    assert any(line.startswith("OtherU: 5 of 5") for line in checks["edx-credentials"]["details"])
    # the event log of one org and the zip member of the other were read
    encryption = checks["edx-encryption"]
    assert fast_key.fingerprint in encryption["evidence"]
    details = "\n".join(encryption["details"])
    assert f"s3://{healthy.buckets.events}/examplex/edx/events/2024/" in details
    assert "otheru-2024-01-07.zip [otheru-2024-01-07/otheru-CS101" in details
    assert f"email {ALERTS_EMAIL}" in checks["alerts-subscription"]["evidence"]
    assert checks["schedule"]["evidence"] == (
        f"{prefix}-weekly-sync ENABLED: cron(0 6 ? * SUN *) (UTC)"
    )
    assert all(check["fix"] is None for check in checks.values())
    # and nothing secret was printed
    assert EDX_SECRET_ACCESS_KEY not in result.output
    assert "AKIAIOSFODNN7EXAMPLE" not in result.output
    assert "PRIVATE KEY" not in result.output and fast_key.passphrase not in result.output
    # and the GnuPG home that listed the pipeline's key ids is gone
    assert list(scratch.iterdir()) == []


def test_people_get_one_line_per_check_and_a_count(cli: Cli, healthy: Vault) -> None:
    # Given a healthy vault
    # When a person runs the doctor
    result = cli("doctor")
    # Then each check is one line, PASS first, and the counts close the report
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"edx-vault doctor: {healthy.deployed.prefix} in account")
    assert any(line.startswith("PASS  Storage stack") for line in lines)
    assert any(line.startswith("PASS  Newest edX files") for line in lines)
    assert lines[-1] == "9 PASS"


# --------------------------------------------------------------------------------------------
# 1. Stacks
# --------------------------------------------------------------------------------------------


def test_missing_stacks_fail_with_the_deploy_command(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given only the storage stack, its secrets empty
    # When the doctor runs
    result, checks = doctor(cli)
    # Then the missing stacks fail with the command that deploys them, what needs them is
    # skipped, and the exit status is 1
    assert result.exit_code == 1
    assert checks["storage-stack"]["status"] == "PASS"
    for name, stack in (("pipeline-stack", "Pipeline"), ("access-stack", "Access")):
        assert checks[name]["status"] == "FAIL"
        assert checks[name]["evidence"] == (
            f"{vault_stack.prefix}-{stack} is not deployed in us-east-1"
        )
        assert checks[name]["fix"] == f"npx cdk deploy -c config={vault_stack.config_path} --all"
    assert checks["alerts-subscription"]["status"] == "SKIP"
    assert checks["schedule"]["status"] == "SKIP"


def test_a_storage_stack_of_another_account_fails(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given a configuration naming another account than the one the stacks are in
    path = vault_stack.config_path
    path.write_text(
        path.read_text().replace('account = "123456789012"', 'account = "210987654321"')
    )
    # When the doctor runs
    result, checks = doctor(cli)
    # Then the storage stack fails, saying where it is and what the configuration says
    assert result.exit_code == 1
    storage = checks["storage-stack"]
    assert storage["status"] == "FAIL"
    assert "is in account 123456789012, region us-east-1" in storage["evidence"]
    assert "the configuration names account 210987654321" in storage["evidence"]
    assert "sign in to account 210987654321" in storage["fix"]


def test_an_access_stack_without_a_configured_researchers_role_fails(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given an access stack deployed before the configuration's researcher was added
    deploy_access_stack(vault_stack, ())
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the access stack fails, naming the researcher without a role
    access = checks["access-stack"]
    assert access["status"] == "FAIL"
    assert f"no role for researcher(s) {', '.join(sorted(RESEARCHERS))}" in access["evidence"]
    assert access["fix"].endswith(f"{vault_stack.prefix}-Access")


def test_an_access_stack_without_roles_passes_when_nobody_is_granted(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a configuration without researchers, and the access stack it deploys (no roles)
    path = vault_stack.config_path
    text = path.read_text()
    path.write_text(text[: text.index("[[researchers]]")])
    deploy_access_stack(vault_stack, ())
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the access stack passes, holding no roles
    assert checks["access-stack"]["status"] == "PASS"
    assert "no researcher roles" in checks["access-stack"]["evidence"]


# --------------------------------------------------------------------------------------------
# 2. Secrets, 3. key expiry
# --------------------------------------------------------------------------------------------


def test_unset_secrets_fail_naming_the_commands_that_store_them(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given the stacks, with their secrets as deployed: empty
    pipeline_only(vault_stack)
    # When the doctor runs
    result, checks = doctor(cli)
    # Then the secrets fail with the commands, and the checks needing them are skipped
    assert result.exit_code == 1
    secrets = checks["secrets"]
    assert secrets["status"] == "FAIL"
    assert "edX's credentials (run `edx-vault import-credentials`)" in secrets["evidence"]
    assert "the pipeline's OpenPGP key (run `edx-vault keygen`)" in secrets["evidence"]
    assert checks["key-expiry"]["status"] == "WARN"
    assert checks["key-expiry"]["evidence"] == "unknown: no pipeline key is stored yet"
    assert checks["edx-credentials"]["status"] == "SKIP"
    assert checks["edx-encryption"]["status"] == "SKIP"


@pytest.mark.parametrize(
    ("expires", "status", "evidence"),
    [
        ("2024-01-18", "WARN", "expires on 2024-01-18, in 10 days"),
        ("2024-01-05", "FAIL", "expired on 2024-01-05 (3 days ago)"),
        ("never", "PASS", "never expires"),
        ("31/12/2025", "WARN", "unknown: the tag edx-vault:primary-key-expires"),
        (None, "WARN", "unknown: the key secret has no edx-vault:primary-key-fingerprint tag"),
    ],
)
def test_key_expiry_is_read_from_the_key_secrets_tags(
    cli: Cli,
    vault_stack: DeployedVault,
    fast_key: KeyPair,
    expires: str | None,
    status: str,
    evidence: str,
) -> None:
    # Given a stored key whose secret's tags say it expires then (or say nothing usable)
    seed_pipeline_key(vault_stack, fast_key)
    if expires is not None:
        tag_pipeline_key(vault_stack, fast_key.fingerprint, expires)
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the expiry check says so, with how to rotate or re-tag when it is not a pass
    check = checks["key-expiry"]
    assert (check["status"], evidence in check["evidence"]) == (status, True), check
    if status == "PASS":
        assert check["fix"] is None
    elif expires and expires.startswith("2024"):
        assert "edx-vault keygen --rotate" in check["fix"]
    else:
        assert "aws secretsmanager tag-resource" in check["fix"]


# --------------------------------------------------------------------------------------------
# 4. edX's credentials
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch"])
def test_credentials_edx_rejects_fail_with_import_new_credentials(
    cli: Cli, healthy: Vault, edx_refusals: RefusingFront, code: str
) -> None:
    # Given edX's S3 refusing the stored keys themselves (retired, or a wrong secret)
    edx_refusals.refuse(code)
    # When the doctor runs
    result, checks = doctor(cli)
    # Then the credentials fail with the fix, and nothing else is read with them
    assert result.exit_code == 1
    credentials = checks["edx-credentials"]
    assert credentials["status"] == "FAIL"
    assert credentials["evidence"] == (
        f"edX's S3 rejected edX's keys (AKIA************MPLE), imported 2024-01-05: {code}"
    )
    assert "import new credentials" in credentials["fix"]
    assert "edx-vault import-credentials" in credentials["fix"]
    assert checks["edx-encryption"]["status"] == "SKIP"
    # while the admin's own calls went through
    assert checks["storage-stack"]["status"] == "PASS"


def test_an_org_the_keys_may_not_list_fails_naming_the_org(
    cli: Cli, healthy: Vault, edx_refusals: RefusingFront
) -> None:
    # Given edX's keys never granted OtherU's weekly zips
    edx_refusals.refuse("AccessDenied", under=f"{healthy.buckets.database}/otheru-")
    # When the doctor runs
    result, checks = doctor(cli)
    # Then the credentials fail naming that org, and each org's listings are reported
    assert result.exit_code == 1
    credentials = checks["edx-credentials"]
    assert credentials["status"] == "FAIL"
    assert "may not list the files of org(s) OtherU (AccessDenied)" in credentials["evidence"]
    assert "edx-data-czar-example access to OtherU's data" in credentials["fix"]
    assert "ExampleX: 10 of 10 listings work, 1 with files" in credentials["details"]
    [other] = [line for line in credentials["details"] if line.startswith("OtherU")]
    assert other.startswith("OtherU: 4 of 5 listings work")
    assert f"refused: {healthy.buckets.database}/otheru- (AccessDenied)" in other
    # and the newest files are still checked where they can be read
    encryption = checks["edx-encryption"]
    assert encryption["status"] == "WARN"
    assert "OtherU: AccessDenied" in encryption["evidence"]


def test_an_org_without_files_at_edx_warns(
    cli: Cli, vault_stack: DeployedVault, edx_buckets: EdxBuckets, fast_key: KeyPair
) -> None:
    # Given working keys, and files for ExampleX only
    seed_edx_credentials(vault_stack)
    seed_pipeline_key(vault_stack, fast_key)
    put_event_log(vault_stack, edx_buckets, "examplexpro", LOG_DAY, [fast_key])
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the credentials warn that OtherU has nothing (a wrong org id, or no export yet)
    credentials = checks["edx-credentials"]
    assert credentials["status"] == "WARN"
    assert "edX has no file yet for org(s) OtherU" in credentials["evidence"]
    # and ExampleX's newest file (under its alias) is ours
    assert checks["edx-encryption"]["status"] == "PASS"
    assert any("examplexpro/edx/events" in line for line in checks["edx-encryption"]["details"])


# --------------------------------------------------------------------------------------------
# 5. Who edX encrypts to
# --------------------------------------------------------------------------------------------


def test_a_newest_file_for_other_keys_fails_naming_them(
    cli: Cli, healthy: Vault, other_key: KeyPair, fast_key: KeyPair, tmp_path: Path
) -> None:
    # Given ExampleX's newest file, a zip a day newer than its log, encrypted to someone
    # else's key only (edX dropped the pipeline's key from the org)
    put_weekly_zip(healthy.deployed, healthy.buckets, "examplex", ZIP_DAY, [other_key])
    theirs = encryption_key_id(other_key, tmp_path / "other")
    ours = encryption_key_id(fast_key, tmp_path / "ours")
    # When the doctor runs
    result, checks = doctor(cli)
    # Then it fails, naming the key edX encrypts to and the ones the pipeline holds
    assert result.exit_code == 1
    encryption = checks["edx-encryption"]
    assert encryption["status"] == "FAIL"
    assert encryption["evidence"].startswith(
        f"edX encrypts the newest file of ExampleX to keys {theirs}; the pipeline holds "
    )
    assert ours in encryption["evidence"]
    assert "send pipeline.asc" in encryption["fix"] and "for ExampleX" in encryption["fix"]
    assert any("examplex-2024-01-07.zip" in line for line in encryption["details"])


def test_edx_still_encrypting_to_the_old_key_after_a_rotation_warns(
    cli: Cli, healthy: Vault, fast_key: KeyPair, other_key: KeyPair
) -> None:
    # Given a rotation: the other key is now primary, the fast key kept for the handover, and
    # each org's newest file still encrypted to the fast key only
    from edx_vault.settings.secret_formats import PipelineKey
    from edx_vault.settings.secret_store import read_pipeline_keyring, store_pipeline_keyring

    client = healthy.deployed.aws.client("secretsmanager")
    keyring = read_pipeline_keyring(client, healthy.deployed.key_secret)
    assert keyring is not None
    rotated = keyring.with_new_primary(
        PipelineKey(
            fingerprint=other_key.fingerprint,
            armored_private_key=other_key.secret_key,
            user_id="someone-else@example.edu",
            created=NOW.date(),
            expires=NOW.date() + dt.timedelta(days=730),
        )
    )
    store_pipeline_keyring(client, healthy.deployed.key_secret, rotated)
    put_event_log(healthy.deployed, healthy.buckets, "examplex", ZIP_DAY, [fast_key])
    put_weekly_zip(healthy.deployed, healthy.buckets, "otheru", ZIP_DAY, [fast_key])
    # When the doctor runs
    _, checks = doctor(cli)
    # Then it warns that edX has not switched to the new key yet (the file still decrypts)
    encryption = checks["edx-encryption"]
    assert encryption["status"] == "WARN", encryption
    assert f"not the primary {other_key.fingerprint}" in encryption["evidence"]
    assert (
        f"ExampleX to {fast_key.fingerprint}; OtherU to {fast_key.fingerprint}"
        in (encryption["evidence"])
    )
    assert "keep the old key until edX has switched" in encryption["fix"]


# --------------------------------------------------------------------------------------------
# 6. Alarm subscription, 7. schedule
# --------------------------------------------------------------------------------------------


def test_a_pending_email_subscription_warns_to_confirm_the_email(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given the alerts email subscribed, but the confirmation link never clicked
    machine = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    create_schedule(vault_stack, machine)
    subscribe_email(vault_stack, ALERTS_EMAIL, confirmed=False)
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the subscription warns: confirm the email
    alerts = checks["alerts-subscription"]
    assert alerts["status"] == "WARN"
    assert f"the email subscription of {ALERTS_EMAIL}" in alerts["evidence"]
    assert "confirm the email" in alerts["evidence"]
    assert "Confirm subscription" in alerts["fix"] and "aws sns subscribe" in alerts["fix"]


def test_no_subscription_at_all_warns(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given the pipeline's topic with nobody subscribed
    deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the subscription warns that alarms reach no one
    alerts = checks["alerts-subscription"]
    assert alerts["status"] == "WARN"
    assert "nobody is subscribed" in alerts["evidence"]
    assert "aws sns subscribe --topic-arn arn:aws:sns:" in alerts["fix"]


def test_an_older_pipeline_stack_without_the_topic_output_is_read_from_its_resources(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a pipeline stack that exports the state machine only, and holds the topic
    template = {
        "Resources": {"Alerts": {"Type": "AWS::SNS::Topic", "Properties": {}}},
        "Outputs": {
            stack_outputs.STATE_MACHINE_ARN: {
                "Value": "arn:aws:states:us-east-1:123456789012:stateMachine:older"
            }
        },
    }
    cloudformation = vault_stack.aws.client("cloudformation")
    stack = f"{vault_stack.prefix}-Pipeline"
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    _wait_for_stack(cloudformation, stack)
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the stack warns about the missing outputs, and the topic is still checked
    assert checks["pipeline-stack"]["status"] == "WARN"
    assert "has no output AlertsTopicArn, SyncScheduleName" in checks["pipeline-stack"]["evidence"]
    assert "nobody is subscribed to the alerts topic" in checks["alerts-subscription"]["evidence"]
    assert checks["schedule"]["status"] == "WARN"
    assert "exports no schedule and holds none" in checks["schedule"]["evidence"]


def test_a_disabled_schedule_fails(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given the schedule, disabled (by hand, in the console)
    machine = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    create_schedule(vault_stack, machine, state="DISABLED")
    # When the doctor runs
    result, checks = doctor(cli)
    # Then the schedule fails, with how to enable it
    assert result.exit_code == 1
    schedule = checks["schedule"]
    assert schedule["status"] == "FAIL"
    assert schedule["evidence"] == (
        f"{vault_stack.prefix}-weekly-sync DISABLED: cron(0 6 ? * SUN *) (UTC): no sync runs "
        "on its own"
    )
    assert "--state ENABLED" in schedule["fix"]


def test_a_missing_schedule_fails_and_a_stale_one_warns(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a pipeline stack naming a schedule that does not exist
    machine = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    # When the doctor runs
    _, checks = doctor(cli)
    # Then the schedule fails, with the deploy command
    assert checks["schedule"]["status"] == "FAIL"
    assert "does not exist" in checks["schedule"]["evidence"]
    assert checks["schedule"]["fix"].endswith(f"{vault_stack.prefix}-Pipeline")
    # Given then a schedule whose expression is not the configuration's (deployed before a change)
    create_schedule(vault_stack, machine, expression="rate(1 day)")
    # When the doctor runs again
    _, checks = doctor(cli)
    # Then it warns that the deployed schedule is not the configured one
    assert checks["schedule"]["status"] == "WARN"
    assert "the configuration says cron(0 6 ? * SUN *) (UTC)" in checks["schedule"]["evidence"]
