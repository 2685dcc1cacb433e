"""Step Functions executes the deployed state machines: moto only records executions by default.

Execution is switched on, JSONata evaluated in Python, Retry sleeps shortened, CloudFormation's
state machines created where the executing backend finds them (their definitions validated at
deploy time), and an execution started without a name named as Step Functions names it.
"""

from __future__ import annotations

import json
import re
import time
import types
import uuid
from collections.abc import Callable
from typing import Any, Final

from edx_vault.devtools.embedded_aws.moto_patches.cloudformation_resources import (
    Properties,
    extend_cloudformation_create,
)


def enable_state_machine_execution() -> None:
    """Make Step Functions execute definitions (moto only records executions by default).

    The same switch as ``POST /moto-api/config`` with
    ``{"stepfunctions": {"execute_state_machine": true}}``, set in-process before serving.
    """
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


def use_python_jsonata() -> None:
    """Evaluate JSONata with the pure-Python ``jsonata-python``.

    moto's interpreter (from LocalStack) evaluates JSONata through a JVM bridge it does not ship:
    without this, any JSONata state fails. Results go through JSON, as the JVM bridge's did, so
    jsonata-python's list subclasses become plain lists.
    """
    import jsonata
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

    def evaluate(expression: str) -> Any:
        try:
            result = jsonata.Jsonata(expression).evaluate(None)
        except Exception as error:
            raise moto_jsonata.JSONataException("UNKNOWN", str(error)) from error
        return None if result is None else json.loads(json.dumps(result))

    moto_jsonata._eval_jsonata = evaluate


def shorten_retry_sleeps(scale: float, cap_seconds: float) -> None:
    """Make Step Functions Retry back-off sleeps short.

    moto's interpreter sleeps for each Retry's real interval (``IntervalSeconds`` times
    ``BackoffRate`` to the attempt): a definition that retries throttling for minutes would
    take minutes here too. The interval is multiplied by ``scale`` and capped at ``cap_seconds``.
    The number of attempts, the order and the errors matched are unchanged.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    def sleep(seconds: float) -> None:
        time.sleep(min(seconds * scale, cap_seconds))

    retrier_decl.time = types.SimpleNamespace(sleep=sleep)  # type: ignore[attr-defined,assignment]


class InvalidDefinitionError(Exception):
    """A state machine definition the Step Functions interpreter cannot parse."""


# The parser's error positions: "line 1:1295" (the definition is one line of JSON).
_PARSER_POSITION: Final = re.compile(r"line (\d+):(\d+)")


def _explain_invalid_definition(message: str, definition: str) -> str:
    """The parser's message, plus the definition's text at each position it names.

    The parser reports character offsets into the minified definition, which say nothing to
    someone reading the CDK code; the text around them does.
    """
    lines = definition.splitlines() or [""]
    excerpts = []
    for line_number, column in _PARSER_POSITION.findall(message):
        line = lines[min(int(line_number), len(lines)) - 1]
        start = max(0, int(column) - 60)
        excerpts.append(f"...{line[start : int(column) + 20]}...")
    if not excerpts:
        return f"the definition is not valid ASL: {message}"
    return "the definition is not valid ASL, near " + " and ".join(excerpts) + f" ({message})"


def create_state_machines_in_the_executing_backend() -> None:
    """Create CloudFormation's state machines where StartExecution will find and run them.

    With execution on, the Step Functions API is served by ``stepfunctions_parser_backends``,
    but moto's CloudFormation creates state machines in ``stepfunctions_backends``: the
    deployed machine would not exist for the API. It also drops ``StateMachineType``, the
    ``Definition`` object form, ``DefinitionSubstitutions``, ``LoggingConfiguration`` and
    ``TracingConfiguration``. The definition is created exactly as synthesized (after
    CloudFormation's substitutions), and the interpreter's parser validates it at deploy time.
    """
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.api import InvalidDefinition
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.utils import cfn_to_api_tags

    def create(resource_name: str, properties: Properties, account_id: str, region: str) -> Any:
        definition = properties.get("DefinitionString")
        if definition is None:
            definition = json.dumps(properties.get("Definition", {}))
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        try:
            return stepfunctions_parser_backends[account_id][region].create_state_machine(
                name=properties.get("StateMachineName", resource_name),
                definition=definition,
                roleArn=properties.get("RoleArn", ""),
                tags=cfn_to_api_tags(properties.get("Tags", [])),
                loggingConfiguration=properties.get("LoggingConfiguration"),
                tracingConfiguration=properties.get("TracingConfiguration"),
                encryptionConfiguration=properties.get("EncryptionConfiguration"),
                sm_type=properties.get("StateMachineType", "STANDARD"),
            )
        except InvalidDefinition as error:
            raise InvalidDefinitionError(
                _explain_invalid_definition(str(error), definition)
            ) from None

    def delete(
        cls: type[Any],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        stepfunctions_parser_backends[account_id][region_name].delete_state_machine(resource_name)

    extend_cloudformation_create(StateMachine, instead=create)
    StateMachine.delete_from_cloudformation_json = classmethod(delete)  # type: ignore[method-assign,assignment]


def name_unnamed_executions() -> None:
    """Give an execution started without a name a unique one, as Step Functions does.

    moto's interpreter names it ``None``: the second unnamed StartExecution of a state machine
    then fails with ExecutionAlreadyExists.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original: Callable[..., Any] = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
