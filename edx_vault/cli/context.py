"""What every command gets: the configuration, AWS clients, the deployment, and its streams.

Everything is created lazily, so ``edx-vault keygen --help`` needs no configuration and a
command that fails on its arguments makes no AWS call.

AWS clients come from one plain ``boto3.session.Session()`` per command: boto3 itself honours
``AWS_ENDPOINT_URL`` (and the per-service ``AWS_ENDPOINT_URL_<SERVICE>``), credentials and
profiles from the environment, so the same CLI talks to real AWS or to the embedded AWS.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import boto3

from edx_vault.settings.config import VaultConfig, load_config
from edx_vault.settings.deployment import Deployment

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient


def utc_now() -> dt.datetime:
    """The current time in UTC (a module function, so tests can pin it)."""
    return dt.datetime.now(dt.UTC)


@dataclass
class CliContext:
    """Shared state of one CLI invocation.

    Parameters
    ----------
    config_path
        The deployment configuration (``--config``).
    region_override
        ``--region``; the configuration's ``deployment.region`` otherwise.
    stdout, stderr, stdin
        The streams to use (the process's by default).
    """

    config_path: Path
    region_override: str | None = None
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    _config: VaultConfig | None = field(default=None, init=False, repr=False)
    _deployment: Deployment | None = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _boto_session: boto3.session.Session | None = field(default=None, init=False, repr=False)

    def config(self) -> VaultConfig:
        """The validated configuration.

        Raises
        ------
        edx_vault.settings.config.ConfigError
            When the file is missing or invalid.
        """
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def region(self) -> str:
        """``--region`` if given, else the configuration's region."""
        return self.region_override or self.config().deployment.region

    def now(self) -> dt.datetime:
        """The current time, UTC."""
        return utc_now()

    def _session(self) -> boto3.session.Session:
        """This command's own boto3 session, which reads the credentials in effect now.

        Not boto3's process-wide default session: that keeps the credentials it first found,
        so a process that runs several commands (tests, a notebook) would sign them all as
        whoever came first.
        """
        if self._boto_session is None:
            self._boto_session = boto3.session.Session()
        return self._boto_session

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session().client(service, region_name=self.region)  # type: ignore[call-overload]
        return self._clients[service]

    def cloudformation(self) -> CloudFormationClient:
        """A CloudFormation client."""
        client: CloudFormationClient = self._client("cloudformation")
        return client

    def secretsmanager(self) -> SecretsManagerClient:
        """A Secrets Manager client."""
        client: SecretsManagerClient = self._client("secretsmanager")
        return client

    def s3(self) -> S3Client:
        """An S3 client."""
        client: S3Client = self._client("s3")
        return client

    def stepfunctions(self) -> SFNClient:
        """A Step Functions client."""
        client: SFNClient = self._client("stepfunctions")
        return client

    def sns(self) -> SNSClient:
        """An SNS client."""
        client: SNSClient = self._client("sns")
        return client

    def scheduler(self) -> EventBridgeSchedulerClient:
        """An EventBridge Scheduler client."""
        client: EventBridgeSchedulerClient = self._client("scheduler")
        return client

    def sts_with(self, *, access_key_id: str, secret_access_key: str) -> STSClient:
        """An STS client signing with the given keys instead of the admin's own."""
        return self._session().client(
            "sts",
            region_name=self.region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def s3_with(self, *, access_key_id: str, secret_access_key: str) -> S3Client:
        """An S3 client signing with the given keys (edX's) instead of the admin's own."""
        return self._session().client(
            "s3",
            region_name=self.region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def manifest_table(self) -> Table:
        """The manifest table, as a boto3 DynamoDB ``Table`` resource."""
        resource = self._session().resource("dynamodb", region_name=self.region)
        return resource.Table(self.deployment().storage.manifest_table)

    def deployment(self) -> Deployment:
        """The deployed resources, discovered once from the stacks' outputs.

        Raises
        ------
        edx_vault.settings.deployment.DeploymentError
            When the storage stack is missing or unusable.
        """
        if self._deployment is None:
            self._deployment = Deployment.discover(
                self.cloudformation(), self.config().deployment.stack_prefix
            )
        return self._deployment

    def out(self, line: str = "") -> None:
        """Write one line of the command's result to stdout."""
        print(line, file=self.stdout)

    def note(self, line: str) -> None:
        """Write one line of commentary (progress, warnings) to stderr."""
        print(line, file=self.stderr)
