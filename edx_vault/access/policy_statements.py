"""IAM policy documents read into :class:`Statement` objects, every element normalised to a tuple
of strings, so that :mod:`edx_vault.access.policy_evaluator` never looks at raw JSON.

What this model of IAM does not cover is refused here or in the evaluator with
:class:`UnsupportedPolicyError`, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]


class UnsupportedPolicyError(ValueError):
    """A policy uses something this evaluator does not model: refuse rather than guess."""


@dataclass(frozen=True)
class Statement:
    """One policy statement, normalised: every element a tuple of strings.

    Attributes
    ----------
    effect
        ``Allow`` or ``Deny``.
    actions, not_actions, resources, not_resources
        Exactly one of each pair is set (``resources`` may be empty in trust policies).
    principals, not_principals
        ``{"AWS": (...), "Federated": (...), "Service": (...)}``; ``{"*": ("*",)}`` for
        ``"Principal": "*"``. ``None`` in identity policies.
    conditions
        ``{operator: {key: values}}``.
    sid
        The statement's ``Sid``, if any.
    source
        Which policy it came from (e.g. ``identity:ReadPolicy``, ``bucket``, ``key``).
    """

    effect: Effect
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: Mapping[str, tuple[str, ...]] | None = None
    not_principals: Mapping[str, tuple[str, ...]] | None = None
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    sid: str | None = None
    source: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, source: str = "") -> Statement:
        """Read one statement of a policy document (intrinsics already resolved).

        Raises
        ------
        UnsupportedPolicyError
            For a malformed statement or one using an element this evaluator does not model.
        """
        known = {
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        }
        unknown = set(data) - known
        if unknown:
            raise UnsupportedPolicyError(f"statement has unknown elements {sorted(unknown)}")
        effect = data.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"statement effect {effect!r} is not Allow or Deny")
        if ("Action" in data) == ("NotAction" in data):
            raise UnsupportedPolicyError("a statement needs exactly one of Action and NotAction")
        if "Resource" in data and "NotResource" in data:
            raise UnsupportedPolicyError("a statement cannot have both Resource and NotResource")
        conditions = {
            operator: {
                key: _strings(values, f"condition {operator} {key}")
                for key, values in dict(block).items()
            }
            for operator, block in dict(data.get("Condition", {})).items()
        }
        return cls(
            effect=effect,
            actions=_optional_strings(data, "Action"),
            not_actions=_optional_strings(data, "NotAction"),
            resources=_optional_strings(data, "Resource"),
            not_resources=_optional_strings(data, "NotResource"),
            principals=_principal_element(data.get("Principal")),
            not_principals=_principal_element(data.get("NotPrincipal")),
            conditions=conditions,
            sid=data.get("Sid"),
            source=source,
        )

    @property
    def label(self) -> str:
        """How explanations name the statement: ``source/Sid``."""
        return f"{self.source}/{self.sid or '(no Sid)'}"


def statements_of(document: Mapping[str, Any], *, source: str) -> tuple[Statement, ...]:
    """The statements of a policy document (``{"Version": ..., "Statement": [...]}``)."""
    raw = document.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    return tuple(Statement.from_json(item, source=source) for item in items)


def policy_statements(
    document: str | bytes | Mapping[str, Any], *, source: str
) -> tuple[Statement, ...]:
    """:func:`statements_of` a policy document kept as JSON text (as moto keeps them: ``str``,
    or ``bytes`` for a bucket policy) or decoded.

    The strict embedded AWS reads the policies that bear on every request it judges; each text
    is parsed once (per ``source``), and an edited policy is a new text.
    """
    if isinstance(document, str | bytes):
        return _statements_of_text(document, source)
    return statements_of(document, source=source)


@lru_cache(maxsize=1024)
def _statements_of_text(text: str | bytes, source: str) -> tuple[Statement, ...]:
    return statements_of(json.loads(text), source=source)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    result: list[str] = []
    for item in items:
        if isinstance(item, bool):
            result.append("true" if item else "false")
        elif isinstance(item, int | float):
            result.append(str(item))
        elif isinstance(item, str):
            result.append(item)
        else:
            raise UnsupportedPolicyError(
                f"{what}: {item!r} is not a string (unresolved CloudFormation intrinsic?)"
            )
    return tuple(result)


def _optional_strings(data: Mapping[str, Any], element: str) -> tuple[str, ...] | None:
    return _strings(data[element], element) if element in data else None


def _principal_element(value: Any) -> Mapping[str, tuple[str, ...]] | None:
    if value is None:
        return None
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, Mapping):
        raise UnsupportedPolicyError(f"principal {value!r} is not '*' or a mapping")
    return {kind: _strings(values, f"principal {kind}") for kind, values in value.items()}
