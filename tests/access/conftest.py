"""The app synthesized once with every kind of researcher grant, and its policies resolved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from edx_vault.access.template_policies import (
    VaultPolicies,
    load_vault_policies,
    read_assembly_templates,
)
from stacks.vault_app import VaultApp, build_vault_app
from tests.access.grant_config import ACCOUNT, REGION, TODAY, write_grants_config


@dataclass(frozen=True)
class SynthesizedGrants:
    """The built app, its assembly directory and the policies that decide access."""

    vault: VaultApp
    outdir: Path
    policies: VaultPolicies


@pytest.fixture(scope="session")
def grants_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_grants_config(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="session")
def synthesized(grants_config: Path, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedGrants:
    outdir = tmp_path_factory.mktemp("cdk.out")
    vault = build_vault_app(
        context={"config": str(grants_config)},
        outdir=str(outdir),
        nag=False,
        bundle_assets=False,
        today=TODAY,
    )
    vault.app.synth()
    policies = load_vault_policies(
        read_assembly_templates(outdir),
        storage_stack=vault.storage.stack_name,
        account=ACCOUNT,
        region=REGION,
    )
    return SynthesizedGrants(vault=vault, outdir=outdir, policies=policies)
