"""The admin CLI against the embedded AWS: the real storage stack deployed into moto, fast keys.

Every test gets its own deployment (a unique stack prefix, so its own stacks, secrets, bucket
and table) on the session's moto server, and runs ``edx_vault.cli.main`` in-process with
``AWS_ENDPOINT_URL`` pointing at moto, exactly as an admin would run it against the embedded AWS.

The storage stack is the template ``cdk synth`` produces. moto's CloudFormation cannot create
all of it; the gaps are worked around here, in the test harness, and nowhere in product code:

- ``AWS::KMS::Key`` with ``Tags``: moto 5.2.5 fails with ``KeyError: 'TagKey'`` (its KMS model
  expects API-style tags); the tags are dropped from the template.
- ``AWS::SecretsManager::Secret``: not supported by moto's CloudFormation, which skips the
  resource and silently drops every output that refers to it. The three secrets are created
  directly with the template's names, descriptions and tags, pointed at the stack's secrets KMS
  key afterwards, and the outputs refer to their ARNs literally.
- ``AWS::S3::Bucket``'s ``VersioningConfiguration``: ignored by moto's CloudFormation; it is
  applied with ``PutBucketVersioning`` after the stack is created (``verify`` checks versions).
- ``AWS::S3::BucketPolicy``: skipped by moto (with a warning); nothing here depends on it.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import gnupg
import pytest
from moto.core.config import default_user_config

from edx_vault.access.researcher_roles import ACCESS_STACK_SUFFIX, role_output_name
from edx_vault.cli import main
from edx_vault.engine import gnupg_config
from edx_vault.pipeline.key_metadata import EXPIRES_TAG, FINGERPRINT_TAG
from edx_vault.settings import stack_outputs
from edx_vault.settings.secret_formats import (
    EdxCredentials,
    PipelineKey,
    PipelineKeyring,
    PipelinePassphrase,
    PseudonymKey,
)
from edx_vault.settings.secret_store import (
    store_edx_credentials,
    store_passphrase,
    store_pipeline_keyring,
    store_pseudonym_key,
)
from tests.integration import conftest as integration
from tests.integration.conftest import Aws

# The session's embedded AWS (one moto server) and its clients, as the integration tests have
# them; re-bound here because a conftest's fixtures are visible to its own folder only.
moto_endpoint = integration.moto_endpoint
aws = integration.aws

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = PROJECT_ROOT / "config" / "example.toml"
FAST_KEY_PASSPHRASE = "fast test key passphrase 7"
PRODUCTION_AGENT_CONF = gnupg_config.GPG_AGENT_CONF
FAST_S2K = "s2k-count 65536"
# A CDK bootstrap version new enough for the template's CheckBootstrapVersion rule.
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # moto warns about every resource type its CloudFormation skips (the bucket policies):
    # known and documented above, not news in every test's output.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Tried to parse AWS::"))


# --------------------------------------------------------------------------------------------
# The storage stack in moto
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def storage_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The storage stack's template, synthesized once by the real CDK app."""
    from stacks.vault_app import build_vault_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    # The layers are not needed for the storage template, and take seconds to build.
    built = build_vault_app(outdir=str(outdir), nag=False, bundle_assets=False)
    built.app.synth()
    template: dict[str, Any] = json.loads(
        (outdir / f"{built.storage.stack_name}.template.json").read_text(encoding="utf-8")
    )
    return template


@dataclass(frozen=True)
class DeployedVault:
    """One test's deployment: its stack prefix, configuration file and storage outputs."""

    prefix: str
    config_path: Path
    outputs: dict[str, str]
    aws: Aws

    @property
    def key_secret(self) -> str:
        return self.outputs[stack_outputs.PIPELINE_KEY_SECRET_ARN]

    @property
    def passphrase_secret(self) -> str:
        return self.outputs[stack_outputs.PIPELINE_PASSPHRASE_SECRET_ARN]

    @property
    def credentials_secret(self) -> str:
        return self.outputs[stack_outputs.EDX_CREDENTIALS_SECRET_ARN]

    @property
    def pseudonym_key_secret(self) -> str:
        return self.outputs[stack_outputs.PSEUDONYM_KEY_SECRET_ARN]

    @property
    def data_bucket(self) -> str:
        return self.outputs[stack_outputs.DATA_BUCKET]

    def secret_text(self, arn: str) -> str | None:
        """The secret's current value, or None when it has none."""
        client = self.aws.client("secretsmanager")
        try:
            return str(client.get_secret_value(SecretId=arn)["SecretString"])
        except client.exceptions.ResourceNotFoundException:
            return None

    def secret_json(self, arn: str) -> dict[str, Any]:
        text = self.secret_text(arn)
        assert text is not None, f"{arn} has no value"
        document: dict[str, Any] = json.loads(text)
        return document


def _template_for(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    # The synthesized template names its secrets, key aliases, data bucket and exports after
    # the config's prefix; give each test's copy its own names so deployments never collide.
    lower = prefix.lower()
    text = json.dumps(template).replace('"edxvault/', f'"{lower}/')
    text = text.replace('"alias/edxvault/', f'"alias/{lower}/')
    text = text.replace('"edxvault-data-', f'"{lower}-data-')
    text = text.replace('"EdxVault-Storage:', f'"{prefix}-Storage:')
    text = text.replace(
        '"EdxVault-Storage-AccessLogsBucketArn"', f'"{prefix}-Storage-AccessLogsBucketArn"'
    )
    text = text.replace("s3://edxvault-data-", f"s3://{lower}-data-")
    text = text.replace('"edxvault-results-', f'"{lower}-results-')
    text = text.replace('"edxvault_research"', f'"{lower.replace("-", "_")}_research"')
    # The bucket and key policies name the vault's roles by exact ARN.
    text = text.replace("/edx-vault/pipeline/edxvault-", f"/edx-vault/pipeline/{lower}-")
    text = text.replace("/edx-vault/researcher/edxvault-", f"/edx-vault/researcher/{lower}-")
    assert "edxvault" not in text.lower().replace("edx-vault", ""), "a name was not renamed"
    document: dict[str, Any] = json.loads(text)
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key":
            resource["Properties"].pop("Tags", None)  # moto gap: KeyError 'TagKey'
    return document


def _wait_for_stack(cloudformation: Any, stack: str) -> list[dict[str, str]]:
    deadline = time.monotonic() + 30
    while True:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("IN_PROGRESS"):
            break
        assert time.monotonic() < deadline, f"{stack} still {described['StackStatus']}"
        time.sleep(0.1)
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    outputs: list[dict[str, str]] = described.get("Outputs", [])
    return outputs


def deploy_storage_stack(
    aws: Aws, template: dict[str, Any], prefix: str, *, create_secrets: bool = True
) -> dict[str, str]:
    """Create ``{prefix}-Storage`` from the synthesized template; returns its outputs.

    With ``create_secrets=False`` the secrets are left to moto's CloudFormation, which drops
    them and their outputs: a stack missing outputs, as an older deployment would be.
    """
    aws.client("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value="21", Type="String", Overwrite=True
    )
    document = _template_for(template, prefix)
    secrets_manager = aws.client("secretsmanager")
    secrets: dict[str, tuple[str, str]] = {}
    if create_secrets:
        for logical_id, resource in list(document["Resources"].items()):
            if resource["Type"] != "AWS::SecretsManager::Secret":
                continue
            properties = resource["Properties"]
            arn = secrets_manager.create_secret(
                Name=properties["Name"],
                Description=properties["Description"],
                Tags=properties.get("Tags", []),
            )["ARN"]
            secrets[logical_id] = (arn, properties["KmsKeyId"]["Fn::GetAtt"][0])
            del document["Resources"][logical_id]
        for output in document["Outputs"].values():
            value = output["Value"]
            if isinstance(value, dict) and value.get("Ref") in secrets:
                output["Value"] = secrets[value["Ref"]][0]

    cloudformation = aws.client("cloudformation")
    stack = stack_outputs.stack_name(prefix, stack_outputs.STORAGE_STACK_SUFFIX)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(document))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in _wait_for_stack(cloudformation, stack)}
    for arn, key_logical_id in secrets.values():
        key_id = cloudformation.describe_stack_resource(
            StackName=stack, LogicalResourceId=key_logical_id
        )["StackResourceDetail"]["PhysicalResourceId"]
        secrets_manager.update_secret(SecretId=arn, KmsKeyId=key_id)
    # (DescribeStackResource fails on buckets in moto; their names are in the outputs.)
    bucket_names = {
        output["Value"]["Ref"]: outputs[name]
        for name, output in document["Outputs"].items()
        if isinstance(output["Value"], dict) and name in outputs and "Ref" in output["Value"]
    }
    s3 = aws.client("s3")
    for logical_id, resource in document["Resources"].items():
        versioning = resource.get("Properties", {}).get("VersioningConfiguration")
        if resource["Type"] == "AWS::S3::Bucket" and versioning:
            s3.put_bucket_versioning(
                Bucket=bucket_names[logical_id], VersioningConfiguration=versioning
            )
    return outputs


def write_config(directory: Path, prefix: str) -> Path:
    """The example configuration with this test's stack prefix."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert 'stack_prefix = "EdxVault"' in text
    path = directory / "vault.toml"
    path.write_text(text.replace('stack_prefix = "EdxVault"', f'stack_prefix = "{prefix}"'))
    return path


def new_prefix() -> str:
    return f"T{uuid.uuid4().hex[:10]}"


@pytest.fixture
def vault_stack(aws: Aws, storage_template: dict[str, Any], tmp_path: Path) -> DeployedVault:
    """A freshly deployed storage stack (no pipeline stack) and a config file naming it."""
    prefix = new_prefix()
    outputs = deploy_storage_stack(aws, storage_template, prefix)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    return DeployedVault(
        prefix=prefix, config_path=write_config(config_dir, prefix), outputs=outputs, aws=aws
    )


# --------------------------------------------------------------------------------------------
# Running the CLI
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Cli = Callable[..., CliRun]


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory for the CLI, to check what it writes."""
    directory = tmp_path / "cwd"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temp directory the CLI's GnuPG homes go in, to check they are gone afterwards.

    Short (under /tmp), because gpg-agent's socket paths must fit in 107 bytes.
    """
    directory = Path(tempfile.mkdtemp(prefix="edxv-t-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    moto_endpoint: str,
    vault_stack: DeployedVault,
    cwd: Path,
    scratch: Path,
) -> Cli:
    """Run ``edx-vault ARGS`` in-process against moto; returns exit code, stdout, stderr."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("EDX_VAULT_CONFIG", str(vault_stack.config_path))
    # boto3's default session caches what it read from the environment at first use.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    # Test-only speed-up: gpg-agent's calibrated S2K work factor costs about a second per key
    # unlock on this kind of machine, and the CLI unlocks keys several times per command. The
    # homes the CLI creates get the fewest S2K rounds gpg allows; production keeps gpg's
    # calibrated default. test_keygen's first test runs with the production settings.
    monkeypatch.setattr(gnupg_config, "GPG_AGENT_CONF", (*PRODUCTION_AGENT_CONF, FAST_S2K))

    def run(*argv: str, stdin: bytes | None = None) -> CliRun:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsys.readouterr()
        exit_code = main(list(argv))
        out, err = capsys.readouterr()
        return CliRun(exit_code, out, err)

    return run


@pytest.fixture
def production_gpg_settings(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the test-only S2K speed-up: the CLI's homes get exactly the production settings."""
    monkeypatch.setattr(gnupg_config, "GPG_AGENT_CONF", PRODUCTION_AGENT_CONF)


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A passphrase-protected ed25519/cv25519 key pair (fast to make and use)."""

    fingerprint: str
    public_key: str
    secret_key: str
    passphrase: str


def make_key_pair(home: Path, email: str, passphrase: str) -> KeyPair:
    gpg = integration.generate_protected_key(home, email, passphrase)
    [fingerprint] = gpg.list_keys(secret=True).fingerprints
    secret_key = str(gpg.export_keys(fingerprint, secret=True, passphrase=passphrase))
    assert "PRIVATE KEY BLOCK" in secret_key
    return KeyPair(
        fingerprint=fingerprint,
        public_key=str(gpg.export_keys(fingerprint)),
        secret_key=secret_key,
        passphrase=passphrase,
    )


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent a test started for ``home`` (it would outlive the test otherwise)."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


@pytest.fixture(scope="session")
def fast_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    home = tmp_path_factory.mktemp("fast") / "g"
    yield make_key_pair(home, "pipeline@example.edu", FAST_KEY_PASSPHRASE)
    stop_agent(home)


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyPair]:
    """A second key with a different passphrase (someone else's, or a rotation candidate)."""
    home = tmp_path_factory.mktemp("other") / "g"
    yield make_key_pair(home, "someone-else@example.edu", "another phrase 9")
    stop_agent(home)


def seed_pipeline_key(
    vault: DeployedVault, key: KeyPair, *, expires: dt.date | None = None
) -> PipelineKeyring:
    """Store ``key`` as the pipeline key directly, as if ``import-key`` had run."""
    client = vault.aws.client("secretsmanager")
    expires = expires or dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)
    keyring = PipelineKeyring(
        primary=key.fingerprint,
        keys=(
            PipelineKey(
                fingerprint=key.fingerprint,
                armored_private_key=key.secret_key,
                user_id="pipeline@example.edu",
                created=expires - dt.timedelta(days=365),
                expires=expires,
            ),
        ),
    )
    store_passphrase(client, vault.passphrase_secret, PipelinePassphrase(passphrase=key.passphrase))
    store_pipeline_keyring(client, vault.key_secret, keyring)
    return keyring


def decrypt_with(armored_secret_keys: list[str], passphrase: str, ciphertext: bytes) -> bytes:
    """Decrypt with the given keys in a throwaway home: independent of the code under test."""
    home = Path(tempfile.mkdtemp(prefix="edxv-chk-", dir="/tmp"))
    try:
        (home / "gpg-agent.conf").write_text(f"allow-loopback-pinentry\n{FAST_S2K}\n")
        gpg = gnupg.GPG(gnupghome=str(home))
        for armored in armored_secret_keys:
            assert gpg.import_keys(armored).fingerprints
        result = gpg.decrypt(ciphertext, passphrase=passphrase)
        assert result.ok, result.stderr
        return bytes(result.data)
    finally:
        stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# A pipeline stack for sync and status
# --------------------------------------------------------------------------------------------


def _set_moto_config(endpoint: str, config: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config", data=json.dumps(config).encode(), method="POST"
    )
    with urllib.request.urlopen(request):
        pass


@pytest.fixture
def executing_step_functions(moto_endpoint: str) -> Iterator[None]:
    """moto runs state machines (its interpreter) for this test, then goes back to before."""
    # GET /moto-api/config does not return the stepfunctions part; the server runs in this
    # process, so its current setting is read where moto keeps it.
    before = dict(default_user_config["stepfunctions"])
    _set_moto_config(moto_endpoint, {"stepfunctions": {"execute_state_machine": True}})
    yield
    _set_moto_config(moto_endpoint, {"stepfunctions": before})


def deploy_pipeline_stack(vault: DeployedVault, definition: dict[str, Any]) -> str:
    """``{prefix}-Pipeline``: a state machine of the given definition and the stack's outputs.

    The real pipeline stack comes with the pipeline work; this stand-in has its outputs. The
    state machine is created directly (so it lives in the backend that executes it) and the
    stack exports its ARN, plus a real SNS topic and a schedule name.
    """
    sfn = vault.aws.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"{vault.prefix}-sync",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/edx-vault-sync",
    )["stateMachineArn"]
    template = {
        "Resources": {"Alerts": {"Type": "AWS::SNS::Topic", "Properties": {}}},
        "Outputs": {
            stack_outputs.STATE_MACHINE_ARN: {"Value": arn},
            stack_outputs.ALERTS_TOPIC_ARN: {"Value": {"Ref": "Alerts"}},
            stack_outputs.SCHEDULE_NAME: {"Value": f"{vault.prefix}-weekly-sync"},
        },
    }
    cloudformation = vault.aws.client("cloudformation")
    stack = stack_outputs.stack_name(vault.prefix, stack_outputs.PIPELINE_STACK_SUFFIX)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    _wait_for_stack(cloudformation, stack)
    return str(arn)


# --------------------------------------------------------------------------------------------
# What `doctor` reads: edX's buckets and keys, the access stack, the schedule, subscriptions
# --------------------------------------------------------------------------------------------

EDX_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key, which opens nothing
EDX_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's example too
MOTO_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class EdxBuckets:
    """This test's stand-ins for edX's two buckets, named in the test's configuration."""

    events: str
    database: str


@pytest.fixture
def edx_buckets(vault_stack: DeployedVault) -> EdxBuckets:
    """edX's buckets, unique to the test (bucket names are global on the moto server), created
    empty and named in ``[edx.source_buckets]`` of the test's configuration."""
    suffix = vault_stack.prefix.lower()
    buckets = EdxBuckets(events=f"edx-course-data-{suffix}", database=f"course-data-{suffix}")
    s3 = vault_stack.aws.client("s3")
    for bucket in (buckets.events, buckets.database):
        s3.create_bucket(Bucket=bucket)
    text = vault_stack.config_path.read_text(encoding="utf-8")
    assert 'events = "edx-course-data"' in text and 'database = "course-data"' in text
    text = text.replace('events = "edx-course-data"', f'events = "{buckets.events}"')
    text = text.replace('database = "course-data"', f'database = "{buckets.database}"')
    vault_stack.config_path.write_text(text, encoding="utf-8")
    return buckets


def seed_edx_credentials(vault: DeployedVault) -> None:
    """Store edX's keys directly, as if ``import-credentials`` had run."""
    store_edx_credentials(
        vault.aws.client("secretsmanager"),
        vault.credentials_secret,
        EdxCredentials(
            user_name="edx-data-czar-example",
            access_key_id=EDX_ACCESS_KEY_ID,
            secret_access_key=EDX_SECRET_ACCESS_KEY,
            imported_at=dt.datetime(2024, 1, 5, tzinfo=dt.UTC),
        ),
    )


def seed_pseudonym_key(vault: DeployedVault) -> PseudonymKey:
    """Store a pseudonym key directly, as if ``pseudonym-key init`` had run."""
    key = PseudonymKey(
        key=base64.b64encode(bytes(range(32))).decode("ascii"),
        created=dt.datetime(2024, 1, 5, tzinfo=dt.UTC),
    )
    store_pseudonym_key(vault.aws.client("secretsmanager"), vault.pseudonym_key_secret, key)
    return key


def tag_pipeline_key(vault: DeployedVault, fingerprint: str, expires: str) -> None:
    """Put the tags ``keygen`` puts on the key secret (``expires`` as stored: a date, 'never',
    or anything a person might have typed)."""
    vault.aws.client("secretsmanager").tag_resource(
        SecretId=vault.key_secret,
        Tags=[
            {"Key": FINGERPRINT_TAG, "Value": fingerprint},
            {"Key": EXPIRES_TAG, "Value": expires},
        ],
    )


def deploy_access_stack(vault: DeployedVault, researchers: tuple[str, ...]) -> None:
    """``{prefix}-Access`` with one role output per researcher, as the real stack exports them
    (the roles themselves are not needed: doctor reads the outputs)."""
    outputs = {
        role_output_name(name): {
            "Value": f"arn:aws:iam::{MOTO_ACCOUNT}:role/edx-vault/researcher/{vault.prefix.lower()}-{name}"
        }
        for name in researchers
    }
    template = {
        # What the real stack holds without grants; moto skips it (with a warning filtered above).
        "Resources": {"NoResearcherGrants": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    cloudformation = vault.aws.client("cloudformation")
    stack = stack_outputs.stack_name(vault.prefix, ACCESS_STACK_SUFFIX)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    _wait_for_stack(cloudformation, stack)


def create_schedule(
    vault: DeployedVault,
    state_machine_arn: str,
    *,
    state: str = "ENABLED",
    expression: str = "cron(0 6 ? * SUN *)",
) -> str:
    """The schedule the stand-in pipeline stack names (``{prefix}-weekly-sync``)."""
    name = f"{vault.prefix}-weekly-sync"
    vault.aws.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=expression,
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": state_machine_arn,
            "RoleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/edx-vault-schedule",
        },
        State=state,
    )
    return name


def alerts_topic(vault: DeployedVault) -> str:
    """The alerts topic's ARN, from the pipeline stack's output."""
    stack = stack_outputs.stack_name(vault.prefix, stack_outputs.PIPELINE_STACK_SUFFIX)
    described = vault.aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    return outputs[stack_outputs.ALERTS_TOPIC_ARN]


def subscribe_email(vault: DeployedVault, email: str, *, confirmed: bool) -> str:
    """An email subscription to the alerts topic, confirmed or still pending.

    moto confirms every subscription at once; SNS keeps an email subscription pending until
    the link in its email is clicked. A pending one is made by setting the attribute in moto's
    backend (this process runs the server), the state SNS reports it in.
    """
    from moto.sns.models import sns_backends

    arn = str(
        vault.aws.client("sns").subscribe(
            TopicArn=alerts_topic(vault), Protocol="email", Endpoint=email
        )["SubscriptionArn"]
    )
    if not confirmed:
        subscription = sns_backends[MOTO_ACCOUNT][integration.REGION].subscriptions[arn]
        subscription.attributes["PendingConfirmation"] = True
    return arn


@dataclass(frozen=True)
class _Refusal:
    access_key_id: str
    code: str
    status: int
    under: str  # "bucket/prefix" the refusal covers; "" for every call


@dataclass
class RefusingFront:
    """A second door to the session's moto server (same process, so the same backends) that
    answers S3 calls signed with given keys as edX's S3 refuses them: ``InvalidAccessKeyId``
    for a retired key, ``SignatureDoesNotMatch`` for a wrong secret, ``AccessDenied`` for an
    org the keys were never granted. moto without IAM accepts any key; edX's S3 does not.
    """

    endpoint: str = ""
    refusals: list[_Refusal] = field(default_factory=list)

    def refuse(self, code: str, *, under: str = "", status: int = 403) -> None:
        """Refuse edX's keys' calls on ``under`` (``bucket/prefix``; all when empty)."""
        self.refusals.append(_Refusal(EDX_ACCESS_KEY_ID, code, status, under))

    def _matching(self, environ: dict[str, Any]) -> _Refusal | None:
        found = re.search(r"Credential=([A-Z0-9]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if found is None:
            return None
        path = environ.get("PATH_INFO", "").lstrip("/")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        # A listing names its prefix in the query; a GET names the key in the path.
        resource = path + "/" + query["prefix"][0] if "prefix" in query else path
        for refusal in self.refusals:
            if refusal.access_key_id == found[1] and resource.startswith(refusal.under):
                return refusal
        return None

    def wsgi(self, application: Callable[..., Any]) -> Callable[..., Any]:
        def front(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            refusal = self._matching(environ)
            if refusal is None:
                return application(environ, start_response)
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{refusal.code}</Code><Message>refused by the test's edX"
                "</Message><RequestId>0</RequestId></Error>"
            ).encode()
            start_response(
                f"{refusal.status} Refused",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]

        return front


@pytest.fixture(scope="session")
def refusing_front(moto_endpoint: str) -> Iterator[RefusingFront]:
    """The :class:`RefusingFront` server, started once (its refusals are reset per test)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    front = RefusingFront()
    server = make_server(
        "127.0.0.1",
        0,
        front.wsgi(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    front.endpoint = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield front
    server.shutdown()
    thread.join()


@pytest.fixture
def edx_refusals(
    cli: Cli, refusing_front: RefusingFront, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RefusingFront]:
    """The CLI talks to AWS through the :class:`RefusingFront` for this test; refuse with it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", refusing_front.endpoint)
    refusing_front.refusals.clear()
    yield refusing_front
    refusing_front.refusals.clear()
