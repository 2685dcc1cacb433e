"""The identity the admin CLI uses on the embedded AWS: a session of the config's admin role.

On AWS the data czar runs ``edx-vault`` as one of the roles in ``deployment.admin_role_arns``:
the bucket and key policies name exactly those roles, and refuse object access to everyone
else, the account's root user included. Those roles exist before the vault (the institution
made them), so the vault's stacks do not create them. ``local up`` plays the institution: it
creates each admin role of the configured account that does not exist yet, trusted by the
account and allowed every action (as an administrator's role is), and signs the CLI's
environment with a session of the first one. With no admin role configured, the environment
signs as the account's root user and the CLI is refused what AWS would refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.devtools.embedded_aws import ACCESS_KEY_ID, SECRET_ACCESS_KEY

_ADMINISTRATOR_POLICY: Final = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass(frozen=True)
class CliIdentity:
    """Who the printed environment signs as.

    Attributes
    ----------
    principal
        The role session's or root user's ARN.
    credentials
        Access key id, secret and (for a session) its token.
    """

    principal: str
    credentials: tuple[str, ...]


def admin_identity(
    iam: Any, sts: Any, *, account: str, admin_role_arns: Sequence[str]
) -> CliIdentity:
    """Create the account's admin roles that are missing and open a session of the first.

    Parameters
    ----------
    iam, sts
        Clients signed as the account's root user.
    account
        The configured account: roles of other accounts are not created.
    admin_role_arns
        The config's ``deployment.admin_role_arns``.
    """
    local_roles = [
        arn for arn in admin_role_arns if arn.split(":")[4] == account and ":role/" in arn
    ]
    for arn in local_roles:
        _ensure_role(iam, arn, account)
    if not local_roles:
        return CliIdentity(
            principal=f"arn:aws:iam::{account}:root",
            credentials=(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        )
    session = sts.assume_role(RoleArn=local_roles[0], RoleSessionName="edx-vault-cli")
    credentials = session["Credentials"]
    return CliIdentity(
        principal=str(session["AssumedRoleUser"]["Arn"]),
        credentials=(
            str(credentials["AccessKeyId"]),
            str(credentials["SecretAccessKey"]),
            str(credentials["SessionToken"]),
        ),
    )


def _ensure_role(iam: Any, arn: str, account: str) -> None:
    resource = arn.split(":", 5)[5].removeprefix("role")
    path, _, name = resource.rpartition("/")
    try:
        iam.get_role(RoleName=name)
        return
    except iam.exceptions.NoSuchEntityException:
        pass
    iam.create_role(
        RoleName=name,
        Path=f"{path}/" if path else "/",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName=name, PolicyName="administrator", PolicyDocument=_ADMINISTRATOR_POLICY
    )
