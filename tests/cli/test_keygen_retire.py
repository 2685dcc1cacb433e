"""``edx-vault keygen --retire``: an old key goes only when nothing needs it, and then atomically.

The vault is the test harness's (``conftest``): the real storage stack in moto, edX's buckets
holding files gpg really encrypted, and the real sync steps (plan, mirror, expand, decrypt)
filling the vault's ``raw/`` mirror and manifest, so "published" and "unpublished" are what the
pipeline itself recorded. The keys are the harness's fast ones: ``fast_key`` is the old pipeline
key, ``new_key`` the one rotated to (same passphrase: one passphrase protects every stored key),
``other_key`` another data czar's.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gnupg
import pytest

from edx_vault.cli import context as cli_context
from edx_vault.cli.checks import Check
from edx_vault.cli.key_retirement import confirm
from edx_vault.devtools.synthetic.encryption import encrypt_to_recipients
from edx_vault.engine.gnupg_config import write_gnupg_config
from edx_vault.package.source_keys import email_opt_in_zip_key
from edx_vault.pipeline.context import VaultTarget
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.planner import PlanScope, plan_sync
from edx_vault.pipeline.steps.mirror import mirror_source
from edx_vault.pipeline.work_items import MirrorItem
from edx_vault.settings import stack_outputs
from edx_vault.settings.secret_formats import PipelineKey, PipelineKeyring, PipelinePassphrase
from edx_vault.settings.secret_store import (
    load_pipeline_keyring,
    store_passphrase,
    store_pipeline_keyring,
)
from tests.cli.conftest import (
    EDX_ACCESS_KEY_ID,
    EDX_SECRET_ACCESS_KEY,
    FAST_KEY_PASSPHRASE,
    Cli,
    CliRun,
    DeployedVault,
    EdxBuckets,
    KeyPair,
    decrypt_with,
    make_key_pair,
    seed_edx_credentials,
    seed_pipeline_key,
    stop_agent,
    tag_pipeline_key,
)
from tests.cli.test_doctor import encryption_key_id, put_event_log, put_weekly_zip
from tests.integration import conftest as integration
from tests.integration.sync_driver import run_sync, scope_for

NOW = dt.datetime(2024, 1, 8, 9, 0, tzinfo=dt.UTC)
OLD_DAY = dt.date(2024, 1, 2)  # before edX switched to the new key
LOG_DAY = dt.date(2024, 1, 6)  # after
ZIP_DAY = dt.date(2024, 1, 7)
OLD_EXPIRES = dt.date(2024, 6, 30)
NEW_EXPIRES = dt.date(2026, 1, 7)
# The example configuration's orgs, as the planner groups them (id and aliases, lower case).
ORG_GROUPS = (("examplex", "examplexpro"), ("otheru",))


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_context, "utc_now", lambda: NOW)


@pytest.fixture(scope="session")
def new_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    """The key rotated to: under the stored passphrase, as ``keygen --rotate`` makes it."""
    home = tmp_path_factory.mktemp("new") / "g"
    yield make_key_pair(home, "pipeline-2026@example.edu", FAST_KEY_PASSPHRASE)
    stop_agent(home)


# --------------------------------------------------------------------------------------------
# The vault after a rotation, and the pipeline that fills it
# --------------------------------------------------------------------------------------------


def _stored(key: KeyPair, user_id: str, expires: dt.date) -> PipelineKey:
    return PipelineKey(
        fingerprint=key.fingerprint,
        armored_private_key=key.secret_key,
        user_id=user_id,
        created=dt.date(2023, 1, 1),
        expires=expires,
    )


def seed_rotated_keys(vault: DeployedVault, old: KeyPair, new: KeyPair) -> None:
    """The key secret as ``keygen --rotate`` leaves it: the old key, then the new one, primary."""
    client = vault.aws.client("secretsmanager")
    store_passphrase(
        client, vault.passphrase_secret, PipelinePassphrase(passphrase=FAST_KEY_PASSPHRASE)
    )
    keyring = PipelineKeyring(
        primary=new.fingerprint,
        keys=(
            _stored(old, "pipeline@example.edu", OLD_EXPIRES),
            _stored(new, "pipeline-2026@example.edu", NEW_EXPIRES),
        ),
    )
    store_pipeline_keyring(client, vault.key_secret, keyring)
    tag_pipeline_key(vault, new.fingerprint, NEW_EXPIRES.isoformat())


@dataclass(frozen=True)
class Pipeline:
    """The real sync steps, run in-process against the test's vault and edX buckets."""

    vault: integration.Vault
    key: integration.PipelineKey
    scope: PlanScope

    def sync(self, run_id: str) -> None:
        """Plan, mirror, expand, decrypt and settle everything new: all of it published."""
        outcome = run_sync(self.vault, self.key, self.scope, run_id=run_id)
        assert not outcome.by_status("failed"), outcome.failures()

    def mirror_only(self, run_id: str) -> list[str]:
        """Plan and mirror what is new, as a run that stopped after its mirror step."""
        plan = plan_sync(self.vault.s3, self.vault.manifest, self.scope)
        context = self.vault.context()
        mirrored = [
            mirror_source(
                context,
                self.vault.s3,
                MirrorItem.of_planned(planned, run_id=run_id, retry_failed=False),
            )
            for planned in plan.to_mirror
        ]
        assert all(result.status == "done" for result in mirrored), mirrored
        return [str(result.raw_key) for result in mirrored]


@pytest.fixture
def pipeline(
    vault_stack: DeployedVault, edx_buckets: EdxBuckets, fast_key: KeyPair, new_key: KeyPair
) -> Iterator[Pipeline]:
    """The decrypt step's GnuPG home holding both stored keys, as during the handover."""
    home = Path(tempfile.mkdtemp(prefix="edxv-rt-", dir="/tmp")) / "g"
    home.mkdir(mode=0o700)
    write_gnupg_config(home, fast_unlock=True)
    gpg = gnupg.GPG(gnupghome=str(home), options=["--pinentry-mode", "loopback"])
    for key in (fast_key, new_key):
        assert gpg.import_keys(key.secret_key, passphrase=FAST_KEY_PASSPHRASE).fingerprints
    table_name = vault_stack.outputs[stack_outputs.MANIFEST_TABLE]
    table = vault_stack.aws.resource("dynamodb").Table(table_name)
    vault = integration.Vault(
        target=VaultTarget(
            bucket=vault_stack.data_bucket,
            kms_key_arn=vault_stack.outputs[stack_outputs.DATA_KEY_ARN],
        ),
        manifest=Manifest(table),
        table=table,
        s3=vault_stack.aws.client("s3"),
        table_name=table_name,
        event_bucket=edx_buckets.events,
        database_bucket=edx_buckets.database,
    )
    key = integration.PipelineKey(
        gpg=gpg,
        passphrase=FAST_KEY_PASSPHRASE,
        public_key=new_key.public_key,
        fingerprint=new_key.fingerprint,
    )
    yield Pipeline(vault, key, scope_for(vault, ORG_GROUPS, dt.date(2024, 1, 1), NOW.date()))
    stop_agent(home)
    shutil.rmtree(home.parent, ignore_errors=True)


@pytest.fixture
def rotated(
    cli: Cli,
    vault_stack: DeployedVault,
    edx_buckets: EdxBuckets,
    pipeline: Pipeline,
    fast_key: KeyPair,
    new_key: KeyPair,
    other_key: KeyPair,
) -> DeployedVault:
    """A vault after a rotation, with the old key's files all published: edX encrypted both
    orgs' older files to the old key, then switched to the new one."""
    seed_rotated_keys(vault_stack, fast_key, new_key)
    seed_edx_credentials(vault_stack)
    put_event_log(vault_stack, edx_buckets, "examplex", OLD_DAY, [other_key, fast_key])
    put_weekly_zip(vault_stack, edx_buckets, "otheru", OLD_DAY, [fast_key, other_key])
    pipeline.sync("run-before-the-switch")
    return vault_stack


def edx_switches_to(
    vault: DeployedVault, buckets: EdxBuckets, *keys: KeyPair, pipeline: Pipeline | None = None
) -> None:
    """edX's newest files of both orgs, encrypted to ``keys`` (and another czar's key is not
    needed here); synced and published when ``pipeline`` is given."""
    put_event_log(vault, buckets, "examplex", LOG_DAY, list(keys))
    put_weekly_zip(vault, buckets, "otheru", ZIP_DAY, list(keys))
    if pipeline is not None:
        pipeline.sync("run-after-the-switch")


def put_email_opt_in_zip(
    vault: DeployedVault, buckets: EdxBuckets, org: str, day: dt.date, keys: list[KeyPair]
) -> str:
    """One email opt-in zip of ``org``: its one member encrypted to each of ``keys``. Not
    among the files edX's newest are picked from (event logs and weekly zips)."""
    folder = f"{org}-{day.isoformat()}"
    member = encrypt_to_recipients(b"user_id,username\n1,ada\n", [k.public_key for k in keys])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/{org}-email_opt_in-prod-analytics.csv.gpg", member)
    key = email_opt_in_zip_key(org, day)
    vault.aws.client("s3").put_object(Bucket=buckets.database, Key=key, Body=buffer.getvalue())
    return key


# --------------------------------------------------------------------------------------------
# What must hold after every run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretsState:
    """Everything a retirement may change: both secrets' values, versions and the tags."""

    key: str | None
    passphrase: str | None
    key_versions: frozenset[str]
    tags: dict[str, str]


def secrets_state(vault: DeployedVault) -> SecretsState:
    client = vault.aws.client("secretsmanager")
    versions = client.list_secret_version_ids(SecretId=vault.key_secret)["Versions"]
    described = client.describe_secret(SecretId=vault.key_secret)
    return SecretsState(
        key=vault.secret_text(vault.key_secret),
        passphrase=vault.secret_text(vault.passphrase_secret),
        key_versions=frozenset(version["VersionId"] for version in versions),
        tags={tag["Key"]: tag["Value"] for tag in described.get("Tags", [])},
    )


def assert_no_secret_material(result: CliRun, *keys: KeyPair) -> None:
    output = result.output
    assert "PRIVATE KEY" not in output
    assert FAST_KEY_PASSPHRASE not in output
    assert EDX_SECRET_ACCESS_KEY not in output and EDX_ACCESS_KEY_ID not in output
    for key in keys:
        assert key.passphrase not in output
        # not a line of any armored key either
        assert not any(
            len(line) > 40 and line in output for line in key.secret_key.splitlines()[3:-2]
        )


def grouped_lower(fingerprint: str) -> str:
    """The fingerprint as keygen prints it, in lower case: how a person may paste it."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4)).lower()


def refused(result: CliRun, before: SecretsState, vault: DeployedVault, *keys: KeyPair) -> None:
    """The run was refused with one error line, and nothing changed."""
    assert result.exit_code == 1, result.output
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error == result.stderr.splitlines()[-1]
    assert error.endswith("Nothing was changed.")
    assert "Traceback" not in result.output
    assert secrets_state(vault) == before
    assert_no_secret_material(result, *keys)


# --------------------------------------------------------------------------------------------
# Retiring
# --------------------------------------------------------------------------------------------


def test_the_old_key_is_retired_once_everything_is_published_and_edx_uses_the_new_key(
    cli: Cli,
    rotated: DeployedVault,
    edx_buckets: EdxBuckets,
    pipeline: Pipeline,
    fast_key: KeyPair,
    new_key: KeyPair,
    other_key: KeyPair,
    scratch: Path,
    tmp_path: Path,
) -> None:
    # Given a rotation whose old files are all published, edX's newest files of both orgs
    # encrypted to the new key (and another czar's), synced and published too
    edx_switches_to(rotated, edx_buckets, other_key, new_key, pipeline=pipeline)
    # and one file edX sent since, to the new key only, mirrored but not yet decrypted
    put_email_opt_in_zip(rotated, edx_buckets, "examplex", ZIP_DAY, [new_key])
    [waiting] = pipeline.mirror_only("run-cut-short")
    before = secrets_state(rotated)
    # When the admin retires the old key, pasting its fingerprint as keygen printed it
    result = cli("keygen", "--retire", *grouped_lower(fast_key.fingerprint).split())
    # Then it is removed
    assert result.exit_code == 0, result.output
    after = secrets_state(rotated)
    keyring = load_pipeline_keyring(
        rotated.aws.client("secretsmanager"), rotated.key_secret, rotated.passphrase_secret
    )
    assert keyring.metadata.fingerprints == (new_key.fingerprint,)
    assert keyring.metadata.primary == new_key.fingerprint
    # with exactly one new version of the key secret, the passphrase and the tags untouched
    assert len(after.key_versions - before.key_versions) == 1
    assert before.key_versions <= after.key_versions  # AWSPREVIOUS still holds the old value
    assert (after.passphrase, after.tags) == (before.passphrase, before.tags)
    # and the decrypt function's reading of the secret still decrypts what edX sends now
    message = encrypt_to_recipients(b"sent after the switch", [new_key.public_key])
    assert decrypt_with(keyring.armored_keys, keyring.passphrase, message) == (
        b"sent after the switch"
    )
    # and before changing anything it said what it would remove and why that is safe
    out = result.stdout
    removing = out.index(f"Removing {fast_key.fingerprint}")
    assert out.index(f"Retiring pipeline key {fast_key.fingerprint}") < removing
    assert out.index("PASS  Stored keys") < removing
    assert out.index("PASS  raw/ mirror") < removing
    assert out.index("PASS  edX's newest files") < removing
    assert f"keeping      {new_key.fingerprint}" in out and "[primary]" in out
    # with its evidence: how many raw files were checked and how each stands
    assert (
        f"5 raw file(s) in s3://{rotated.data_bucket}/raw/ checked against the manifest: "
        "4 published, 1 unpublished and encrypted only to other keys" in out
    )
    assert (
        f"s3://{rotated.data_bucket}/{waiting} [examplex-2024-01-07/examplex-email_opt_in-"
        "prod-analytics.csv.gpg]: mirrored, not yet split into units to decrypt; encrypted to "
        in out
    )
    # and whom edX's newest file of each org is encrypted to
    new_id = encryption_key_id(new_key, tmp_path / "ids")
    events = f"s3://{edx_buckets.events}/examplex/edx/events/2024/examplex-edx-events-2024-01-06"
    assert f"ExampleX: {events}.log.gz.gpg (written " in out
    assert f"{new_id} (the primary key)" in out
    assert f"OtherU: s3://{edx_buckets.database}/otheru-2024-01-07.zip [otheru-2024-01-07/" in out
    assert "the newest file of 2 org(s) at edX is not encrypted to the key" in out
    assert "AWSPREVIOUS" in out
    # and nothing secret was printed, and no GnuPG home is left behind
    assert_no_secret_material(result, fast_key, new_key)
    assert list(scratch.iterdir()) == []


def test_a_dry_run_by_long_key_id_checks_everything_and_changes_nothing(
    cli: Cli,
    rotated: DeployedVault,
    edx_buckets: EdxBuckets,
    pipeline: Pipeline,
    fast_key: KeyPair,
    new_key: KeyPair,
    tmp_path: Path,
) -> None:
    # Given a rotation ready to be finished
    edx_switches_to(rotated, edx_buckets, new_key, pipeline=pipeline)
    before = secrets_state(rotated)
    # When the admin names the old key by the key id doctor showed (its encryption subkey's)
    # and asks for a dry run
    old_id = encryption_key_id(fast_key, tmp_path / "ids")
    result = cli("keygen", "--retire", old_id.lower(), "--dry-run")
    # Then every check passes and nothing changes
    assert result.exit_code == 0, result.output
    assert f"Retiring pipeline key {fast_key.fingerprint}" in result.stdout
    assert f"{fast_key.fingerprint} can be retired. --dry-run: nothing was changed" in (
        result.stdout
    )
    assert secrets_state(rotated) == before
    assert_no_secret_material(result, fast_key, new_key)


# --------------------------------------------------------------------------------------------
# Refusals: each leaves everything as it was
# --------------------------------------------------------------------------------------------


def test_an_unpublished_raw_file_encrypted_to_the_old_key_refuses_the_retirement(
    cli: Cli,
    rotated: DeployedVault,
    edx_buckets: EdxBuckets,
    pipeline: Pipeline,
    fast_key: KeyPair,
    new_key: KeyPair,
    other_key: KeyPair,
) -> None:
    # Given a file edX encrypted to the old key before switching, mirrored by a run that
    # stopped before decrypting it, and edX's newest files encrypted to the new key
    put_event_log(rotated, edx_buckets, "examplex", dt.date(2024, 1, 3), [other_key, fast_key])
    [waiting] = pipeline.mirror_only("run-cut-short")
    edx_switches_to(rotated, edx_buckets, new_key)
    before = secrets_state(rotated)
    # When the admin retires the old key
    result = cli("keygen", "--retire", fast_key.fingerprint)
    # Then it is refused, naming the raw file, its state and its recipients, and nothing changed
    refused(result, before, rotated, fast_key, new_key)
    assert f"refusing to retire {fast_key.fingerprint}: raw/ mirror: 1 unpublished raw" in (
        result.stderr
    )
    assert "FAIL  raw/ mirror" in result.stdout
    assert (
        f"s3://{rotated.data_bucket}/{waiting}: mirrored, not yet split into units to decrypt; "
        "encrypted to " in result.stdout
    )
    assert "(the key to retire)" in result.stdout
    assert "edx-vault sync --wait" in result.stdout
    # and the other check still ran and passed: the whole picture is shown
    assert "PASS  edX's newest files" in result.stdout


def test_edx_still_encrypting_to_the_old_key_refuses_the_retirement(
    cli: Cli,
    rotated: DeployedVault,
    edx_buckets: EdxBuckets,
    pipeline: Pipeline,
    fast_key: KeyPair,
    new_key: KeyPair,
) -> None:
    # Given every file published, but edX's newest files still encrypted to the old key as
    # well as the new one (edX added the new key without removing the old)
    edx_switches_to(rotated, edx_buckets, new_key, fast_key, pipeline=pipeline)
    before = secrets_state(rotated)
    # When the admin retires the old key
    result = cli("keygen", "--retire", fast_key.fingerprint.lower())
    # Then it is refused, naming each org's newest file, and nothing changed
    refused(result, before, rotated, fast_key, new_key)
    assert "FAIL  edX's newest files" in result.stdout
    assert "PASS  raw/ mirror" in result.stdout
    assert (
        f"ExampleX: s3://{edx_buckets.events}/examplex/edx/events/2024/"
        "examplex-edx-events-2024-01-06.log.gz.gpg still encrypted to the key to retire"
    ) in result.stderr
    assert "OtherU: " in result.stderr
    assert "ask edX to stop encrypting to the old key" in result.stdout


def test_edx_without_any_file_yet_is_no_evidence_and_refuses(
    cli: Cli,
    vault_stack: DeployedVault,
    edx_buckets: EdxBuckets,
    fast_key: KeyPair,
    new_key: KeyPair,
) -> None:
    # Given a rotation, but edX has not exported anything for any org yet
    seed_rotated_keys(vault_stack, fast_key, new_key)
    seed_edx_credentials(vault_stack)
    before = secrets_state(vault_stack)
    # When the admin retires the old key
    result = cli("keygen", "--retire", fast_key.fingerprint)
    # Then nothing shows edX has switched: refused
    refused(result, before, vault_stack, fast_key, new_key)
    assert "edX has no event log or weekly zip for any org yet" in result.stderr


def test_the_only_key_is_never_retired(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair
) -> None:
    # Given a single stored key
    seed_pipeline_key(vault_stack, fast_key)
    before = secrets_state(vault_stack)
    # When the admin retires it
    result = cli("keygen", "--retire", fast_key.fingerprint)
    # Then it is refused, saying to rotate first
    refused(result, before, vault_stack, fast_key)
    assert f"{fast_key.fingerprint} is the only stored pipeline key" in result.stderr
    assert "keygen --rotate" in result.stderr


def test_the_current_key_is_never_retired(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, new_key: KeyPair
) -> None:
    # Given a rotation
    seed_rotated_keys(vault_stack, fast_key, new_key)
    before = secrets_state(vault_stack)
    # When the admin names the new, primary key
    result = cli("keygen", "--retire", new_key.fingerprint)
    # Then it is refused, naming the key that could be retired instead
    refused(result, before, vault_stack, fast_key, new_key)
    assert f"{new_key.fingerprint} is the current (primary) key" in result.stderr
    assert f"only an older key can be retired: {fast_key.fingerprint}" in result.stderr


def test_an_unknown_fingerprint_is_refused_listing_the_stored_keys(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, new_key: KeyPair, other_key: KeyPair
) -> None:
    # Given a rotation
    seed_rotated_keys(vault_stack, fast_key, new_key)
    before = secrets_state(vault_stack)
    # When the admin names a key the pipeline does not hold (another czar's)
    result = cli("keygen", "--retire", other_key.fingerprint)
    # Then it is refused, listing what is stored (fingerprints, user ids, expiry only)
    refused(result, before, vault_stack, fast_key, new_key)
    assert f"no stored pipeline key has the fingerprint {other_key.fingerprint}" in (result.stderr)
    assert f"{fast_key.fingerprint} (pipeline@example.edu, expires 2024-06-30" in result.stderr
    assert f"{new_key.fingerprint} (pipeline-2026@example.edu" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--retire", "ABCD1234"], "a short key id (8 hex digits)"),
        (["--retire", "not-a-key"], "is not a fingerprint"),
        (["--retire", "ABCD" * 9], "36 hex digits is neither a fingerprint"),
        (["--retire", "ABCD" * 10, "--rotate"], "--retire makes no key: drop --rotate"),
        (["--email", "czar@example.edu", "--out", "k.asc", "--dry-run"], "--dry-run goes with"),
        (["--email", "czar@example.edu"], "the following arguments are required: --out"),
    ],
)
def test_a_wrong_command_line_is_a_usage_error_before_any_aws_call(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, argv: list[str], message: str
) -> None:
    # Given a stored key
    seed_pipeline_key(vault_stack, fast_key)
    before = secrets_state(vault_stack)
    # When the command line is wrong
    result = cli("keygen", *argv)
    # Then it is a usage error that says why, and nothing changed
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert secrets_state(vault_stack) == before


def test_without_edx_credentials_nothing_shows_edx_switched_and_it_refuses(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair, new_key: KeyPair
) -> None:
    # Given a rotation, but edX's credentials were never imported
    seed_rotated_keys(vault_stack, fast_key, new_key)
    before = secrets_state(vault_stack)
    # When the admin retires the old key
    result = cli("keygen", "--retire", fast_key.fingerprint)
    # Then it cannot tell what edX encrypts to: refused, saying what to import
    refused(result, before, vault_stack, fast_key, new_key)
    assert "edX's credentials are not imported" in result.stderr
    assert "edx-vault import-credentials" in result.stdout


def test_a_key_stored_while_the_checks_ran_is_not_overwritten(
    cli: Cli,
    rotated: DeployedVault,
    edx_buckets: EdxBuckets,
    pipeline: Pipeline,
    fast_key: KeyPair,
    new_key: KeyPair,
    other_key: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a rotation ready to be finished
    edx_switches_to(rotated, edx_buckets, new_key, pipeline=pipeline)
    # and another admin storing a third key while the checks run (a second keygen --rotate)
    checked = confirm.check_edx_newest

    def meanwhile(*args: Any, **kwargs: Any) -> Check:
        client = rotated.aws.client("secretsmanager")
        current = load_pipeline_keyring(client, rotated.key_secret, rotated.passphrase_secret)
        third = _stored(other_key, "third@example.edu", NEW_EXPIRES)
        store_pipeline_keyring(client, rotated.key_secret, current.metadata.with_new_primary(third))
        return checked(*args, **kwargs)

    monkeypatch.setattr(confirm, "check_edx_newest", meanwhile)
    # When the admin retires the old key
    result = cli("keygen", "--retire", fast_key.fingerprint)
    # Then nothing is written over the other admin's key
    assert result.exit_code == 1, result.output
    assert "changed while the checks ran" in result.stderr
    stored = load_pipeline_keyring(
        rotated.aws.client("secretsmanager"), rotated.key_secret, rotated.passphrase_secret
    ).metadata
    assert stored.fingerprints == (fast_key.fingerprint, new_key.fingerprint, other_key.fingerprint)


def _rows(*units: tuple[str, str | None], unit_count: int | None = 2) -> list[dict[str, Any]]:
    """A source's manifest rows: its object row (mirrored) and one row per (status, code)."""
    mirrored: dict[str, Any] = {"sk": "object", "status": "done", "source_etag": '"v2"'}
    if unit_count is not None:
        mirrored["unit_count"] = unit_count
    return [
        mirrored,
        *(
            {"sk": f"member#m{i}", "status": status, "source_etag": '"v2"', "error_code": code}
            for i, (status, code) in enumerate(units)
        ),
    ]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        (_rows(("done", None), ("done", None)), None),
        # a traceback edX shipped instead of a table: no key will ever publish it
        (_rows(("done", None), ("failed", "edx-export-failed")), None),
        # a failure a retry could heal with the key: still needs it
        (_rows(("done", None), ("failed", "wrong-recipient")), "1 of 2 unit(s) not published: "),
        (_rows(("done", None), ("in_progress", None)), "in_progress"),
        (_rows(("done", None)), "1 of 2 unit(s) not published: not started"),
        (_rows(unit_count=None), "mirrored, not yet split into units to decrypt"),
        ([{"sk": "object", "status": "in_progress", "source_etag": '"v2"'}], "mirror in_progress"),
        ([], "no manifest row"),
        # a unit done for the version edX replaced does not publish the new one
        (
            [*_rows(unit_count=1), {"sk": "decrypt", "status": "done", "source_etag": '"v1"'}],
            "1 of 1 unit(s) not published: not started",
        ),
    ],
)
def test_what_counts_as_published_for_a_raw_file(
    rows: list[dict[str, Any]], reason: str | None
) -> None:
    # Given a mirrored source's manifest rows
    # When the retirement asks whether its raw/ copy is published
    found = confirm.unpublished_reason(rows)
    # Then only a source whose every unit of its version is done (or can never be) is
    assert (found is None) == (reason is None)
    if reason is not None:
        assert found is not None and reason in found
