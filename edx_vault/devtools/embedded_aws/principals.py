"""Who a request to the strict embedded AWS comes from, and what their identity policies say.

A request is signed with one of three kinds of keys, as on AWS:

- the embedded AWS's own dummy keys (``testing``): the **account's root user**, who deploys the
  stacks (as ``cdk deploy`` does with the bootstrap roles) and plays edX's side of the seed. Root
  is allowed every action by identity, and is still refused by an explicit Deny in a resource
  policy, and by a key policy that does not name the account;
- an IAM user's long-term key (``AKIA...``): edX's reader in ``local seed``, a researcher's user;
- a role session's temporary key (``ASIA...``, with its session token) from STS AssumeRole: the
  pipeline's functions as their roles, the CLI as an admin role, researchers as their grants.

Facts AWS keeps per session that moto's STS does not (whether AssumeRole was called with an MFA
code) are recorded by :class:`SessionFacts` when the authorizer sees the AssumeRole succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from edx_vault.access.policy_statements import Statement, UnsupportedPolicyError, policy_statements

PrincipalType = Literal["Account", "User", "AssumedRole"]

_ROOT_IDENTITY: Final = (
    Statement(effect="Allow", actions=("*",), resources=("*",), source="root", sid="RootUser"),
)


class UnknownAccessKeyError(Exception):
    """The access key belongs to no user and no session (``InvalidAccessKeyId``)."""


@dataclass(frozen=True)
class Principal:
    """A caller, as IAM sees it.

    Attributes
    ----------
    arn
        The caller's own ARN: ``...:root``, ``...:user/NAME``, ``arn:aws:sts::...:assumed-role/
        ROLE/SESSION``.
    policy_arn
        The ARN policies name it by (``aws:PrincipalArn``): the role's ARN for a session.
    account
        Its account.
    type
        ``Account`` (root), ``User`` or ``AssumedRole`` (``aws:PrincipalType``).
    user_id
        ``aws:userid``.
    identity
        Every statement of its identity policies.
    temporary
        Signed with temporary credentials (``aws:MultiFactorAuthPresent`` is then present).
    mfa
        The session was created with an MFA code.
    """

    arn: str
    policy_arn: str
    account: str
    type: PrincipalType
    user_id: str
    identity: tuple[Statement, ...]
    temporary: bool = False
    mfa: bool = False


class SessionFacts:
    """What the authorizer learned about sessions when they were created (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mfa_sessions: set[str] = set()

    def record_mfa(self, access_key_id: str) -> None:
        """The session with this key was created with an MFA code."""
        with self._lock:
            self._mfa_sessions.add(access_key_id)

    def used_mfa(self, access_key_id: str) -> bool:
        """Whether the session with this key was created with an MFA code."""
        with self._lock:
            return access_key_id in self._mfa_sessions


def root_principal(account: str) -> Principal:
    """The account's root user."""
    return Principal(
        arn=f"arn:aws:iam::{account}:root",
        policy_arn=f"arn:aws:iam::{account}:root",
        account=account,
        type="Account",
        user_id=account,
        identity=_ROOT_IDENTITY,
    )


def resolve_principal(
    access_key_id: str,
    session_token: str | None,
    *,
    account: str,
    root_access_key_id: str,
    facts: SessionFacts,
) -> Principal:
    """The principal an access key belongs to, read from moto's IAM and STS.

    Raises
    ------
    UnknownAccessKeyError
        When no user or session holds the key, or a session key comes without its token.
    UnsupportedPolicyError
        When the session carries a session policy (not modelled).
    """
    if access_key_id == root_access_key_id:
        return root_principal(account)
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    iam = iam_backends[account]["aws"]
    for session in sts_backends[account]["aws"].assumed_roles:
        if session.access_key_id != access_key_id:
            continue
        if session_token != session.session_token:
            raise UnknownAccessKeyError("the session token does not belong to this access key")
        if session.policy:
            raise UnsupportedPolicyError("session policies are not modelled")
        role = iam.get_role_by_arn(session.role_arn)
        return Principal(
            arn=session.arn,
            policy_arn=session.role_arn,
            account=account,
            type="AssumedRole",
            user_id=f"{role.id}:{session.session_name}",
            identity=_role_statements(role),
            temporary=True,
            mfa=facts.used_mfa(access_key_id),
        )
    for user in iam.list_users("/", None, None):
        for key in user.access_keys:
            if key.access_key_id == access_key_id and key.status == "Active":
                return Principal(
                    arn=user.arn,
                    policy_arn=user.arn,
                    account=account,
                    type="User",
                    user_id=user.id,
                    identity=_user_statements(iam, user),
                )
    raise UnknownAccessKeyError("no user or session holds this access key")


def _role_statements(role: Any) -> tuple[Statement, ...]:
    documents = [(f"identity:{name}", document) for name, document in role.policies.items()]
    documents += _attached(role.managed_policies.values())
    return _statements(documents)


def _user_statements(iam: Any, user: Any) -> tuple[Statement, ...]:
    documents = [(f"identity:{name}", document) for name, document in user.policies.items()]
    documents += _attached(user.managed_policies.values())
    for group in iam.get_groups_for_user(user.name):
        documents += [(f"group:{name}", document) for name, document in group.policies.items()]
        documents += _attached(group.managed_policies.values())
    return _statements(documents)


def _attached(policies: Iterable[Any]) -> list[tuple[str, Any]]:
    return [
        (f"managed:{policy.name}", version.document)
        for policy in policies
        for version in policy.versions
        if version.is_default
    ]


def _statements(documents: Iterable[tuple[str, Any]]) -> tuple[Statement, ...]:
    statements: list[Statement] = []
    for source, document in documents:
        statements.extend(policy_statements(document, source=source))
    return tuple(statements)
