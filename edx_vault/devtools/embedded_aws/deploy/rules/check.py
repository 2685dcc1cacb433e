"""Every deploy-time rule, on one template: :func:`template_violations`.

The rules themselves are one module per family (see :mod:`edx_vault.devtools.embedded_aws.deploy.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deploy.rules.alarms import alarm_violations
from edx_vault.devtools.embedded_aws.deploy.rules.lambda_functions import (
    import_violations,
    lambda_violations,
)
from edx_vault.devtools.embedded_aws.deploy.rules.names import bucket_violations, iam_violations
from edx_vault.devtools.embedded_aws.deploy.rules.state_machines import state_machine_violations
from edx_vault.devtools.embedded_aws.deploy.rules.template_values import TemplateContext
from edx_vault.devtools.embedded_aws.deploy.rules.topic_publishers import topic_violations
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

# CloudFormation User Guide, "Working with CloudFormation templates": "the only required section
# is the Resources section, which must declare at least one resource"; CreateStack answers a
# template without one with this message.
NO_RESOURCES: Final = "Template format error: At least one Resources member must be defined."


def template_violations(
    template: Mapping[str, Any],
    *,
    stack_name: str,
    account: str,
    region: str,
    assembly_dir: Path | None = None,
    partition: str = "aws",
) -> list[Violation]:
    """Every deploy-time rule the template breaks, in template order per rule.

    Parameters
    ----------
    template
        The parsed template.
    stack_name, account, region
        The stack it is deployed as (resolves ``AWS::StackName``, ``AWS::AccountId`` and
        ``AWS::Region`` in names and policies).
    assembly_dir
        The cloud assembly holding the template's assets; without it, Lambda code sizes are not
        checked.
    partition
        The AWS partition.
    """
    resources: Mapping[str, Any] = template.get("Resources") or {}
    if not resources:
        return [Violation("(template)", "", "Resources", "{}", NO_RESOURCES)]
    context = TemplateContext(template, stack_name, account, region, partition, assembly_dir)
    violations: list[Violation] = []
    violations += alarm_violations(context)
    violations += bucket_violations(context)
    violations += iam_violations(context)
    violations += lambda_violations(context)
    violations += import_violations(context)
    violations += topic_violations(context)
    violations += state_machine_violations(template)
    return violations
