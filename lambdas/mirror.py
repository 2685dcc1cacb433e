"""Mirror step (one Distributed Map item, a batch of objects): copy each into raw/, list units."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.pipeline_run import mirror_item

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = lambda_runtime.event_item(event)
    with lambda_runtime.aws_errors_classified():
        edx_s3 = lambda_runtime.edx_s3()
        result = mirror_item(lambda_runtime.run_context(), edx_s3, item)
    first = item["items"][0] if item.get("items") else item
    logger.info("mirrored", extra={"first_source_key": first.get("source_key"), **result})
    return result
