"""Fixtures for the embedded AWS's tests: free ports, synthesized assemblies, running servers.

Every server is started the way ``edx-vault local up`` starts it (a detached process) and is
always stopped at the end, with a check that no server process is left behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from edx_vault.devtools.embedded_aws import lifecycle
from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.embedded_aws.deploy.cdk_deploy import DeployReport
from edx_vault.devtools.embedded_aws.state import LocalState
from edx_vault.devtools.embedded_aws.synth import synthesize_vault_app
from tests.local import fixture_app

if TYPE_CHECKING:
    from tests.local.synced_vault import Synced

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "example.toml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningAws:
    """A running embedded AWS and what was deployed into it."""

    state: LocalState
    state_file: Path
    report: DeployReport

    def client(self, service: str, *, config: Config | None = None) -> Any:
        """A client signed as the CLI's environment is: the config's admin role's session."""
        key_id, secret, *token = self.state.credentials
        return boto3.session.Session().client(
            service,
            endpoint_url=self.state.endpoint,
            region_name=self.state.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token[0] if token else None,
            config=config,
        )

    def root_client(self, service: str) -> Any:
        """A client signed as the account's root user (the embedded AWS's own keys)."""
        return local_client(service, endpoint=self.state.endpoint, region=self.state.region)

    def output(self, stack: str, name: str) -> str:
        return self.report.outputs[stack][name]


def start(
    state_file: Path, assembly: Path, *, handler_packages: tuple[str, ...] = ("lambdas",)
) -> RunningAws:
    result = lifecycle.up(
        config=EXAMPLE_CONFIG,
        port=free_port(),
        state_file=state_file,
        assembly=assembly,
        handler_packages=handler_packages,
    )
    assert result.report is not None
    return RunningAws(result.state, state_file, result.report)


def stop(aws: RunningAws) -> None:
    lifecycle.down(aws.state_file)
    assert not lifecycle.is_our_server(aws.state.pid), "the server outlived `down`"


@pytest.fixture(scope="session")
def vault_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vault app for the example configuration, synthesized as `local up` does."""
    return synthesize_vault_app(EXAMPLE_CONFIG, tmp_path_factory.mktemp("vault") / "cdk.out")


@pytest.fixture(scope="session")
def fixture_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test app (a Lambda and a Distributed Map over S3), synthesized."""
    os.environ.setdefault("CDK_VALIDATION", "false")
    outdir = tmp_path_factory.mktemp("fixture") / "cdk.out"
    fixture_app.build_fixture_app(str(outdir)).synth()
    return outdir


@pytest.fixture(scope="session")
def fixture_aws(
    fixture_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAws]:
    """An embedded AWS with the test app deployed; its handlers come from fixture_lambdas."""
    aws = start(
        tmp_path_factory.mktemp("fixture-state") / "local.json",
        fixture_assembly,
        handler_packages=(fixture_app.HANDLER_PACKAGE,),
    )
    yield aws
    stop(aws)


@pytest.fixture(scope="session")
def synced(vault_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """The vault deployed, seeded with a small package and synced once (tests/local/synced_vault.py)."""
    # Imported here: synced_vault imports this module's RunningAws.
    from edx_vault.cli import main
    from edx_vault.devtools.embedded_aws.seed import seed
    from edx_vault.settings.config import load_config
    from tests.local.synced_vault import Synced, sync_and_wait

    work = tmp_path_factory.mktemp("e2e")
    aws = start(work / "state" / "local.json", vault_assembly)
    try:
        with _cli_environment(aws):
            # Given the pipeline key, a small package from "edX" and the imported credentials
            assert (
                main(["keygen", "--email", "czar@example.edu", "--out", str(work / "p.asc")]) == 0
            )
            seeded = seed(
                config=load_config(EXAMPLE_CONFIG),
                endpoint=aws.state.endpoint,
                region=aws.state.region,
                credentials_out=work / "credentials.csv.gpg",
                size="small",
            )
            assert main(["import-credentials", str(seeded.credentials_file)]) == 0
            # And the de-identified tier's pseudonym key (the sync refuses to start without it)
            assert main(["pseudonym-key", "init"]) == 0
            # When the admin runs a sync and waits for it
            status = sync_and_wait()
        yield Synced(aws, seeded, status, work)
    finally:
        stop(aws)


@contextlib.contextmanager
def _cli_environment(aws: RunningAws) -> Iterator[None]:
    """The CLI's environment for the embedded AWS (endpoint, credentials, configuration), and
    the process's own back afterwards: later tests (moto's in-process mocks) must not reach it."""
    saved = dict(os.environ)
    os.environ.update(aws.state.environment())
    os.environ["EDX_VAULT_CONFIG"] = str(EXAMPLE_CONFIG)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def cli_environment(synced: Synced) -> Iterator[None]:
    """For a module that drives the CLI against the shared vault: its environment, then back."""
    with _cli_environment(synced.aws):
        yield
