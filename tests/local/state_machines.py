"""Small state machines run directly on the test app's server, as the Step Functions tests do."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from tests.local import fixture_app
from tests.local.conftest import RunningAws

EXECUTION_TIMEOUT_SECONDS = 60


def finished_execution(
    aws: RunningAws, execution_arn: str, *, poll_seconds: float = 0.05
) -> dict[str, Any]:
    """The execution once it is no longer running (``describe_execution``)."""
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(poll_seconds)
    raise AssertionError(f"the execution did not finish within {EXECUTION_TIMEOUT_SECONDS} s")


def run_definition(
    aws: RunningAws,
    definition: dict[str, Any],
    given: Any,
    *,
    name: str | None = None,
    role_arn: str | None = None,
) -> dict[str, Any]:
    """Create a state machine from the definition, run it on the input (compact JSON, so its
    size is what a test says), wait for the end."""
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"test-{uuid.uuid4().hex[:12]}",
        definition=json.dumps(definition),
        roleArn=role_arn or f"arn:aws:iam::{fixture_app.ACCOUNT}:role/unused",
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=arn,
        name=name or uuid.uuid4().hex,
        input=json.dumps(given, separators=(",", ":")),
    )
    return finished_execution(aws, execution["executionArn"])


def states_role(aws: RunningAws, name: str, statements: Sequence[dict[str, Any]]) -> str:
    """A new role Step Functions may assume, allowed ``statements`` (one inline policy)."""
    iam = aws.client("iam")
    role_name = f"{name}-{uuid.uuid4().hex[:8]}"
    arn: str = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=name,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    return arn
