"""Builds the whole CDK app from one validated configuration file.

``app.py`` (run by ``npx cdk``), the tests and the CLI all go through :func:`build_vault_app`, so
they synthesize the same templates. An in-process ``App()`` does not read ``cdk.json``; this
factory passes its context in, and context given on the command line still wins.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from edx_vault.access.grants import ResearcherGrant, compile_grants
from edx_vault.access.researcher_roles import ACCESS_STACK_SUFFIX
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import VaultConfig, load_config
from edx_vault.settings.resource_names import resource_prefix
from stacks.access_stack import AccessStack
from stacks.nag_acknowledgements import (
    acknowledge_access_findings,
    acknowledge_pipeline_findings,
    acknowledge_storage_findings,
)
from stacks.pipeline_stack import PipelineStack
from stacks.storage_stack import StorageStack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"
CONFIG_CONTEXT_KEY = "config"


@dataclass(frozen=True)
class VaultApp:
    """The synthesizable app and the stacks in it."""

    app: cdk.App
    config: VaultConfig
    storage: StorageStack
    pipeline: PipelineStack
    access: AccessStack
    grants: tuple[ResearcherGrant, ...]


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` block of the project's cdk.json."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def build_vault_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    nag: bool = True,
    bundle_assets: bool = True,
    today: dt.date | None = None,
) -> VaultApp:
    """Create the app and every stack from the configuration named by the ``config`` context.

    Parameters
    ----------
    context
        Extra context, applied over cdk.json's (``{"config": "path/to/vault.toml"}``).
    outdir
        Where to write the cloud assembly; a temporary folder when omitted.
    nag
        Register the cdk-nag packs (AwsSolutions and NIST 800-53 rev 5) as validation plugins.
    bundle_assets
        Build the Lambda layers. Tests of the templates alone turn it off: the layers take
        seconds to build and their content does not change the templates' structure.
    today
        The day researcher grants are judged against (expired grants read nothing); today in
        UTC when omitted.

    Raises
    ------
    edx_vault.settings.config.ConfigError
        When the configuration file is missing or invalid.
    """
    no_bundling: dict[str, Any] = {} if bundle_assets else {"aws:cdk:bundling-stacks": []}
    app = cdk.App(context={**cdk_json_context(), **no_bundling, **(context or {})}, outdir=outdir)
    config_path = Path(str(app.node.get_context(CONFIG_CONTEXT_KEY)))
    if not config_path.is_absolute():
        config_path = PROJECT_ROOT / config_path
    config = load_config(config_path)
    grants = compile_grants(
        config, today=today or dt.datetime.now(dt.UTC).date(), source=config_path
    )

    deployment = config.deployment
    env = cdk.Environment(account=deployment.account, region=deployment.region)
    prefix = deployment.stack_prefix
    storage = StorageStack(
        app,
        stack_outputs.stack_name(prefix, stack_outputs.STORAGE_STACK_SUFFIX),
        resource_prefix=resource_prefix(prefix),
        stack_prefix=prefix,
        orgs=[org_id for org in config.edx.orgs for org_id in org.all_ids],
        first_date=config.edx.backfill_from,
        results_expire_days=config.research.results_expire_days,
        researcher_role_names=[grant.role_name for grant in grants],
        admin_role_arns=deployment.admin_role_arns,
        env=env,
        description="edx-vault: data bucket, KMS keys, secrets and manifest",
        termination_protection=True,
    )
    pipeline = PipelineStack(
        app,
        stack_outputs.stack_name(prefix, stack_outputs.PIPELINE_STACK_SUFFIX),
        config=config,
        storage=storage,
        env=env,
        description="edx-vault: sync functions, state machine, schedule and alarms",
    )
    access = AccessStack(
        app,
        stack_outputs.stack_name(prefix, ACCESS_STACK_SUFFIX),
        grants=grants,
        storage=storage,
        stack_prefix=prefix,
        bytes_scanned_cutoff=config.research.bytes_scanned_cutoff,
        env=env,
        description="edx-vault: researchers' roles, one per grant in the configuration",
    )
    for grant in grants:
        if grant.expired:
            # Also an annotation on the role (in the validation report); printed here so that
            # every synth says it, whatever its settings.
            print(
                f"warning: research grant {grant.name!r} expired on {grant.expires}: its role "
                "can read nothing. Remove it from the configuration.",
                file=sys.stderr,
            )
    cdk.Tags.of(app).add("application", "edx-vault")

    acknowledge_storage_findings(storage)
    acknowledge_pipeline_findings(pipeline)
    acknowledge_access_findings(access)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), NIST80053R5Checks(app))
    return VaultApp(
        app=app, config=config, storage=storage, pipeline=pipeline, access=access, grants=grants
    )
