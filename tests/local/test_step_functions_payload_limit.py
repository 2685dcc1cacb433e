"""The embedded AWS enforces Step Functions' 256 KiB limit on what passes between states.

AWS: "Maximum input or output size for a task, state, or execution: 262,144 bytes of data as a
UTF-8 encoded string" (Step Functions service quotas), and "The States.ALL error type ... can't
catch the States.DataLimitExceeded terminal error" (Handling errors in Step Functions
workflows). Small state machines are created directly on the test app's server; the Distributed
Map ones read their items from the test app's bucket, as the vault's Maps do.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.moto_patches.step_functions_payload_limit import (
    STATE_PAYLOAD_LIMIT_BYTES,
)
from stacks.sync_state_machine import RESULT_WRITER_ACTIONS
from tests.local import fixture_app
from tests.local.conftest import RunningAws
from tests.local.state_machines import run_definition, states_role

pytestmark = pytest.mark.integration

KIB = 1024
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"


def doubling_pass() -> dict[str, Any]:
    """A Pass state whose output holds its input's string twice."""
    return {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Pass",
                "Parameters": {"first.$": "$.text", "second.$": "$.text"},
                "End": True,
            }
        },
    }


@pytest.mark.parametrize(
    ("output_kib", "status"), [(200, "SUCCEEDED"), (300, "FAILED")], ids=["200KiB", "300KiB"]
)
def test_a_pass_state_output_over_256_kib_fails_the_execution(
    fixture_aws: RunningAws, output_kib: int, status: str
) -> None:
    # Given a Pass state that doubles a string of half the output size (its input is under 256 KiB)
    text = "x" * (output_kib * KIB // 2)
    # When it runs
    execution = run_definition(fixture_aws, doubling_pass(), {"text": text})
    # Then 200 KiB passes on, and 300 KiB fails the execution with States.DataLimitExceeded
    assert execution["status"] == status, execution.get("cause")
    if status == "SUCCEEDED":
        assert json.loads(execution["output"]) == {"first": text, "second": text}
    else:
        assert execution["error"] == DATA_LIMIT_EXCEEDED
        assert "Double" in execution["cause"]


@pytest.mark.parametrize(
    ("extra_bytes", "status"), [(0, "SUCCEEDED"), (1, "FAILED")], ids=["262144", "262145"]
)
def test_the_limit_is_262144_bytes_of_utf8_json(
    fixture_aws: RunningAws, extra_bytes: int, status: str
) -> None:
    # Given an input (and so the Pass state's output) of exactly the limit, or one byte over,
    # counted as compact JSON in UTF-8: "é" is two bytes
    budget = STATE_PAYLOAD_LIMIT_BYTES - len('{"text":""}') + extra_bytes
    text = "é" * (budget // 2) + "x" * (budget % 2)
    compact = json.dumps({"text": text}, separators=(",", ":"), ensure_ascii=False)
    assert len(compact.encode()) == STATE_PAYLOAD_LIMIT_BYTES + extra_bytes
    definition = {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}}
    # When it runs
    execution = run_definition(fixture_aws, definition, {"text": text})
    # Then exactly 262,144 bytes pass; one more is refused as the state's input
    assert execution["status"] == status, execution.get("cause")
    if status == "FAILED":
        assert execution["error"] == DATA_LIMIT_EXCEEDED
        assert "input of state 'Keep'" in execution["cause"]


def parallel_of_two_halves(catch: list[str]) -> dict[str, Any]:
    """Two branches each pass on a 150 KiB input: together (the Parallel's result) 300 KiB."""
    branch = {"StartAt": "Half", "States": {"Half": {"Type": "Pass", "End": True}}}
    return {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [branch, branch],
                "ResultPath": None,
                "Catch": [{"ErrorEquals": catch, "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {
                "Type": "Pass",
                "Parameters": {"error.$": "$.caught.Error"},
                "End": True,
            },
        },
    }


def test_states_all_does_not_catch_data_limit_exceeded(fixture_aws: RunningAws) -> None:
    # Given a Parallel state whose collected result (300 KiB) is over the limit, though its
    # ResultPath discards it, with a Catch for States.ALL
    definition = parallel_of_two_halves(["States.ALL"])
    # When it runs
    execution = run_definition(fixture_aws, definition, {"text": "x" * (150 * KIB)})
    # Then the Catch does not apply: the execution fails with States.DataLimitExceeded
    assert execution["status"] == "FAILED"
    assert execution["error"] == DATA_LIMIT_EXCEEDED
    assert "result of state 'Both'" in execution["cause"]


def test_a_catch_that_names_data_limit_exceeded_catches_it(fixture_aws: RunningAws) -> None:
    # Given the same Parallel state, with a Catch naming States.DataLimitExceeded itself
    definition = parallel_of_two_halves([DATA_LIMIT_EXCEEDED])
    # When it runs
    execution = run_definition(fixture_aws, definition, {"text": "x" * (150 * KIB)})
    # Then the Catch applies
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {"error": DATA_LIMIT_EXCEEDED}


ITEMS = 300
ITEM_OUTPUT = "y" * 1000


@pytest.fixture(scope="module")
def map_role(fixture_aws: RunningAws) -> str:
    """A role Step Functions may assume that reads the work lists and writes the results under
    ``_work/`` only, as the vault's state machine does (the strict embedded AWS checks it)."""
    bucket = fixture_aws.output(fixture_app.DATA_STACK, "ItemsBucketName")
    return states_role(
        fixture_aws,
        "limit-map",
        [
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


def distributed_map(bucket: str, *, result_writer: bool) -> dict[str, Any]:
    """A Distributed Map over an S3 JSON array whose children each output ~1 KiB.

    ResultPath is null, as in the vault: the Map's output is thrown away either way. With a
    ResultWriter the children's outputs go to S3 under the run's prefix, named by the
    execution's name as the vault's are (stacks/sync_state_machine.py).
    """
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
            "States": {
                "Work": {
                    "Type": "Pass",
                    "Parameters": {"id.$": "$.item.id", "padding": ITEM_OUTPUT},
                    "End": True,
                }
            },
        },
        "MaxConcurrency": 8,
        "ResultPath": None,
        "End": True,
    }
    if result_writer:
        state["ResultWriter"] = {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {
                "Bucket": bucket,
                "Prefix.$": "States.Format('_work/{}/map-runs/Each', $$.Execution.Name)",
            },
        }
    return {"StartAt": "Each", "States": {"Each": state}}


@pytest.mark.parametrize("result_writer", [False, True], ids=["no-result-writer", "result-writer"])
def test_a_distributed_map_over_many_items_needs_a_result_writer(
    fixture_aws: RunningAws, map_role: str, result_writer: bool
) -> None:
    # Given 300 items whose children's outputs are ~1 KiB each (~300 KiB together)
    bucket = fixture_aws.output(fixture_app.DATA_STACK, "ItemsBucketName")
    key = f"items/{uuid.uuid4().hex}.json"
    s3 = fixture_aws.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps([{"id": n} for n in range(ITEMS)]))
    run_id = uuid.uuid4().hex
    # When a Distributed Map runs over them, with or without a ResultWriter
    execution = run_definition(
        fixture_aws,
        distributed_map(bucket, result_writer=result_writer),
        {"itemsKey": key},
        name=run_id,
        role_arn=map_role,
    )
    if not result_writer:
        # Then without one the collected outputs are over the limit: the execution fails,
        # although ResultPath discards them
        assert execution["status"] == "FAILED"
        assert execution["error"] == DATA_LIMIT_EXCEEDED
        assert "result of state 'Each'" in execution["cause"]
        return
    # Then with one the Map's result is the manifest's address, under the run's prefix
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"]) == {"itemsKey": key}
    written = s3.list_objects_v2(Bucket=bucket, Prefix=f"_work/{run_id}/map-runs/Each/")
    [manifest] = [entry["Key"] for entry in written.get("Contents", [])]
    assert manifest.endswith("/manifest.json")
    assert (
        json.loads(s3.get_object(Bucket=bucket, Key=manifest)["Body"].read())["DestinationBucket"]
        == bucket
    )
