"""The embedded AWS names Step Functions' errors as AWS does, so Retry and Catch match them.

- A Lambda task whose Resource is the function's ARN (what CDK's ``LambdaInvoke`` synthesizes
  with ``payload_response_only``, as the vault's tasks do): a Lambda service error is named
  ``Lambda.<error code>`` ("Handle Lambda service exceptions", Step Functions Developer Guide:
  "When Lambda hits the maximum number of invocations, the error is
  Lambda.TooManyRequestsException"); a handler's exception keeps its own name.
- A Distributed Map's own S3 calls: a failed ItemReader read is ``States.ItemReaderFailed``, a
  failed ResultWriter write ``States.ResultWriterFailed`` (Amazon States Language, Appendix A),
  and a Retry on the Map state for them runs the Map again ("Task States, Parallel States, and
  Map States MAY have a field named Retry", Amazon States Language).

Faults are injected on the test app's server (``edx_vault.devtools.embedded_aws.faults``); small state
machines are created directly on it, with a role the strict embedded AWS lets do their calls.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Final

import pytest

from edx_vault.devtools.embedded_aws.faults.control import fired, set_faults
from stacks.sync_state_machine import RESULT_WRITER_ACTIONS, TRANSIENT_ERRORS
from tests.local import fixture_app
from tests.local.conftest import RunningAws
from tests.local.state_machines import run_definition, states_role

pytestmark = pytest.mark.integration

THROTTLED: Final = {"error": "TooManyRequestsException", "status": 429}
S3_SLOW_DOWN: Final = {"error": "SlowDown", "status": 503}
S3_INTERNAL: Final = {"error": "InternalError", "status": 500}
ITEM_READER_FAILED: Final = "States.ItemReaderFailed"
RESULT_WRITER_FAILED: Final = "States.ResultWriterFailed"
# Like the vault's Retry, with intervals the server shortens (shorten_retry_sleeps).
RETRY: Final = {"IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}


@pytest.fixture
def aws(fixture_aws: RunningAws) -> Iterator[RunningAws]:
    """The shared server, with no fault left behind for the next test."""
    yield fixture_aws
    set_faults(fixture_aws.state.endpoint, [])


@pytest.fixture(scope="module")
def function_arn(fixture_aws: RunningAws) -> str:
    name = fixture_aws.output(fixture_app.FLOW_STACK, "FunctionName")
    return f"arn:aws:lambda:{fixture_app.REGION}:{fixture_app.ACCOUNT}:function:{name}"


@pytest.fixture(scope="module")
def bucket(fixture_aws: RunningAws) -> str:
    return fixture_aws.output(fixture_app.DATA_STACK, "ItemsBucketName")


@pytest.fixture(scope="module")
def role_arn(fixture_aws: RunningAws, function_arn: str, bucket: str) -> str:
    """A role Step Functions may assume that invokes the test function, reads work lists under
    ``items/`` and writes Map results under ``_work/``, as the vault's state machine role does."""
    return states_role(
        fixture_aws,
        "error-names",
        [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn},
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/items/*",
            },
            {
                "Effect": "Allow",
                "Action": list(RESULT_WRITER_ACTIONS),
                "Resource": f"arn:aws:s3:::{bucket}/_work/*",
            },
        ],
    )


def history(aws: RunningAws, execution: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = aws.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    return events


def lambda_task(
    function_arn: str, *, retry_errors: list[str] | None, integration: bool = False
) -> dict[str, Any]:
    """One Task invoking the function: naming its ARN as the Resource (what CDK's LambdaInvoke
    synthesizes with ``payload_response_only``, as the vault's tasks), or through the
    ``lambda:invoke`` integration."""
    task: dict[str, Any] = {"Type": "Task", "Resource": function_arn, "End": True}
    if integration:
        task.update(
            Resource="arn:aws:states:::lambda:invoke",
            Parameters={"FunctionName": function_arn, "Payload.$": "$"},
            OutputPath="$.Payload",
        )
    if retry_errors:
        task["Retry"] = [{"ErrorEquals": retry_errors, **RETRY}]
    return {"StartAt": "Invoke", "States": {"Invoke": task}}


def invoke_throttled(function_arn: str, times: int | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "service": "lambda",
        "operation": "Invoke",
        "resource": f"*{function_arn.rsplit(':', 1)[-1]}*",
        **THROTTLED,
    }
    if times is not None:
        rule["times"] = times
    return rule


def test_a_throttled_invoke_is_lambda_too_many_requests_and_the_vaults_retry_heals_it(
    aws: RunningAws, function_arn: str, role_arn: str
) -> None:
    # Given a Lambda task with the vault's Retry (TRANSIENT_ERRORS), whose first two invokes
    # Lambda throttles
    set_faults(aws.state.endpoint, [invoke_throttled(function_arn, times=2)])
    definition = lambda_task(function_arn, retry_errors=list(TRANSIENT_ERRORS))
    # When it runs
    execution = run_definition(
        aws, definition, {"id": "throttled", "value": 5}, role_arn=role_arn, name=uuid.uuid4().hex
    )
    # Then both failures were Lambda.TooManyRequestsException, and the Retry healed the task
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["doubled"] == 10
    failures = [
        event["lambdaFunctionFailedEventDetails"]["error"]
        for event in history(aws, execution)
        if event["type"] == "LambdaFunctionFailed"
    ]
    assert failures == ["Lambda.TooManyRequestsException"] * 2
    assert [rule["fired"] for rule in fired(aws.state.endpoint)] == [2]


@pytest.mark.parametrize("integration", [False, True], ids=["function-arn", "lambda-invoke"])
def test_a_lambda_service_error_without_a_retry_fails_the_execution_by_its_name(
    aws: RunningAws, function_arn: str, role_arn: str, integration: bool
) -> None:
    # Given a Lambda task without a Retry (naming the function's ARN, or through the
    # lambda:invoke integration), and Lambda throttling every invoke
    set_faults(aws.state.endpoint, [invoke_throttled(function_arn, times=None)])
    # When it runs
    execution = run_definition(
        aws,
        lambda_task(function_arn, retry_errors=None, integration=integration),
        {"id": "throttled", "value": 5},
        role_arn=role_arn,
        name=uuid.uuid4().hex,
    )
    # Then the execution fails with Lambda's error code under the Lambda. prefix, and the cause
    # says what Lambda said
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Lambda.TooManyRequestsException"
    assert "Error Code: TooManyRequestsException" in execution["cause"]
    assert "Status Code: 429" in execution["cause"]


def test_a_handlers_exception_keeps_its_own_name(
    aws: RunningAws, function_arn: str, role_arn: str
) -> None:
    # Given a Lambda task with the vault's Retry, and an input that makes the handler raise
    definition = lambda_task(function_arn, retry_errors=list(TRANSIENT_ERRORS))
    # When it runs
    execution = run_definition(
        aws,
        definition,
        {"id": "broken", "mode": "boom"},
        role_arn=role_arn,
        name=uuid.uuid4().hex,
    )
    # Then the failure is the handler's exception, by its class name (FunctionError Unhandled),
    # not a Lambda service error, so the Retry did not apply
    assert execution["status"] == "FAILED"
    assert execution["error"] == "FixtureBoomError"
    assert json.loads(execution["cause"])["errorMessage"] == "item broken is broken"
    failures = [
        event for event in history(aws, execution) if event["type"] == "LambdaFunctionFailed"
    ]
    assert len(failures) == 1


def distributed_map(bucket: str, *, retry_errors: list[str] | None) -> dict[str, Any]:
    """A Distributed Map over a JSON array in S3 (the vault's ItemReader), writing its results
    under the run's ``_work/`` prefix (the vault's ResultWriter), each item a Pass state."""
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": bucket, "Key.$": "$.itemsKey"},
        },
        "ItemSelector": {"item.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": {"Type": "Pass", "End": True}},
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {
                "Bucket": bucket,
                "Prefix.$": "States.Format('_work/{}/map-runs/Each', $$.Execution.Name)",
            },
        },
        "MaxConcurrency": 4,
        "ResultPath": None,
        "End": True,
    }
    if retry_errors:
        state["Retry"] = [{"ErrorEquals": retry_errors, **RETRY}]
    return {"StartAt": "Each", "States": {"Each": state}}


def put_items(aws: RunningAws, bucket: str) -> str:
    key = f"items/{uuid.uuid4().hex}.json"
    aws.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps([{"id": n} for n in range(3)]).encode()
    )
    return key


def s3_fault(operation: str, resource: str, effect: dict[str, Any], times: int | None) -> Any:
    rule = {"service": "s3", "operation": operation, "resource": resource, **effect}
    if times is not None:
        rule["times"] = times
    return rule


@pytest.mark.parametrize(
    ("call", "error"),
    [("ItemReader", ITEM_READER_FAILED), ("ResultWriter", RESULT_WRITER_FAILED)],
)
def test_a_failed_map_read_or_write_is_named_as_on_aws(
    aws: RunningAws, bucket: str, role_arn: str, call: str, error: str
) -> None:
    # Given a Distributed Map without a Retry, and S3 failing every one of its reads of the work
    # list (ItemReader) or writes of the run's results (ResultWriter)
    key = put_items(aws, bucket)
    run_id = uuid.uuid4().hex
    fault = (
        s3_fault("GetObject", f"{bucket}/{key}", S3_SLOW_DOWN, times=None)
        if call == "ItemReader"
        else s3_fault("PutObject", f"{bucket}/_work/{run_id}/*", S3_INTERNAL, times=None)
    )
    set_faults(aws.state.endpoint, [fault])
    # When it runs
    execution = run_definition(
        aws,
        distributed_map(bucket, retry_errors=None),
        {"itemsKey": key},
        role_arn=role_arn,
        name=run_id,
    )
    # Then the execution fails with AWS's name for that failure (not States.Runtime), and the
    # cause carries S3's error
    assert execution["status"] == "FAILED"
    assert execution["error"] == error
    assert ("SlowDown" if call == "ItemReader" else "InternalError") in execution["cause"]


@pytest.mark.parametrize("call", ["ItemReader", "ResultWriter"])
def test_a_map_retry_for_its_own_s3_errors_runs_the_map_again(
    aws: RunningAws, bucket: str, role_arn: str, call: str
) -> None:
    # Given a Distributed Map with a Retry for States.ItemReaderFailed and
    # States.ResultWriterFailed, and S3 failing its first two reads or writes
    key = put_items(aws, bucket)
    run_id = uuid.uuid4().hex
    fault = (
        s3_fault("GetObject", f"{bucket}/{key}", S3_SLOW_DOWN, times=2)
        if call == "ItemReader"
        else s3_fault("PutObject", f"{bucket}/_work/{run_id}/*", S3_INTERNAL, times=2)
    )
    set_faults(aws.state.endpoint, [fault])
    # When it runs
    execution = run_definition(
        aws,
        distributed_map(bucket, retry_errors=[ITEM_READER_FAILED, RESULT_WRITER_FAILED]),
        {"itemsKey": key},
        role_arn=role_arn,
        name=run_id,
    )
    # Then the Retry ran the Map again until S3 answered, and the run's results were written
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert [rule["fired"] for rule in fired(aws.state.endpoint)] == [2]
    map_runs = [event for event in history(aws, execution) if event["type"] == "MapRunStarted"]
    assert len(map_runs) == 3
    written = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"_work/{run_id}/map-runs/")
    assert [entry["Key"].rsplit("/", 1)[-1] for entry in written.get("Contents", [])] == [
        "manifest.json"
    ]
