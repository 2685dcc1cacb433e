"""Finding the deployed resources from the stacks' CloudFormation outputs.

The CLI never guesses a physical name: CloudFormation generates most of them, so the outputs of
the storage stack (and of the pipeline stack, when it is deployed) are the one source of truth.
The output names are shared with the stacks through :mod:`edx_vault.settings.stack_outputs`.

The storage stack is required: without it there is nothing to administer. The pipeline stack is
optional, so that ``keygen`` and ``import-credentials`` work before the pipeline is deployed (it
needs both secrets to do anything useful); commands that need it call
:meth:`Deployment.require_pipeline`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from edx_vault.settings import stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackTypeDef

# States in which a stack's outputs are missing, stale or about to go away. Everything else
# (CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, an update in progress...) still
# describes resources that exist.
UNUSABLE_STACK_STATES: Final = frozenset(
    {
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "DELETE_COMPLETE",
        "REVIEW_IN_PROGRESS",
    }
)


class DeploymentError(Exception):
    """A stack that is missing, unusable or lacks an output; the message says what to do."""


class PipelineNotDeployedError(DeploymentError):
    """The command needs the pipeline stack, which is not (usably) deployed."""


def _deploy_hint(stack: str) -> str:
    return f"deploy it with `npx cdk deploy -c config=<your config> {stack}`"


@dataclass(frozen=True)
class StorageResources:
    """What the storage stack created (see :mod:`edx_vault.settings.stack_outputs`).

    ``pseudonym_key_secret_arn`` is ``None`` for a storage stack deployed before the
    de-identified tier: everything else still works, and :meth:`require_pseudonym_key_secret`
    says to deploy again.
    """

    data_bucket: str
    access_logs_bucket: str
    data_key_arn: str
    secrets_key_arn: str
    edx_credentials_secret_arn: str
    pipeline_key_secret_arn: str
    pipeline_passphrase_secret_arn: str
    manifest_table: str
    pseudonym_key_secret_arn: str | None = None

    def require_pseudonym_key_secret(self, storage_stack: str) -> str:
        """The pseudonym key secret's ARN.

        Raises
        ------
        DeploymentError
            When the storage stack ``storage_stack`` predates it, saying how to deploy it.
        """
        if self.pseudonym_key_secret_arn is None:
            raise DeploymentError(
                f"the storage stack {storage_stack} has no output "
                f"{stack_outputs.PSEUDONYM_KEY_SECRET_ARN}: it was deployed by an older "
                f"version of edx-vault; {_deploy_hint(storage_stack)}"
            )
        return self.pseudonym_key_secret_arn


@dataclass(frozen=True)
class PipelineResources:
    """What the pipeline stack created.

    Attributes
    ----------
    state_machine_arn
        The sync state machine (required).
    alerts_topic_arn, schedule_name
        ``None`` when the stack does not export them (e.g. no schedule configured).
    """

    state_machine_arn: str
    alerts_topic_arn: str | None
    schedule_name: str | None


@dataclass(frozen=True)
class Deployment:
    """The deployed vault, as its stacks' outputs describe it.

    Attributes
    ----------
    stack_prefix
        The configuration's ``deployment.stack_prefix``.
    region
        The region the stacks were looked up in.
    storage_stack, pipeline_stack
        The two stack names.
    storage
        The storage stack's resources.
    pipeline
        The pipeline stack's resources, or ``None`` when it is not usably deployed.
    pipeline_problem
        Why ``pipeline`` is ``None``: one sentence that says what to do.
    """

    stack_prefix: str
    region: str | None
    storage_stack: str
    pipeline_stack: str
    storage: StorageResources
    pipeline: PipelineResources | None
    pipeline_problem: str | None = None

    @classmethod
    def discover(cls, cloudformation_client: CloudFormationClient, stack_prefix: str) -> Deployment:
        """Read both stacks' outputs.

        Parameters
        ----------
        cloudformation_client
            A CloudFormation client in the deployment's region.
        stack_prefix
            The configuration's stack prefix (``EdxVault``).

        Raises
        ------
        DeploymentError
            When the storage stack does not exist, is in a failed or transitional state, or
            lacks an output: the message names the stack and says how to deploy it.
        botocore.exceptions.ClientError
            For other AWS errors (access denied, throttling).
        """
        region = cloudformation_client.meta.region_name
        storage_stack = stack_outputs.stack_name(stack_prefix, stack_outputs.STORAGE_STACK_SUFFIX)
        pipeline_stack = stack_outputs.stack_name(stack_prefix, stack_outputs.PIPELINE_STACK_SUFFIX)

        storage_outputs = _usable_outputs(cloudformation_client, storage_stack, region, "storage")
        if isinstance(storage_outputs, str):
            raise DeploymentError(storage_outputs)
        missing = [name for name in stack_outputs.STORAGE_OUTPUTS if name not in storage_outputs]
        if missing:
            raise DeploymentError(
                f"the storage stack {storage_stack} has no output {', '.join(missing)}: it was deployed by "
                f"an older or different version of edx-vault; {_deploy_hint(storage_stack)}"
            )
        storage = StorageResources(
            data_bucket=storage_outputs[stack_outputs.DATA_BUCKET],
            access_logs_bucket=storage_outputs[stack_outputs.ACCESS_LOGS_BUCKET],
            data_key_arn=storage_outputs[stack_outputs.DATA_KEY_ARN],
            secrets_key_arn=storage_outputs[stack_outputs.SECRETS_KEY_ARN],
            edx_credentials_secret_arn=storage_outputs[stack_outputs.EDX_CREDENTIALS_SECRET_ARN],
            pipeline_key_secret_arn=storage_outputs[stack_outputs.PIPELINE_KEY_SECRET_ARN],
            pipeline_passphrase_secret_arn=storage_outputs[
                stack_outputs.PIPELINE_PASSPHRASE_SECRET_ARN
            ],
            manifest_table=storage_outputs[stack_outputs.MANIFEST_TABLE],
            pseudonym_key_secret_arn=storage_outputs.get(stack_outputs.PSEUDONYM_KEY_SECRET_ARN),
        )

        pipeline: PipelineResources | None = None
        problem: str | None = None
        pipeline_outputs = _usable_outputs(
            cloudformation_client, pipeline_stack, region, "pipeline"
        )
        if isinstance(pipeline_outputs, str):
            problem = pipeline_outputs
        elif stack_outputs.STATE_MACHINE_ARN not in pipeline_outputs:
            problem = (
                f"the pipeline stack {pipeline_stack} has no output "
                f"{stack_outputs.STATE_MACHINE_ARN}; {_deploy_hint(pipeline_stack)}"
            )
        else:
            pipeline = PipelineResources(
                state_machine_arn=pipeline_outputs[stack_outputs.STATE_MACHINE_ARN],
                alerts_topic_arn=pipeline_outputs.get(stack_outputs.ALERTS_TOPIC_ARN),
                schedule_name=pipeline_outputs.get(stack_outputs.SCHEDULE_NAME),
            )
        return cls(
            stack_prefix=stack_prefix,
            region=region,
            storage_stack=storage_stack,
            pipeline_stack=pipeline_stack,
            storage=storage,
            pipeline=pipeline,
            pipeline_problem=problem,
        )

    def require_pipeline(self) -> PipelineResources:
        """The pipeline stack's resources.

        Raises
        ------
        PipelineNotDeployedError
            When the pipeline stack is not deployed (or not usable), saying how to deploy it.
        """
        if self.pipeline is None:
            raise PipelineNotDeployedError(
                self.pipeline_problem
                or f"the pipeline stack {self.pipeline_stack} is not deployed; "
                f"{_deploy_hint(self.pipeline_stack)}"
            )
        return self.pipeline

    def as_dict(self) -> dict[str, Any]:
        """Everything discovered, as JSON-ready data (no secret values: those are ARNs)."""
        return {
            "stack_prefix": self.stack_prefix,
            "region": self.region,
            "stacks": {"storage": self.storage_stack, "pipeline": self.pipeline_stack},
            "storage": asdict(self.storage),
            "pipeline": None if self.pipeline is None else asdict(self.pipeline),
            "pipeline_problem": self.pipeline_problem,
        }


def _usable_outputs(
    client: CloudFormationClient, stack: str, region: str | None, role: str
) -> dict[str, str] | str:
    """The stack's outputs by name, or one sentence saying why there are none to use."""
    where = f" in {region}" if region else ""
    stack_named = f"the {role} stack {stack}"
    try:
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if error.response.get("Error", {}).get("Code") == "ValidationError" and (
            "does not exist" in message
        ):
            return f"{stack_named} is not deployed{where}; {_deploy_hint(stack)}"
        raise
    if not stacks:
        return f"{stack_named} is not deployed{where}; {_deploy_hint(stack)}"
    description: StackTypeDef = stacks[0]
    state = description["StackStatus"]
    if state in UNUSABLE_STACK_STATES:
        return (
            f"{stack_named}{where} is in state {state}, so its outputs cannot be used; "
            f"see its events in the CloudFormation console, then {_deploy_hint(stack)}"
        )
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in description.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }
