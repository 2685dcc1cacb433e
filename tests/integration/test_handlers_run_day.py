"""The handlers, run in the state machine's order on the day edX dated the weekly zip.

The default schedule runs on Sundays and edX dates its weekly zip Sunday: the run that starts
that Sunday must publish it, not the run a week later.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from edx_vault.pipeline import lambda_runtime
from tests.integration.conftest import Vault
from tests.integration.test_handlers import CONTEXT, handler
from tests.integration.test_handlers import deployed as deployed  # the shared fixture


def run_on(run_id: str, started: dt.datetime) -> dict[str, Any]:
    """Plan, mirror, collect, decrypt and report, as the state machine would, from ``started``."""
    start_time = started.isoformat().replace("+00:00", "Z")
    plan = handler("plan").handler(
        {"execution_name": run_id, "start_time": start_time, "input": {}}, CONTEXT
    )
    settings = lambda_runtime.settings()
    s3 = lambda_runtime.run_context().vault_s3

    def work_list(key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            s3.get_object(Bucket=settings.data_bucket, Key=plan[key])["Body"].read()
        )
        return items

    for item in work_list("mirror_items_key"):
        handler("mirror").handler({"item": item}, CONTEXT)
    handler("collect").handler({"run_id": run_id}, CONTEXT)
    for unit in work_list("decrypt_items_key"):
        handler("decrypt").handler({"item": unit}, CONTEXT)
    verdict: dict[str, Any] = handler("report").handler({"run_id": run_id}, CONTEXT)
    return verdict


def test_a_run_on_sunday_publishes_the_zip_dated_that_sunday(
    vault: Vault, deployed: dict[str, Any]
) -> None:
    # Given edX's package: event logs of Saturday and Sunday, the weekly and email opt-in zips
    # dated Sunday 2024-01-07, and a first date of Saturday 2024-01-06
    package = deployed["package"]
    sunday = max(package.spec.export_dates)
    assert sunday == dt.date(2024, 1, 7)
    # When the weekly schedule fires that Sunday morning
    verdict = run_on("sunday", dt.datetime(2024, 1, 7, 6, 0, tzinfo=dt.UTC))
    # Then every data unit is published that same run, database tables and opt-in report too
    assert verdict["published"] == len(package.published_units)
    for unit in package.published_units:
        assert unit.output_key is not None
        vault.s3.head_object(Bucket=vault.target.bucket, Key=unit.output_key)
    report = json.loads(
        vault.s3.get_object(Bucket=vault.target.bucket, Key="reports/sunday.json")["Body"].read()
    )
    assert {"database", "email-opt-in", "events"} <= set(report["files"])
    # And Sunday itself is not reported missing: edX may deliver it later that day
    assert all(sunday.isoformat() not in m["period"] for m in report["missing"])
