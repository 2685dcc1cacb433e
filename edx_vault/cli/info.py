"""``edx-vault info``: the deployed resources, as the stacks' outputs name them."""

from __future__ import annotations

import argparse
import json

from edx_vault.cli.context import CliContext
from edx_vault.cli.tables import render_table


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Print the resources (a table for people, or JSON)."""
    deployment = context.deployment()
    if args.json:
        context.out(json.dumps(deployment.as_dict(), indent=2))
        return 0
    storage = deployment.storage
    rows: list[tuple[str, str]] = [
        ("storage stack", deployment.storage_stack),
        ("data bucket", storage.data_bucket),
        ("access logs bucket", storage.access_logs_bucket),
        ("data KMS key", storage.data_key_arn),
        ("secrets KMS key", storage.secrets_key_arn),
        ("manifest table", storage.manifest_table),
        ("edX credentials secret", storage.edx_credentials_secret_arn),
        ("pipeline key secret", storage.pipeline_key_secret_arn),
        ("passphrase secret", storage.pipeline_passphrase_secret_arn),
        (
            "pseudonym key secret",
            storage.pseudonym_key_secret_arn or "(none: deploy the storage stack again)",
        ),
        ("pipeline stack", deployment.pipeline_stack),
    ]
    pipeline = deployment.pipeline
    if pipeline is None:
        rows.append(("pipeline", f"not deployed: {deployment.pipeline_problem}"))
    else:
        rows += [
            ("state machine", pipeline.state_machine_arn),
            ("alerts topic", pipeline.alerts_topic_arn or "(not exported)"),
            ("schedule", pipeline.schedule_name or "(not exported)"),
        ]
    context.out(f"edx-vault {deployment.stack_prefix} in {deployment.region}")
    for line in render_table(("RESOURCE", "NAME / ARN"), rows):
        context.out(f"  {line}")
    return 0
