"""Resource discovery from the real storage template deployed into moto's CloudFormation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edx_vault.settings import stack_outputs
from edx_vault.settings.deployment import Deployment, DeploymentError, PipelineNotDeployedError
from tests.cli.conftest import (
    Cli,
    DeployedVault,
    deploy_pipeline_stack,
    deploy_storage_stack,
    new_prefix,
)
from tests.integration.conftest import Aws

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_discover_reads_every_storage_output(vault_stack: DeployedVault) -> None:
    # Given the storage stack deployed from the synthesized template
    cloudformation = vault_stack.aws.client("cloudformation")
    # When the deployment is discovered
    deployment = Deployment.discover(cloudformation, vault_stack.prefix)
    # Then every resource comes from the stack's outputs
    storage = deployment.storage
    assert storage.data_bucket == vault_stack.data_bucket
    assert storage.manifest_table == vault_stack.outputs[stack_outputs.MANIFEST_TABLE]
    assert storage.pipeline_key_secret_arn == vault_stack.key_secret
    assert storage.data_key_arn.startswith("arn:aws:kms:")
    # and the pipeline, not deployed, is reported as such
    assert deployment.pipeline is None
    with pytest.raises(PipelineNotDeployedError, match=r"pipeline stack T\w+-Pipeline is not"):
        deployment.require_pipeline()


def test_discover_names_the_missing_stack_and_how_to_deploy_it(aws: Aws) -> None:
    # Given a prefix with no stacks
    prefix = new_prefix()
    # When it is discovered
    with pytest.raises(DeploymentError) as raised:
        Deployment.discover(aws.client("cloudformation"), prefix)
    # Then the message names the stack and the command that deploys it
    message = str(raised.value)
    assert f"storage stack {prefix}-Storage is not deployed in us-east-1" in message
    assert f"npx cdk deploy -c config=<your config> {prefix}-Storage" in message


def test_discover_refuses_a_storage_stack_missing_outputs(
    aws: Aws, storage_template: dict[str, Any]
) -> None:
    # Given a storage stack whose secret outputs are missing (moto's CloudFormation drops
    # outputs of the secrets it cannot create: like a stack from an older version)
    prefix = new_prefix()
    deploy_storage_stack(aws, storage_template, prefix, create_secrets=False)
    # When it is discovered
    with pytest.raises(DeploymentError) as raised:
        Deployment.discover(aws.client("cloudformation"), prefix)
    # Then the missing outputs are named
    assert stack_outputs.PIPELINE_KEY_SECRET_ARN in str(raised.value)
    assert f"{prefix}-Storage" in str(raised.value)


def test_discover_reads_the_pipeline_stack_when_deployed(vault_stack: DeployedVault) -> None:
    # Given a pipeline stack beside the storage stack
    arn = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    # When the deployment is discovered
    deployment = Deployment.discover(vault_stack.aws.client("cloudformation"), vault_stack.prefix)
    # Then its state machine, topic and schedule are known
    pipeline = deployment.require_pipeline()
    assert pipeline.state_machine_arn == arn
    assert pipeline.alerts_topic_arn and pipeline.alerts_topic_arn.startswith("arn:aws:sns:")
    assert pipeline.schedule_name == f"{vault_stack.prefix}-weekly-sync"


def test_info_json_lists_the_deployed_resources(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given a deployed storage stack
    # When an admin asks for the resources as JSON
    result = cli("info", "--json")
    # Then they are the stack's outputs, and the missing pipeline is explained
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["storage"]["data_bucket"] == vault_stack.data_bucket
    assert info["storage"]["edx_credentials_secret_arn"] == vault_stack.credentials_secret
    assert info["pipeline"] is None
    assert "not deployed" in info["pipeline_problem"]


def test_info_for_people_is_a_table(cli: Cli, vault_stack: DeployedVault) -> None:
    # When an admin asks for the resources
    result = cli("info")
    # Then each resource is on its own line
    assert result.exit_code == 0, result.stderr
    assert f"data bucket             {vault_stack.data_bucket}" in result.stdout
    assert "pipeline                not deployed" in result.stdout


def test_a_missing_stack_is_one_error_line_and_exit_1(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given a configuration naming a prefix that was never deployed
    vault_stack.config_path.write_text(
        vault_stack.config_path.read_text().replace(vault_stack.prefix, "NeverDeployed")
    )
    # When any command runs
    result = cli("status")
    # Then it says so in one line, without a traceback
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the storage stack NeverDeployed-Storage is not")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
