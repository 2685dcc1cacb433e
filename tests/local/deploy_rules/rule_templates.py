"""Small templates for the rule tests, and the rules run on them as one stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edx_vault.devtools.embedded_aws.deploy.rules.check import template_violations
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "Rules-Test"


def violations(template: dict[str, Any], assembly_dir: Path | None = None) -> list[Violation]:
    return template_violations(
        template, stack_name=STACK, account=ACCOUNT, region=REGION, assembly_dir=assembly_dir
    )


def messages(template: dict[str, Any], assembly_dir: Path | None = None) -> list[str]:
    return [str(v) for v in violations(template, assembly_dir)]


def resource(kind: str, **properties: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": properties}


def one(kind: str, **properties: Any) -> dict[str, Any]:
    """A template with one resource, logical id ``Thing``."""
    return {"Resources": {"Thing": resource(kind, **properties)}}


def alarm(**changes: Any) -> dict[str, Any]:
    properties = {
        "MetricName": "PublishedFiles",
        "Namespace": "EdxVault",
        "Statistic": "Sum",
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "Period": 86400,
        "EvaluationPeriods": 7,
        **changes,
    }
    return {"Resources": {"NoNewData": resource("AWS::CloudWatch::Alarm", **properties)}}
