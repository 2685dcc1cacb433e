"""Plan step: list edX's files, compare with the manifest, write the mirror work list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.engine.errors import EdxCredentialsRejectedError
from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.pipeline_run import start_run

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = dt.datetime.fromisoformat(event["start_time"].replace("Z", "+00:00"))
    retry_failed = bool((event.get("input") or {}).get("retry_failed", False))
    try:
        with lambda_runtime.aws_errors_classified():
            edx_s3 = lambda_runtime.edx_s3()
            planned = start_run(
                lambda_runtime.run_context(),
                edx_s3,
                run_id=event["execution_name"],
                started=started,
                retry_failed=retry_failed,
            )
    except EdxCredentialsRejectedError:
        metrics.add_metric(name="EdxCredentialsRejected", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="EdxCredentialsRejected", unit=MetricUnit.Count, value=0)
    metrics.add_metric(name="PlannedFiles", unit=MetricUnit.Count, value=planned["planned"])
    logger.info("planned", extra={"run_id": planned["run_id"], "planned": planned["planned"]})
    return planned
