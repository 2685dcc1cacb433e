"""Sessions of the roles AWS services assume: a Lambda function's execution role, a state
machine's role.

On AWS, Lambda and Step Functions call ``sts:AssumeRole`` on the role the resource names, as the
service principal (``lambda.amazonaws.com``, ``states.amazonaws.com``), and every call the code
or the state machine makes is signed with that session. The strict embedded AWS does the same in
its own process: the role's trust policy must allow the service principal (judged by the
project's evaluator), then moto's STS issues the session. A role that does not trust the service
cannot be used, as on AWS ("The role defined for the function cannot be assumed by Lambda").

Sessions are kept per role and service, as a warm Lambda sandbox keeps its credentials. Each
Lambda execution environment gets a session of its own (:func:`another_session`), named after
the function as Lambda names it, so the embedded AWS can tell one invocation's requests from
another's (and drop a killed one's).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.access.policy_evaluator import Request, evaluate
from edx_vault.access.policy_statements import policy_statements

_SESSION_SECONDS: Final = 3600


class RoleNotAssumableError(Exception):
    """The service may not assume the role: its trust policy does not allow it."""


@dataclass(frozen=True)
class SessionCredentials:
    """Temporary credentials of one role session."""

    access_key_id: str
    secret_access_key: str
    session_token: str


class ServiceSessions:
    """Assumes roles for services, in the server process, and keeps the sessions."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], SessionCredentials] = {}

    def credentials(
        self, role_arn: str, service_principal: str, *, source_arn: str | None = None
    ) -> SessionCredentials:
        """A session of ``role_arn`` as ``service_principal`` would get it.

        ``source_arn`` is the resource the service acts for (the state machine): trust
        policies may require it (``aws:SourceArn``, with ``aws:SourceAccount``), as CDK's
        state machine roles do against the confused deputy problem.

        Raises
        ------
        RoleNotAssumableError
            When the role does not exist or its trust policy does not allow the service.
        """
        with self._lock:
            cached = self._sessions.get((role_arn, service_principal))
            if cached is not None:
                return cached
            credentials = self._assume(role_arn, service_principal, source_arn)
            self._sessions[(role_arn, service_principal)] = credentials
            return credentials

    def _assume(
        self, role_arn: str, service_principal: str, source_arn: str | None
    ) -> SessionCredentials:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        try:
            role = iam_backends[self.account]["aws"].get_role_by_arn(role_arn)
        except Exception as error:  # moto's NoSuchEntity
            raise RoleNotAssumableError(f"{role_arn} does not exist") from error
        trust = policy_statements(role.assume_role_policy_document, source="trust")
        context = {"aws:SourceAccount": self.account}
        if source_arn is not None:
            context["aws:SourceArn"] = source_arn
        decision = evaluate(
            Request(
                action="sts:AssumeRole",
                resource=role_arn,
                principal=service_principal,
                context=context,
            ),
            resource_policy=trust,
            resource_policy_kind="trust",
        )
        if not decision.allowed:
            raise RoleNotAssumableError(
                f"the trust policy of {role_arn} does not allow {service_principal} to assume it"
            )
        return _new_session(
            sts_backends[self.account]["aws"],
            region=self.region,
            role_arn=role_arn,
            session_name=service_principal.split(".", 1)[0],
        )


def another_session(
    access_key_id: str, *, account: str, region: str, session_name: str
) -> SessionCredentials:
    """A new session of the role the session holding ``access_key_id`` is of, for the same service.

    For a service that already holds a session of the role (made by
    :meth:`ServiceSessions.credentials`, which judged the role's trust policy): the new one
    differs only in its keys and its name. Lambda names a function's role session after the
    function (``assumed-role/ROLE/FUNCTION``).

    Raises
    ------
    RoleNotAssumableError
        When no session holds ``access_key_id``.
    """
    from moto.sts.models import sts_backends

    backend = sts_backends[account]["aws"]
    first = backend.get_assumed_role_from_access_key(access_key_id)
    if first is None:
        raise RoleNotAssumableError(f"no session of a role holds {access_key_id}")
    return _new_session(backend, region=region, role_arn=first.role_arn, session_name=session_name)


def _new_session(sts: Any, *, region: str, role_arn: str, session_name: str) -> SessionCredentials:
    """A session of ``role_arn`` from moto's STS backend ``sts`` (the trust policy judged)."""
    session = sts.assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy="",
        duration=_SESSION_SECONDS,
        external_id="",
    )
    return SessionCredentials(
        access_key_id=session.access_key_id,
        secret_access_key=session.secret_access_key,
        session_token=session.session_token,
    )
