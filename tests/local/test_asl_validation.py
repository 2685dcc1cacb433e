"""asl-validator judges the state machine definitions, the app's own among them.

The pinned validator (package.json, installed by `npm ci`) runs for real here: these tests are
how `make test` checks every state machine the app synthesizes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.deploy.rules import asl_validation
from edx_vault.devtools.embedded_aws.deploy.rules.asl_validation import (
    AslValidatorError,
    AslValidatorUnavailableError,
    validate_definition,
    validate_definitions,
)
from edx_vault.devtools.embedded_aws.deploy.rules.state_machines import (
    state_machine_definitions,
    template_definition_errors,
)
from stacks.vault_app import build_vault_app
from tests.local import fixture_app

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:worker"

# Plan -> Work (a Task) -> Done: the shape of the vault's machine, in miniature.
VALID: dict[str, Any] = {
    "StartAt": "Plan",
    "States": {
        "Plan": {"Type": "Pass", "ResultPath": "$.plan", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": LAMBDA_ARN, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}

# A Distributed Map in JSONata: ItemReader, ItemProcessor, ItemBatcher, a ResultWriter with a
# WriterConfig, Assign and {% %} expressions, as the CDK writes them for aws-cdk-lib 2.275.
DISTRIBUTED_JSONATA: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "EachItem",
    "States": {
        "EachItem": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSONL"},
                "Arguments": {"Bucket": "items", "Key": "{% $states.input.key %}"},
            },
            "ItemBatcher": {"MaxItemsPerBatch": 10},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Invoke",
                "States": {
                    "Invoke": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Arguments": {"FunctionName": LAMBDA_ARN, "Payload": "{% $states.input %}"},
                        "Output": "{% $states.result.Payload %}",
                        "Assign": {"last": "{% $states.result.Payload %}"},
                        "End": True,
                    }
                },
            },
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Arguments": {"Bucket": "results", "Prefix": "runs"},
                "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"},
            },
            "MaxConcurrency": 4,
            "ToleratedFailurePercentage": 5,
            "End": True,
        }
    },
}


def test_a_valid_definition_has_no_errors() -> None:
    # Given a definition whose every transition names a state
    # When the validator judges it
    errors = validate_definition(json.dumps(VALID))
    # Then it finds nothing
    assert errors == []


def test_a_next_naming_a_missing_state_is_an_error() -> None:
    # Given the same definition, with Work's Next naming a state that does not exist
    broken = copy.deepcopy(VALID)
    broken["States"]["Work"]["Next"] = "Nowhere"
    # When the validator judges it
    errors = validate_definition(broken)
    # Then it says which target is missing (and that Done is now unreachable)
    assert "MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: Nowhere" in errors
    assert "MISSING_TRANSITION_TARGET: State Done is not reachable" in errors


def test_a_task_without_resource_is_an_error_at_that_state() -> None:
    # Given the valid definition, with the Task's Resource removed
    broken = copy.deepcopy(VALID)
    del broken["States"]["Work"]["Resource"]
    # When the validator judges it
    errors = validate_definition(broken)
    # Then the schema error points at that state (the validator's schema message does not
    # name the missing field: Work no longer matches any state type)
    assert errors
    assert all(error.startswith("SCHEMA_VALIDATION_FAILED: /States/Work/") for error in errors)


def test_newer_distributed_map_and_jsonata_fields_are_accepted() -> None:
    # Given a JSONata Distributed Map with a reader, a batcher and a result writer
    # When the validator judges it
    errors = validate_definition(DISTRIBUTED_JSONATA)
    # Then it accepts every field
    assert errors == []


def test_a_jsonata_syntax_error_is_an_error() -> None:
    # Given the JSONata definition with an expression that does not parse
    broken = copy.deepcopy(DISTRIBUTED_JSONATA)
    processor = broken["States"]["EachItem"]["ItemProcessor"]
    processor["States"]["Invoke"]["Output"] = "{% $states.result. %}"
    # When the validator judges it
    errors = validate_definition(broken)
    # Then the error points at that field
    assert any("/Invoke/Output is invalid" in error for error in errors)


def test_a_result_writer_with_only_a_writer_config_is_refused_though_aws_accepts_it() -> None:
    # Given a ResultWriter with only WriterConfig, which AWS documents as valid (preview the
    # formatted results without writing them to S3)
    preview = copy.deepcopy(DISTRIBUTED_JSONATA)
    preview["States"]["EachItem"]["ResultWriter"] = {
        "WriterConfig": {"OutputType": "JSON", "Transformation": "COMPACT"}
    }
    # When the validator judges it
    errors = validate_definition(preview)
    # Then the pinned asl-validator requires Resource anyway: a limit of the validator, kept
    # visible here. The app does not use this form; if it ever does, this test fails first.
    assert (
        "SCHEMA_VALIDATION_FAILED: /States/EachItem/ResultWriter is invalid. must have required property 'Resource'"
        in errors
    )


def test_text_that_is_not_a_json_object_is_an_error_without_the_validator() -> None:
    # Given a definition that is not JSON, and one that is JSON but not an object
    # When they are judged
    results = validate_definitions({"truncated": '{"StartAt": "A"', "list": "[]"})
    # Then each is refused as AWS would refuse it
    assert results["truncated"][0].startswith("INVALID_JSON: the definition is not JSON")
    assert results["list"] == ["INVALID_JSON: the definition is not a JSON object"]


def test_a_definition_the_validator_crashes_on_is_named_not_judged() -> None:
    # Given a valid definition, and one whose state is a string (the pinned validator throws
    # a TypeError on it instead of reporting an error)
    definitions = {"fine": VALID, "odd": {"StartAt": "A", "States": {"A": "not a state"}}}
    # When they are judged together
    with pytest.raises(AslValidatorError) as raised:
        validate_definitions(definitions)
    # Then the error names the definition and the validator's exception, not a verdict
    assert "exited 2 on odd:" in str(raised.value)
    assert "Validator exception: TypeError" in str(raised.value)


def test_a_checkout_without_the_validator_says_to_run_npm_ci(tmp_path: Path) -> None:
    # Given a checkout whose node_modules lacks asl-validator
    (tmp_path / "package.json").write_text('{"devDependencies": {"asl-validator": "4.0.0"}}')
    # When a definition is validated there
    with pytest.raises(AslValidatorUnavailableError, match=r"run `npm ci` in") as raised:
        validate_definition(VALID, root=tmp_path)
    # Then the error names the fix and where
    assert str(tmp_path) in str(raised.value)


def test_another_installed_version_than_the_pin_says_to_run_npm_ci(tmp_path: Path) -> None:
    # Given a checkout whose node_modules holds another asl-validator than package.json pins
    (tmp_path / "package.json").write_text('{"devDependencies": {"asl-validator": "4.0.0"}}')
    installed = tmp_path / "node_modules" / "asl-validator"
    installed.mkdir(parents=True)
    (installed / "package.json").write_text('{"version": "3.0.8"}')
    (tmp_path / "node_modules" / ".bin").mkdir()
    (tmp_path / "node_modules" / ".bin" / "asl-validator").write_text("")
    # When a definition is validated there
    # Then the error says which versions differ, and the fix
    with pytest.raises(
        AslValidatorUnavailableError, match=r"3\.0\.8 is installed but package.json pins 4\.0\.0"
    ):
        validate_definition(VALID, root=tmp_path)


def cdk_template(definition_parts: list[Any]) -> dict[str, Any]:
    """A template as the CDK writes it: the definition joined from text and intrinsics."""
    return {
        "Parameters": {"Concurrency": {"Type": "Number", "Default": "8"}},
        "Resources": {
            "Worker1234": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Items5678": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Machine9ABC": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": {"Fn::Join": ["", definition_parts]}},
            },
        },
    }


def test_intrinsics_in_a_cdk_definition_become_plausible_values() -> None:
    # Given a CDK-style DefinitionString: a function's ARN, the partition, a bucket's Ref, a
    # numeric parameter and a DefinitionSubstitutions placeholder
    template = cdk_template(
        [
            '{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"',
            {"Fn::GetAtt": ["Worker1234", "Arn"]},
            '","Next":"Read"},"Read":{"Type":"Task","Resource":"arn:',
            {"Ref": "AWS::Partition"},
            ':states:::aws-sdk:s3:getObject","Parameters":{"Bucket":"',
            {"Ref": "Items5678"},
            '","Key":"${ItemsKey}","Concurrency":',
            {"Ref": "Concurrency"},
            '},"End":true}}}',
        ]
    )
    machine = template["Resources"]["Machine9ABC"]["Properties"]
    machine["DefinitionSubstitutions"] = {"ItemsKey": "items/today.json"}
    # When the definitions are extracted
    [(logical_id, text)] = state_machine_definitions(template)
    # Then the definition parses, with an ARN of the function's type and the other values
    definition = json.loads(text)
    assert logical_id == "Machine9ABC"
    assert definition["States"]["Work"]["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:Worker1234"
    )
    read = definition["States"]["Read"]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"] == {
        "Bucket": "items5678",
        "Key": "items/today.json",
        "Concurrency": 8,
    }
    # And it is valid
    assert template_definition_errors(template) == []


def test_template_errors_name_the_state_machine() -> None:
    # Given a template whose state machine's Next names a missing state
    template = cdk_template(
        [
            '{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"',
            {"Fn::GetAtt": ["Worker1234", "Arn"]},
            '","Next":"Nowhere"}}}',
        ]
    )
    # When the template's definitions are judged
    errors = template_definition_errors(template)
    # Then each error starts with the machine's logical id
    assert (
        "Machine9ABC: MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: Nowhere"
        in errors
    )
    assert all(error.startswith("Machine9ABC: ") for error in errors)


def test_a_definition_in_s3_is_reported_as_unchecked() -> None:
    # Given a state machine whose definition is in S3
    template = {
        "Resources": {
            "FromS3": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}},
            }
        }
    }
    # When the template's definitions are judged
    errors = template_definition_errors(template)
    # Then it says the definition could not be checked, rather than passing it
    assert errors == [
        "FromS3: the definition is in S3 (DefinitionS3Location); asl-validator cannot check it "
        "before deployment"
    ]


def test_a_template_without_state_machines_needs_no_validator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a template with no state machine, and no validator to be found
    def unavailable(root: Path | None = None) -> Path:
        raise AssertionError("the validator should not run")

    monkeypatch.setattr(asl_validation, "validator_command", unavailable)
    # When its definitions are judged
    # Then there is nothing to say
    assert template_definition_errors({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}) == []


@pytest.fixture(scope="module")
def vault_templates() -> dict[str, dict[str, Any]]:
    """Every stack template of the vault app (example configuration), by stack name."""
    assembly = build_vault_app(nag=False, bundle_assets=False).app.synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def test_every_state_machine_of_the_vault_app_is_valid(
    vault_templates: dict[str, dict[str, Any]],
) -> None:
    # Given every template the vault app synthesizes
    machines = {
        (stack, logical_id)
        for stack, template in vault_templates.items()
        for logical_id, _ in state_machine_definitions(template)
    }
    # (the pipeline's sync state machine among them, so the check is not vacuous)
    assert any(stack == "EdxVault-Pipeline" for stack, _ in machines)
    # When every state machine definition is validated
    errors = {
        stack: template_definition_errors(template) for stack, template in vault_templates.items()
    }
    # Then asl-validator finds nothing wrong in any of them
    assert errors == {stack: [] for stack in vault_templates}


def test_the_embedded_aws_fixture_app_state_machine_is_valid(tmp_path: Path) -> None:
    # Given the test app the embedded AWS's tests deploy (a Distributed Map over S3)
    assembly = fixture_app.build_fixture_app(str(tmp_path / "cdk.out")).synth()
    template = assembly.get_stack_by_name(fixture_app.FLOW_STACK).template
    assert state_machine_definitions(template)
    # When its definitions are validated
    # Then they are valid, so the deploy-time rule lets the embedded AWS's tests deploy it
    assert template_definition_errors(template) == []
