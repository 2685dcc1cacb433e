"""The Report step carries "when new data last arrived" from run to run (NoNewData's gauge)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.new_data import NEW_DATA_STATE_KEY
from edx_vault.pipeline.run_files import DECRYPT_ITEMS, PLAN_SUMMARY
from edx_vault.pipeline.steps.report import finish_run
from edx_vault.pipeline.work_items import DecryptItem, ItemResult
from edx_vault.settings.pipeline_settings import PipelineSettings
from tests.integration.conftest import Aws, Vault

pytestmark = pytest.mark.integration

FIRST = dt.datetime(2026, 3, 1, 6, 30, tzinfo=dt.UTC)


def run(aws: Aws, vault: Vault, run_id: str, finished: dt.datetime, published: int) -> Any:
    """Leave what Plan, Collect and Decrypt would leave for a run, then finish it."""
    settings = PipelineSettings(
        data_bucket=vault.target.bucket,
        data_key_arn=vault.target.kms_key_arn,
        manifest_table=vault.table_name,
    )
    context = RunContext(settings=settings, vault_s3=vault.s3, manifest=vault.manifest)
    files = context.files(run_id)
    files.put_json(
        files.key(PLAN_SUMMARY),
        {
            "run_id": run_id,
            "started": finished.isoformat(),
            "first_date": "2024-01-01",
            "last_date": "2026-02-28",
            "planned": published,
            "up_to_date": 0,
            "previously_failed": 0,
            "unknown": 0,
            "missing": [],
        },
    )
    units = [
        DecryptItem(
            source_bucket="edx",
            source_key=f"{run_id}/file-{n}.gpg",
            etag='"v1"',
            raw_key=f"raw/{run_id}/file-{n}.gpg",
            raw_size=10,
            run_id=run_id,
        )
        for n in range(published)
    ]
    files.put_json(files.key(DECRYPT_ITEMS), [unit.model_dump(mode="json") for unit in units])
    for unit in units:
        result = ItemResult(
            status="done", source_key=unit.source_key, stage="decrypt", category="events", bytes=10
        )
        files.put_json(files.result_key("decrypt", unit.source_key, None), result.as_json())
    secrets = aws.client("secretsmanager")
    secret = secrets.create_secret(Name=f"{vault.table_name}/{run_id}/key", SecretString="x")
    return finish_run(
        context,
        secrets,
        aws.client("sns"),
        run_id=run_id,
        finished=finished,
        topic_arn="",
        key_secret_arn=secret["ARN"],
    )


def test_days_since_new_data_grow_over_runs_that_publish_nothing(aws: Aws, vault: Vault) -> None:
    # Given a first run that publishes two files
    first = run(aws, vault, "run-1", FIRST, published=2)
    assert first["new_data"] == {"last": FIRST.isoformat(), "days_since": 0.0}
    # When the next two weekly runs publish nothing
    run(aws, vault, "run-2", FIRST + dt.timedelta(days=7), published=0)
    third = run(aws, vault, "run-3", FIRST + dt.timedelta(days=14), published=0)
    # Then the third run counts 14 days since the first run's files, and says so in its report
    assert third["new_data"] == {"last": FIRST.isoformat(), "days_since": 14.0}
    stored = vault.s3.get_object(Bucket=vault.target.bucket, Key="reports/run-3.json")
    assert json.loads(stored["Body"].read())["new_data"]["days_since"] == 14.0
    # And a run that publishes again starts over
    fourth = run(aws, vault, "run-4", FIRST + dt.timedelta(days=21), published=1)
    assert fourth["new_data"]["days_since"] == 0.0
    state = vault.s3.get_object(Bucket=vault.target.bucket, Key=NEW_DATA_STATE_KEY)
    assert json.loads(state["Body"].read()) == {"last": (FIRST + dt.timedelta(days=21)).isoformat()}
