"""What doctor's checks share: the configuration, the deployment, the stacks, edX's S3 client.

One :class:`Doctor` per invocation. AWS clients are made as they are first needed, the
deployment is discovered once (after the stack checks, which say what is wrong when it cannot
be), and what one check learns that a later one needs (edX's credentials, whether edX refused
them) is kept here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import aws_error_code, aws_error_message
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import VaultConfig
from edx_vault.settings.deployment import Deployment, DeploymentError
from edx_vault.settings.secret_formats import EdxCredentials

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackTypeDef
    from mypy_boto3_s3 import S3Client

ACCESS_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException"})
FIRST_SET_UP: Final = "docs/operations.md#first-time-set-up"
PERMISSIONS_DOC: Final = "docs/cli.md#aws-permissions-each-command-uses"


@dataclass
class Doctor:
    """The facts of one ``doctor`` run, read as the checks first need them."""

    context: CliContext
    # edX's credentials, once the edx-credentials check has read them.
    edx_credentials: EdxCredentials | None = None
    # Set when edX's S3 refused the keys themselves: nothing else can be read with them.
    keys_rejected: bool = False
    _deployment: Deployment | None = field(default=None, init=False, repr=False)
    _discovered: bool = field(default=False, init=False, repr=False)

    @property
    def config(self) -> VaultConfig:
        """The validated configuration."""
        return self.context.config()

    @property
    def deployment(self) -> Deployment | None:
        """The deployed resources; ``None`` when the stacks' checks show why there are none."""
        if not self._discovered:
            self._discovered = True
            # When there is none, the storage stack's FAIL, or the stacks' refusal, says why.
            with contextlib.suppress(DeploymentError, ClientError):
                self._deployment = self.context.deployment()
        return self._deployment

    def found_deployment(self) -> Deployment:
        """The deployment, for a check the table runs only when there is one."""
        if self.deployment is None:
            raise RuntimeError("this check needs the storage stack; the table should skip it")
        return self.deployment

    def deploy_fix(self, stack: str | None = None) -> str:
        """The command that deploys ``stack`` (all stacks when omitted) from this configuration."""
        return f"npx cdk deploy -c config={self.context.config_path} {stack or '--all'}"

    def edx_s3(self, credentials: EdxCredentials) -> S3Client:
        """An S3 client signing with edX's keys (never the admin's)."""
        return self.context.s3_with(
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key,
        )

    def stack_name(self, suffix: str) -> str:
        """``{stack_prefix}-{suffix}`` for the configuration's prefix."""
        return stack_outputs.stack_name(self.config.deployment.stack_prefix, suffix)

    def describe_stack(self, name: str) -> StackTypeDef | None:
        """The stack, or ``None`` when it does not exist (other refusals propagate)."""
        try:
            stacks = self.context.cloudformation().describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            missing = "does not exist" in aws_error_message(error)
            if aws_error_code(error) == "ValidationError" and missing:
                return None
            raise
        return stacks[0] if stacks else None

    def stack_resource(self, stack: str, resource_type: str) -> str | None:
        """The physical id of the stack's first resource of this type, if any.

        For stacks deployed by an older version that did not export the topic or schedule.
        ListStackResources, not DescribeStackResources: the latter stops at 100 resources.
        """
        paginator = self.context.cloudformation().get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=stack):
            for resource in page.get("StackResourceSummaries", []):
                if resource.get("ResourceType") == resource_type and resource.get(
                    "PhysicalResourceId"
                ):
                    return str(resource["PhysicalResourceId"])
        return None
