"""Deploying a cloud assembly: stack order, asset packaging, and failures reported by name."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from edx_vault.devtools.embedded_aws.deploy.assembly import (
    DeployError,
    StackArtifact,
    read_assembly,
)
from edx_vault.devtools.embedded_aws.deploy.assets import zip_directory
from edx_vault.devtools.embedded_aws.deploy.cdk_deploy import create_stack
from edx_vault.devtools.embedded_aws.resource_support import notes_for_template
from tests.local import fixture_app
from tests.local.conftest import RunningAws


def test_stacks_are_deployed_after_the_stacks_they_depend_on(fixture_assembly: Path) -> None:
    assembly = read_assembly(fixture_assembly)
    assert [stack.name for stack in assembly.stacks] == [
        fixture_app.DATA_STACK,
        fixture_app.FLOW_STACK,
    ]
    assert assembly.stacks[1].dependencies == (fixture_app.DATA_STACK,)
    assert {stack.region for stack in assembly.stacks} == {fixture_app.REGION}


def test_a_zip_asset_is_packaged_the_same_way_every_time(tmp_path: Path) -> None:
    # Given a directory with nested files
    source = tmp_path / "asset"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "b.py").write_text("B = 2\n")
    (source / "a.py").write_text("A = 1\n")
    # When it is zipped twice
    zip_directory(source, tmp_path / "one.zip")
    zip_directory(source, tmp_path / "two.zip")
    # Then the bytes are identical and the entries sorted, with relative POSIX names
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["a.py", "pkg/b.py"]
        assert archive.read("pkg/b.py") == b"B = 2\n"


def test_every_emulated_or_patched_resource_is_named_with_a_reason(fixture_assembly: Path) -> None:
    template = json.loads(
        (fixture_assembly / f"{fixture_app.FLOW_STACK}.template.json").read_text()
    )
    notes = {note.resource_type: note for note in notes_for_template("Flow", template)}
    assert notes["AWS::StepFunctions::StateMachine"].treatment == "patched"
    assert notes["AWS::Lambda::Function"].treatment == "patched"
    assert all(note.reason for note in notes.values())
    assert "AWS::IAM::Role" not in notes  # moto's CloudFormation creates it as it is


def _broken_stack(tmp_path: Path, name: str, resources: dict[str, object]) -> StackArtifact:
    template = tmp_path / f"{name}.template.json"
    template.write_text(json.dumps({"Resources": resources}))
    return StackArtifact(
        name=name,
        template=template,
        account=fixture_app.ACCOUNT,
        region=fixture_app.REGION,
        dependencies=(),
        termination_protection=False,
    )


@pytest.mark.integration
def test_an_invalid_state_machine_fails_the_stack_naming_the_resource_and_the_text(
    fixture_aws: RunningAws, tmp_path: Path
) -> None:
    # Given a state machine whose Parameters is a string, which Step Functions refuses
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:x", "Parameters": "$", "End": True}
        },
    }
    stack = _broken_stack(
        tmp_path,
        "LocalFixture-BadDefinition",
        {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": json.dumps(definition),
                    "RoleArn": f"arn:aws:iam::{fixture_app.ACCOUNT}:role/x",
                },
            },
        },
    )
    # When it is deployed
    with pytest.raises(DeployError) as failure:
        create_stack(stack, endpoint=fixture_aws.state.endpoint)
    # Then the stack failed, naming the resource, its type and where the definition is wrong
    message = str(failure.value)
    assert "LocalFixture-BadDefinition: CREATE_FAILED" in message
    assert "Machine (AWS::StepFunctions::StateMachine)" in message
    assert '"Parameters":"$"' in message.replace(" ", "")


@pytest.mark.integration
def test_a_type_nobody_supports_fails_the_stack_instead_of_being_left_out(
    fixture_aws: RunningAws, tmp_path: Path
) -> None:
    stack = _broken_stack(
        tmp_path,
        "LocalFixture-UnknownType",
        {"Thing": {"Type": "AWS::Imaginary::Thing", "Properties": {}}},
    )
    with pytest.raises(DeployError, match=r"Thing \(AWS::Imaginary::Thing\): .*supported neither"):
        create_stack(stack, endpoint=fixture_aws.state.endpoint)
