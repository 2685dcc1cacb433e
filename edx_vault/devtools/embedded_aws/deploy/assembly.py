"""A synthesized cloud assembly (``cdk.out``) as a deployment reads it: stacks and asset manifests.

:func:`read_assembly` reads ``manifest.json``: the stacks, their environments and their
dependencies, put in dependency order (manifest order among independent ones), and the asset
manifests (``*.assets.json``) whose files :mod:`edx_vault.devtools.embedded_aws.deploy.assets`
publishes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

STACK_TYPE: Final = "aws:cloudformation:stack"
ASSETS_TYPE: Final = "cdk:asset-manifest"


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
