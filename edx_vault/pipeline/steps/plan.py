"""Plan step: list edX's files, compare them with the manifest, write the mirror work list."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.planner import PlanScope, plan_sync
from edx_vault.pipeline.run_files import (
    DECRYPT_ITEMS,
    MIRROR_ITEMS,
    PLAN_SUMMARY,
    SPLIT_ITEMS,
    batches,
)
from edx_vault.pipeline.work_items import MirrorItem
from edx_vault.settings.pipeline_settings import PipelineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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
        MirrorItem.of_planned(planned, run_id=run_id, retry_failed=retry_failed).model_dump(
            mode="json"
        )
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
        "split_items_key": files.key(SPLIT_ITEMS),
        "planned": len(items),
        "retry_failed": retry_failed,
    }
