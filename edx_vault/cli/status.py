"""``edx-vault status``: is the vault healthy, and what did the last sync do?

Shows the last ten executions, the newest run report (counts, failures with reasons, files
expected but missing at edX), the pipeline key's expiry (a warning under 30 days: edX silently
stops exporting to an expired key) and whether edX's credentials are set. Each part is read on
its own: one that cannot be read (the pipeline not deployed yet, a malformed report) is shown
as such and the rest still appears.

Whether edX's credentials are set is read with ``DescribeSecret``, not by reading the secret.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, Final

from botocore.exceptions import ClientError

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import CliError, aws_error_code, aws_error_message
from edx_vault.cli.run_reports import (
    latest_report_key,
    load_report,
    summary_lines,
)
from edx_vault.cli.tables import render_table
from edx_vault.pipeline.key_metadata import KEY_EXPIRY_WARNING_DAYS
from edx_vault.settings.deployment import Deployment, PipelineNotDeployedError
from edx_vault.settings.secret_document import SecretFormatError
from edx_vault.settings.secret_store import read_pipeline_keyring

RECENT_EXECUTIONS: Final = 10


def _timestamp(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _readable(timestamp: str | None) -> str | None:
    """An ISO timestamp as ``2024-01-07 06:00:00Z`` (UTC, whole seconds) for people."""
    if timestamp is None:
        return None
    moment = dt.datetime.fromisoformat(timestamp).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _problem(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{aws_error_code(error)}: {aws_error_message(error)}"
    return str(error)


def executions_status(context: CliContext, deployment: Deployment) -> dict[str, Any]:
    """The last executions, or why they cannot be listed."""
    try:
        pipeline = deployment.require_pipeline()
        listed = context.stepfunctions().list_executions(
            stateMachineArn=pipeline.state_machine_arn, maxResults=RECENT_EXECUTIONS
        )["executions"]
    except (PipelineNotDeployedError, ClientError) as error:
        return {"available": False, "problem": _problem(error), "recent": []}
    return {
        "available": True,
        "problem": None,
        "recent": [
            {
                "name": execution["name"],
                "status": execution["status"],
                "started": _timestamp(execution.get("startDate")),
                "stopped": _timestamp(execution.get("stopDate")),
            }
            for execution in listed[:RECENT_EXECUTIONS]
        ],
    }


def report_status(context: CliContext, deployment: Deployment) -> dict[str, Any]:
    """The newest report, or why there is none."""
    s3 = context.s3()
    bucket = deployment.storage.data_bucket
    try:
        key = latest_report_key(s3, bucket)
        report = None if key is None else load_report(s3, bucket, key)
    except (ClientError, CliError) as error:
        return {"key": None, "problem": _problem(error), "report": None, "summary": []}
    if report is None:
        return {
            "key": None,
            "problem": "no sync has written a report yet",
            "report": None,
            "summary": [],
        }
    return {
        "key": report.key,
        "problem": None,
        "report": report.document,
        "summary": summary_lines(report),
    }


def key_status(context: CliContext, deployment: Deployment) -> dict[str, Any]:
    """The stored pipeline keys' fingerprints and expiry (no key material)."""
    today = context.now().date()
    try:
        keyring = read_pipeline_keyring(
            context.secretsmanager(), deployment.storage.pipeline_key_secret_arn
        )
    except (ClientError, SecretFormatError) as error:
        return {"stored": False, "problem": _problem(error), "keys": [], "warning": None}
    if keyring is None:
        return {
            "stored": False,
            "problem": "no pipeline key: run `edx-vault keygen`",
            "keys": [],
            "warning": None,
        }
    keys = [
        {
            "fingerprint": key.fingerprint,
            "user_id": key.user_id,
            "primary": key.fingerprint == keyring.primary,
            "created": key.created.isoformat(),
            "expires": None if key.expires is None else key.expires.isoformat(),
            "days_left": key.days_left(today),
        }
        for key in keyring.keys
    ]
    days = keyring.primary_key.days_left(today)
    warning = None
    if days is not None and days < KEY_EXPIRY_WARNING_DAYS:
        state = f"expired {-days} days ago" if days < 0 else f"expires in {days} days"
        warning = (
            f"the primary pipeline key {state} ({keyring.primary_key.expires}); edX stops "
            "exporting to an expired key: run `edx-vault keygen --rotate` and send edX the new "
            "public key"
        )
    return {"stored": True, "problem": None, "keys": keys, "warning": warning}


def credentials_status(context: CliContext, deployment: Deployment) -> dict[str, Any]:
    """Whether edX's credentials have a current value, from the secret's metadata only."""
    try:
        described = context.secretsmanager().describe_secret(
            SecretId=deployment.storage.edx_credentials_secret_arn
        )
    except ClientError as error:
        return {"set": False, "problem": _problem(error), "last_changed": None}
    stages = described.get("VersionIdsToStages") or {}
    is_set = any("AWSCURRENT" in labels for labels in stages.values())
    return {
        "set": is_set,
        "problem": None if is_set else "not imported: run `edx-vault import-credentials`",
        "last_changed": _timestamp(described.get("LastChangedDate")) if is_set else None,
    }


def gather(context: CliContext) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data."""
    deployment = context.deployment()
    status: dict[str, Any] = {
        "deployment": {
            "stack_prefix": deployment.stack_prefix,
            "region": deployment.region,
            "pipeline_deployed": deployment.pipeline is not None,
        },
        "executions": executions_status(context, deployment),
        "latest_report": report_status(context, deployment),
        "pipeline_key": key_status(context, deployment),
        "edx_credentials": credentials_status(context, deployment),
    }
    warnings = [status["pipeline_key"]["warning"]] if status["pipeline_key"]["warning"] else []
    for part in ("pipeline_key", "edx_credentials"):
        if status[part]["problem"]:
            warnings.append(status[part]["problem"])
    if not deployment.pipeline and deployment.pipeline_problem:
        warnings.append(deployment.pipeline_problem)
    status["warnings"] = warnings
    return status


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Print the status (a report for people, or JSON)."""
    status = gather(context)
    if args.json:
        summaryless = {
            **status,
            "latest_report": {k: v for k, v in status["latest_report"].items() if k != "summary"},
        }
        context.out(json.dumps(summaryless, indent=2, default=str))
        return 0

    deployment = status["deployment"]
    context.out(f"edx-vault {deployment['stack_prefix']} in {deployment['region']}")
    context.out("")
    executions = status["executions"]
    context.out("Recent syncs")
    if not executions["available"]:
        context.out(f"  unavailable: {executions['problem']}")
    elif not executions["recent"]:
        context.out("  none yet")
    else:
        rows = [
            (e["name"], e["status"], _readable(e["started"]), _readable(e["stopped"]))
            for e in executions["recent"]
        ]
        for line in render_table(("NAME", "STATUS", "STARTED", "STOPPED"), rows):
            context.out(f"  {line}")
    context.out("")

    report = status["latest_report"]
    if report["report"] is None:
        context.out(f"Latest report: {report['problem']}")
    else:
        context.out(f"Latest report ({report['key']})")
        for line in report["summary"]:
            context.out(f"  {line}")
    context.out("")

    keys = status["pipeline_key"]
    context.out("Pipeline key")
    if not keys["stored"]:
        context.out(f"  {keys['problem']}")
    else:
        key_rows = [
            (
                k["fingerprint"],
                "primary" if k["primary"] else "handover",
                k["user_id"],
                k["expires"] or "never",
                "-" if k["days_left"] is None else k["days_left"],
            )
            for k in keys["keys"]
        ]
        for line in render_table(("FINGERPRINT", "ROLE", "USER ID", "EXPIRES", "DAYS"), key_rows):
            context.out(f"  {line}")
    credentials = status["edx_credentials"]
    context.out("")
    context.out(
        f"edX credentials: set (last changed {_readable(credentials['last_changed'])})"
        if credentials["set"]
        else f"edX credentials: {credentials['problem']}"
    )
    if status["warnings"]:
        context.out("")
        for warning in status["warnings"]:
            context.out(f"WARNING: {warning}")
    return 0
