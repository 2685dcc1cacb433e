"""The WSGI layer that applies the rules: it names each request, fires the first rule with calls
left that matches it, counts what fired, and drops every request of a dead invocation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

from edx_vault.devtools.embedded_aws.api_requests import (
    Signature,
    UnmodelledRequestError,
    UnsignedRequestError,
    read_signature,
)
from edx_vault.devtools.embedded_aws.aws_responses import (
    error_response,
    read_call,
    request_headers,
)
from edx_vault.devtools.embedded_aws.faults.connections import (
    body_bytes,
    cut_after,
    drop_connection,
)
from edx_vault.devtools.embedded_aws.faults.control import CONTROL_PATH, serve_control
from edx_vault.devtools.embedded_aws.faults.rules import FaultRule
from edx_vault.devtools.embedded_aws.in_process_lambda.invocations import (
    INVOCATIONS,
    InvocationRegistry,
    RunningInvocation,
)

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.faults")
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
                return serve_control(self, environ, start_response)
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
                drop_connection(environ)
            # Read without the lock: replace() swaps in a whole new list.
            if not self._armed:
                return application(environ, start_response)
            name = _name(environ, signature, headers, query)
            firing = (
                self.take(*name, caller=caller, body_bytes=body_bytes(environ))
                if name is not None
                else None
            )
            if firing is None:
                return application(environ, start_response)
            rule = firing.rule
            if rule.action == "crash":
                assert firing.caller is not None and name is not None
                self.invocations.kill(firing.caller, f"crash at {' '.join(name)}")
                drop_connection(environ, after_body_bytes=firing.body_bytes_sent)
            if rule.action == "error":
                return error_response(
                    environ,
                    start_response,
                    code=rule.error,
                    message=rule.message,
                    status=rule.status,
                )
            return cut_after(application(environ, start_response), rule.after_bytes)

        return faulty


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
