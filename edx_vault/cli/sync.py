"""``edx-vault sync``: start a sync now, outside the schedule, and optionally follow it.

The execution is named ``manual-{UTC timestamp}``; its report is ``reports/{that name}.json``.
With ``--wait`` the execution is polled every two seconds. Progress comes from what Step
Functions offers: the state the run is in (execution history) and, for Distributed Maps, their
item counts (``ListMapRuns``/``DescribeMapRun``). Either may be unavailable (permissions, or an
embedded AWS that lacks the call); the wait then shows the execution status alone.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import CliError, aws_error_code
from edx_vault.cli.run_reports import load_report, report_key, summary_lines
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import Status
from edx_vault.pipeline.manifest_schema import (
    DECRYPT_SORT_KEY,
    MEMBER_SORT_KEY_PREFIX,
    OBJECT_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    SPLIT_SORT_KEY,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

POLL_INTERVAL_SECONDS: Final = 2.0
EXECUTION_NAME_PREFIX: Final = "manual-"
TERMINAL_STATES: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# Execution causes can be long JSON; a report line needs the start of it only.
MAX_CAUSE_CHARACTERS: Final = 500
# How many of the files --retry-failed will retry are listed before it starts.
MAX_RETRIED_LINES: Final = 20


def execution_name(context: CliContext) -> str:
    """``manual-YYYYMMDDTHHMMSSZ`` for now (Step Functions names allow no ``:``)."""
    return f"{EXECUTION_NAME_PREFIX}{context.now().strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Finished:
    """How an execution ended."""

    status: str
    error: str | None
    cause: str | None


def describe_progress(sfn: SFNClient, execution_arn: str) -> str:
    """One line: the state the run is in and each Distributed Map's item counts.

    Whatever cannot be read is left out: progress is a courtesy, never a reason to fail.
    """
    parts: list[str] = []
    try:
        # The whole (short) history of the parent execution, newest entered state by event id:
        # moto ignores reverseOrder, so "the first event returned" is not the latest there.
        paginator = sfn.get_paginator("get_execution_history")
        entered = max(
            (
                event
                for page in paginator.paginate(executionArn=execution_arn)
                for event in page["events"]
                if "stateEnteredEventDetails" in event
            ),
            key=lambda event: event["id"],
            default=None,
        )
        if entered is not None:
            parts.append(f"in {entered['stateEnteredEventDetails']['name']}")
    except (ClientError, BotoCoreError, KeyError):
        pass
    try:
        for map_run in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
            counts = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["itemCounts"]
            parts.append(
                f"{_map_label(map_run['mapRunArn'])}: {counts['succeeded']}/{counts['total']} done, "
                f"{counts['failed'] + counts['timedOut'] + counts['aborted']} failed, "
                f"{counts['pending'] + counts['running']} pending"
            )
    except (ClientError, BotoCoreError, KeyError, TypeError):
        pass
    return ", ".join(parts)


def _map_label(map_run_arn: str) -> str:
    # arn:aws:states:REGION:ACCOUNT:mapRun:STATE_MACHINE/MAP_LABEL:ID
    parts = map_run_arn.split(":")
    return parts[6].split("/", 1)[-1] if len(parts) > 7 else "map"


def wait_for(
    sfn: SFNClient, execution_arn: str, context: CliContext, *, show_progress: bool
) -> Finished:
    """Poll until the execution ends, writing progress lines to stderr when they change."""
    last = ""
    started = time.monotonic()
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        status = execution["status"]
        if status in TERMINAL_STATES:
            return Finished(
                status=status, error=execution.get("error"), cause=execution.get("cause")
            )
        if show_progress:
            detail = describe_progress(sfn, execution_arn)
            line = f"{status.lower()}{': ' + detail if detail else ''}"
            if line != last:
                elapsed = int(time.monotonic() - started)
                context.note(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {line}")
                last = line
        time.sleep(POLL_INTERVAL_SECONDS)


def unset_secrets(secretsmanager: Any, storage: Any) -> list[str]:
    """What a sync needs that is not stored yet, each with the command that stores it.

    Read from each secret's metadata (``DescribeSecret``: does it have an ``AWSCURRENT``
    version?), never its value: the stacks create the secrets empty, and a sync started
    before they are filled would fail in its first step with a raw ResourceNotFoundException.
    """
    needed: list[tuple[str, str, str]] = [
        (storage.edx_credentials_secret_arn, "edX's credentials", "edx-vault import-credentials"),
        (storage.pipeline_key_secret_arn, "the pipeline's OpenPGP key", "edx-vault keygen"),
        (
            storage.pipeline_passphrase_secret_arn,
            "the pipeline key's passphrase",
            "edx-vault keygen",
        ),
    ]
    # A storage stack deployed before the de-identified tier has no pseudonym key, and the
    # pipeline deployed with it does not read one.
    if storage.pseudonym_key_secret_arn is not None:
        needed.append(
            (storage.pseudonym_key_secret_arn, "the pseudonym key", "edx-vault pseudonym-key init")
        )
    missing = []
    for secret_arn, what, command in needed:
        stages = secretsmanager.describe_secret(SecretId=secret_arn).get("VersionIdsToStages")
        if not any("AWSCURRENT" in labels for labels in (stages or {}).values()):
            missing.append(f"{what} (run `{command}`)")
    return missing


def failed_before(rows: list[dict[str, Any]]) -> list[str]:
    """One line per manifest row whose last attempt failed: what ``--retry-failed`` retries.

    Rows are the manifest's (``pk`` = ``bucket/key`` of the source, ``sk`` = ``object``,
    ``decrypt`` or ``member#{name}``), so this needs no knowledge of the planner.
    """
    lines = []
    for row in sorted(
        rows, key=lambda item: (str(item.get(PARTITION_KEY)), str(item.get(SORT_KEY)))
    ):
        if row.get("status") != Status.FAILED:
            continue
        sort_key = str(row.get(SORT_KEY, ""))
        step = {OBJECT_SORT_KEY: "mirror", SPLIT_SORT_KEY: "split"}.get(sort_key, "decrypt")
        where = row.get(PARTITION_KEY, "?") + (
            ""
            if sort_key in (OBJECT_SORT_KEY, DECRYPT_SORT_KEY, SPLIT_SORT_KEY)
            else f" [{sort_key.removeprefix(MEMBER_SORT_KEY_PREFIX)}]"
        )
        lines.append(f"{step:<8} {row.get('error_code', '?'):<22} s3://{where}")
    return lines


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Start the execution; with ``--wait``, follow it and report."""
    deployment = context.deployment()
    pipeline = deployment.require_pipeline()
    missing = unset_secrets(context.secretsmanager(), deployment.storage)
    if missing:
        raise CliError("the sync cannot start: not stored yet: " + "; ".join(missing))
    if args.retry_failed and not args.json:
        retried = failed_before(Manifest(context.manifest_table()).scan())
        if retried:
            context.out(f"Retrying {len(retried)} file(s) that failed before:")
            for line in retried[:MAX_RETRIED_LINES]:
                context.out(f"  {line}")
            if len(retried) > MAX_RETRIED_LINES:
                context.out(f"  ... and {len(retried) - MAX_RETRIED_LINES} more")
        else:
            context.out("Nothing has failed before: --retry-failed retries nothing this time.")
    sfn = context.stepfunctions()
    name = execution_name(context)
    try:
        started = sfn.start_execution(
            stateMachineArn=pipeline.state_machine_arn,
            name=name,
            input=json.dumps({"retry_failed": bool(args.retry_failed)}),
        )
    except ClientError as error:
        if aws_error_code(error) == "ExecutionAlreadyExists":
            raise CliError(
                f"a sync named {name} already exists (started this second); try again"
            ) from None
        raise
    execution_arn = started["executionArn"]
    if not args.json:
        context.out(f"Started sync {name}")
        context.out(f"  execution  {execution_arn}")
    if not args.wait:
        if args.json:
            context.out(json.dumps({"name": name, "execution_arn": execution_arn}, indent=2))
        else:
            context.out("Follow it with `edx-vault status`, or start it with --wait next time.")
        return 0

    try:
        finished = wait_for(sfn, execution_arn, context, show_progress=not args.json)
    except KeyboardInterrupt:
        context.note(f"stopped waiting; the sync {name} goes on (see `edx-vault status`)")
        raise

    bucket = deployment.storage.data_bucket
    report = load_report(context.s3(), bucket, report_key(name))
    report_failed = report is not None and report.status != "succeeded"
    exit_code = 0 if finished.status == "SUCCEEDED" and not report_failed else 1
    if args.json:
        context.out(
            json.dumps(
                {
                    "name": name,
                    "execution_arn": execution_arn,
                    "status": finished.status,
                    "error": finished.error,
                    "cause": finished.cause,
                    "report": None if report is None else report.document,
                },
                indent=2,
                default=str,
            )
        )
        return exit_code

    context.out(f"Sync {name} {finished.status}")
    if finished.status != "SUCCEEDED":
        cause = (finished.cause or "")[:MAX_CAUSE_CHARACTERS]
        context.out(f"  {finished.error or 'error'}: {cause}".rstrip(": "))
    if report is None:
        context.note(f"warning: no report at s3://{bucket}/{report_key(name)}")
    else:
        for line in summary_lines(report):
            context.out(line)
    return exit_code
