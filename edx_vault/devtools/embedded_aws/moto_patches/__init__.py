"""Every change the embedded AWS makes to moto 5.2.5, each one naming the gap it closes.

Applied once, by :func:`install`, in the server process only (never in tests that use moto's
decorators, never in product code). Each function patches one thing; ``docs/embedded-aws.md``
lists them for users. One module per patched part of moto:

- :mod:`.step_functions_execution`: state machines execute, JSONata, Retry sleeps, CloudFormation's
  state machines in the executing backend, unnamed executions;
- :mod:`.step_functions_errors`: Lambda service errors and Distributed Map reader and writer
  failures named as AWS names them;
- :mod:`.step_functions_payload_limit`: the 256 KiB limit between states;
- :mod:`.lambda_invoke`: Lambda handlers run in this process;
- :mod:`.access_control`: moto's bucket policy check off, the interpreter signing as its role;
- :mod:`.cloudformation_resources`: the resource properties moto's CloudFormation drops;
- :mod:`.cloudformation_failures`: a failed resource fails its stack.

These modules import moto only inside the patch functions, and from the project only the
embedded AWS's own modules (the in-process Lambda runtime, the service sessions, the deployed
code, the emulated resource types).
"""

from __future__ import annotations

from dataclasses import dataclass

from edx_vault.devtools.embedded_aws.in_process_lambda.runtime import InProcessLambda
from edx_vault.devtools.embedded_aws.service_sessions import ServiceSessions


@dataclass(frozen=True)
class PatchSettings:
    """What the patches need to know.

    Attributes
    ----------
    lambda_runtime
        Runs Lambda invocations in-process.
    retry_sleep_scale
        Step Functions Retry intervals are multiplied by this (1.0: real time).
    retry_sleep_cap_seconds
        And capped at this many seconds.
    service_sessions
        When set (the strict embedded AWS), state machines call AWS with sessions of their
        roles instead of moto's fixed key.
    """

    lambda_runtime: InProcessLambda
    retry_sleep_scale: float = 0.01
    retry_sleep_cap_seconds: float = 0.5
    service_sessions: ServiceSessions | None = None


def install(settings: PatchSettings) -> None:
    """Apply every patch, and register the CloudFormation handlers of emulated types."""
    from edx_vault.devtools.embedded_aws.deploy import cfn_resources
    from edx_vault.devtools.embedded_aws.moto_patches import (
        access_control,
        cloudformation_failures,
        cloudformation_resources,
        lambda_invoke,
        step_functions_errors,
        step_functions_execution,
        step_functions_payload_limit,
    )

    step_functions_execution.enable_state_machine_execution()
    step_functions_execution.use_python_jsonata()
    step_functions_execution.shorten_retry_sleeps(
        settings.retry_sleep_scale, settings.retry_sleep_cap_seconds
    )
    step_functions_execution.create_state_machines_in_the_executing_backend()
    step_functions_execution.name_unnamed_executions()
    step_functions_payload_limit.enforce_state_payload_limit()
    step_functions_errors.name_lambda_service_errors()
    step_functions_errors.name_map_reader_and_writer_errors()
    cloudformation_resources.fix_kms_keys_from_cloudformation()
    cloudformation_resources.complete_s3_buckets_from_cloudformation()
    cloudformation_resources.complete_dynamodb_tables_from_cloudformation()
    cloudformation_resources.complete_lambda_functions_from_cloudformation()
    cloudformation_failures.report_failed_resources_as_cloudformation_does()
    access_control.stop_bucket_policy_checks()
    lambda_invoke.run_lambda_in_process(settings.lambda_runtime)
    if settings.service_sessions is not None:
        access_control.run_state_machine_calls_as_their_role(settings.service_sessions)
    cfn_resources.register()
