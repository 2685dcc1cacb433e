"""Deploy a synthesized cloud assembly into the embedded AWS, as ``cdk deploy --all`` would.

Steps, for an assembly directory (``cdk.out``):

1. read ``manifest.json``: the stacks, their environments and their dependencies, and put the
   stacks in dependency order (manifest order among independent ones);
2. "bootstrap": create the assets bucket the asset manifests name
   (``cdk-hnb659fds-assets-{account}-{region}``) and the SSM parameter
   ``/cdk-bootstrap/hnb659fds/version`` (moto resolves the templates' ``BootstrapVersion``
   parameter from SSM; it does not evaluate the ``CheckBootstrapVersion`` rule at all);
3. publish every file asset of every ``*.assets.json``: a ``zip`` asset directory is zipped as
   CDK zips it, a ``file`` asset is uploaded as it is;
4. ``CreateStack`` each template, in order, with moto's CloudFormation (which the server has
   taught the types it lacks, see :mod:`edx_vault.devtools.embedded_aws.resource_support`), wait for it,
   and report a failure with the resource, its type and the reason.

Nothing here imports moto or the CDK: it talks to the server over HTTP with boto3.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.clients import local_client
from edx_vault.devtools.embedded_aws.deploy_rules import template_violations
from edx_vault.devtools.embedded_aws.resource_support import ResourceNote, notes_for_template

BOOTSTRAP_VERSION_PARAMETER: Final = "/cdk-bootstrap/hnb659fds/version"
# What a current `cdk bootstrap` writes; the templates require at least 6.
BOOTSTRAP_VERSION: Final = "30"
STACK_TYPE: Final = "aws:cloudformation:stack"
ASSETS_TYPE: Final = "cdk:asset-manifest"
_CAPABILITIES: Final = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# The fixed timestamp CDK gives every zip entry, so the same files give the same zip.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_POLL_SECONDS: Final = 0.2


class DeployError(Exception):
    """The assembly could not be deployed; the message says which stack, resource and why."""


@dataclass(frozen=True)
class StackArtifact:
    """One stack of a cloud assembly.

    Attributes
    ----------
    name
        The CloudFormation stack name.
    template
        The template file.
    account, region
        Its environment.
    dependencies
        Names of the stacks it depends on.
    termination_protection
        Whether the stack asks for termination protection.
    """

    name: str
    template: Path
    account: str
    region: str
    dependencies: tuple[str, ...]
    termination_protection: bool

    def template_document(self) -> dict[str, Any]:
        """The template, parsed."""
        document: dict[str, Any] = json.loads(self.template.read_text(encoding="utf-8"))
        return document


@dataclass(frozen=True)
class CloudAssembly:
    """The parts of a cloud assembly a deployment needs."""

    directory: Path
    stacks: tuple[StackArtifact, ...]
    asset_manifests: tuple[Path, ...]


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


def read_assembly(directory: Path) -> CloudAssembly:
    """Read ``manifest.json`` and order the stacks so each comes after what it depends on.

    Raises
    ------
    DeployError
        When the manifest is missing, or the dependencies form a cycle.
    """
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DeployError(f"{manifest_path}: not a cloud assembly manifest ({error})") from None
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    stacks: dict[str, StackArtifact] = {}
    asset_manifests = []
    for artifact_id, artifact in artifacts.items():
        properties = artifact.get("properties", {})
        if artifact["type"] == ASSETS_TYPE:
            asset_manifests.append(directory / properties["file"])
        elif artifact["type"] == STACK_TYPE:
            account, region = _environment(artifact.get("environment", ""))
            stacks[artifact_id] = StackArtifact(
                name=properties.get("stackName", artifact_id),
                template=directory / properties["templateFile"],
                account=account,
                region=region,
                dependencies=tuple(artifact.get("dependencies", ())),
                termination_protection=bool(properties.get("terminationProtection", False)),
            )
    ordered: list[StackArtifact] = []
    visiting: set[str] = set()

    def visit(artifact_id: str) -> None:
        stack = stacks[artifact_id]
        if stack in ordered:
            return
        if artifact_id in visiting:
            raise DeployError(f"stack dependencies form a cycle through {artifact_id}")
        visiting.add(artifact_id)
        for dependency in stack.dependencies:
            if dependency in stacks:  # the others are asset manifests
                visit(dependency)
        visiting.discard(artifact_id)
        ordered.append(stack)

    for artifact_id in stacks:
        visit(artifact_id)
    ordered_with_names = tuple(
        StackArtifact(
            name=stack.name,
            template=stack.template,
            account=stack.account,
            region=stack.region,
            dependencies=tuple(
                stacks[dependency].name for dependency in stack.dependencies if dependency in stacks
            ),
            termination_protection=stack.termination_protection,
        )
        for stack in ordered
    )
    return CloudAssembly(directory, ordered_with_names, tuple(asset_manifests))


def _environment(environment: str) -> tuple[str, str]:
    """``aws://123456789012/us-east-1`` as (account, region)."""
    account, _, region = environment.removeprefix("aws://").partition("/")
    if not account.isdigit() or not region or "unknown" in region:
        raise DeployError(
            f"stack environment {environment!r} is not concrete: the embedded AWS needs the "
            "account and region the config names"
        )
    return account, region


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(directory: Path, target: Path) -> None:
    """Zip a directory's files as CDK packages a ``zip`` asset.

    Entries are sorted and dated 1980-01-01, with their Unix permissions, so the same files
    always give the same bytes.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _file_assets(manifest_path: Path) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """(source, packaging, destination) for every destination of every file asset."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("dockerImages"):
        raise DeployError(
            f"{manifest_path.name}: Docker image assets are not supported by the embedded AWS"
        )
    for asset in manifest.get("files", {}).values():
        source = asset["source"]
        if "path" not in source:
            raise DeployError(
                f"{manifest_path.name}: asset {asset.get('displayName')!r} is built by a "
                "command, which the embedded AWS does not run"
            )
        for destination in asset["destinations"].values():
            yield (
                manifest_path.parent / source["path"],
                source.get("packaging", "file"),
                destination,
            )


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    existing = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def publish_assets(assembly: CloudAssembly, *, endpoint: str, scratch: Path) -> int:
    """Upload every file asset to the bucket and key its manifest names; return the count."""
    published = 0
    for manifest_path in assembly.asset_manifests:
        for source, packaging, destination in _file_assets(manifest_path):
            region = destination.get("region") or "us-east-1"
            account = destination.get("account", "")
            bucket = _substitute(destination["bucketName"], account, region)
            key = _substitute(destination["objectKey"], account, region)
            s3 = local_client("s3", endpoint=endpoint, region=region)
            _ensure_bucket(s3, bucket, region)
            upload = source
            if packaging == "zip" and source.is_dir():
                upload = scratch / f"{key.replace('/', '_')}"
                if not upload.exists():
                    zip_directory(source, upload)
            elif packaging not in ("zip", "file"):
                raise DeployError(f"asset {source.name}: unknown packaging {packaging!r}")
            s3.upload_file(str(upload), bucket, key)
            published += 1
    return published


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
