"""Fault rules: what each one hits and does, read from TOML or JSON with errors naming the field."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

Action = Literal["error", "reset", "crash"]
_ACTIONS: Final = ("error", "reset", "crash")


class FaultRuleError(ValueError):
    """A fault rule is malformed; the message names the rule and the field."""


@dataclass(frozen=True)
class FaultRule:
    """One kind of fault and the calls it hits.

    Attributes
    ----------
    service, operation, resource
        Globs on the signing name, the API operation and the resource (see the package doc,
        :mod:`edx_vault.devtools.embedded_aws.faults`).
    function
        Glob on the name of the Lambda function whose invocation makes the call; a call made
        by anyone else (the state machine, the CLI) matches only ``*``.
    action
        ``error`` (answer with ``error``/``status``), ``reset`` (cut the connection after
        ``after_bytes`` of the real response body) or ``crash`` (kill the invocation making
        the call, see the package doc).
    error, status, message
        The AWS error code, HTTP status and message of an ``error``.
    times
        How many matching calls it hits (for ``crash``: invocations it kills); ``None`` for
        every one.
    after_bytes
        For ``reset``: response body bytes passed on before the connection is cut. For
        ``crash``: request body bytes of matching calls an invocation sends before it dies.
    after_calls
        For ``crash``: matching calls an invocation makes unharmed before the bytes count.
    """

    service: str
    operation: str = "*"
    resource: str = "*"
    function: str = "*"
    action: Action = "error"
    error: str = "InternalError"
    status: int = 500
    message: str = "injected by the embedded AWS"
    times: int | None = None
    after_bytes: int = 0
    after_calls: int = 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> FaultRule:
        """Read one rule, reporting every problem by its field.

        Raises
        ------
        FaultRuleError
            When a field is unknown or has the wrong type or value.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultRuleError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
        if "service" not in data:
            raise FaultRuleError(f"{where}: 'service' is required (s3, kms, dynamodb...)")
        values = dict(data)
        for name in ("service", "operation", "resource", "function", "error", "message"):
            if name in values and not isinstance(values[name], str):
                raise FaultRuleError(f"{where}.{name}: a string, not {values[name]!r}")
        for name in ("status", "times", "after_bytes", "after_calls"):
            value = values.get(name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise FaultRuleError(f"{where}.{name}: a whole number >= 0, not {value!r}")
        action = values.get("action", "error")
        if action not in _ACTIONS:
            raise FaultRuleError(f"{where}.action: one of {list(_ACTIONS)}")
        if values.get("after_calls") and action != "crash":
            raise FaultRuleError(f"{where}.after_calls: only for action = 'crash'")
        return cls(**values)

    def matches(
        self, service: str, operation: str, resource: str, function: str | None = None
    ) -> bool:
        """Whether a call is one this rule is about (calls left are counted elsewhere).

        ``function`` names the Lambda function whose invocation makes the call (``None``:
        not a Lambda invocation); a ``crash`` needs one to kill.
        """
        if function is None and (self.action == "crash" or self.function != "*"):
            return False
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(operation, self.operation)
            and fnmatch.fnmatchcase(resource, self.resource)
            and (function is None or fnmatch.fnmatchcase(function, self.function))
        )


def rules_from_toml(path: Path) -> list[FaultRule]:
    """The ``[[fault]]`` rules of a TOML file.

    Raises
    ------
    FaultRuleError
        When the file is not TOML or a rule is malformed.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise FaultRuleError(f"{path}: {error}") from None
    return rules_from_list(document.get("fault", []), where=f"{path}: fault")


def rules_from_list(items: Any, *, where: str = "fault") -> list[FaultRule]:
    """Rules from a list of mappings (the JSON of ``PUT /_edx_vault/faults``)."""
    if not isinstance(items, list):
        raise FaultRuleError(f"{where}: a list of rules, not {type(items).__name__}")
    return [
        FaultRule.from_mapping(item, f"{where}[{index}]")
        if isinstance(item, Mapping)
        else _not_a_table(f"{where}[{index}]")
        for index, item in enumerate(items)
    ]


def _not_a_table(where: str) -> FaultRule:
    raise FaultRuleError(f"{where}: a table of fields")
