"""What a deploy-time rule reports: one :class:`Violation` per rule broken."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One deploy-time rule a template breaks.

    Attributes
    ----------
    logical_id
        The resource (``(template)`` for the template as a whole).
    resource_type
        Its CloudFormation type (empty for the template).
    property
        The property, e.g. ``EvaluationPeriods`` or ``Environment.Variables``.
    value
        The value the template gives it, as shown to people.
    rule
        The rule and its limit, in AWS's words where AWS words it.
    """

    logical_id: str
    resource_type: str
    property: str
    value: str
    rule: str

    def describe(self) -> str:
        """One line: ``LogicalId (Type) Property = value: rule``."""
        where = f"{self.logical_id} ({self.resource_type})" if self.resource_type else "template"
        what = f" {self.property} = {self.value}" if self.property else ""
        return f"{where}{what}: {self.rule}"

    def __str__(self) -> str:
        return self.describe()
