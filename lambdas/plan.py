"""Plan step: list edX's files, compare with the manifest, write the mirror work list."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.engine.errors import EdxCredentialsRejectedError
from edx_vault.pipeline import lambda_runtime, lambda_secrets
from edx_vault.pipeline.steps.plan import start_run
from edx_vault.pipeline.work_items import PlanEvent

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=PlanEvent)
def handler(event: PlanEvent, context: LambdaContext) -> dict[str, Any]:
    try:
        with lambda_runtime.aws_errors_classified():
            edx_s3 = lambda_secrets.edx_s3(event.execution_name)
            planned = start_run(
                lambda_runtime.run_context(),
                edx_s3,
                run_id=event.execution_name,
                started=event.start_time,
                retry_failed=event.retry_failed,
            )
    except EdxCredentialsRejectedError:
        metrics.add_metric(name="EdxCredentialsRejected", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="EdxCredentialsRejected", unit=MetricUnit.Count, value=0)
    metrics.add_metric(name="PlannedFiles", unit=MetricUnit.Count, value=planned["planned"])
    logger.info("planned", extra={"run_id": planned["run_id"], "planned": planned["planned"]})
    return planned
