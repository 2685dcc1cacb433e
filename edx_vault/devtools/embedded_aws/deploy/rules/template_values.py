"""What the rules read: a stack's template, and the values in it known before deployment.

:class:`TemplateContext` lists the resources of given types and resolves a value to what it
will be deployed as when that is known without deploying: a literal, the pseudo parameters
(account, region, partition, URL suffix, stack name), and ``Fn::Join`` and ``Fn::Sub`` of them.
Anything else (a ``Ref`` to a resource, an import from another stack) is ``None``: the rules
skip it rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

# The resource types the rules read (the Lambda ones are in deploy.assets).
ALARM_TYPE: Final = "AWS::CloudWatch::Alarm"
BUCKET_TYPE: Final = "AWS::S3::Bucket"
TOPIC_TYPE: Final = "AWS::SNS::Topic"
TOPIC_POLICY_TYPE: Final = "AWS::SNS::TopicPolicy"
KEY_TYPE: Final = "AWS::KMS::Key"
ROLE_TYPE: Final = "AWS::IAM::Role"
POLICY_TYPE: Final = "AWS::IAM::Policy"
MANAGED_POLICY_TYPE: Final = "AWS::IAM::ManagedPolicy"
RULE_TYPE: Final = "AWS::Events::Rule"


@dataclass(frozen=True)
class TemplateContext:
    """One stack's template, and the values in it that are known before deployment."""

    template: Mapping[str, Any]
    stack: str
    account: str
    region: str
    partition: str
    assembly_dir: Path | None

    def resources(self, *types: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """(logical id, type, properties) of each resource of the given types."""
        for logical_id, resource in self.template.get("Resources", {}).items():
            kind = str(resource.get("Type", ""))
            if kind in types:
                yield logical_id, kind, resource.get("Properties") or {}

    def resource(self, logical_id: str) -> Mapping[str, Any] | None:
        found: Mapping[str, Any] | None = self.template.get("Resources", {}).get(logical_id)
        return found

    def literal(self, value: Any) -> str | None:
        """A string value as it will be deployed, or ``None`` when only the deployment knows it.

        Resolves plain strings, the pseudo parameters ``AWS::AccountId``, ``AWS::Region``,
        ``AWS::Partition``, ``AWS::URLSuffix`` and ``AWS::StackName``, ``Fn::Join`` of such
        values and ``Fn::Sub`` of a string naming only them.
        """
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, Mapping) or len(value) != 1:
            return None
        [(name, argument)] = value.items()
        if name == "Ref":
            return self._pseudo.get(str(argument))
        if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            if not isinstance(separator, str) or not isinstance(parts, list):
                return None
            resolved = [self.literal(part) for part in parts]
            if any(part is None for part in resolved):
                return None
            return separator.join(part for part in resolved if part is not None)
        if name == "Fn::Sub" and isinstance(argument, str):
            names = re.findall(r"\$\{([^}!]+)\}", argument)
            if any(found not in self._pseudo for found in names):
                return None
            for found in names:
                argument = argument.replace(f"${{{found}}}", self._pseudo[found])
            return argument
        return None

    @property
    def _pseudo(self) -> Mapping[str, str]:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack,
        }

    def number(self, value: Any) -> int | None:
        """An integer property (CloudFormation also accepts numeric strings)."""
        text = self.literal(value)
        if text is None:
            return None
        try:
            return int(float(text)) if float(text).is_integer() else None
        except ValueError:
            return None
