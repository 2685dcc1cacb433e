"""The decision: the WSGI middleware that allows or refuses each request before moto sees it.

For a signed request it finds the principal, names the call and its checks, decides each check
and each KMS permission the call implies with the project's evaluator, refuses a missing
object's read as S3 does for a caller who may not list the bucket, and answers a refusal in the
protocol's error shape. Requests to the server's own control plane pass unchecked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

from edx_vault.access.iam_wildcards import matches_glob
from edx_vault.access.policy_evaluator import ContextValue, Decision, Request, evaluate
from edx_vault.access.policy_statements import Statement, UnsupportedPolicyError
from edx_vault.devtools.embedded_aws.access_logs import AccessLogs, note_principal
from edx_vault.devtools.embedded_aws.api_requests import (
    ApiCall,
    Check,
    Signature,
    UnmodelledRequestError,
    UnsignedRequestError,
    read_signature,
)
from edx_vault.devtools.embedded_aws.authorization.condition_context import (
    MODELLED_KEYS,
    global_context,
)
from edx_vault.devtools.embedded_aws.authorization.implied_permissions import implied_key_uses
from edx_vault.devtools.embedded_aws.authorization.moto_resources import (
    object_exists,
    resource_policy,
)
from edx_vault.devtools.embedded_aws.authorization.service_checks import service_call
from edx_vault.devtools.embedded_aws.aws_responses import (
    error_response,
    read_body,
    read_call,
    request_headers,
)
from edx_vault.devtools.embedded_aws.principals import (
    Principal,
    SessionFacts,
    UnknownAccessKeyError,
    resolve_principal,
)

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.authorizer")

# Services whose resources carry policies of their own: every operation must be modelled.
_RESOURCE_POLICY_SERVICES: Final = frozenset(
    {"s3", "kms", "secretsmanager", "sns", "sts", "lambda", "athena", "glue"}
)
# The server's own control plane (moto's, and fault injection), served unsigned on loopback.
_CONTROL_PLANE_PATHS: Final = ("/moto-api", "/_edx_vault/")
_ASSUMED_KEY: Final = re.compile(r"<AccessKeyId>([^<]+)</AccessKeyId>")


class RefusedError(Exception):
    """A request AWS would refuse, with the error code and message AWS would give."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AuthorizerSettings:
    """What the authorizer needs to know about the embedded AWS.

    Attributes
    ----------
    account
        The account every request is served as.
    root_access_key_id
        The key that signs as the account's root user.
    """

    account: str
    root_access_key_id: str


class Authorizer:
    """Decides requests; :meth:`wsgi` wraps moto's WSGI application with it."""

    def __init__(self, settings: AuthorizerSettings) -> None:
        self.settings = settings
        self.facts = SessionFacts()
        self.access_logs = AccessLogs(settings.account)

    def wsgi(self, application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """moto's application, with every request decided first."""

        def strict(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path.startswith(_CONTROL_PLANE_PATHS):
                return application(environ, start_response)
            try:
                call, principal = self.decide(environ)
            except RefusedError as refusal:
                return error_response(
                    environ,
                    start_response,
                    code=refusal.code,
                    message=refusal.message,
                    status=refusal.status,
                )
            if call.operation == "AssumeRole":
                return self._recording_sessions(application, environ, start_response, principal)
            return application(environ, start_response)

        # S3 server access logs see each request's principal and answer, refusals included.
        return self.access_logs.wsgi(strict)

    def decide(self, environ: dict[str, Any]) -> tuple[ApiCall, Principal]:
        """Authorize one request; return what it is and who makes it.

        Raises
        ------
        RefusedError
            When AWS would refuse it, or it cannot be judged.
        """
        headers = request_headers(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            signature = read_signature(headers, query)
        except UnsignedRequestError as error:
            raise RefusedError("MissingAuthenticationToken", str(error)) from None
        principal = self._principal(signature)
        note_principal(environ, principal)
        call = self._call(environ, signature, headers, query)
        mfa_now = call.operation == "AssumeRole" and bool(call.parameters.get("TokenCode"))
        for check in call.checks:
            self._require(principal, signature, check, call, mfa_code=mfa_now)
        self._require_implied(principal, signature, call)
        return call, principal

    def _principal(self, signature: Signature) -> Principal:
        try:
            return resolve_principal(
                signature.access_key_id,
                signature.session_token,
                account=self.settings.account,
                root_access_key_id=self.settings.root_access_key_id,
                facts=self.facts,
            )
        except UnknownAccessKeyError as error:
            code = "InvalidAccessKeyId" if signature.service == "s3" else "InvalidClientTokenId"
            raise RefusedError(
                code, f"The AWS Access Key Id you provided does not exist in our records ({error})"
            ) from None
        except UnsupportedPolicyError as error:
            raise RefusedError("AccessDenied", f"refused by the embedded AWS: {error}") from None

    def _call(
        self,
        environ: dict[str, Any],
        signature: Signature,
        headers: Mapping[str, str],
        query: Mapping[str, list[str]],
    ) -> ApiCall:
        try:
            call = read_call(environ, signature, headers, query)
            if call.service == "s3":
                return call
            return service_call(
                signature.service,
                signature.region,
                call.operation,
                call.parameters,
                self.settings.account,
            )
        except UnmodelledRequestError as error:
            raise RefusedError(
                "AccessDenied",
                f"refused by the embedded AWS: it does not model this request ({error})",
            ) from None

    def _require(
        self,
        principal: Principal,
        signature: Signature,
        check: Check,
        call: ApiCall,
        *,
        mfa_code: bool = False,
        via_service: str | None = None,
    ) -> None:
        decision = self.judge(
            principal, signature, check, mfa_code=mfa_code, via_service=via_service
        )
        if decision.allowed:
            return
        what = f"{check.action} on resource: {check.resource}"
        if via_service:
            what += f" (needed by {call.service}:{call.operation})"
        LOGGER.warning("refused %s: %s %s", principal.arn, what, decision.note)
        raise RefusedError(
            "AccessDenied",
            f"User: {principal.arn} is not authorized to perform: {what} because "
            f"{_because(decision)}",
        )

    def judge(
        self,
        principal: Principal,
        signature: Signature,
        check: Check,
        *,
        mfa_code: bool = False,
        via_service: str | None = None,
    ) -> Decision:
        """Decide one check for a principal.

        Raises
        ------
        RefusedError
            When the policies use something the evaluator does not model.
        """
        service = check.action.split(":", 1)[0].lower()
        try:
            policy, kind = resource_policy(self.settings.account, service, check.resource)
        except UnsupportedPolicyError as error:
            raise RefusedError(
                "AccessDenied",
                f"refused by the embedded AWS: the policy of {check.resource}: {error}",
            ) from None
        request = Request(
            action=check.action,
            resource=check.resource,
            principal=principal.policy_arn,
            context={
                **global_context(principal, signature, mfa_code=mfa_code, via_service=via_service),
                **check.context,
            },
            modelled_keys=MODELLED_KEYS,
        )
        # An identity-only action with no resource model: refuse if any Deny naming the
        # action could apply whatever its Resource says (fail closed, never more lenient).
        if (
            service not in _RESOURCE_POLICY_SERVICES
            and check.resource == "*"
            and any(
                statement.effect == "Deny" and _names_action(statement, check.action)
                for statement in principal.identity
            )
        ):
            return Decision("explicit-deny", (), "a Deny names this action")
        try:
            return evaluate(
                request,
                identity=principal.identity,
                resource_policy=policy,
                resource_policy_kind=kind,
            )
        except UnsupportedPolicyError as error:
            raise RefusedError(
                "AccessDenied",
                f"refused by the embedded AWS, which cannot judge {check.action} on "
                f"{check.resource}: {error}",
            ) from None

    def _require_implied(self, principal: Principal, signature: Signature, call: ApiCall) -> None:
        """Decide the KMS permissions the call implies, and S3's refusal of a missing key."""
        region = signature.region
        for use in implied_key_uses(call, self.settings.account, region):
            context: dict[str, ContextValue] = {
                "kms:CallerAccount": principal.account,
                "kms:EncryptionContextKeys": list(use.encryption_context),
            }
            for name, value in use.encryption_context.items():
                context[f"kms:EncryptionContext:{name}"] = value
            via = f"{use.service}.{region}.amazonaws.com"
            self._require(
                principal, signature, Check(use.action, use.key_arn, context), call, via_service=via
            )
        if call.operation in ("GetObject", "HeadObject") and call.bucket and call.key:
            self._refuse_missing_object(principal, signature, call)

    def _refuse_missing_object(
        self, principal: Principal, signature: Signature, call: ApiCall
    ) -> None:
        assert call.bucket is not None and call.key is not None
        if object_exists(self.settings.account, call.bucket, call.key):
            return
        listing = Check("s3:ListBucket", f"arn:aws:s3:::{call.bucket}")
        if not self.judge(principal, signature, listing).allowed:
            raise RefusedError(
                "AccessDenied",
                f"User: {principal.arn} is not authorized to perform: s3:ListBucket on "
                f"resource: arn:aws:s3:::{call.bucket}, so a missing key is refused, not "
                "reported missing",
            )

    def _recording_sessions(
        self,
        application: Callable[..., Iterable[bytes]],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        principal: Principal,
    ) -> Iterable[bytes]:
        """Pass AssumeRole on, and remember whether the new session was made with MFA."""
        form = parse_qs(read_body(environ).decode("utf-8", "replace"))
        with_mfa = bool(form.get("TokenCode")) or principal.mfa
        body = b"".join(application(environ, start_response))
        match = _ASSUMED_KEY.search(body.decode("utf-8", "replace"))
        if match is not None and with_mfa:
            self.facts.record_mfa(match.group(1))
        return [body]


def _because(decision: Decision) -> str:
    if decision.outcome == "explicit-deny":
        labels = ", ".join(statement.label for statement in decision.deciding)
        return f"an explicit deny applies ({labels})"
    return decision.note or "no policy allows it"


def _names_action(statement: Statement, action: str) -> bool:
    if statement.actions is None:
        return True
    return any(matches_glob(pattern.lower(), action.lower()) for pattern in statement.actions)
