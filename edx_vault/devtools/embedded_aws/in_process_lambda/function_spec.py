"""What a call knows about its function: the description read from moto's model, and the
context object the handler receives.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edx_vault.devtools.embedded_aws.deployed_code import DeployedCode


@dataclass(frozen=True)
class FunctionSpec:
    """What a call needs to know about the function, taken from moto's ``LambdaFunction``.

    Attributes
    ----------
    name, arn, version
        The function's name, ARN and version (``$LATEST``).
    handler
        The ``Handler`` string, ``"module.function"``.
    environment
        The function's environment variables.
    memory_size, timeout
        As configured: the timeout is enforced (``Sandbox.Timedout``), the memory is reported
        to the handler through the context only.
    region
        The function's region.
    role
        The execution role's ARN.
    deployed
        The function's deployed project code (its code asset and the layers' project
        packages), when the server has it: the handler is imported from there, not from the
        working tree.
    """

    name: str
    arn: str
    version: str
    handler: str
    environment: Mapping[str, str]
    memory_size: int
    timeout: int
    region: str
    role: str = ""
    deployed: DeployedCode | None = None

    @classmethod
    def from_moto(cls, function: Any) -> FunctionSpec:
        """Read a ``moto.awslambda.models.LambdaFunction``."""
        return cls(
            name=str(function.function_name),
            arn=str(function.function_arn),
            version=str(function.version),
            handler=str(function.handler),
            environment={str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            memory_size=int(function.memory_size or 128),
            timeout=int(function.timeout or 3),
            region=str(function.region),
            role=str(function.role or ""),
        )


@dataclass
class LambdaContext:
    """The context object a Python handler receives, with the attributes Lambda's has."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float = field(repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (which is not enforced here)."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    @classmethod
    def of(cls, function: FunctionSpec, request_id: str) -> LambdaContext:
        """The context of one invocation of ``function``, starting now."""
        return cls(
            function_name=function.name,
            function_version=function.version,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_size,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{function.name}",
            log_stream_name=f"embedded/[{function.version}]{request_id.replace('-', '')}",
            deadline=time.monotonic() + function.timeout,
        )
