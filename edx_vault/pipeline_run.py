"""One sync run as the state machine drives it: plan, mirror, collect, decrypt, report.

Each function is what one Lambda handler calls. They move work lists and results through the
run's scratch files (:mod:`edx_vault.run_files`), because Step Functions states pass at most
256 KB and a Distributed Map reads its items from S3.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gnupg

from edx_vault.key_metadata import key_expiry_from_tags
from edx_vault.manifest import Manifest
from edx_vault.pipeline_settings import PipelineSettings
from edx_vault.planner import PlanScope, plan_sync
from edx_vault.run_files import DECRYPT_ITEMS, MIRROR_ITEMS, PLAN_SUMMARY, RunFiles
from edx_vault.run_report import (
    NEW_DATA_STATE_KEY,
    build_report,
    new_data_since,
    published_count,
    report_key,
    summary_text,
)
from edx_vault.sync_steps import (
    RunHasEnded,
    VaultTarget,
    decrypt_step,
    expand_step,
    mirror_step,
)

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
    # Whether a run holding a claim has ended (see edx_vault.run_liveness); None: lease only.
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
    files.put_json(files.key(MIRROR_ITEMS), items)
    files.put_json(
        files.key(PLAN_SUMMARY),
        {
            "run_id": run_id,
            "started": started.isoformat(),
            "first_date": scope.first_date.isoformat(),
            "last_date": scope.last_date.isoformat(),
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
    """Mirror one object and list its decrypt units for the run's Collect step."""
    run_id = item["run_id"]
    files = context.files(run_id)
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
    files.put_json(files.unit_list_key(item["source_bucket"], item["source_key"]), units)
    result = expanded["result"] if expanded["result"] is not None else mirrored
    files.put_json(files.result_key("mirror", item["source_key"]), result)
    return {"status": result["status"], "units": len(units)}


def collect_units(context: RunContext, run_id: str) -> dict[str, Any]:
    """Join every mirrored object's units into the decrypt work list.

    One unit list per mirrored object, found by listing and read a few at a time
    (:meth:`~edx_vault.run_files.RunFiles.list_json`), joined in key order: the work list is
    the same whatever order the reads finish in, and a read that fails fails the step.
    """
    files = context.files(run_id)
    units = [unit for unit_list in files.list_json("units") for unit in unit_list]
    files.put_json(files.key(DECRYPT_ITEMS), units)
    return {"units": len(units)}


def decrypt_item(
    context: RunContext,
    gpg: gnupg.GPG,
    passphrase: str | None,
    item: dict[str, Any],
) -> dict[str, Any]:
    """Decrypt one unit and record its result for the Report step."""
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
    files = context.files(run_id)
    files.put_json(files.result_key("decrypt", item["source_key"], item.get("member")), result)
    return {"status": result["status"]}


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
    """Write the run report to ``reports/{run_id}.json`` and send its summary to the topic.

    The report also says when a run last published something (``new_data``), carried from run
    to run in :data:`~edx_vault.run_report.NEW_DATA_STATE_KEY`, for the NoNewData alarm.
    """
    tags = secretsmanager.describe_secret(SecretId=key_secret_arn).get("Tags", [])
    files = context.files(run_id)
    report = build_report(
        files,
        context.manifest,
        finished=finished,
        key_expiry=key_expiry_from_tags(tags),  # type: ignore[arg-type]
    )
    state = _new_data_state(context)
    last = dt.datetime.fromisoformat(state["last"]) if state else None
    since, days = new_data_since(last, published=published_count(report), finished=finished)
    report["new_data"] = {"last": since.isoformat(), "days_since": days}
    files.put_json(NEW_DATA_STATE_KEY, {"last": since.isoformat()})
    files.put_json(report_key(run_id), report)
    if topic_arn:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"edx-vault sync {report['status']}: {run_id}"[:100],
            Message=summary_text(report),
        )
    return report
