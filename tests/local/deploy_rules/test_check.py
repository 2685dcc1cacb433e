"""Every rule on a template: a template needs a resource; deploy_assembly refuses before
creating anything; the vault app passes every rule."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.deploy.assembly import (
    DeployError,
    StackArtifact,
    read_assembly,
)
from edx_vault.devtools.embedded_aws.deploy.cdk_deploy import create_stack, deploy_assembly
from edx_vault.devtools.embedded_aws.deploy.rules.check import NO_RESOURCES, template_violations
from stacks.vault_app import build_vault_app
from tests.local.conftest import RunningAws
from tests.local.deploy_rules.rule_templates import ACCOUNT, REGION, alarm, one, violations

# --- the template itself ----------------------------------------------------------------------


def test_a_template_with_a_resource_passes() -> None:
    # Given a template with one resource / When checked / Then nothing is refused
    assert violations(one("AWS::SNS::Topic")) == []


@pytest.mark.parametrize("template", [{}, {"Resources": {}}, {"Outputs": {"A": {"Value": "1"}}}])
def test_a_template_without_resources_is_refused(template: dict[str, Any]) -> None:
    # Given a template whose Resources is missing or empty (outputs alone do not count)
    # When checked
    [violation] = violations(template)
    # Then CloudFormation's own message is given
    assert violation.rule == NO_RESOURCES
    assert "At least one Resources member must be defined" in str(violation)


# --- deploy_assembly refuses before creating anything -----------------------------------------


def test_deploy_refuses_every_violation_of_every_stack_before_creating_anything(
    tmp_path: Path,
) -> None:
    # Given an assembly of two stacks, one with an empty template and one with a bad alarm
    templates = {"Rules-Empty": {"Resources": {}}, "Rules-Alarm": alarm(EvaluationPeriods=9)}
    artifacts: dict[str, Any] = {}
    for name, template in templates.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{ACCOUNT}/{REGION}",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    # When it is deployed to an endpoint where nothing listens
    with pytest.raises(DeployError) as raised:
        deploy_assembly(tmp_path, endpoint="http://127.0.0.1:9", scratch=tmp_path / "scratch")
    # Then both stacks' violations are listed, and no request was made (none could succeed)
    message = str(raised.value)
    assert "nothing was deployed" in message
    assert "Rules-Empty: template Resources = {}: Template format error" in message
    assert "Rules-Alarm: NoNewData (AWS::CloudWatch::Alarm) Period = 86400" in message


# --- the vault app ----------------------------------------------------------------------------

EXAMPLE_CONFIG = Path(__file__).resolve().parents[3] / "config" / "example.toml"
TODAY = dt.date(2026, 1, 15)


def example_config(**replacements: str) -> str:
    """config/example.toml with whole lines replaced (``{"old line": "new line"}``)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def without_researchers(text: str) -> str:
    """The configuration with every [[researchers]] entry (and its comments) removed."""
    return text[: text.index("# Researchers:")]


def app_violations(config_text: str, tmp_path: Path) -> dict[str, list[str]]:
    """Each synthesized stack's violations, for a configuration (templates only, no layers)."""
    config = tmp_path / "vault.toml"
    config.write_text(config_text, encoding="utf-8")
    vault = build_vault_app(
        context={"config": str(config)},
        outdir=str(tmp_path / "cdk.out"),
        nag=False,
        bundle_assets=False,
        today=TODAY,
    )
    deployment = vault.config.deployment
    return {
        stack.stack_name: [
            str(v)
            for v in template_violations(
                stack.template,
                stack_name=stack.stack_name,
                account=deployment.account,
                region=deployment.region,
            )
        ]
        for stack in vault.app.synth().stacks
    }


@pytest.mark.parametrize("days", [1, 9, 90])
def test_the_no_new_data_alarm_is_accepted_for_any_configured_number_of_days(
    days: int, tmp_path: Path
) -> None:
    # Given the example configuration with no_new_data_alarm_days anywhere in its range
    text = example_config(**{"no_new_data_alarm_days = 9": f"no_new_data_alarm_days = {days}"})
    # When the app is synthesized and its templates checked
    found = app_violations(text, tmp_path)
    # Then PutMetricAlarm would accept every alarm, and every alarm may notify the topic
    assert found == {"EdxVault-Storage": [], "EdxVault-Pipeline": [], "EdxVault-Access": []}


def test_a_configuration_without_researchers_passes_every_rule(tmp_path: Path) -> None:
    # Given the example configuration with no [[researchers]] (version reporting is off)
    text = without_researchers(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    # When the app is synthesized and its templates checked
    found = app_violations(text, tmp_path)
    # Then CloudFormation would accept every stack, the Access stack included
    assert found == {"EdxVault-Storage": [], "EdxVault-Pipeline": [], "EdxVault-Access": []}


@pytest.mark.integration
def test_an_access_stack_without_grants_deploys_on_the_embedded_aws(
    fixture_aws: RunningAws, tmp_path: Path
) -> None:
    # Given the Access stack of a configuration without researchers
    text = without_researchers(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert app_violations(text, tmp_path)["EdxVault-Access"] == []
    stack = StackArtifact(
        name="NoGrants-Access",
        template=tmp_path / "cdk.out" / "EdxVault-Access.template.json",
        account=ACCOUNT,
        region=REGION,
        dependencies=(),
        termination_protection=False,
    )
    # When CloudFormation creates it
    outputs = create_stack(stack, endpoint=fixture_aws.state.endpoint)
    # Then it is created (moto's CloudFormation keeps the placeholder as a null resource) and
    # holds no role
    assert outputs == {}
    resources = fixture_aws.client("cloudformation").describe_stack_resources(
        StackName="NoGrants-Access"
    )["StackResources"]
    assert [r["ResourceStatus"] for r in resources] == ["CREATE_COMPLETE"]


@pytest.mark.slow
def test_the_example_vault_app_passes_every_rule(vault_assembly: Path) -> None:
    # Given the vault app for the example configuration, synthesized as `local up` does (with
    # its Lambda layers, so code sizes are measured)
    assembly = read_assembly(vault_assembly)
    # When each stack is checked
    found = {
        stack.name: [
            str(v)
            for v in template_violations(
                stack.template_document(),
                stack_name=stack.name,
                account=stack.account,
                region=stack.region,
                assembly_dir=vault_assembly,
            )
        ]
        for stack in assembly.stacks
    }
    # Then no rule is broken
    assert found == {"EdxVault-Storage": [], "EdxVault-Pipeline": [], "EdxVault-Access": []}
