"""Split step (one Distributed Map item, a batch of event logs): split each log by course."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.steps.split import split_batch
from edx_vault.pipeline.work_items import SplitEvent

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = parse(event=event, model=SplitEvent).item
    with lambda_runtime.aws_errors_classified():
        result = split_batch(lambda_runtime.run_context(), batch)
    logger.info("split", extra={"first_source_key": batch.items[0].source_key, **result})
    return result
