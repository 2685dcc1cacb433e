"""The ``doctor`` command: run every check, print the verdicts (or JSON), exit 1 if any failed."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from edx_vault.cli.checks import STATUSES, Check, print_checks
from edx_vault.cli.context import CliContext
from edx_vault.cli.doctor.facts import Doctor
from edx_vault.cli.doctor.table import run_checks
from edx_vault.cli.errors import EXIT_FAILURE, EXIT_OK


def summary(context: CliContext, checks: list[Check]) -> dict[str, Any]:
    """The verdicts as JSON-ready data, with the deployment they are about and their counts."""
    config = context.config()
    counts = {status: sum(1 for c in checks if c.status == status) for status in STATUSES}
    return {
        "stack_prefix": config.deployment.stack_prefix,
        "account": config.deployment.account,
        "region": context.region,
        "ok": counts["FAIL"] == 0,
        "counts": counts,
        "checks": [asdict(check) for check in checks],
    }


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Run every check and print the verdicts; exit 1 if any failed."""
    context.config()  # a configuration that cannot be read is the one error, before any check
    checks = run_checks(Doctor(context))
    result = summary(context, checks)
    exit_code = EXIT_OK if result["ok"] else EXIT_FAILURE
    if args.json:
        context.out(json.dumps(result, indent=2))
        return exit_code
    context.out(
        f"edx-vault doctor: {result['stack_prefix']} in account {result['account']}, "
        f"{result['region']}"
    )
    context.out()
    print_checks(context, checks)
    context.out()
    counts = result["counts"]
    context.out(", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status]))
    return exit_code
