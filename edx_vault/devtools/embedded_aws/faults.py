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

    [[fault]]
    service = "s3"
    operation = "UploadPart"
    resource = "*/events/*"
    function = "*Decrypt*"         # glob on the name of the Lambda function making the call
    action = "crash"               # kill the invocation making the call ...
    after_bytes = 12582912         # ... once it has sent this many bytes of matching bodies
    times = 1                      # how many invocations to kill

Rules are tried in order; the first that matches and has calls left fires. Requests the server
cannot name (unsigned, or an operation it does not model) are never faulted.

A ``crash`` is a Lambda invocation dying as a killed process does: the call it dies in is not
executed, the invoke answers ``Runtime.ExitError`` (:mod:`edx_vault.devtools.embedded_aws.in_process_lambda`),
and every later request signed with the invocation's credentials is dropped unexecuted (the
connection closed), so no ``except`` or ``finally`` clean-up of the handler (an
AbortMultipartUpload, a manifest release) reaches AWS. It matches only calls made by a Lambda
invocation (each signs with credentials of its own). ``after_calls`` lets that many matching
calls of an invocation through first; ``after_bytes`` then lets that many bytes of matching
request bodies through, and the call that sends the last of them dies with it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import socket
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, NoReturn
from urllib.parse import parse_qs

from edx_vault.devtools.embedded_aws.api_requests import (
    Signature,
    UnmodelledRequestError,
    UnsignedRequestError,
    read_signature,
)
from edx_vault.devtools.embedded_aws.aws_responses import (
    error_response,
    read_body,
    read_call,
    request_headers,
)
from edx_vault.devtools.embedded_aws.in_process_lambda import (
    INVOCATIONS,
    InvocationRegistry,
    RunningInvocation,
)

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.faults")
CONTROL_PATH: Final = "/_edx_vault/faults"
Action = Literal["error", "reset", "crash"]
_ACTIONS: Final = ("error", "reset", "crash")
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
    function
        Glob on the name of the Lambda function whose invocation makes the call; a call made
        by anyone else (the state machine, the CLI) matches only ``*``.
    action
        ``error`` (answer with ``error``/``status``), ``reset`` (cut the connection after
        ``after_bytes`` of the real response body) or ``crash`` (kill the invocation making
        the call, see the module doc).
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


@dataclass
class _Progress:
    """How far one invocation has got towards a ``crash`` rule."""

    calls: int = 0
    body_bytes: int = 0


@dataclass
class _Armed:
    rule: FaultRule
    fired: int = 0
    # Per invocation (by request id), for a crash rule.
    progress: dict[str, _Progress] = field(default_factory=dict)

    def left(self) -> bool:
        return self.rule.times is None or self.fired < self.rule.times

    def crash_now(self, caller: RunningInvocation, body_bytes: int) -> int | None:
        """For a call of ``caller`` matching this crash rule: ``None`` if it goes through, else
        how many bytes of its body are sent before the invocation dies."""
        progress = self.progress.setdefault(caller.request_id, _Progress())
        if progress.calls < self.rule.after_calls:
            progress.calls += 1
            return None
        budget = self.rule.after_bytes - progress.body_bytes
        if body_bytes < budget:
            progress.body_bytes += body_bytes
            return None
        return budget


@dataclass(frozen=True)
class _Firing:
    """A rule firing on one call; for a crash, the invocation and the body bytes it sends."""

    rule: FaultRule
    caller: RunningInvocation | None = None
    body_bytes_sent: int = 0


@dataclass
class FaultInjector:
    """Holds the rules and counts what fired; :meth:`wsgi` applies them (thread-safe).

    ``invocations`` is where the in-process Lambda runtime records running invocations (the
    process's own registry by default): a ``crash`` kills one there, and a dead one's
    requests are dropped.
    """

    _armed: list[_Armed] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: InvocationRegistry = field(default_factory=lambda: INVOCATIONS)

    def replace(self, rules: Sequence[FaultRule]) -> None:
        """Use these rules from now on, with fresh counts."""
        with self._lock:
            self._armed = [_Armed(rule) for rule in rules]

    def snapshot(self) -> list[dict[str, Any]]:
        """Each rule with how many calls it hit."""
        with self._lock:
            return [{**asdict(armed.rule), "fired": armed.fired} for armed in self._armed]

    def take(
        self,
        service: str,
        operation: str,
        resource: str,
        *,
        caller: RunningInvocation | None = None,
        body_bytes: int = 0,
    ) -> _Firing | None:
        """The rule a call fires, counted, or ``None``.

        ``caller`` is the Lambda invocation making the call, if one does; ``body_bytes`` the
        size of the request body (a ``crash`` may let it through while it fits the rule's
        ``after_bytes``).
        """
        function = caller.function if caller is not None else None
        with self._lock:
            for armed in self._armed:
                if not armed.left() or not armed.rule.matches(
                    service, operation, resource, function
                ):
                    continue
                if armed.rule.action == "crash":
                    assert caller is not None  # matches() needs one
                    sent = armed.crash_now(caller, body_bytes)
                    if sent is None:
                        continue
                    armed.fired += 1
                    return _Firing(armed.rule, caller, sent)
                armed.fired += 1
                return _Firing(armed.rule)
        return None

    def wsgi(self, application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """``application`` with the rules applied, and the control endpoint served."""

        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if environ.get("PATH_INFO", "") == CONTROL_PATH:
                return self._control(environ, start_response)
            headers = request_headers(environ)
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            try:
                signature: Signature | None = read_signature(headers, query)
            except UnsignedRequestError:
                signature = None
            caller = (
                None
                if signature is None
                else self.invocations.by_access_key(signature.access_key_id)
            )
            if caller is not None and caller.dead.is_set():
                # A killed process sends nothing: its connections are simply gone.
                name = _name(environ, signature, headers, query)
                what = " ".join(name) if name is not None else environ.get("PATH_INFO", "")
                LOGGER.info("dropped %s of dead %s %s", what, caller.function, caller.request_id)
                _drop_connection(environ)
            # Read without the lock: replace() swaps in a whole new list.
            if not self._armed:
                return application(environ, start_response)
            name = _name(environ, signature, headers, query)
            firing = (
                self.take(*name, caller=caller, body_bytes=_body_bytes(environ))
                if name is not None
                else None
            )
            if firing is None:
                return application(environ, start_response)
            rule = firing.rule
            if rule.action == "crash":
                assert firing.caller is not None and name is not None
                self.invocations.kill(firing.caller, f"crash at {' '.join(name)}")
                _drop_connection(environ, after_body_bytes=firing.body_bytes_sent)
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


def _name(
    environ: dict[str, Any],
    signature: Signature | None,
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
) -> tuple[str, str, str] | None:
    """(service, operation, resource) of a request, or ``None`` when it cannot be named."""
    if signature is None:
        return None
    try:
        call = read_call(environ, signature, headers, query)
    except UnmodelledRequestError:
        return None
    if call.service == "s3":
        return "s3", call.operation, "/".join(part for part in (call.bucket, call.key) if part)
    parameters = call.parameters
    resource = next(
        (str(parameters[name]) for name in _RESOURCE_PARAMETERS if name in parameters), ""
    )
    return call.service, call.operation, resource


def _body_bytes(environ: Mapping[str, Any]) -> int:
    """The size of the request's payload (without aws-chunked framing, when it has some)."""
    decoded = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH")
    try:
        return int(decoded or environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _drop_connection(environ: dict[str, Any], *, after_body_bytes: int = 0) -> NoReturn:
    """Read ``after_body_bytes`` of the request body, then close the connection unanswered.

    The request is not executed. The server sees the peer go away (werkzeug treats a
    ``ConnectionError`` from the application as a dropped connection and answers nothing);
    the socket is shut down so the client sees it at once, not at its read timeout.
    """
    if after_body_bytes > 0:
        environ["wsgi.input"].read(after_body_bytes)
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):  # already gone
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("the invocation that sent this request is dead")


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
