"""Functions and state machines act as their roles, which must trust the service that uses them.

On AWS, Lambda assumes a function's execution role as ``lambda.amazonaws.com`` and Step
Functions a state machine's role as ``states.amazonaws.com``; a role whose trust policy names
another service cannot be used. The fixture app is deployed twice: as synthesized (its roles
trust their services) and with the function's role trusting EC2 instead.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local import fixture_app
from tests.local.conftest import RunningAws, start, stop
from tests.local.test_step_functions_in_process import run_to_completion

pytestmark = pytest.mark.integration


def _function_role_trusting(assembly: Path, target: Path, service: str) -> Path:
    """A copy of the fixture assembly whose function role trusts ``service``."""
    shutil.copytree(assembly, target)
    template_path = target / f"{fixture_app.FLOW_STACK}.template.json"
    template: dict[str, Any] = json.loads(template_path.read_text())
    role = next(
        resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and logical_id.startswith("WorkerServiceRole")
    )
    role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {
        "Service": service
    }
    template_path.write_text(json.dumps(template))
    return target


@pytest.fixture(scope="module")
def untrusting_aws(
    fixture_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAws]:
    directory = tmp_path_factory.mktemp("untrusting")
    assembly = _function_role_trusting(fixture_assembly, directory / "cdk.out", "ec2.amazonaws.com")
    aws = start(directory / "local.json", assembly, handler_packages=(fixture_app.HANDLER_PACKAGE,))
    yield aws
    stop(aws)


def _result_written(aws: RunningAws, item_id: str) -> bool:
    """The handler writes ``results/{id}.json`` when, and only when, it ran."""
    bucket = aws.output(fixture_app.DATA_STACK, "ItemsBucketName")
    listed = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"results/{item_id}.json")
    return bool(listed.get("Contents"))


def test_a_function_runs_only_with_a_role_that_trusts_lambda(
    fixture_aws: RunningAws, untrusting_aws: RunningAws
) -> None:
    # Given the same app twice: its function's role trusting Lambda, and trusting EC2 instead
    items = [{"id": "trust-probe", "value": 21}]
    # When the state machine runs one item on each
    run_to_completion(fixture_aws, items)
    run_to_completion(untrusting_aws, items)
    # Then only the first ran the handler; with the second, Lambda could not assume the role,
    # as AWS refuses to run a function whose role does not trust it (the Map records the
    # failed item and carries on: moto's Distributed Map never fails on failed items)
    assert _result_written(fixture_aws, "trust-probe")
    assert not _result_written(untrusting_aws, "trust-probe")
    log = Path(untrusting_aws.state.log_file).read_text()
    assert "does not allow lambda.amazonaws.com to assume it" in log
