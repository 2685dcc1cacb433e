"""IAM's condition operators, one table of operator -> comparison (:data:`_COMPARISONS`).

A condition block holds if every key in it holds; a key holds if any of the policy's values
matches the request's value (OR; for a negated operator such as ``StringNotEquals``, if none
does). ``...IfExists`` makes a missing key true; ``ForAnyValue:`` and ``ForAllValues:`` say how
a key with several values in the request is judged. A key missing from the request makes a
positive operator false and a negated one true, as AWS documents. ``Null`` checks presence.

Refused rather than guessed (:class:`~edx_vault.access.policy_statements.UnsupportedPolicyError`):
the IP address and binary operators, and any value that is not the operator's type.
"""

from __future__ import annotations

import datetime as dt
import operator as compare
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from edx_vault.access.iam_wildcards import matches_glob
from edx_vault.access.policy_statements import UnsupportedPolicyError

# (policy value, request value) -> whether they match.
Comparison = Callable[[str, str], bool]
Qualifier = Literal["", "ForAnyValue", "ForAllValues"]


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: the six colon-separated parts are matched one by one (the last may hold ':')."""
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(matches_glob(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UnsupportedPolicyError(f"{text!r} is not a number") from None


def _date(text: str) -> dt.datetime:
    if re.fullmatch(r"\d+", text):
        return dt.datetime.fromtimestamp(int(text), dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UnsupportedPolicyError(f"{text!r} is not an ISO 8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _numeric(relation: Callable[[float, float], bool]) -> Comparison:
    """The request's number stands in ``relation`` to the policy's."""
    return lambda expected, actual: relation(_number(actual), _number(expected))


def _dated(relation: Callable[[dt.datetime, dt.datetime], bool]) -> Comparison:
    """The request's moment stands in ``relation`` to the policy's."""
    return lambda expected, actual: relation(_date(actual), _date(expected))


def _equals(expected: str, actual: str) -> bool:
    return expected == actual


def _equals_ignoring_case(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


# Every supported operator but Null: how one policy value is compared with one request value,
# and whether the operator is negated (it holds when no value matches).
_COMPARISONS: Final[Mapping[str, tuple[Comparison, bool]]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringEqualsIgnoreCase": (_equals_ignoring_case, False),
    "StringNotEqualsIgnoreCase": (_equals_ignoring_case, True),
    "StringLike": (matches_glob, False),
    "StringNotLike": (matches_glob, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "NumericEquals": (_numeric(compare.eq), False),
    "NumericNotEquals": (_numeric(compare.eq), True),
    "NumericLessThan": (_numeric(compare.lt), False),
    "NumericLessThanEquals": (_numeric(compare.le), False),
    "NumericGreaterThan": (_numeric(compare.gt), False),
    "NumericGreaterThanEquals": (_numeric(compare.ge), False),
    "DateEquals": (_dated(compare.eq), False),
    "DateNotEquals": (_dated(compare.eq), True),
    "DateLessThan": (_dated(compare.lt), False),
    "DateLessThanEquals": (_dated(compare.le), False),
    "DateGreaterThan": (_dated(compare.gt), False),
    "DateGreaterThanEquals": (_dated(compare.ge), False),
    "Bool": (_equals_ignoring_case, False),
}
_NULL: Final = "Null"


@dataclass(frozen=True)
class ConditionOperator:
    """One condition operator as a policy spells it, e.g. ``ForAnyValue:StringLikeIfExists``.

    Attributes
    ----------
    operator
        The spelling, for messages.
    qualifier
        ``ForAnyValue``, ``ForAllValues`` or ``""``.
    if_exists
        Whether a key missing from the request makes the condition true.
    negated
        Whether the condition holds when no policy value matches.
    comparison
        How a policy value is matched with a request value; ``None`` for ``Null``.
    """

    operator: str
    qualifier: Qualifier
    if_exists: bool
    negated: bool
    comparison: Comparison | None

    def holds(self, policy_values: tuple[str, ...], values: tuple[str, ...] | None) -> bool:
        """Whether the condition holds for a key's values in the request (``None``: absent)."""
        if self.comparison is None:
            return (values is None) == _policy_bool(policy_values, self.operator)
        if values is None:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            return self.negated and self.qualifier != "ForAnyValue"
        comparison = self.comparison

        def matches(value: str) -> bool:
            return any(comparison(expected, value) for expected in policy_values)

        if self.qualifier == "ForAllValues":
            return all(matches(v) != self.negated for v in values)
        if self.qualifier == "ForAnyValue":
            return any(matches(v) != self.negated for v in values)
        if self.negated:
            return not any(matches(v) for v in values)
        return any(matches(v) for v in values)


@cache
def condition_operator(operator: str) -> ConditionOperator:
    """Read an operator's spelling: its set qualifier, ``IfExists`` and base operator.

    Raises
    ------
    UnsupportedPolicyError
        For an operator this model does not support.
    """
    qualifier, base = _split_qualifier(operator)
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base.removesuffix("IfExists")
    if base == _NULL:
        return ConditionOperator(operator, qualifier, if_exists, negated=False, comparison=None)
    if base not in _COMPARISONS:
        raise UnsupportedPolicyError(f"condition operator {operator!r} is not supported")
    comparison, negated = _COMPARISONS[base]
    return ConditionOperator(operator, qualifier, if_exists, negated, comparison)


def _split_qualifier(operator: str) -> tuple[Qualifier, str]:
    for qualifier in ("ForAnyValue", "ForAllValues"):
        if operator.startswith(f"{qualifier}:"):
            return qualifier, operator.split(":", 1)[1]
    return "", operator


def _policy_bool(values: tuple[str, ...], operator: str) -> bool:
    if len(values) != 1 or values[0].lower() not in ("true", "false"):
        raise UnsupportedPolicyError(f"{operator} takes 'true' or 'false', not {values}")
    return values[0].lower() == "true"
