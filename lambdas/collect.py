"""Collect step: join the batches' hand-overs into the decrypt or the split work list."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.steps.collect import collect
from edx_vault.pipeline.work_items import RunEvent

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RunEvent)
def handler(event: RunEvent, context: LambdaContext) -> dict[str, Any]:
    with lambda_runtime.aws_errors_classified():
        return collect(lambda_runtime.run_context(), event.run_id, event.work_list)
