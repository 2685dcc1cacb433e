"""Report step: check every item's result, write reports/{run}.json, notify, emit metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from edx_vault.pipeline import lambda_runtime
from edx_vault.pipeline.new_data import DAYS_SINCE_NEW_DATA_METRIC
from edx_vault.pipeline.run_report import published_count
from edx_vault.pipeline.steps.report import finish_run
from edx_vault.pipeline.work_items import RunEvent
from edx_vault.settings.pipeline_settings import UNEXPECTED_READERS_METRIC, UNPARSED_LINES_METRIC

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=RunEvent)
def handler(event: RunEvent, context: LambdaContext) -> dict[str, Any]:
    settings = lambda_runtime.settings()
    with lambda_runtime.aws_errors_classified():
        report = finish_run(
            lambda_runtime.run_context(),
            boto3.client("secretsmanager"),
            boto3.client("sns"),
            run_id=event.run_id,
            finished=dt.datetime.now(dt.UTC),
            topic_arn=settings.alerts_topic_arn,
            key_secret_arn=settings.pipeline_key_secret_arn,
        )
    published = published_count(report)
    metrics.add_metric(name="FailedItems", unit=MetricUnit.Count, value=len(report["failures"]))
    metrics.add_metric(name="PublishedFiles", unit=MetricUnit.Count, value=published)
    metrics.add_metric(
        name="PublishedBytes",
        unit=MetricUnit.Bytes,
        value=sum(totals["bytes"] for totals in report["files"].values()),
    )
    metrics.add_metric(name="MissingFiles", unit=MetricUnit.Count, value=len(report["missing"]))
    split = report["course_split"]
    metrics.add_metric(name="CourseFiles", unit=MetricUnit.Count, value=split["course_files"])
    metrics.add_metric(name="UnassignedEvents", unit=MetricUnit.Count, value=split["unassigned"])
    # The UnparsedEventLines alarm's metric: lines of a log that are not JSON events reach only
    # whole-org grants (events-by-course/.../course=_unparsed), never a course's researchers.
    metrics.add_metric(name=UNPARSED_LINES_METRIC, unit=MetricUnit.Count, value=split["unparsed"])
    if "audit" in report:  # the UnexpectedReaders alarm's metric (the week's read audit)
        metrics.add_metric(
            name=UNEXPECTED_READERS_METRIC,
            unit=MetricUnit.Count,
            value=report["audit"]["unexpected_reader_count"],
        )
    # The NoNewData alarm's gauge: days since a run last published something.
    metrics.add_metric(
        name=DAYS_SINCE_NEW_DATA_METRIC,
        unit=MetricUnit.Count,
        value=report["new_data"]["days_since"],
    )
    # No data point when the expiry is unknown (a malformed tag, see key_metadata): 0 would
    # raise PipelineKeyExpiring with "run keygen --rotate", a rotation edX has to act on, for
    # what is a bad tag; any other number would be made up. The run's email carries a WARNING
    # with the reason instead. The alarm treats missing data as not breaching.
    if report["key_expiry"] and report["key_expiry"]["days_left"] is not None:
        metrics.add_metric(
            name="PipelineKeyDaysLeft",
            unit=MetricUnit.Count,
            value=report["key_expiry"]["days_left"],
        )
    logger.info("reported", extra={"run_id": report["run_id"], "status": report["status"]})
    return {
        "run_id": report["run_id"],
        "status": report["status"],
        "failed": len(report["failures"]),
        "published": published,
    }
