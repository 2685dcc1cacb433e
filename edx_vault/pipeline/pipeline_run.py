"""One sync run as the state machine drives it: plan, mirror, collect, decrypt, report.

Each function is what one Lambda handler calls. They move work lists and results through the
run's scratch files (:mod:`edx_vault.pipeline.run_files`), because Step Functions states pass at most
256 KB and a Distributed Map reads its items from S3. The work lists are lists of batches
(:func:`~edx_vault.pipeline.run_files.batches`): one Map iteration mirrors or decrypts a batch of items
and writes one results file for it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gnupg
from botocore.exceptions import ClientError

from edx_vault.pipeline.key_metadata import key_expiry_from_tags
from edx_vault.pipeline.manifest import ClaimOutcome, Manifest, unit_row
from edx_vault.pipeline.planner import PlanScope, plan_sync
from edx_vault.pipeline.run_files import (
    DECRYPT_ITEMS,
    MIRROR_ITEMS,
    PLAN_SUMMARY,
    RunFiles,
    batches,
    work_items,
)
from edx_vault.pipeline.run_report import (
    NEW_DATA_STATE_KEY,
    check_run,
    new_data_since,
    published_count,
    report_key,
    summary_text,
)
from edx_vault.pipeline.sync_steps import (
    RunHasEnded,
    VaultTarget,
    decrypt_step,
    expand_step,
    mirror_step,
)
from edx_vault.settings.pipeline_settings import PipelineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class RunContext:
    """The clients and settings every step of a run uses."""

    settings: PipelineSettings
    vault_s3: S3Client
    manifest: Manifest
    # Whether a run holding a claim has ended (see edx_vault.pipeline.run_liveness); None: lease only.
    run_has_ended: RunHasEnded = None

    @property
    def target(self) -> VaultTarget:
        return VaultTarget(bucket=self.settings.data_bucket, kms_key_arn=self.settings.data_key_arn)

    def files(self, run_id: str) -> RunFiles:
        return RunFiles(
            self.vault_s3, self.settings.data_bucket, self.settings.data_key_arn, run_id
        )


def plan_scope(settings: PipelineSettings, *, today: dt.date) -> PlanScope:
    """Everything from the configured first day up to yesterday (today's file is not due yet)."""
    if settings.backfill_from is None:
        raise ValueError("the pipeline was deployed without a first date to mirror from")
    return PlanScope(
        org_groups=settings.org_groups,
        sites=settings.sites,
        categories=settings.categories,
        first_date=settings.backfill_from,
        last_date=today - dt.timedelta(days=1),
        event_bucket=settings.event_bucket,
        database_bucket=settings.database_bucket,
    )


def start_run(
    context: RunContext,
    edx_s3: S3Client,
    *,
    run_id: str,
    started: dt.datetime,
    retry_failed: bool,
) -> dict[str, Any]:
    """Plan the run and write its mirror work list; returns what the state machine needs."""
    files = context.files(run_id)
    scope = plan_scope(context.settings, today=started.date())
    plan = plan_sync(edx_s3, context.manifest, scope, retry_failed=retry_failed)
    items = [
        {**planned.to_item(), "run_id": run_id, "retry_failed": retry_failed}
        for planned in plan.to_mirror
    ]
    files.put_json(
        files.key(MIRROR_ITEMS), batches(items, data_bytes=lambda item: int(item["size"]))
    )
    files.put_json(
        files.key(PLAN_SUMMARY),
        {
            "run_id": run_id,
            "started": started.isoformat(),
            "first_date": scope.first_date.isoformat(),
            "last_date": scope.last_date.isoformat(),
            "listed": plan.listed,
            "planned": len(items),
            "up_to_date": plan.up_to_date,
            "previously_failed": plan.previously_failed,
            "unknown": plan.unknown,
            "missing": [missing.to_dict() for missing in plan.missing],
        },
    )
    return {
        "run_id": run_id,
        "bucket": context.settings.data_bucket,
        "mirror_items_key": files.key(MIRROR_ITEMS),
        "decrypt_items_key": files.key(DECRYPT_ITEMS),
        "planned": len(items),
        "retry_failed": retry_failed,
    }


def mirror_item(context: RunContext, edx_s3: S3Client, item: dict[str, Any]) -> dict[str, Any]:
    """Mirror one Map iteration's objects (a batch, or one item) and list their decrypt units.

    The items run one after another; the batch writes one units file and one results file,
    for the run's Collect and Report steps, once every item has its result. An error that is
    not an item's own (throttling, a network fault) fails the whole batch, which the state
    machine retries: the items done by then find their work in the manifest.
    """
    items = work_items([item])
    if not items:
        return {"status": "done", "items": 0, "units": 0}
    run_id = items[0]["run_id"]
    files = context.files(run_id)
    units: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for one in items:
        one_units, result = _mirror_one(context, edx_s3, one)
        units.extend(one_units)
        results.append(result)
    digest = files.batch_digest(items)
    files.put_json(files.batch_units_key(digest), units)
    files.put_json(files.batch_result_key("mirror", digest), results)
    return _batch_summary(results, units=len(units))


def _batch_summary(results: list[dict[str, Any]], **extra: int) -> dict[str, Any]:
    """A Map iteration's output: small, whatever the batch (the results are in S3)."""
    statuses = Counter(result["status"] for result in results)
    status = "done" if set(statuses) <= {"done"} else "failed" if "failed" in statuses else "mixed"
    return {"status": status, "items": len(results), **dict(sorted(statuses.items())), **extra}


def _mirror_one(
    context: RunContext, edx_s3: S3Client, item: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Mirror one object: its decrypt units, and its result."""
    run_id = item["run_id"]
    mirrored = mirror_step(
        edx_s3,
        context.vault_s3,
        context.manifest,
        item,
        target=context.target,
        run_id=run_id,
        retry_failed=bool(item.get("retry_failed")),
        run_has_ended=context.run_has_ended,
    )
    expanded = expand_step(
        context.vault_s3, context.manifest, mirrored, target=context.target, run_id=run_id
    )
    units = [
        {**unit, "run_id": run_id, "retry_failed": bool(item.get("retry_failed"))}
        for unit in expanded["units"]
    ]
    result = expanded["result"] if expanded["result"] is not None else mirrored
    return units, result


def _unit_data_bytes(units: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Each source's estimated bytes per unit: its object's size shared among its units.

    A zip member's own size is not in its work item (only the zip's), and every member of a
    large zip counted at the zip's size would put each in a batch of its own.
    """
    counts = Counter((unit["source_bucket"], unit["source_key"]) for unit in units)
    sizes = {(unit["source_bucket"], unit["source_key"]): int(unit["raw_size"]) for unit in units}
    return {source: sizes[source] // count for source, count in counts.items()}


def collect_units(context: RunContext, run_id: str) -> dict[str, Any]:
    """Join every mirrored batch's units into the decrypt work list, in batches.

    One unit list per mirror batch, found by listing and read a few at a time
    (:meth:`~edx_vault.pipeline.run_files.RunFiles.list_json`), joined in key order: the work list is
    the same whatever order the reads finish in, and a read that fails fails the step.
    """
    files = context.files(run_id)
    units = [unit for unit_list in files.list_json("units") for unit in unit_list]
    per_unit = _unit_data_bytes(units)
    files.put_json(
        files.key(DECRYPT_ITEMS),
        batches(units, data_bytes=lambda u: per_unit[(u["source_bucket"], u["source_key"])]),
    )
    return {"units": len(units)}


def decrypt_item(
    context: RunContext,
    gpg: gnupg.GPG,
    passphrase: str | None,
    item: dict[str, Any],
) -> dict[str, Any]:
    """Decrypt one Map iteration's units (a batch, or one unit); one results file for them."""
    units = work_items([item])
    if not units:
        return {"status": "done", "items": 0}
    files = context.files(units[0]["run_id"])
    results = [_decrypt_one(context, gpg, passphrase, unit) for unit in units]
    files.put_json(files.batch_result_key("decrypt", files.batch_digest(units)), results)
    return _batch_summary(results)


def _decrypt_one(
    context: RunContext, gpg: gnupg.GPG, passphrase: str | None, item: dict[str, Any]
) -> dict[str, Any]:
    """Decrypt one unit; a unit this run published in an earlier attempt counts as published.

    A retried batch finds the units it had published before the error as done in the manifest
    (``skipped``, ``already_done``); those are this run's own work, read back from their rows,
    so the report counts them as published by this run rather than skipped.
    """
    run_id = item["run_id"]
    result = decrypt_step(
        context.vault_s3,
        gpg,
        context.manifest,
        item,
        passphrase=passphrase,
        target=context.target,
        run_id=run_id,
        retry_failed=bool(item.get("retry_failed")),
        run_has_ended=context.run_has_ended,
    )
    if result["status"] != "skipped" or result.get("why") != ClaimOutcome.ALREADY_DONE:
        return result
    row = context.manifest.get(
        unit_row(item["source_bucket"], item["source_key"], item.get("member"))
    )
    if not row or row.get("run_id") != run_id or "output_key" not in row:
        return result
    return {
        "status": "done",
        "source_key": item["source_key"],
        "stage": "decrypt",
        "output_key": row["output_key"],
        "bytes": int(row.get("plaintext_bytes", 0)),
        "category": row.get("category"),
        "member": item.get("member"),
    }


def _new_data_state(context: RunContext) -> dict[str, Any] | None:
    """The state the previous run left, or ``None`` before the first run.

    Listed before it is read: without ``s3:ListBucket`` on the key, S3 answers a missing object
    with AccessDenied rather than NoSuchKey, and the Report role may list ``_work/`` only.
    """
    bucket = context.settings.data_bucket
    listing = context.vault_s3.list_objects_v2(Bucket=bucket, Prefix=NEW_DATA_STATE_KEY)
    if not any(entry["Key"] == NEW_DATA_STATE_KEY for entry in listing.get("Contents", [])):
        return None
    body = context.vault_s3.get_object(Bucket=bucket, Key=NEW_DATA_STATE_KEY)["Body"].read()
    state: dict[str, Any] = json.loads(body)
    return state


def finish_run(
    context: RunContext,
    secretsmanager: SecretsManagerClient,
    sns: SNSClient,
    *,
    run_id: str,
    finished: dt.datetime,
    topic_arn: str,
    key_secret_arn: str,
) -> dict[str, Any]:
    """Write the run report to ``reports/{run_id}.json``, settle the sources, send the summary.

    The report also says when a run last published something (``new_data``), carried from run
    to run in :data:`~edx_vault.pipeline.run_report.NEW_DATA_STATE_KEY`, for the NoNewData alarm.

    Order matters for honesty:

    - the sources are settled only once the report is written: a report that cannot be written
      fails the step with its sources unsettled, so the next run plans them again and its report
      accounts for them (as ``skipped``: already published) instead of finding them up to date;
    - the report says whether its summary reached the topic (``alert``): written first as not
      sent, rewritten once Publish answers; when Publish fails, the report says so (with the
      error's code) before the error fails the step (the state machine retries it on a
      TransientError, and the execution fails if it never succeeds).
    """
    tags = secretsmanager.describe_secret(SecretId=key_secret_arn).get("Tags", [])
    files = context.files(run_id)
    checked = check_run(
        files,
        context.manifest,
        finished=finished,
        key_expiry=key_expiry_from_tags(tags),  # type: ignore[arg-type]
    )
    report = checked.report
    state = _new_data_state(context)
    last = dt.datetime.fromisoformat(state["last"]) if state else None
    since, days = new_data_since(last, published=published_count(report), finished=finished)
    report["new_data"] = {"last": since.isoformat(), "days_since": days}
    report["alert"] = {"sent": False, "error": None if topic_arn else "no-topic"}
    files.put_json(NEW_DATA_STATE_KEY, {"last": since.isoformat()})
    files.put_json(report_key(run_id), report)
    checked.settle(context.manifest)
    if not topic_arn:
        return report
    try:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"edx-vault sync {report['status']}: {run_id}"[:100],
            Message=summary_text(report),
        )
    except Exception as error:
        report["alert"] = {"sent": False, "error": _error_code(error)}
        files.put_json(report_key(run_id), report)
        raise
    report["alert"] = {"sent": True, "error": None}
    files.put_json(report_key(run_id), report)
    return report


def _error_code(error: Exception) -> str:
    """An AWS error's code (``InternalError``), or the exception's type for anything else."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__
