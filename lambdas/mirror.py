"""Mirror step (one Distributed Map item, a batch of objects): copy each into raw/, list units."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.pipeline import lambda_runtime, lambda_secrets
from edx_vault.pipeline.steps.mirror import mirror_batch
from edx_vault.pipeline.work_items import MirrorEvent

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=MirrorEvent)
def handler(event: MirrorEvent, context: LambdaContext) -> dict[str, Any]:
    with lambda_runtime.aws_errors_classified():
        edx_s3 = lambda_secrets.edx_s3(event.item.run_id)
        result = mirror_batch(lambda_runtime.run_context(), edx_s3, event.item)
    logger.info("mirrored", extra={"first_source_key": event.item.items[0].source_key, **result})
    return result
