"""Fault injection in the embedded AWS: make chosen calls fail as AWS and networks fail.

The weekly sync runs with nobody watching, so every fault that is not edX's must heal by itself:
a transient one in the same run (Step Functions retries), a persistent one in the next run once
it is gone. To prove that through the real state machine, the server can answer matching
requests with an AWS error, or cut the connection in the middle of a response body.

Rules come from a TOML file (``edx-vault local up --faults FILE``), or are replaced while the
server runs (``PUT /_edx_vault/faults`` with the same rules as JSON; ``GET`` shows them with how
often each fired), which is how tests share one server::

    [[fault]]
    service = "s3"                 # the signing name: s3, kms, secretsmanager, dynamodb, states...
    operation = "GetObject"        # glob on the API operation
    resource = "*/raw/*"           # glob on "bucket/key" (S3), the table, secret, topic,
                                   # function or state machine the call names
    error = "SlowDown"             # answer with this AWS error code ...
    status = 503                   # ... and HTTP status
    times = 2                      # the first 2 matching calls; omit for every call

    [[fault]]
    service = "s3"
    operation = "GetObject"
    resource = "edx-course-data/*"
    action = "reset"               # pass the response on, then cut the connection
    after_bytes = 1024             # after this many body bytes

Rules are tried in order; the first that matches and has calls left fires. Requests the server
cannot name (unsigned, or an operation it does not model) are never faulted.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qs

from edx_vault.local_aws.api_requests import (
    UnmodelledRequestError,
    UnsignedRequestError,
    read_signature,
    s3_call,
    service_operation,
)
from edx_vault.local_aws.aws_responses import error_response, read_body, request_headers

CONTROL_PATH: Final = "/_edx_vault/faults"
Action = Literal["error", "reset"]
_ACTIONS: Final = ("error", "reset")
# Parameters that name what a JSON or query call acts on, in order of preference.
_RESOURCE_PARAMETERS: Final = (
    "TableName",
    "SecretId",
    "TopicArn",
    "stateMachineArn",
    "executionArn",
    "mapRunArn",
    "FunctionName",
    "KeyId",
    "RoleArn",
)


class FaultRuleError(ValueError):
    """A fault rule is malformed; the message names the rule and the field."""


@dataclass(frozen=True)
class FaultRule:
    """One kind of fault and the calls it hits.

    Attributes
    ----------
    service, operation, resource
        Globs on the signing name, the API operation and the resource (see the module doc).
    action
        ``error`` (answer with ``error``/``status``) or ``reset`` (cut the connection after
        ``after_bytes`` of the real response body).
    error, status, message
        The AWS error code, HTTP status and message of an ``error``.
    times
        How many matching calls it hits; ``None`` for every one.
    after_bytes
        For ``reset``: body bytes passed on before the connection is cut.
    """

    service: str
    operation: str = "*"
    resource: str = "*"
    action: Action = "error"
    error: str = "InternalError"
    status: int = 500
    message: str = "injected by the embedded AWS"
    times: int | None = None
    after_bytes: int = 0

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
        for name in ("service", "operation", "resource", "error", "message"):
            if name in values and not isinstance(values[name], str):
                raise FaultRuleError(f"{where}.{name}: a string, not {values[name]!r}")
        for name in ("status", "times", "after_bytes"):
            value = values.get(name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise FaultRuleError(f"{where}.{name}: a whole number >= 0, not {value!r}")
        if values.get("action", "error") not in _ACTIONS:
            raise FaultRuleError(f"{where}.action: one of {list(_ACTIONS)}")
        return cls(**values)

    def matches(self, service: str, operation: str, resource: str) -> bool:
        """Whether a call is one this rule is about (calls left are counted elsewhere)."""
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(operation, self.operation)
            and fnmatch.fnmatchcase(resource, self.resource)
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


@dataclass
class _Armed:
    rule: FaultRule
    fired: int = 0

    def left(self) -> bool:
        return self.rule.times is None or self.fired < self.rule.times


@dataclass
class FaultInjector:
    """Holds the rules and counts what fired; :meth:`wsgi` applies them (thread-safe)."""

    _armed: list[_Armed] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def replace(self, rules: Sequence[FaultRule]) -> None:
        """Use these rules from now on, with fresh counts."""
        with self._lock:
            self._armed = [_Armed(rule) for rule in rules]

    def snapshot(self) -> list[dict[str, Any]]:
        """Each rule with how many calls it hit."""
        with self._lock:
            return [{**asdict(armed.rule), "fired": armed.fired} for armed in self._armed]

    def take(self, service: str, operation: str, resource: str) -> FaultRule | None:
        """The rule a call fires, counted, or ``None``."""
        with self._lock:
            for armed in self._armed:
                if armed.left() and armed.rule.matches(service, operation, resource):
                    armed.fired += 1
                    return armed.rule
        return None

    def wsgi(self, application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """``application`` with the rules applied, and the control endpoint served."""

        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if environ.get("PATH_INFO", "") == CONTROL_PATH:
                return self._control(environ, start_response)
            named = _name(environ)
            rule = self.take(*named) if named is not None else None
            if rule is None:
                return application(environ, start_response)
            if rule.action == "error":
                return error_response(
                    environ,
                    start_response,
                    code=rule.error,
                    message=rule.message,
                    status=rule.status,
                )
            return _cut_after(application(environ, start_response), rule.after_bytes)

        return faulty

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        status = "200 OK"
        if environ.get("REQUEST_METHOD") == "PUT":
            try:
                self.replace(rules_from_list(json.loads(read_body(environ) or b"[]")))
            except (ValueError, FaultRuleError) as error:
                body = json.dumps({"error": str(error)}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [body]
        body = json.dumps(self.snapshot()).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [body]


def _name(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(service, operation, resource) of a request, or ``None`` when it cannot be named."""
    headers = request_headers(environ)
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    try:
        signature = read_signature(headers, query)
        method = environ.get("REQUEST_METHOD", "GET")
        path = (environ.get("RAW_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
        if signature.service == "s3":
            needs_body = method == "POST" and "delete" in query
            call = s3_call(method, path, query, headers, read_body(environ) if needs_body else None)
            resource = "/".join(part for part in (call.bucket, call.key) if part)
            return "s3", call.operation, resource
        operation, parameters = service_operation(
            signature, method, path, headers, query, read_body(environ)
        )
    except (UnsignedRequestError, UnmodelledRequestError):
        return None
    resource = next(
        (str(parameters[name]) for name in _RESOURCE_PARAMETERS if name in parameters), ""
    )
    return signature.service, operation, resource


def _cut_after(body: Iterable[bytes], after_bytes: int) -> Iterator[bytes]:
    """The response body up to ``after_bytes``, then a dropped connection (as a reset is)."""
    passed = 0
    for chunk in body:
        if passed + len(chunk) >= after_bytes:
            yield chunk[: max(0, after_bytes - passed)]
            break
        passed += len(chunk)
        yield chunk
    close = getattr(body, "close", None)
    if close is not None:
        close()
    raise ConnectionResetError("connection cut by the embedded AWS's fault injection")


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
