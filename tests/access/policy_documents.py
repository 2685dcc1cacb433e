"""Small hand-written policies and requests for the evaluator's tests."""

from __future__ import annotations

from typing import Any

from edx_vault.access.policy_evaluator import Request, evaluate
from edx_vault.access.policy_statements import Statement, statements_of

ROLE = "arn:aws:iam::111122223333:role/edx-vault/researcher/r1"
OBJECT = "arn:aws:s3:::bucket/events/org=mitx/site=edx/date=2025-03-01/f.log.gz"


def allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **fields}


def deny(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", **fields}


def identity(*statements: dict[str, Any]) -> tuple[Statement, ...]:
    return statements_of({"Statement": list(statements)}, source="identity")


def outcome(
    *statements: dict[str, Any],
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    principal: str = ROLE,
    **context: Any,
) -> str:
    request = Request(action=action, resource=resource, principal=principal, context=context)
    return evaluate(request, identity=identity(*statements)).outcome


def when(condition: dict[str, Any], **context: Any) -> str:
    """The outcome of one Allow statement with ``condition``, for a request with ``context``."""
    return outcome(allow(Condition=condition), **context)
