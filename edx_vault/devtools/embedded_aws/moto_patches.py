"""Every change the embedded AWS makes to moto 5.2.5, each one naming the gap it closes.

Applied once, by :func:`install`, in the server process only (never in tests that use moto's
decorators, never in product code). Each function patches one thing; ``docs/embedded-aws.md``
lists them for users.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.devtools.embedded_aws.deployed_code import DeployedCode, DeployedCodeCache
from edx_vault.devtools.embedded_aws.in_process_lambda import (
    PAYLOAD_LIMIT_BYTES,
    FunctionSpec,
    InProcessLambda,
)
from edx_vault.devtools.embedded_aws.service_sessions import ServiceSessions

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws")
# Lambda's header for an exception the function did not catch; moto always says "Handled".
_FUNCTION_ERROR_HEADER: Final = "x-amz-function-error"


@dataclass(frozen=True)
class PatchSettings:
    """What the patches need to know.

    Attributes
    ----------
    lambda_runtime
        Runs Lambda invocations in-process.
    retry_sleep_scale
        Step Functions Retry intervals are multiplied by this (1.0: real time).
    retry_sleep_cap_seconds
        And capped at this many seconds.
    service_sessions
        When set (the strict embedded AWS), state machines call AWS with sessions of their
        roles instead of moto's fixed key.
    """

    lambda_runtime: InProcessLambda
    retry_sleep_scale: float = 0.01
    retry_sleep_cap_seconds: float = 0.5
    service_sessions: ServiceSessions | None = None


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

    def create(
        cls: type[Any],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        definition = properties.get("DefinitionString")
        if definition is None:
            definition = json.dumps(properties.get("Definition", {}))
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        try:
            return stepfunctions_parser_backends[account_id][region_name].create_state_machine(
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

    StateMachine.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
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


def _extend_cloudformation_create(
    model: type[Any],
    *,
    before: Callable[[dict[str, Any]], None] | None = None,
    after: Callable[[Any, dict[str, Any], str, str], None] | None = None,
) -> None:
    """Wrap moto's CloudFormation handler that creates a ``model``.

    ``before(properties)`` may rewrite the template's properties into what moto's handler
    expects; ``after(resource, properties, account_id, region_name)`` applies what the handler
    leaves out to the resource it created.
    """
    original: Callable[..., Any] = model.create_from_cloudformation_json.__func__

    def create(
        cls: type[Any],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        if before is not None:
            before(properties)
        resource = original(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        if after is not None:
            after(resource, properties, account_id, region_name)
        return resource

    model.create_from_cloudformation_json = classmethod(create)


def fix_kms_keys_from_cloudformation() -> None:
    """Let moto's CloudFormation create KMS keys with tags and a key policy.

    moto hands CloudFormation's ``Tags`` (``Key``/``Value``) to a tagger that expects KMS's
    ``TagKey``/``TagValue`` (the create raises ``KeyError``), and stores ``KeyPolicy`` as an
    object where the API stores a JSON string (``GetKeyPolicy`` and the policy check on
    ``DescribeKey`` then fail). Both are converted before moto's own handler runs.
    """
    from moto.kms.models import Key

    def as_the_api_takes_them(properties: dict[str, Any]) -> None:
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])
        ]
        if not isinstance(properties.get("KeyPolicy"), str):
            properties["KeyPolicy"] = json.dumps(properties.get("KeyPolicy", {}))

    _extend_cloudformation_create(Key, before=as_the_api_takes_them)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation lifecycle rule in the API's shape, as moto's PutBucketLifecycle reads it."""
    converted: dict[str, Any] = {
        "ID": rule.get("Id", ""),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
    elif "ExpirationDate" in rule:
        converted["Expiration"] = {"Date": rule["ExpirationDate"]}
    elif "ExpiredObjectDeleteMarker" in rule:
        converted["Expiration"] = {"ExpiredObjectDeleteMarker": rule["ExpiredObjectDeleteMarker"]}
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent is None and "NoncurrentVersionExpirationInDays" in rule:
        noncurrent = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if noncurrent is not None:
        converted["NoncurrentVersionExpiration"] = noncurrent
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    transitions = [
        {"StorageClass": item["StorageClass"], "Days": item.get("TransitionInDays")}
        for item in rule.get("Transitions", [])
    ]
    if transitions:
        converted["Transition"] = transitions
    noncurrent_transitions = [
        {"StorageClass": item["StorageClass"], "NoncurrentDays": item.get("TransitionInDays")}
        for item in rule.get("NoncurrentVersionTransitions", [])
    ]
    if noncurrent_transitions:
        converted["NoncurrentVersionTransition"] = noncurrent_transitions
    return converted


def complete_s3_buckets_from_cloudformation() -> None:
    """Keep the S3 bucket properties moto's CloudFormation drops.

    moto's handler applies only BucketEncryption and Tags: the data bucket would not be
    versioned (the engine records and checks object versions), and GetBucketVersioning,
    GetPublicAccessBlock, GetBucketOwnershipControls, GetBucketLifecycleConfiguration and
    GetBucketLogging would all disagree with the template. They are applied to the bucket moto
    created. The logging target is set directly: moto's PutBucketLogging insists the target
    already grants the logging service access, which its bucket policy (a separate resource,
    created later in the stack) only does afterwards. moto never expires objects by lifecycle
    rule and never writes access logs: the configuration is stored, not acted on.
    """
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    def complete(
        bucket: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = s3_backends[account_id][get_partition(region_name)]
        name = bucket.name
        versioning = properties.get("VersioningConfiguration")
        if versioning:
            backend.put_bucket_versioning(name, versioning["Status"])
        if "PublicAccessBlockConfiguration" in properties:
            backend.put_public_access_block(name, properties["PublicAccessBlockConfiguration"])
        for rule in properties.get("OwnershipControls", {}).get("Rules", []):
            backend.put_bucket_ownership_controls(name, ownership=rule["ObjectOwnership"])
        lifecycle = properties.get("LifecycleConfiguration", {}).get("Rules", [])
        if lifecycle:
            backend.put_bucket_lifecycle(name, [_lifecycle_rule(rule) for rule in lifecycle])
        logging_configuration = properties.get("LoggingConfiguration")
        if logging_configuration and "DestinationBucketName" in logging_configuration:
            bucket.logging = {
                "TargetBucket": logging_configuration["DestinationBucketName"],
                "TargetPrefix": logging_configuration.get("LogFilePrefix", ""),
            }

    _extend_cloudformation_create(FakeBucket, after=complete)


def complete_dynamodb_tables_from_cloudformation() -> None:
    """Apply a table's PointInTimeRecoverySpecification, which moto's CloudFormation drops."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    def complete(table: Any, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        recovery = properties.get("PointInTimeRecoverySpecification", {})
        if recovery.get("PointInTimeRecoveryEnabled"):
            dynamodb_backends[account_id][region_name].update_continuous_backups(
                table.name, {"PointInTimeRecoveryEnabled": True}
            )

    _extend_cloudformation_create(Table, after=complete)


def complete_lambda_functions_from_cloudformation() -> None:
    """Keep the Lambda function properties moto's CloudFormation drops.

    moto's handler passes on only Code, Handler, Role, Runtime, Description, MemorySize,
    Timeout, VpcConfig, Environment and ReservedConcurrentExecutions: GetFunction would show no
    layers, the default architecture and log group. Layers, Architectures, LoggingConfig
    (the log group invocations are logged to), TracingConfig, EphemeralStorage and KmsKeyArn
    are applied to the function moto created. moto's layer versions also lack a physical id,
    so ``Ref`` to one gave the model object instead of the LayerVersionArn CloudFormation gives.
    """
    from moto.awslambda.models import LambdaFunction, LayerVersion

    LayerVersion.physical_resource_id = property(lambda self: self.arn)  # type: ignore[attr-defined]

    def complete(
        function: Any, properties: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        if "Layers" in properties:
            function.layers = function._get_layers_data(properties["Layers"])
        if "Architectures" in properties:
            function.architectures = properties["Architectures"]
        if "TracingConfig" in properties:
            function.tracing_config = properties["TracingConfig"]
        if "EphemeralStorage" in properties:
            function.ephemeral_storage = properties["EphemeralStorage"]["Size"]
        if "KmsKeyArn" in properties:
            function.kms_key_arn = properties["KmsKeyArn"]
        log_group = properties.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            function.logs_group_name = log_group

    _extend_cloudformation_create(LambdaFunction, after=complete)


class ResourceCreationFailedError(Exception):
    """One resource of a stack could not be created."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def report_failed_resources_as_cloudformation_does() -> None:
    """Turn a resource that fails to create into a ``CREATE_FAILED`` stack, with the reason.

    moto creates a stack's resources inside the CreateStack request: when one raises, the
    request fails with an HTTP 500 and no message, and the stack stays ``CREATE_IN_PROGRESS``
    forever. Here the stack becomes ``CREATE_FAILED``, with a ``CREATE_FAILED`` event naming the
    resource, its type and the error, as CloudFormation reports it. (There is no rollback: what
    was created stays, as with ``--disable-rollback``.)
    """
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    original_create: Callable[..., Any] = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        try:
            return original_create(
                logical_id, resource_json, resources_map, account_id, region_name
            )
        except ResourceCreationFailedError:
            raise
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            raise ResourceCreationFailedError(
                logical_id, str(resource_json.get("Type")), reason
            ) from error

    parsing.parse_and_create_resource = parse_and_create_resource

    # Resources are created lazily, from wherever moto first needs one: CreateStack's export
    # check as well as Stack.create_resources. So the failure is caught around CreateStack.
    original_create_stack: Callable[..., Any] = CloudFormationBackend.create_stack

    def create_stack(self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_create_stack(self, name, *args, **kwargs)
        except ResourceCreationFailedError as failure:
            LOGGER.warning("stack %s: %s", name, failure)
            stack = next((stack for stack in self.stacks.values() if stack.name == name), None)
            if stack is None:  # failed before moto recorded the stack
                raise ValidationError(message=f"{name}: {failure}") from failure
            _mark_failed(stack, failure)
            return stack

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]


class _NoOutputs(dict[str, Any]):
    """The outputs of a stack that failed: none, and no exports."""

    @property
    def exports(self) -> list[Any]:
        return []


def _mark_failed(stack: Any, failure: ResourceCreationFailedError) -> None:
    from moto.cloudformation.models import Event

    stack.status = "CREATE_FAILED"
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status="CREATE_FAILED",
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )
    # A failed stack has no outputs; moto would evaluate them, and so retry the failed resource.
    stack.output_map = _NoOutputs()
    stack._add_stack_event(
        "CREATE_FAILED",
        resource_status_reason=f"The following resource failed to create: [{failure.logical_id}].",
    )


def stop_bucket_policy_checks() -> None:
    """Store bucket policies without moto's condition-blind enforcement.

    moto denies an object request when any Deny statement for principal ``*`` matches its
    action, ignoring the statement's Condition: the data bucket's "deny unless TLS" statement
    would refuse every request. Nothing else is access-checked on the embedded AWS either (moto
    does not evaluate IAM by default), so bucket policies are kept for GetBucketPolicy only.
    """
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


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
    import datetime as dt

    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _within_payload_limit(value: Any) -> bool:
    return _payload_bytes(value) <= STATE_PAYLOAD_LIMIT_BYTES


def _data_limit_exceeded(env: Any, cause: str) -> Exception:
    """The failure a state raises for a payload over the limit, as moto's own size checks do."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded),
            event_type=HistoryEventType.TaskFailed,
            # One kind of detail, as moto's own failures carry (its TypedDict requires them all).
            event_details=EventDetails(  # type: ignore[typeddict-item]
                executionFailedEventDetails=ExecutionFailedEventDetails(
                    error=_DATA_LIMIT_EXCEEDED, cause=cause
                )
            ),
        )
    )


def _over_limit(what: str, state: str, value: Any) -> str:
    return (
        f"The {what} of state '{state}' is {_payload_bytes(value)} bytes, more than the "
        f"{STATE_PAYLOAD_LIMIT_BYTES} bytes Step Functions allows (as UTF-8 JSON)."
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
            raise _data_limit_exceeded(env, _over_limit("input", self.name, value))
        original_eval_body(self, env)

    state_class._eval_body = eval_body  # type: ignore[method-assign]

    def check_result(state_class: type[Any]) -> None:
        original: Callable[..., None] = state_class._eval_execution

        def eval_execution(self: Any, env: Any) -> None:
            original(self, env)
            result = env.stack[-1]
            if not _within_payload_limit(result):
                raise _data_limit_exceeded(env, _over_limit("result", self.name, result))

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


def _lambda_service_error(client_error: Any) -> tuple[str, str]:
    """The error name and cause Step Functions gives a Lambda ``ClientError``.

    The cause is in the shape moto's ``lambda:invoke`` integration gives it (AWS's, from its
    Java SDK), with ``Request ID: null`` when the response carried none (the fault injector's
    Lambda errors do not), where moto's own formatter raised ``KeyError`` and the task failed
    as ``States.Runtime``.
    """
    response = client_error.response
    code = response["Error"]["Code"]
    metadata = response.get("ResponseMetadata", {})
    details = "; ".join(
        [
            "Service: AWSLambda",
            f"Status Code: {metadata.get('HTTPStatusCode')}",
            f"Error Code: {code}",
            f"Request ID: {metadata.get('RequestId') or 'null'}",
            "Proxy: null",
        ]
    )
    return f"Lambda.{code}", f"{response['Error'].get('Message', '')} ({details})"


def name_lambda_service_errors() -> None:
    """Name a Lambda service error of a task that names its function's ARN ``Lambda.<code>``.

    AWS: "Lambda errors are reported as Lambda.<ErrorCode> ... When Lambda hits the maximum
    number of invocations, the error is Lambda.TooManyRequestsException" (Step Functions
    Developer Guide, "Handle Lambda service exceptions"). moto's interpreter does so for the
    ``arn:aws:states:::lambda:invoke`` integration, but a Task whose Resource is the function's
    ARN (what CDK's ``LambdaInvoke`` synthesizes with ``payload_response_only``, as the vault's
    tasks do) names every Invoke ``ClientError`` ``Exception``: a Retry for
    ``Lambda.TooManyRequestsException`` never matched a throttled invoke. Both kinds of task
    now name and describe it alike (:func:`_lambda_service_error`). A handler's exception
    (``FunctionError: Unhandled``) is not a ``ClientError`` and keeps the handler's
    ``errorType``, as before.
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original: Callable[..., Any] = StateTaskLambda._from_error

    def from_error(self: StateTaskLambda, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error, cause = _lambda_service_error(ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            # One kind of detail, as moto's own failures carry (its TypedDict requires them all).
            event_details=EventDetails(  # type: ignore[typeddict-item]
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=cause
                )
            ),
        )

    StateTaskLambda._from_error = from_error  # type: ignore[method-assign]
    StateTaskServiceLambda._error_cause_from_client_error = staticmethod(  # type: ignore[method-assign]
        _lambda_service_error
    )


def name_map_reader_and_writer_errors() -> None:
    """Name a Distributed Map's failed S3 read or write as AWS does, so a Retry can match it.

    AWS names them ``States.ItemReaderFailed`` ("A Map state failed to read all items as
    specified by the ItemReader field") and ``States.ResultWriterFailed`` ("A Map state failed
    to write all results as specified by the ResultWriter field") (Amazon States Language,
    Appendix A; the ResultWriter (Map) page of the Step Functions Developer Guide: the
    "execution will fail with the States.ResultWriterFailed error"), and "Task States,
    Parallel States, and Map States MAY have a field named Retry" (Amazon States Language,
    "Retrying after error"). moto's interpreter lets the S3 client's exception out of the Map
    state, where it becomes ``States.Runtime``, which no Retry or Catch should match. Here
    any exception of the ItemReader's or ResultWriter's evaluation (an S3 error, a cut
    connection, a work list that is not JSON) is that state's failure under AWS's name, with
    the exception as its cause; failures moto already names (``MaxItems``, a non-array list,
    a path error) are left as they are. moto's Map state then applies its Retry, and a retry
    evaluates the whole state again: a new Map Run that reads the items, runs every child and
    writes the results, as a retried Distributed Map does on AWS.
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.item_reader_decl import (
        ItemReader,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def fail_as(component: type[Any], error_type: StatesErrorNameType) -> None:
        original: Callable[..., None] = component._eval_body

        def eval_body(self: Any, env: Any) -> None:
            try:
                original(self, env)
            except FailureEventException:
                raise
            except Exception as error:
                # The event moto's own ItemReaderFailed (a non-array work list) carries.
                raise FailureEventException(
                    failure_event=FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=error_type),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(  # type: ignore[typeddict-item]
                            mapRunFailedEventDetails=MapRunFailedEventDetails(
                                error=error_type.to_name(), cause=str(error)
                            )
                        ),
                    )
                ) from error

        component._eval_body = eval_body

    fail_as(ItemReader, StatesErrorNameType.StatesItemReaderFailed)
    fail_as(ResultWriter, StatesErrorNameType.StatesResultWriterFailed)


def _state_machine_of(role_arn: str, region: str) -> str | None:
    """The state machine a role belongs to (Step Functions' ``aws:SourceArn``), if only one
    uses it; the interpreter passes the role but not the state machine."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    account = role_arn.split(":")[4]
    machines = [
        machine.arn
        for machine in stepfunctions_parser_backends[account][region].state_machines
        if machine.roleArn == role_arn
    ]
    return machines[0] if len(machines) == 1 else None


def run_state_machine_calls_as_their_role(sessions: ServiceSessions) -> None:
    """Sign the Step Functions interpreter's calls with a session of the state machine's role.

    moto's interpreter signs every Lambda invoke, ItemReader read and ResultWriter write with
    the fixed key ``ak``, whatever role the state machine names. On AWS, Step Functions
    assumes that role (as ``states.amazonaws.com``) and calls with its session, so the strict
    embedded AWS judges those calls by the role's policies. The interpreter already passes the
    role (``StateCredentials.role_arn``) to the function that builds its clients; only the
    credentials were missing. A role that does not trust Step Functions fails the call.
    """
    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module

    original = boto_client_module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            return original(region, service, state_credentials)
        credentials = sessions.credentials(
            role_arn, "states.amazonaws.com", source_arn=_state_machine_of(role_arn, region)
        )
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=f"http://localhost:{moto_server_port()}",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=600,
                read_timeout=600,
            ),
        )

    # Each interpreter module imported the function by name: replace it where it is used.
    import sys

    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            setattr(module, "boto_client_for", boto_client_for)  # noqa: B010 - a module global
    boto_client_module.boto_client_for = boto_client_for


def install(settings: PatchSettings) -> None:
    """Apply every patch, and register the CloudFormation handlers of emulated types."""
    from edx_vault.devtools.embedded_aws import cfn_resources

    enable_state_machine_execution()
    use_python_jsonata()
    shorten_retry_sleeps(settings.retry_sleep_scale, settings.retry_sleep_cap_seconds)
    create_state_machines_in_the_executing_backend()
    name_unnamed_executions()
    enforce_state_payload_limit()
    name_lambda_service_errors()
    name_map_reader_and_writer_errors()
    fix_kms_keys_from_cloudformation()
    complete_s3_buckets_from_cloudformation()
    complete_dynamodb_tables_from_cloudformation()
    complete_lambda_functions_from_cloudformation()
    report_failed_resources_as_cloudformation_does()
    stop_bucket_policy_checks()
    run_lambda_in_process(settings.lambda_runtime)
    if settings.service_sessions is not None:
        run_state_machine_calls_as_their_role(settings.service_sessions)
    cfn_resources.register()
