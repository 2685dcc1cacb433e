"""Lambda's Invoke runs the function's handler in this process, with Lambda's limits and errors.

moto runs function code only in Docker; here :mod:`edx_vault.devtools.embedded_aws.in_process_lambda`
runs the deployed handler instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deployed_code import DeployedCode, DeployedCodeCache
from edx_vault.devtools.embedded_aws.in_process_lambda.function_spec import FunctionSpec
from edx_vault.devtools.embedded_aws.in_process_lambda.lambda_answers import PAYLOAD_LIMIT_BYTES
from edx_vault.devtools.embedded_aws.in_process_lambda.runtime import InProcessLambda

# Lambda's header for an exception the function did not catch; moto always says "Handled".
_FUNCTION_ERROR_HEADER: Final = "x-amz-function-error"


def _request_entity_too_large() -> type[Exception]:
    from moto.core.exceptions import JsonRESTError

    class _RequestEntityTooLargeError(JsonRESTError):
        code = 413

        def __init__(self, size: int) -> None:
            super().__init__(
                "RequestEntityTooLargeException",
                f"{size} byte payload is too large for the RequestResponse invocation type "
                f"(limit {PAYLOAD_LIMIT_BYTES} bytes)",
            )

    return _RequestEntityTooLargeError


def _layer_zips(function: Any) -> list[bytes]:
    """The code of each layer a function uses, in order, as CloudFormation published it."""
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[function.account_id][function.region]
    zips = []
    for layer in function.layers:
        version = backend.layers_versions_by_arn(layer["Arn"])
        if version is None:
            raise ValueError(f"{function.function_name}: layer {layer['Arn']} does not exist")
        zips.append(bytes(version.code_bytes))
    return zips


def run_lambda_in_process(runtime: InProcessLambda) -> None:
    """Run Lambda functions' handlers in this process instead of in Docker.

    ``_invoke_lambda`` is the one place moto runs function code (in a container); it is
    replaced by :meth:`InProcessLambda.invoke`. moto marks every failed invocation
    ``X-Amz-Function-Error: Handled``, where Lambda says ``Unhandled`` for an exception the
    handler did not catch; the header is corrected.
    """
    from moto.awslambda.models import LambdaFunction

    # Lambda refuses a synchronous request over 6 MB before running anything (Lambda quotas,
    # "Invocation payload (request and response)": 6 MB each for synchronous invocations).
    RequestEntityTooLargeError = _request_entity_too_large()  # noqa: N806 - an exception class

    # Each function's view, by its code's digest and its layer versions (which never change):
    # hashing the zips again on every invocation would cost more than many handlers run.
    views: dict[tuple[str, tuple[str, ...]], DeployedCode | None] = {}

    def deployed(function: LambdaFunction, cache: DeployedCodeCache) -> DeployedCode | None:
        key = (function.code_sha_256, tuple(layer["Arn"] for layer in function.layers))
        if key not in views:
            views[key] = cache.view(function.code_bytes, _layer_zips(function))
        return views[key]

    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        self.logs_backend.ensure_log_group(self.logs_group_name)
        function = FunctionSpec.from_moto(self)
        if runtime.deployed_code is not None:
            function = dataclasses.replace(function, deployed=deployed(self, runtime.deployed_code))
        invocation = runtime.invoke(function, event or {})
        self.save_logs(invocation.logs)
        return invocation.payload, invocation.errored, invocation.logs

    original_invoke: Callable[..., Any] = LambdaFunction.invoke

    def invoke(
        self: LambdaFunction, body: str, request_headers: Any, response_headers: Any
    ) -> str | bytes:
        size = len(body.encode() if isinstance(body, str) else body or b"")
        if size > PAYLOAD_LIMIT_BYTES:
            raise RequestEntityTooLargeError(size)
        result: str | bytes = original_invoke(self, body, request_headers, response_headers)
        if _FUNCTION_ERROR_HEADER in response_headers:
            response_headers[_FUNCTION_ERROR_HEADER] = "Unhandled"
        return result

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
