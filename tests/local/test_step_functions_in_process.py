"""Step Functions executes the synthesized definition; its Lambda tasks run the real handlers.

The test app (tests/local/fixture_app.py) is deployed through moto's CloudFormation: a
Distributed Map reads its items from a JSON array in S3 and invokes the function per item, with
a Retry for FixtureFlakyError and a Catch for FixtureBoomError.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.local import fixture_app
from tests.local.conftest import RunningAws
from tests.local.state_machines import finished_execution

pytestmark = pytest.mark.integration

DATA, FLOW = fixture_app.DATA_STACK, fixture_app.FLOW_STACK


def run_to_completion(aws: RunningAws, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Put the items in S3, start the state machine on them and wait for the end."""
    bucket = aws.output(DATA, "ItemsBucketName")
    key = f"items/{uuid.uuid4().hex}.json"
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(items).encode())
    execution = aws.client("stepfunctions").start_execution(
        stateMachineArn=aws.output(FLOW, "StateMachineArn"), input=json.dumps({"itemsKey": key})
    )
    return finished_execution(aws, execution["executionArn"], poll_seconds=0.1)


def history_events(aws: RunningAws, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = aws.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return events


def test_the_deployed_state_machine_is_the_synthesized_definition(
    fixture_aws: RunningAws, fixture_assembly: Any
) -> None:
    # Given the template's definition, with CloudFormation's references resolved
    template = json.loads((fixture_assembly / f"{FLOW}.template.json").read_text())
    [machine] = [r for r in template["Resources"].values() if r["Type"].endswith("StateMachine")]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    literal_text = [part for part in parts if isinstance(part, str)]
    # When the deployed state machine is described
    described = fixture_aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=fixture_aws.output(FLOW, "StateMachineArn")
    )
    # Then its definition is the synthesized one: every literal piece of it, in order
    definition = described["definition"]
    position = 0
    for text in literal_text:
        position = definition.index(text, position) + len(text)
    assert json.loads(definition)["States"]["EachItem"]["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }


def test_distributed_map_runs_the_real_handler_per_item_with_its_environment(
    fixture_aws: RunningAws,
) -> None:
    # Given six items in a JSON array in S3
    items = [{"id": f"ok-{n}", "value": n} for n in range(6)]
    # When the state machine runs over them
    execution = run_to_completion(fixture_aws, items)
    # Then every item went through the handler, which saw its function's environment
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    results = sorted(json.loads(execution["output"]), key=lambda result: result["id"])
    sources = {result.pop("source") for result in results}
    function = fixture_aws.output(FLOW, "FunctionName")
    assert results == [
        {"id": f"ok-{n}", "doubled": 2 * n, "greeting": fixture_app.GREETING, "function": function}
        for n in range(6)
    ]
    # And the handler's own boto3 client reached the embedded AWS
    bucket = fixture_aws.output(DATA, "ItemsBucketName")
    written = fixture_aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="results/ok-")
    assert written["KeyCount"] == 6
    # And the handler is the deployed one, unpacked from the code asset CloudFormation was
    # given, not the working tree's file
    [source] = sources
    assert "/edxv-deployed-" in source
    assert not source.startswith(str(fixture_app.HANDLERS))


def test_a_handler_exception_is_a_task_failure_that_retry_and_catch_see_by_name(
    fixture_aws: RunningAws,
) -> None:
    # Given one item that always fails and one that fails twice before it works
    flaky_id = f"flaky-{uuid.uuid4().hex[:8]}"
    items = [
        {"id": "boom", "mode": "boom", "value": 0},
        {"id": flaky_id, "mode": "flaky", "failures": 2, "value": 21},
    ]
    # When the state machine runs over them
    started = time.monotonic()
    execution = run_to_completion(fixture_aws, items)
    elapsed = time.monotonic() - started
    # Then the Catch for FixtureBoomError caught the first, and the Retry saved the second
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    results = {result["id"]: result for result in json.loads(execution["output"])}
    assert results["boom"] == {"id": "boom", "failed": True, "error": "FixtureBoomError"}
    assert results[flaky_id]["doubled"] == 42
    # And the Retry's back-off (5 s, then 10 s) was shortened by the server
    assert elapsed < 10


def test_a_raising_handler_answers_invoke_as_lambda_does(fixture_aws: RunningAws) -> None:
    # Given the deployed function
    function = fixture_aws.output(FLOW, "FunctionName")
    # When it is invoked directly with an event that makes the handler raise
    response = fixture_aws.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps({"id": 7, "mode": "boom"}).encode()
    )
    # Then the response is Lambda's: an unhandled function error with the exception's name
    payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "FixtureBoomError"
    assert payload["errorMessage"] == "item 7 is broken"
    assert any("fixture_handler.py" in line for line in payload["stackTrace"])


def test_a_successful_invoke_returns_the_handlers_result(fixture_aws: RunningAws) -> None:
    response = fixture_aws.client("lambda").invoke(
        FunctionName=fixture_aws.output(FLOW, "FunctionName"),
        Payload=json.dumps({"id": "direct", "value": 4}).encode(),
    )
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["doubled"] == 8


def test_jsonata_expressions_are_evaluated(fixture_aws: RunningAws) -> None:
    # Given a JSONata state machine (moto's interpreter needs the pure-Python evaluator for it)
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Output": {
                    "doubled": "{% $states.input.value * 2 %}",
                    "names": "{% $states.input.items.name %}",
                },
                "End": True,
            }
        },
    }
    sfn = fixture_aws.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"jsonata-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{fixture_app.ACCOUNT}:role/unused",
    )["stateMachineArn"]
    # When it runs
    execution = sfn.start_execution(
        stateMachineArn=arn,
        input=json.dumps({"value": 21, "items": [{"name": "a"}, {"name": "b"}]}),
    )
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    # Then the expressions were evaluated
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"doubled": 42, "names": ["a", "b"]}
