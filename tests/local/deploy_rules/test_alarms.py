"""CloudWatch alarms: the periods and windows PutMetricAlarm accepts."""

from __future__ import annotations

import pytest

from tests.local.deploy_rules.rule_templates import alarm, messages, violations


def test_an_alarm_looking_back_seven_days_passes() -> None:
    # Given 7 periods of one day (604,800 s) / Then it is accepted
    assert violations(alarm()) == []


def test_an_alarm_looking_back_more_than_seven_days_is_refused() -> None:
    # Given 9 periods of one day (777,600 s), as the NoNewData alarm had
    # When checked
    [problem] = messages(alarm(EvaluationPeriods=9))
    # Then PutMetricAlarm's rule is named with the alarm, the values and the limit
    assert problem.startswith("NoNewData (AWS::CloudWatch::Alarm) Period = 86400")
    assert "EvaluationPeriods 9 = 777,600 s" in problem
    assert "can't be more than 604,800 seconds" in problem


def test_a_short_period_alarm_looking_back_one_day_passes() -> None:
    # Given 288 periods of five minutes (86,400 s) / Then it is accepted
    assert violations(alarm(Period=300, EvaluationPeriods=288)) == []


def test_a_short_period_alarm_looking_back_more_than_one_day_is_refused() -> None:
    # Given 289 periods of five minutes: under seven days, but over the one-day limit for
    # periods under an hour
    [problem] = messages(alarm(Period=300, EvaluationPeriods=289))
    # Then the short-period rule is named
    assert "period of less than one hour" in problem
    assert "one day (86,400 seconds)" in problem


@pytest.mark.parametrize("period", [10, 20, 30, 60, 3600])
def test_valid_periods_pass(period: int) -> None:
    # Given a period of 10, 20, 30 or a multiple of 60 / Then it is accepted
    assert violations(alarm(Period=period, EvaluationPeriods=1)) == []


@pytest.mark.parametrize("period", [45, 90, 0])
def test_other_periods_are_refused(period: int) -> None:
    # Given a period that is neither 10, 20, 30 nor a multiple of 60
    [problem] = messages(alarm(Period=period, EvaluationPeriods=1))
    # Then PutMetricAlarm's list of valid values is given
    assert f"Period = {period}" in problem
    assert "valid values are 10, 20, 30, and any multiple of 60" in problem


def test_the_periods_of_a_metric_math_alarm_are_checked() -> None:
    # Given a metric math alarm whose metric has a one-day period, over 8 evaluation periods
    template = alarm(EvaluationPeriods=8)
    properties = template["Resources"]["NoNewData"]["Properties"]
    for key in ("MetricName", "Namespace", "Statistic", "Period"):
        properties.pop(key)
    stat = {"Metric": {"MetricName": "M", "Namespace": "N"}, "Period": 86400, "Stat": "Sum"}
    properties["Metrics"] = [{"Id": "m1", "MetricStat": stat}]
    # When checked / Then the window rule names the metric's period
    [problem] = messages(template)
    assert "Metrics[0].MetricStat.Period = 86400 x EvaluationPeriods 8" in problem


def test_datapoints_to_alarm_up_to_the_evaluation_periods_passes() -> None:
    # Given 3 of 3 / Then it is accepted
    assert violations(alarm(EvaluationPeriods=3, DatapointsToAlarm=3)) == []


def test_more_datapoints_to_alarm_than_evaluation_periods_is_refused() -> None:
    # Given 4 of 3
    [problem] = messages(alarm(EvaluationPeriods=3, DatapointsToAlarm=4))
    # Then the M out of N rule is named
    assert "DatapointsToAlarm = 4 (EvaluationPeriods 3)" in problem
    assert "cannot exceed EvaluationPeriods" in problem
