"""Deploy a synthesized cloud assembly into the embedded AWS, as ``cdk deploy --all`` would.

Steps, for an assembly directory (``cdk.out``):

1. read ``manifest.json`` (:mod:`edx_vault.devtools.embedded_aws.deploy.assembly`) and check
   every template against AWS's deploy-time rules
   (:mod:`edx_vault.devtools.embedded_aws.deploy.rules`): nothing is deployed if any is broken;
2. "bootstrap": the SSM parameter ``/cdk-bootstrap/hnb659fds/version`` (moto resolves the
   templates' ``BootstrapVersion`` parameter from SSM; it does not evaluate the
   ``CheckBootstrapVersion`` rule at all);
3. publish every file asset (:mod:`edx_vault.devtools.embedded_aws.deploy.assets`), creating the
   assets bucket the asset manifests name (``cdk-hnb659fds-assets-{account}-{region}``);
4. ``CreateStack`` each template, in order, with moto's CloudFormation (which the server has
   taught the types it lacks, see :mod:`edx_vault.devtools.embedded_aws.resource_support`), wait
   for it, and report a failure with the resource, its type and the reason.

Nothing here imports moto or the CDK: it talks to the server over HTTP with boto3.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.embedded_aws.deploy.assembly import (
    DeployError,
    StackArtifact,
    read_assembly,
)
from edx_vault.devtools.embedded_aws.deploy.assets import publish_assets
from edx_vault.devtools.embedded_aws.deploy.rules.check import template_violations
from edx_vault.devtools.embedded_aws.resource_support import ResourceNote, notes_for_template

BOOTSTRAP_VERSION_PARAMETER: Final = "/cdk-bootstrap/hnb659fds/version"
# What a current `cdk bootstrap` writes; the templates require at least 6.
BOOTSTRAP_VERSION: Final = "30"
_CAPABILITIES: Final = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_POLL_SECONDS: Final = 0.2


@dataclass
class DeployReport:
    """What a deployment did.

    Attributes
    ----------
    stacks
        The stacks created, in order.
    outputs
        Each stack's outputs (``OutputKey`` to ``OutputValue``).
    notes
        Every resource that is emulated, patched or skipped, with why.
    assets
        How many file assets were published.
    """

    stacks: list[str] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[ResourceNote] = field(default_factory=list)
    assets: int = 0


def bootstrap(*, endpoint: str, region: str) -> None:
    """What ``cdk bootstrap`` leaves that the templates read: the version parameter."""
    ssm = local_client("ssm", endpoint=endpoint, region=region)
    ssm.put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )


def _failure_reasons(cfn: Any, stack: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        f"{event['LogicalResourceId']} ({event['ResourceType']}): "
        f"{event.get('ResourceStatusReason', 'no reason given')}"
        for event in reversed(events)
        if event["ResourceStatus"].endswith("_FAILED")
        and event["ResourceType"] != "AWS::CloudFormation::Stack"
    ]


def create_stack(
    stack: StackArtifact, *, endpoint: str, timeout_seconds: float = 300.0
) -> dict[str, str]:
    """Create one stack and wait for it; return its outputs.

    Raises
    ------
    DeployError
        When CreateStack is refused or the stack ends in any state but ``CREATE_COMPLETE``.
    """
    cfn = local_client("cloudformation", endpoint=endpoint, region=stack.region)
    try:
        cfn.create_stack(
            StackName=stack.name,
            TemplateBody=stack.template.read_text(encoding="utf-8"),
            Capabilities=_CAPABILITIES,
            EnableTerminationProtection=stack.termination_protection,
        )
    except Exception as error:
        raise DeployError(f"{stack.name}: CreateStack was refused: {error}") from None
    deadline = time.monotonic() + timeout_seconds
    while True:
        description = cfn.describe_stacks(StackName=stack.name)["Stacks"][0]
        status = description["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"{stack.name}: still {status} after {timeout_seconds:.0f} s")
        time.sleep(_POLL_SECONDS)
    if status != "CREATE_COMPLETE":
        reasons = _failure_reasons(cfn, stack.name) or [
            description.get("StackStatusReason", "no reason given")
        ]
        listing = "\n".join(f"  - {reason}" for reason in reasons)
        raise DeployError(f"{stack.name}: {status}\n{listing}")
    return {
        output["OutputKey"]: output.get("OutputValue", "")
        for output in description.get("Outputs", [])
    }


def deploy_assembly(
    directory: Path,
    *,
    endpoint: str,
    scratch: Path,
    progress: Callable[[str], None] = lambda line: None,
) -> DeployReport:
    """Deploy every stack of a synthesized assembly into the embedded AWS.

    Parameters
    ----------
    directory
        The cloud assembly (``cdk.out``).
    endpoint
        The embedded AWS.
    scratch
        A directory for zipped assets.
    progress
        Called with one line per step.

    Raises
    ------
    DeployError
        When a template breaks one of AWS's deploy-time rules (every violation of every stack
        is listed, and nothing is deployed), or on the first stack that fails, naming the
        resource and the reason.
    """
    assembly = read_assembly(directory)
    if not assembly.stacks:
        raise DeployError(f"{directory}: the assembly has no stacks")
    # AWS's deploy-time rules, for every stack before anything is created: moto accepts
    # templates AWS refuses (see deploy_rules).
    violations = [
        f"{stack.name}: {violation}"
        for stack in assembly.stacks
        for violation in template_violations(
            stack.template_document(),
            stack_name=stack.name,
            account=stack.account,
            region=stack.region,
            assembly_dir=assembly.directory,
        )
    ]
    if violations:
        listing = "\n".join(f"  - {line}" for line in violations)
        raise DeployError(
            f"{directory}: AWS would refuse or break these resources; nothing was deployed:\n"
            f"{listing}"
        )
    report = DeployReport()
    for region in sorted({stack.region for stack in assembly.stacks}):
        bootstrap(endpoint=endpoint, region=region)
    scratch.mkdir(parents=True, exist_ok=True)
    report.assets = publish_assets(assembly, endpoint=endpoint, scratch=scratch)
    progress(f"published {report.assets} file assets")
    for stack in assembly.stacks:
        notes = list(notes_for_template(stack.name, stack.template_document()))
        started = time.monotonic()
        report.outputs[stack.name] = create_stack(stack, endpoint=endpoint)
        report.stacks.append(stack.name)
        report.notes.extend(notes)
        progress(f"created {stack.name} in {time.monotonic() - started:.1f} s")
    return report
