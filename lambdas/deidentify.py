"""De-identify step: plan the de-identified tier's due copies (one task), or make one Distributed
Map iteration's copies (a batch of published files)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.pipeline import lambda_runtime, lambda_secrets
from edx_vault.pipeline.deidentify_items import DeidentifyPlanEvent, parse_event
from edx_vault.pipeline.deidentify_report import FAILED_COPIES_METRIC
from edx_vault.pipeline.steps.deidentify import deidentify_batch, plan_deidentified, plan_failed
from edx_vault.settings.secret_formats import SecretNotSetError

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = parse_event(event)
    run_context = lambda_runtime.run_context()
    with lambda_runtime.aws_errors_classified():
        if isinstance(parsed, DeidentifyPlanEvent):
            try:
                key = lambda_secrets.pseudonym_key()
            except SecretNotSetError as error:
                # Recorded for the run report (which names the command that fills it), then
                # the task fails: the state machine skips the copies and goes on to report.
                plan_failed(run_context, parsed.run_id, code="secret-not-set", reason=str(error))
                raise
            result = plan_deidentified(run_context, parsed.run_id, key_created=key.created)
            logger.info("deidentify plan", extra={"run_id": parsed.run_id, **result})
            return result
        batch = parsed.item
        key = lambda_secrets.pseudonym_key()
        result = deidentify_batch(
            run_context, batch, Pseudonymizer(key.key_bytes), key_created=key.created
        )
    # Copies that failed for good (the run report names them; a batch that leaves no result
    # is counted there, as a failure of the run, and in FailedItems).
    metrics.add_metric(
        name=FAILED_COPIES_METRIC, unit=MetricUnit.Count, value=result.get("failed", 0)
    )
    logger.info("deidentify", extra={"first_key": batch.items[0].key, **result})
    return result
