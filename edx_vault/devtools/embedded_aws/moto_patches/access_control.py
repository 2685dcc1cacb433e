"""moto's own access decisions and signing, made to leave the judging to the strict authorizer.

moto's condition-blind bucket policy check is switched off (the authorizer,
:mod:`edx_vault.devtools.embedded_aws.authorization`, evaluates bucket policies with their
conditions), and the Step Functions interpreter signs its calls with a session of the state
machine's role instead of a fixed key, so the authorizer judges them by the role's policies.
"""

from __future__ import annotations

import sys
from typing import Any

from edx_vault.devtools.embedded_aws.service_sessions import ServiceSessions


def stop_bucket_policy_checks() -> None:
    """Store bucket policies without moto's condition-blind enforcement.

    moto denies an object request when any Deny statement for principal ``*`` matches its
    action, ignoring the statement's Condition: the data bucket's "deny unless TLS" statement
    would refuse every request. Nothing else is access-checked on the embedded AWS either (moto
    does not evaluate IAM by default), so bucket policies are kept for GetBucketPolicy only.
    """
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _state_machine_of(role_arn: str, region: str) -> str | None:
    """The state machine a role belongs to (Step Functions' ``aws:SourceArn``), if only one
    uses it; the interpreter passes the role but not the state machine."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    account = role_arn.split(":")[4]
    machines = [
        machine.arn
        for machine in stepfunctions_parser_backends[account][region].state_machines
        if machine.roleArn == role_arn
    ]
    return machines[0] if len(machines) == 1 else None


def run_state_machine_calls_as_their_role(sessions: ServiceSessions) -> None:
    """Sign the Step Functions interpreter's calls with a session of the state machine's role.

    moto's interpreter signs every Lambda invoke, ItemReader read and ResultWriter write with
    the fixed key ``ak``, whatever role the state machine names. On AWS, Step Functions
    assumes that role (as ``states.amazonaws.com``) and calls with its session, so the strict
    embedded AWS judges those calls by the role's policies. The interpreter already passes the
    role (``StateCredentials.role_arn``) to the function that builds its clients; only the
    credentials were missing. A role that does not trust Step Functions fails the call.
    """
    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module

    original = boto_client_module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            return original(region, service, state_credentials)
        credentials = sessions.credentials(
            role_arn, "states.amazonaws.com", source_arn=_state_machine_of(role_arn, region)
        )
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=f"http://localhost:{moto_server_port()}",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=600,
                read_timeout=600,
            ),
        )

    # Each interpreter module imported the function by name: replace it where it is used.
    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            setattr(module, "boto_client_for", boto_client_for)  # noqa: B010 - a module global
    boto_client_module.boto_client_for = boto_client_for
