"""CloudWatch alarms: the periods PutMetricAlarm accepts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.rules.template_values import ALARM_TYPE, TemplateContext
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

# CloudWatch API Reference, PutMetricAlarm, Period and EvaluationPeriods:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
ALARM_PERIOD_RULE: Final = "PutMetricAlarm: valid values are 10, 20, 30, and any multiple of 60"
ALARM_MAX_WINDOW_SECONDS: Final = 7 * 86_400
ALARM_MAX_SHORT_PERIOD_WINDOW_SECONDS: Final = 86_400
ALARM_SHORT_PERIOD_SECONDS: Final = 3_600
ALARM_WINDOW_RULE: Final = (
    "PutMetricAlarm: an alarm's total current evaluation period can be no longer than seven "
    "days, so Period multiplied by EvaluationPeriods can't be more than 604,800 seconds"
)
ALARM_SHORT_WINDOW_RULE: Final = (
    "PutMetricAlarm: for alarms with a period of less than one hour (3,600 seconds), the total "
    "evaluation period can't be longer than one day (86,400 seconds)"
)
# CloudWatch User Guide, "Alarm evaluation": DatapointsToAlarm is the M of "M out of N", the
# number of the EvaluationPeriods (N) most recent data points that must be breaching.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
ALARM_DATAPOINTS_RULE: Final = (
    "PutMetricAlarm: DatapointsToAlarm is the M of an 'M out of N' alarm and cannot exceed "
    "EvaluationPeriods (N)"
)


def _alarm_periods(
    context: TemplateContext, properties: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    """(property path, value) of every period of an alarm: its own, or its metrics'."""
    periods: list[tuple[str, Any]] = []
    if "Period" in properties:
        periods.append(("Period", properties["Period"]))
    for index, query in enumerate(properties.get("Metrics") or []):
        if not isinstance(query, Mapping):
            continue
        if "Period" in query:
            periods.append((f"Metrics[{index}].Period", query["Period"]))
        stat = query.get("MetricStat")
        if isinstance(stat, Mapping) and "Period" in stat:
            periods.append((f"Metrics[{index}].MetricStat.Period", stat["Period"]))
    return periods


def alarm_violations(context: TemplateContext) -> Iterator[Violation]:
    for logical_id, kind, properties in context.resources(ALARM_TYPE):
        evaluation_periods = context.number(properties.get("EvaluationPeriods"))
        for where, raw in _alarm_periods(context, properties):
            period = context.number(raw)
            if period is None:
                continue
            if period not in (10, 20, 30) and (period <= 0 or period % 60):
                yield Violation(logical_id, kind, where, str(period), ALARM_PERIOD_RULE)
                continue
            if evaluation_periods is None:
                continue
            window = period * evaluation_periods
            shown = f"{period} x EvaluationPeriods {evaluation_periods} = {window:,} s"
            if period < ALARM_SHORT_PERIOD_SECONDS and window > (
                ALARM_MAX_SHORT_PERIOD_WINDOW_SECONDS
            ):
                yield Violation(logical_id, kind, where, shown, ALARM_SHORT_WINDOW_RULE)
            elif window > ALARM_MAX_WINDOW_SECONDS:
                yield Violation(logical_id, kind, where, shown, ALARM_WINDOW_RULE)
        datapoints = context.number(properties.get("DatapointsToAlarm"))
        if (
            datapoints is not None
            and evaluation_periods is not None
            and datapoints > evaluation_periods
        ):
            yield Violation(
                logical_id,
                kind,
                "DatapointsToAlarm",
                f"{datapoints} (EvaluationPeriods {evaluation_periods})",
                ALARM_DATAPOINTS_RULE,
            )
