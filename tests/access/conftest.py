"""The app synthesized once with every kind of researcher grant, and its policies resolved;
:func:`synthesize` for tests that synthesize a configuration of their own."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from edx_vault.access.template_policies import (
    TemplateResolver,
    VaultPolicies,
    load_vault_policies,
    read_assembly_templates,
)
from stacks.vault_app import VaultApp, build_vault_app
from tests.access.grant_config import ACCOUNT, REGION, TODAY, write_grants_config


@dataclass(frozen=True)
class SynthesizedGrants:
    """The built app, its assembly directory, and its templates and policies, resolved."""

    vault: VaultApp
    outdir: Path

    @cached_property
    def templates(self) -> dict[str, dict[str, Any]]:
        """Every stack's template, by stack name."""
        return read_assembly_templates(self.outdir)

    @cached_property
    def resolver(self) -> TemplateResolver:
        """Resolves the templates' intrinsics for the test account and region."""
        return TemplateResolver(self.templates, account=ACCOUNT, region=REGION)

    @cached_property
    def policies(self) -> VaultPolicies:
        """The policies that decide who reads the data bucket."""
        return load_vault_policies(
            self.templates,
            storage_stack=self.vault.storage.stack_name,
            account=ACCOUNT,
            region=REGION,
        )

    def access_policy_documents(self, role_id: str) -> list[dict[str, Any]]:
        """The resolved documents of the managed policies attached to one access stack role."""
        stack = self.vault.access.stack_name
        return [
            self.resolver.resolve(stack, resource["Properties"]["PolicyDocument"])
            for resource in self.templates[stack]["Resources"].values()
            if resource["Type"] == "AWS::IAM::ManagedPolicy"
            and resource["Properties"]["Roles"] == [{"Ref": role_id}]
        ]


def synthesize(config: Path, outdir: Path, *, nag: bool = False) -> SynthesizedGrants:
    """Build the app from ``config`` on ``TODAY`` (assets not bundled) and synthesize it."""
    vault = build_vault_app(
        context={"config": str(config)},
        outdir=str(outdir),
        nag=nag,
        bundle_assets=False,
        today=TODAY,
    )
    vault.app.synth()
    return SynthesizedGrants(vault=vault, outdir=outdir)


@pytest.fixture(scope="session")
def grants_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_grants_config(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="session")
def synthesized(grants_config: Path, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedGrants:
    return synthesize(grants_config, tmp_path_factory.mktemp("cdk.out"))
