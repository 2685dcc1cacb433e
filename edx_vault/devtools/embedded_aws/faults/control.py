"""The running server's fault rules, over HTTP: ``PUT`` replaces them, ``GET`` shows how often
each fired (:func:`serve_control` in the server, :func:`set_faults` and :func:`fired` for
tests and tools).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from edx_vault.devtools.embedded_aws.aws_responses import read_body
from edx_vault.devtools.embedded_aws.faults.rules import FaultRule, FaultRuleError, rules_from_list

CONTROL_PATH: Final = "/_edx_vault/faults"


class RuleHolder(Protocol):
    """What the control endpoint changes and reports (the fault injector)."""

    def replace(self, rules: Sequence[FaultRule]) -> None: ...

    def snapshot(self) -> list[dict[str, Any]]: ...


def serve_control(
    holder: RuleHolder, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    """Answer a request to :data:`CONTROL_PATH`: the rules with their counts, after a ``PUT``
    replaced them (``400`` with the error when the new rules are malformed)."""
    if environ.get("REQUEST_METHOD") == "PUT":
        try:
            holder.replace(rules_from_list(json.loads(read_body(environ) or b"[]")))
        except (ValueError, FaultRuleError) as error:
            body = json.dumps({"error": str(error)}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [body]
    body = json.dumps(holder.snapshot()).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def set_faults(endpoint: str, rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Replace a running server's rules (``[]`` clears them); return them with their counts."""
    import requests

    response = requests.put(f"{endpoint}{CONTROL_PATH}", json=list(rules), timeout=10)
    if response.status_code != 200:
        raise FaultRuleError(response.json().get("error", response.text))
    result: list[dict[str, Any]] = response.json()
    return result


def fired(endpoint: str) -> list[dict[str, Any]]:
    """A running server's rules and how many calls each hit."""
    import requests

    result: list[dict[str, Any]] = requests.get(f"{endpoint}{CONTROL_PATH}", timeout=10).json()
    return result
