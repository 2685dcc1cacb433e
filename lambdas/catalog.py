"""UpdateCatalog step: the SELECT * tables of the research catalog, from the newest headers."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.steps.catalog import update_run_catalog
from edx_vault.pipeline.work_items import RunEvent

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunEvent)
def handler(event: RunEvent, context: LambdaContext) -> dict[str, Any]:
    with lambda_runtime.aws_errors_classified():
        counts = update_run_catalog(
            lambda_runtime.run_context(), boto3.client("glue"), run_id=event.run_id
        )
    # Counts only: table names and columns are in the run's catalog.json, and a header line,
    # plaintext of a learner-data file, is never logged.
    logger.info("catalog", extra={"run_id": event.run_id, **counts})
    return counts
