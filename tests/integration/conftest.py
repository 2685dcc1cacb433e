"""The embedded AWS for integration tests: moto in server mode over HTTP, and real gpg keys.

One moto server serves the whole session; every test gets its own buckets and table, so tests
never see each other's objects.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3
import gnupg
import pytest
from moto.server import ThreadedMotoServer

from edx_vault.devtools.synthetic.keys import generate_key
from edx_vault.devtools.synthetic.spec import demo_package_spec
from edx_vault.engine.gnupg_config import write_gnupg_config
from edx_vault.pipeline.context import RunContext, RunHasEnded, VaultTarget
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_schema import PARTITION_KEY, SORT_KEY
from edx_vault.settings.pipeline_settings import PipelineSettings

REGION = "us-east-1"
# What most tests need of a package: the demo package's first org (every kind of file, its
# awkward course names, the failed export) with two tables and one ORA table: 27 units instead
# of the demo's 129, so a run is a second, not several. PackageSpec overrides of
# demo_package_spec.
SMALL_PACKAGE: Final = {
    "orgs": demo_package_spec().orgs[:1],
    "tables": ("auth_user", "student_courseenrollment"),
    "ora_tables": ("submissions_submission",),
}
PIPELINE_PASSPHRASE = "correct horse battery staple 42"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass(frozen=True)
class Aws:
    """boto3 clients bound to the embedded AWS."""

    endpoint: str

    def _options(self) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }

    def client(self, service: str) -> Any:
        return boto3.client(service, **self._options())  # type: ignore[call-overload]

    def resource(self, service: str) -> Any:
        return boto3.resource(service, **self._options())  # type: ignore[call-overload]


@pytest.fixture(scope="session")
def aws(moto_endpoint: str) -> Aws:
    return Aws(moto_endpoint)


@dataclass(frozen=True)
class Vault:
    """A data bucket, data key and manifest table, as the storage stack would make them."""

    target: VaultTarget
    manifest: Manifest
    table: Any
    s3: Any
    table_name: str
    event_bucket: str
    database_bucket: str

    def context(
        self, *, run_has_ended: RunHasEnded = None, manifest: Manifest | None = None
    ) -> RunContext:
        """The context a step of the pipeline gets, over this vault."""
        settings = PipelineSettings(
            data_bucket=self.target.bucket,
            data_key_arn=self.target.kms_key_arn,
            manifest_table=self.table_name,
        )
        return RunContext(
            settings=settings,
            vault_s3=self.s3,
            manifest=manifest or self.manifest,
            run_has_ended=run_has_ended,
        )


@pytest.fixture
def vault(aws: Aws) -> Vault:
    return make_vault(aws)


def make_vault(aws: Aws) -> Vault:
    """Fresh buckets, key and table, named uniquely so tests never share state."""
    suffix = uuid.uuid4().hex[:10]
    s3 = aws.client("s3")
    data_bucket = f"vault-data-{suffix}"
    s3.create_bucket(Bucket=data_bucket)
    s3.put_bucket_versioning(Bucket=data_bucket, VersioningConfiguration={"Status": "Enabled"})
    key_arn = aws.client("kms").create_key(Description="data key")["KeyMetadata"]["Arn"]
    table_name = f"manifest-{suffix}"
    aws.client("dynamodb").create_table(
        TableName=table_name,
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    event_bucket, database_bucket = f"edx-course-data-{suffix}", f"course-data-{suffix}"
    for bucket in (event_bucket, database_bucket):
        s3.create_bucket(Bucket=bucket)
    return Vault(
        target=VaultTarget(bucket=data_bucket, kms_key_arn=key_arn),
        manifest=Manifest(aws.resource("dynamodb").Table(table_name)),
        table=aws.resource("dynamodb").Table(table_name),
        s3=s3,
        table_name=table_name,
        event_bucket=event_bucket,
        database_bucket=database_bucket,
    )


@dataclass(frozen=True)
class PipelineKey:
    """The pipeline's key pair in a private GNUPGHOME, protected by a passphrase."""

    gpg: gnupg.GPG
    passphrase: str
    public_key: str
    fingerprint: str


def generate_protected_key(
    home: Path, email: str, passphrase: str = PIPELINE_PASSPHRASE
) -> gnupg.GPG:
    """An ed25519/cv25519 key pair protected by ``passphrase``, in a new private ``home``."""
    home.mkdir(mode=0o700)
    # The decrypt Lambda's configuration (edx_vault.engine.gnupg_home, fast_unlock): no cached
    # passphrase, so each use must present it, and the fewest S2K rounds gpg allows, so that the
    # hundreds of unlocks in a test run take milliseconds instead of a tenth of a second.
    write_gnupg_config(home, fast_unlock=True)
    # Loopback pinentry, as in production: without it the agent asks a (curses) pinentry for the
    # new key's passphrase, which fails wherever there is no terminal, as in CI.
    gpg = gnupg.GPG(gnupghome=str(home), options=["--pinentry-mode", "loopback"])
    generate_key(gpg, name_real="edx-vault test pipeline", email=email, passphrase=passphrase)
    return gpg


@pytest.fixture(scope="session")
def pipeline_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineKey]:
    home = tmp_path_factory.mktemp("pipeline") / "gnupg"
    gpg = generate_protected_key(home, "pipeline@example.edu")
    [fingerprint] = gpg.list_keys(secret=True).fingerprints
    yield PipelineKey(
        gpg=gpg,
        passphrase=PIPELINE_PASSPHRASE,
        public_key=str(gpg.export_keys(fingerprint)),
        fingerprint=fingerprint,
    )
    _stop_agent(home)


def _stop_agent(home: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


@pytest.fixture(scope="session")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A public key whose secret half the pipeline does not have."""
    home = tmp_path_factory.mktemp("stranger") / "gnupg"
    gpg = generate_protected_key(home, "someone-else@example.edu")
    [fingerprint] = gpg.list_keys().fingerprints
    yield str(gpg.export_keys(fingerprint))
    _stop_agent(home)
