"""Step Functions' 256 KiB limit on what passes between states, counted and caught as on AWS."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, Final

from edx_vault.devtools.embedded_aws.moto_patches.step_functions_errors import states_failure

# Step Functions' payload quota, "Maximum input or output size for a task, state, or execution":
# "262,144 bytes of data as a UTF-8 encoded string. This quota affects tasks (activity, Lambda
# function, or integrated service), state or execution output, and input data when scheduling a
# task, entering a state, or starting an execution."
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)
STATE_PAYLOAD_LIMIT_BYTES: Final = 262_144
_DATA_LIMIT_EXCEEDED: Final = "States.DataLimitExceeded"


def _payload_bytes(value: Any) -> int:
    """The size Step Functions counts: the JSON text (compact, as in the history) in UTF-8.

    Non-ASCII characters count as their UTF-8 bytes, not as ``\\u`` escapes (moto's own
    check escaped them, counting "é" as six bytes).
    """
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return len(text.encode("utf-8"))


def _json_default(value: Any) -> Any:
    # What moto's interpreter writes for values JSON has no type for.
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _within_payload_limit(value: Any) -> bool:
    return _payload_bytes(value) <= STATE_PAYLOAD_LIMIT_BYTES


def _data_limit_exceeded(env: Any, what: str, state: str, value: Any) -> Exception:
    """The failure a state raises for a payload over the limit, as moto's own size checks do."""
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    cause = (
        f"The {what} of state '{state}' is {_payload_bytes(value)} bytes, more than the "
        f"{STATE_PAYLOAD_LIMIT_BYTES} bytes Step Functions allows (as UTF-8 JSON)."
    )
    return states_failure(
        env,
        StatesErrorNameType.StatesStatesDataLimitExceeded,
        "executionFailedEventDetails",
        cause,
    )


def enforce_state_payload_limit() -> None:
    """Fail an execution with ``States.DataLimitExceeded`` when a payload is over 256 KiB.

    moto's interpreter checks a state's output and a task's result, but counts JSON with spaces
    and ``\\u`` escapes and refuses exactly 262,144 bytes; it never checks a state's input, nor
    a Map's or Parallel's collected result, which like a task's result is held to the limit
    whatever ResultPath then does with it (without a ResultWriter a Distributed Map's result is
    every child's output: a big run fails even with ``ResultPath: null``). And its
    ``States.ALL`` matches every error, where AWS says "The
    ``States.ALL`` error type must appear alone in a Catcher and can't catch the
    ``States.DataLimitExceeded`` terminal error or Runtime error types" (Step Functions
    Developer Guide, "Handling errors in Step Functions workflows"). Here:

    - sizes are the compact JSON text in UTF-8, and the limit is inclusive (262,144 bytes pass);
    - a state's input is checked as it is entered (an execution's input, a Map iteration's);
    - a Map's or Parallel's result is checked before ResultPath (with a ResultWriter it is the
      small manifest reference);
    - ``States.ALL`` in a Retry or Catch does not match ``States.DataLimitExceeded``; naming
      the error itself still does.
    """
    from moto.stepfunctions.parser import quotas
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )
    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel import (
        StateParallel,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )

    # moto's own checks (state output, Lambda and service task results) call this by name.
    for module in (quotas, state_module, state_task_lambda, state_task_service):
        module.is_within_size_quota = _within_payload_limit  # type: ignore[attr-defined]

    state_class = state_module.CommonStateField
    original_eval_body: Callable[..., None] = state_class._eval_body

    def eval_body(self: Any, env: Any) -> None:
        value = env.states.get_input()
        if not _within_payload_limit(value):
            raise _data_limit_exceeded(env, "input", self.name, value)
        original_eval_body(self, env)

    state_class._eval_body = eval_body  # type: ignore[method-assign]

    def check_result(state_class: type[Any]) -> None:
        original: Callable[..., None] = state_class._eval_execution

        def eval_execution(self: Any, env: Any) -> None:
            original(self, env)
            result = env.stack[-1]
            if not _within_payload_limit(result):
                raise _data_limit_exceeded(env, "result", self.name, result)

        state_class._eval_execution = eval_execution

    check_result(StateMap)
    check_result(StateParallel)

    original_matches: Callable[..., None] = ErrorEqualsDecl._eval_body

    def matches(self: ErrorEqualsDecl, env: Any) -> None:
        error_name = env.stack[-1]
        if (
            getattr(error_name, "error_name", None) == _DATA_LIMIT_EXCEEDED
            and ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names
        ):
            # States.ALL stands alone in its ErrorEquals, so nothing else here can match.
            env.stack.pop()
            env.stack.append(False)
            return
        original_matches(self, env)

    ErrorEqualsDecl._eval_body = matches  # type: ignore[method-assign]
