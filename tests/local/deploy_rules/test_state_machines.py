"""State machine definitions: asl-validator's findings as the rule (its own tests are in
tests/local/test_asl_validation.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.local.deploy_rules.rule_templates import messages, one, violations


def state_machine(next_state: str) -> dict[str, Any]:
    definition = {
        "StartAt": "First",
        "States": {"First": {"Type": "Pass", "Next": next_state}, "Done": {"Type": "Succeed"}},
    }
    return one(
        "AWS::StepFunctions::StateMachine",
        RoleArn="arn:aws:iam::123456789012:role/sfn",
        DefinitionString=json.dumps(definition),
    )


def test_a_valid_definition_passes() -> None:
    # (asl_validation is its own module, with its own tests; these check the rule's wiring)
    pytest.importorskip("edx_vault.devtools.embedded_aws.deploy.rules.asl_validation")
    # Given a definition whose every transition names a state / Then it is accepted
    assert violations(state_machine("Done")) == []


def test_a_definition_naming_a_missing_state_is_refused() -> None:
    pytest.importorskip("edx_vault.devtools.embedded_aws.deploy.rules.asl_validation")
    # Given a Pass state whose Next names no state
    problems = messages(state_machine("Nowhere"))
    # Then asl-validator's finding is given as Step Functions' refusal
    assert (
        "Thing (AWS::StepFunctions::StateMachine) DefinitionString = MISSING_TRANSITION_TARGET: "
        "Step Functions: CreateStateMachine refuses an invalid definition (InvalidDefinition); "
        "asl-validator: Missing 'StartAt'|'Next'|'Default' target: Nowhere"
    ) in problems
