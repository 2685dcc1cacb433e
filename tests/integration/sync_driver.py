"""Runs a whole sync in-process, step by step, the way the state machine will.

Plan, then mirror every planned item, expand each into decrypt units, decrypt each unit, split
each event log by course, and settle. It is for the engine's tests; the deployed product runs the same step functions from Step Functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from edx_vault.package.source_keys import SourceKind
from edx_vault.pipeline.planner import Plan, PlanScope, plan_sync
from edx_vault.pipeline.settle import settle_source
from edx_vault.pipeline.steps.decrypt import decrypt_one, split_of
from edx_vault.pipeline.steps.mirror import expand_source, mirror_source
from edx_vault.pipeline.steps.split import split_one
from edx_vault.pipeline.work_items import MirrorItem
from edx_vault.settings.types import MirrorCategory, Site
from tests.integration.conftest import PipelineKey, Vault


@dataclass
class SyncOutcome:
    plan: Plan
    mirrored: list[dict[str, Any]] = field(default_factory=list)
    decrypted: list[dict[str, Any]] = field(default_factory=list)
    # The splits by course of the event logs (apart: their key is the log's, as its unit's).
    split: list[dict[str, Any]] = field(default_factory=list)

    def by_status(self, status: str) -> list[dict[str, Any]]:
        return [r for r in self.mirrored + self.decrypted if r["status"] == status]

    def failures(self) -> dict[tuple[str, str | None], str]:
        """(source key, member) -> failure code, for every failed item."""
        return {(r["source_key"], r.get("member")): r["code"] for r in self.by_status("failed")}


def scope_for(
    vault: Vault,
    org_groups: tuple[tuple[str, ...], ...],
    first: dt.date,
    last: dt.date,
    *,
    sites: tuple[Site, ...] = ("edx", "edge"),
    categories: tuple[MirrorCategory, ...] = ("events", "database", "email-opt-in"),
) -> PlanScope:
    return PlanScope(
        org_groups=org_groups,
        sites=sites,
        categories=categories,
        first_date=first,
        last_date=last,
        event_bucket=vault.event_bucket,
        database_bucket=vault.database_bucket,
    )


def run_sync(
    vault: Vault, key: PipelineKey, scope: PlanScope, *, run_id: str, retry_failed: bool = False
) -> SyncOutcome:
    """Plan, mirror, expand, decrypt and settle, passing ``retry_failed`` as the pipeline does."""
    plan = plan_sync(vault.s3, vault.manifest, scope, retry_failed=retry_failed)
    outcome = SyncOutcome(plan=plan)
    context = vault.context()
    for planned in plan.to_mirror:
        item = MirrorItem.of_planned(planned, run_id=run_id, retry_failed=retry_failed)
        mirrored = mirror_source(context, vault.s3, item)
        outcome.mirrored.append(mirrored.as_json())
        units, result = expand_source(context, item, mirrored)
        if result is not mirrored:
            outcome.decrypted.append(result.as_json())
        for unit in units:
            decrypted = decrypt_one(context, key.gpg, key.passphrase, unit)
            outcome.decrypted.append(decrypted.as_json())
            split = split_of(unit, decrypted)
            if split is not None:
                outcome.split.append(split_one(context, split).as_json())
        settle_source(
            vault.manifest,
            planned.version.bucket,
            planned.version.key,
            needs_split=planned.kind is SourceKind.EVENT_LOG,
        )
    return outcome
