"""What Lambda answers for an invocation: the payload limit, the error documents, the log tail.

An exception is answered as Lambda's Python runtime answers it, with ``errorType`` the name Step
Functions' Retry and Catch match (the exception's class name, or Lambda's own ``Sandbox.*``,
``Runtime.*`` and ``Function.*`` names for what the runtime itself reports).
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from typing import Any, Final

# Lambda's quota for a synchronous invocation's request and response: "6 MB each for request
# and response (synchronous)" (Lambda quotas, "Invocation payload"); in bytes, 6,291,456.
PAYLOAD_LIMIT_BYTES: Final = 6 * 1024 * 1024

# Lambda's report for a runtime process that died without answering, e.g. killed: "errorType":
# "Runtime.ExitError", "errorMessage": "RequestId: ... Error: Runtime exited with error: exit
# status 129" (AWS Knowledge Center, "How do I troubleshoot Lambda function runtime errors",
# lambda-runtime-error), "signal: killed" for a SIGKILL, with FunctionError "Unhandled". Step
# Functions' guide calls such unhandled errors Lambda.Unknown ("Handle Lambda service
# exceptions"); the vault's Retry names neither, so its behaviour does not hang on the name.
RUNTIME_EXIT_ERROR: Final = "Runtime.ExitError"
KILLED: Final = "Runtime exited with error: signal: killed"
# The cause of an invocation stopped at its timeout (it is dead too, but not a crash).
TIMEOUT: Final = "timeout"


@dataclass(frozen=True)
class Invocation:
    """The outcome of one call, in the shape moto's ``_invoke_lambda`` returns.

    Attributes
    ----------
    payload
        The JSON response: the handler's result, or Lambda's error document.
    errored
        The handler raised (or could not be found, or returned something not JSON).
    logs
        The log tail Lambda would return with ``LogType: Tail``.
    """

    payload: str
    errored: bool
    logs: str


class HandlerNotFoundError(Exception):
    """The Handler string names no module or function in the handler packages."""


class SandboxTimedoutError(Exception):
    """The handler ran past the function's timeout (Lambda stops it: ``Sandbox.Timedout``)."""


class ResponseSizeTooLargeError(Exception):
    """The handler's result is over Lambda's synchronous response limit."""


class RuntimeExitError(Exception):
    """The invocation was killed (a ``crash`` fault): its runtime answered nothing."""


def result_payload(result: Any) -> str:
    """The handler's result as Lambda returns it.

    Raises
    ------
    ResponseSizeTooLargeError
        When it is over Lambda's synchronous response limit.
    """
    payload = json.dumps(result)
    if len(payload.encode()) > PAYLOAD_LIMIT_BYTES:
        raise ResponseSizeTooLargeError(
            f"Response payload size ({len(payload.encode())} bytes) exceeded maximum "
            f"allowed payload size ({PAYLOAD_LIMIT_BYTES} bytes)."
        )
    return payload


def error_type(error: Exception) -> str:
    """The ``errorType`` Lambda reports for ``error``."""
    if isinstance(error, SandboxTimedoutError):
        return "Sandbox.Timedout"
    if isinstance(error, RuntimeExitError):
        return RUNTIME_EXIT_ERROR
    if isinstance(error, ResponseSizeTooLargeError):
        return "Function.ResponseSizeTooLarge"
    if isinstance(error, HandlerNotFoundError):
        return "Runtime.ImportModuleError" if "import" in str(error) else "Runtime.HandlerNotFound"
    if isinstance(error, TypeError | ValueError) and "JSON serializable" in str(error):
        return "Runtime.MarshalError"
    return type(error).__name__


def error_payload(error: Exception, request_id: str) -> str:
    """Lambda's Python runtime's document for an unhandled exception, as JSON."""
    if isinstance(error, RuntimeExitError):
        # A dead runtime reports nothing of its own: Lambda writes the document.
        return json.dumps({"errorType": RUNTIME_EXIT_ERROR, "errorMessage": str(error)})
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": error_type(error),
            "requestId": request_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
    )


def log_tail(
    request_id: str, version: str, memory_size: int, duration_ms: float, *, killed: bool
) -> str:
    """The log lines Lambda writes around an invocation (``killed``: its runtime died)."""
    died = f"RequestId: {request_id} Error: {KILLED}\n{RUNTIME_EXIT_ERROR}\n" if killed else ""
    return (
        f"START RequestId: {request_id} Version: {version}\n{died}"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Memory Size: {memory_size} MB\n"
    )
