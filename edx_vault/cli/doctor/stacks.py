"""Doctor's check 1: the storage, pipeline and access stacks, each deployed as the config says.

Every stack must exist in a usable state, in the account and region the configuration names (read
from its stack id); a stack mid-update or rolled back turns a PASS into a WARN. Then each is
inspected for what is its own: the storage stack's outputs and the data bucket the configuration
implies, the pipeline stack's outputs, the access stack's one role per researcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from edx_vault.access.grants import compile_grants
from edx_vault.access.researcher_roles import ACCESS_STACK_SUFFIX, ROLE_ARN_OUTPUT_PREFIX
from edx_vault.access.researcher_roles import role_output_name as grant_output_name
from edx_vault.cli.checks import Check, Verdict
from edx_vault.cli.doctor.facts import Doctor
from edx_vault.settings import stack_outputs
from edx_vault.settings.config import ConfigError
from edx_vault.settings.deployment import UNUSABLE_STACK_STATES
from edx_vault.settings.resource_names import data_bucket_name, resource_prefix

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import StackTypeDef

# Stack states whose resources exist but are not (yet) what the last deploy asked for.
_UNSETTLED_SUFFIXES: Final = ("_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")

# What a stack's own inspection finds: a verdict that is not a PASS, or what to add to the
# PASS's evidence after "{name} {state}".
Inspection = Callable[[Doctor, Verdict, "StackTypeDef"], "Check | str"]


def _stack_location(stack: StackTypeDef) -> tuple[str, str]:
    """(account, region) from the stack id ``arn:aws:cloudformation:REGION:ACCOUNT:stack/...``."""
    parts = stack.get("StackId", "").split(":")
    return (parts[4], parts[3]) if len(parts) > 5 else ("?", "?")


def _outputs(stack: StackTypeDef) -> dict[str, str]:
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in stack.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }


def usable_stack(doctor: Doctor, verdict: Verdict, suffix: str) -> StackTypeDef | Check:
    """The stack, or a FAIL when it is missing, unusable or elsewhere than the config says."""
    deployment = doctor.config.deployment
    stack_name = doctor.stack_name(suffix)
    stack = doctor.describe_stack(stack_name)
    if stack is None:
        return verdict(
            "FAIL",
            f"{stack_name} is not deployed in {doctor.context.region}",
            fix=doctor.deploy_fix(),
        )
    state = stack["StackStatus"]
    if state in UNUSABLE_STACK_STATES:
        return verdict(
            "FAIL",
            f"{stack['StackName']} is in state {state}: its resources cannot be used",
            fix=(
                "read the stack's events in the CloudFormation console, fix the cause, then "
                + doctor.deploy_fix(stack["StackName"])
            ),
        )
    account, region = _stack_location(stack)
    if (account, region) != (deployment.account, deployment.region):
        return verdict(
            "FAIL",
            f"{stack['StackName']} is in account {account}, region {region}; the "
            f"configuration names account {deployment.account}, region {deployment.region}",
            fix=(
                f"sign in to account {deployment.account} and run in region "
                f"{deployment.region} (no --region), or fix [deployment] in "
                f"{doctor.context.config_path}: this stack is another deployment's"
            ),
        )
    return stack


def _settled(doctor: Doctor, check: Check, stack: StackTypeDef) -> Check:
    """``check``, or a WARN when the stack is mid-update or its last update rolled back."""
    state = stack["StackStatus"]
    if check.status != "PASS" or not state.endswith(_UNSETTLED_SUFFIXES):
        return check
    return replace(
        check,
        status="WARN",
        evidence=(
            f"{check.evidence}; but it is in state {state}: it may not be what the last "
            "deploy asked for"
        ),
        fix=(
            "wait for an update in progress to end; otherwise read the stack's events in "
            "the CloudFormation console and deploy again: " + doctor.deploy_fix(stack["StackName"])
        ),
    )


def stack_check(suffix: str, inspect: Inspection) -> Callable[[Doctor, Verdict], Check]:
    """The check of the stack ``{prefix}-{suffix}``: usable, then ``inspect``-ed, then settled."""

    def check(doctor: Doctor, verdict: Verdict) -> Check:
        stack = usable_stack(doctor, verdict, suffix)
        if isinstance(stack, Check):
            return stack
        found = inspect(doctor, verdict, stack)
        if isinstance(found, Check):
            return found
        passed = verdict("PASS", f"{stack['StackName']} {stack['StackStatus']}{found}")
        return _settled(doctor, passed, stack)

    return check


def _another_version(
    doctor: Doctor, verdict: Verdict, stack_name: str, missing: list[str]
) -> Check:
    """A FAIL for a stack without outputs this version needs."""
    return verdict(
        "FAIL",
        f"{stack_name} has no output {', '.join(missing)}: deployed by another version of "
        "edx-vault",
        fix=doctor.deploy_fix(stack_name),
    )


def _storage(doctor: Doctor, verdict: Verdict, stack: StackTypeDef) -> Check | str:
    """The storage stack's outputs, and the data bucket the config implies."""
    stack_name = stack["StackName"]
    outputs = _outputs(stack)
    missing = [o for o in stack_outputs.STORAGE_OUTPUTS if o not in outputs]
    if missing:
        return _another_version(doctor, verdict, stack_name, missing)
    deployment = doctor.config.deployment
    implied = data_bucket_name(
        resource_prefix(deployment.stack_prefix), deployment.account, deployment.region
    )
    bucket = outputs[stack_outputs.DATA_BUCKET]
    if bucket != implied:
        return verdict(
            "FAIL",
            f"{stack_name}'s data bucket is {bucket}; the configuration implies {implied}",
            fix=(
                "deploy from the configuration this stack was deployed from, or fix "
                f"[deployment] (account, region, stack_prefix) in {doctor.context.config_path}"
            ),
        )
    account, region = _stack_location(stack)
    return f" in {account}/{region}; data bucket {bucket}"


def _pipeline(doctor: Doctor, verdict: Verdict, stack: StackTypeDef) -> Check | str:
    """The pipeline stack's outputs (state machine, topic, schedule)."""
    stack_name = stack["StackName"]
    outputs = _outputs(stack)
    if stack_outputs.STATE_MACHINE_ARN not in outputs:
        return _another_version(doctor, verdict, stack_name, [stack_outputs.STATE_MACHINE_ARN])
    missing = [o for o in stack_outputs.PIPELINE_OUTPUTS if o not in outputs]
    if missing:
        return verdict(
            "WARN",
            f"{stack_name} has no output {', '.join(missing)} (an older version): the "
            "checks below look for them among its resources",
            fix=doctor.deploy_fix(stack_name),
        )
    return f"; state machine {outputs[stack_outputs.STATE_MACHINE_ARN].rsplit(':', 1)[-1]}"


def _access(doctor: Doctor, verdict: Verdict, stack: StackTypeDef) -> Check | str:
    """The access stack holds one role per researcher of the configuration."""
    stack_name = stack["StackName"]
    config_path = doctor.context.config_path
    try:
        grants = compile_grants(
            doctor.config, today=doctor.context.now().date(), source=config_path
        )
    except ConfigError as error:
        return verdict(
            "FAIL",
            f"the configuration's researchers do not compile: {error}",
            fix=f"fix [[researchers]] in {config_path} (`npx cdk synth` names each problem)",
        )
    expected = {grant_output_name(grant.name): grant.name for grant in grants}
    deployed = {key for key in _outputs(stack) if key.startswith(ROLE_ARN_OUTPUT_PREFIX)}
    missing = sorted(who for output, who in expected.items() if output not in deployed)
    extra = sorted(deployed - set(expected))
    if missing:
        return verdict(
            "FAIL",
            f"{stack_name} has no role for researcher(s) {', '.join(missing)} of the configuration",
            fix=doctor.deploy_fix(stack_name),
        )
    if extra:
        return verdict(
            "WARN",
            f"{stack_name} still has roles the configuration no longer lists "
            f"({', '.join(o.removeprefix(ROLE_ARN_OUTPUT_PREFIX) for o in extra)})",
            fix=f"{doctor.deploy_fix(stack_name)} (removes them)",
        )
    if not expected:
        return "; no researcher roles (the configuration has no researchers)"
    return f"; {len(expected)} researcher role(s), as configured"


storage_stack: Final = stack_check(stack_outputs.STORAGE_STACK_SUFFIX, _storage)
pipeline_stack: Final = stack_check(stack_outputs.PIPELINE_STACK_SUFFIX, _pipeline)
access_stack: Final = stack_check(ACCESS_STACK_SUFFIX, _access)
