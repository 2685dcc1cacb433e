"""The strict embedded AWS: every request is allowed or refused as AWS would decide it.

moto enforces no IAM, bucket, key or topic policy. This WSGI middleware sits in front of moto's
server and, for every signed request:

1. finds the principal from the signing key (:mod:`edx_vault.devtools.embedded_aws.principals`);
2. names the operation and the actions, resources and condition keys AWS authorizes it by
   (:mod:`edx_vault.devtools.embedded_aws.api_requests`);
3. decides each check with the project's condition-aware evaluator
   (:mod:`edx_vault.access.policy_evaluator`) from the principal's identity policies and the
   resource's policy: the bucket policy, the key policy, the secret's or topic's policy, the
   role's trust policy. An explicit Deny wins; KMS needs its key policy to allow, directly or
   by delegating to IAM ("Determining access to a KMS key"); S3, Secrets Manager and SNS
   allow a same-account caller when either the identity or the resource policy allows
   ("Policy evaluation logic": same-account requests);
4. adds the permissions a request implies on AWS: reading an SSE-KMS object needs
   ``kms:Decrypt`` on its key, writing one ``kms:GenerateDataKey`` (and ``kms:Decrypt`` for a
   multipart upload), each through S3 (``kms:ViaService``); a secret under a customer managed
   key needs ``kms:Decrypt`` to read and ``kms:GenerateDataKey`` to write, through Secrets
   Manager; publishing to an encrypted topic needs ``kms:GenerateDataKey*`` and
   ``kms:Decrypt`` through SNS;
5. answers a GetObject or HeadObject of a missing key with 403, not 404, when the caller may
   not ``s3:ListBucket`` the bucket ("If the object you request doesn't exist, the error that
   Amazon S3 returns depends on whether you also have the s3:ListBucket permission").

What it cannot judge is refused, naming what it did not understand: an operation it does not
model on a service with resource policies, a condition key it cannot supply, a condition
operator the evaluator does not know. It never allows silently. Refusals are logged (action,
resource, principal; never a parameter's value) and answered in each protocol's error shape.

Requests to ``/moto-api/`` and ``/_edx_vault/`` (the server's own control plane: moto's, and
fault injection) pass unchecked.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

from edx_vault.access.policy_evaluator import (
    ContextValue,
    Decision,
    Request,
    ResourcePolicyKind,
    Statement,
    UnsupportedPolicyError,
    evaluate,
    matches_glob,
    policy_statements,
)
from edx_vault.devtools.embedded_aws.api_requests import (
    ApiCall,
    Check,
    Signature,
    UnmodelledRequestError,
    UnsignedRequestError,
    iam_action,
    read_signature,
)
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

# Condition keys the authorizer supplies, or knows to be absent from the requests it serves
# (lower case). A policy condition on any other key is refused rather than guessed.
_MODELLED_KEYS: Final = frozenset(
    {
        "aws:currenttime",
        "aws:epochtime",
        "aws:securetransport",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:userid",
        "aws:username",
        "aws:multifactorauthpresent",
        "aws:requestedregion",
        "aws:viaawsservice",
        "aws:calledvia",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:resourceaccount",
        "s3:prefix",
        "s3:delimiter",
        "s3:max-keys",
        "s3:versionid",
        "s3:signatureversion",
        "s3:authtype",
        "s3:tlsversion",
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-acl",
        "s3:x-amz-storage-class",
        "s3:x-amz-copy-source",
        "s3:x-amz-metadata-directive",
        "s3:x-amz-content-sha256",
        "kms:viaservice",
        "kms:calleraccount",
        "kms:encryptioncontext:*",
        "kms:encryptioncontextkeys",
        "kms:grantisforawsresource",
        "sts:externalid",
        "sts:rolesessionname",
        "secretsmanager:secretid",
    }
)
# Services whose resources carry policies of their own: every operation must be modelled.
_RESOURCE_POLICY_SERVICES: Final = frozenset(
    {"s3", "kms", "secretsmanager", "sns", "sts", "lambda"}
)
_AWS_MANAGED_SECRETS_KEY: Final = "alias/aws/secretsmanager"
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

    # ----------------------------------------------------------------------------------------
    # WSGI
    # ----------------------------------------------------------------------------------------

    def wsgi(self, application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """moto's application, with every request decided first."""

        def strict(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path.startswith(_CONTROL_PLANE_PATHS):
                return application(environ, start_response)
            try:
                call, principal = self.decide(environ)
            except RefusedError as refusal:
                return self._refuse(environ, start_response, refusal)
            if call.operation == "AssumeRole":
                return self._recording_sessions(application, environ, start_response, principal)
            return application(environ, start_response)

        return strict

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
        call = self._call(environ, signature, headers, query)
        mfa_now = call.operation == "AssumeRole" and bool(call.parameters.get("TokenCode"))
        for check in call.checks:
            self._require(principal, signature, check, call, mfa_code=mfa_now)
        self._require_implied(principal, signature, call)
        return call, principal

    # ----------------------------------------------------------------------------------------
    # Who and what
    # ----------------------------------------------------------------------------------------

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
            return self._service_call(signature, call.operation, call.parameters)
        except UnmodelledRequestError as error:
            raise RefusedError(
                "AccessDenied",
                f"refused by the embedded AWS: it does not model this request ({error})",
            ) from None

    def _service_call(
        self, signature: Signature, operation: str, parameters: Mapping[str, object]
    ) -> ApiCall:
        service = signature.service
        action = iam_action(service, operation)
        region = signature.region
        account = self.settings.account
        context: dict[str, ContextValue] = {}
        resources: list[str]
        if service == "kms":
            resources = _kms_resources(operation, parameters, region, account)
            context["kms:CallerAccount"] = account
            encryption_context = parameters.get("EncryptionContext")
            if isinstance(encryption_context, dict):
                for name, value in encryption_context.items():
                    context[f"kms:EncryptionContext:{name}"] = str(value)
                context["kms:EncryptionContextKeys"] = [str(k) for k in encryption_context]
        elif service == "secretsmanager":
            resources = _secret_resources(operation, parameters, region, account)
            if "SecretId" in parameters:
                context["secretsmanager:SecretId"] = resources[0]
        elif service == "dynamodb":
            resources = _table_resources(parameters, region, account)
        elif service == "states":
            resources = [
                str(parameters[name])
                for name in ("stateMachineArn", "executionArn", "mapRunArn")
                if name in parameters
            ][:1] or ["*"]
        elif service == "sns":
            resources = [str(parameters.get("TopicArn") or parameters.get("TargetArn") or "*")]
        elif service == "sts":
            if operation == "GetCallerIdentity":
                return ApiCall(service, operation, (), parameters)
            if operation != "AssumeRole":
                raise UnmodelledRequestError(f"sts:{operation}")
            resources = [str(parameters.get("RoleArn", ""))]
            for name, key in (
                ("ExternalId", "sts:ExternalId"),
                ("RoleSessionName", "sts:RoleSessionName"),
            ):
                if name in parameters:
                    context[key] = str(parameters[name])
        elif service == "lambda":
            action = "lambda:InvokeFunction"
            resources = [_function_arn(str(parameters["FunctionName"]), region, account)]
        else:
            resources = ["*"]
        checks = tuple(Check(action, resource, context) for resource in resources)
        return ApiCall(service, operation, checks, parameters)

    # ----------------------------------------------------------------------------------------
    # Decisions
    # ----------------------------------------------------------------------------------------

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
        policy, kind = self._resource_policy(service, check.resource)
        request = Request(
            action=check.action,
            resource=check.resource,
            principal=principal.policy_arn,
            context={
                **self._global_context(principal, signature, mfa_code, via_service),
                **check.context,
            },
            modelled_keys=_MODELLED_KEYS,
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

    def _global_context(
        self, principal: Principal, signature: Signature, mfa_code: bool, via_service: str | None
    ) -> dict[str, ContextValue]:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        context: dict[str, ContextValue] = {
            "aws:CurrentTime": now.isoformat().replace("+00:00", "Z"),
            "aws:EpochTime": str(int(now.timestamp())),
            # SDKs reach AWS over TLS; the embedded AWS's loopback HTTP stands in for it.
            "aws:SecureTransport": "true",
            "aws:PrincipalArn": principal.policy_arn,
            "aws:PrincipalAccount": principal.account,
            "aws:PrincipalType": principal.type,
            "aws:userid": principal.user_id,
            "aws:RequestedRegion": signature.region,
            "aws:ViaAWSService": "true" if via_service else "false",
            "aws:PrincipalIsAWSService": "false",
        }
        if principal.type == "User":
            context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
        # Present for temporary credentials only ("not present ... with long-term
        # credentials"); for AssumeRole itself, the MFA code sent with the call counts.
        if principal.temporary or mfa_code:
            context["aws:MultiFactorAuthPresent"] = "true" if principal.mfa or mfa_code else "false"
        if via_service:
            context["kms:ViaService"] = via_service
        return context

    def _resource_policy(
        self, service: str, resource: str
    ) -> tuple[tuple[Statement, ...], ResourcePolicyKind]:
        if resource == "*":
            return (), "none"
        try:
            if service == "s3":
                return _bucket_policy(self.settings.account, resource), "s3"
            if service == "kms":
                return _key_policy(self.settings.account, resource), "kms"
            if service == "secretsmanager":
                return _secret_policy(self.settings.account, resource), "s3"
            if service == "sns":
                return _topic_policy(self.settings.account, resource), "s3"
            if service == "sts":
                return _trust_policy(self.settings.account, resource), "trust"
        except UnsupportedPolicyError as error:
            raise RefusedError(
                "AccessDenied", f"refused by the embedded AWS: the policy of {resource}: {error}"
            ) from None
        return (), "none"

    # ----------------------------------------------------------------------------------------
    # Permissions a request implies
    # ----------------------------------------------------------------------------------------

    def _require_implied(self, principal: Principal, signature: Signature, call: ApiCall) -> None:
        region = signature.region
        for action, key_arn, service, encryption_context in self._implied_key_uses(call, region):
            context: dict[str, ContextValue] = {
                "kms:CallerAccount": principal.account,
                "kms:EncryptionContextKeys": list(encryption_context),
            }
            for name, value in encryption_context.items():
                context[f"kms:EncryptionContext:{name}"] = value
            via = f"{service}.{region}.amazonaws.com"
            self._require(
                principal, signature, Check(action, key_arn, context), call, via_service=via
            )
        if call.operation in ("GetObject", "HeadObject") and call.bucket and call.key:
            self._refuse_missing_object(principal, signature, call)

    def _implied_key_uses(
        self, call: ApiCall, region: str
    ) -> Iterator[tuple[str, str, str, dict[str, str]]]:
        """(KMS action, key ARN, calling service, encryption context) a request implies.

        The encryption contexts are the services' documented ones: S3 uses ``aws:s3:arn``, the
        object's ARN, or the bucket's when an S3 Bucket Key is used; Secrets Manager uses
        ``SecretARN``; SNS uses ``aws:sns:topicArn``.
        """
        account = self.settings.account
        if call.service == "s3" and call.bucket and call.key:
            object_arn = f"arn:aws:s3:::{call.bucket}/{call.key}"
            bucket_arn = f"arn:aws:s3:::{call.bucket}"
            if call.operation == "GetObject":
                stored = _object_encryption(account, call.bucket, call.key)
                if stored is not None:
                    key_arn, bucket_key = stored
                    context = {"aws:s3:arn": bucket_arn if bucket_key else object_arn}
                    yield "kms:Decrypt", key_arn, "s3", context
            elif call.operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
                written = _write_encryption(account, region, call)
                if written is not None:
                    key_arn, bucket_key = written
                    context = {"aws:s3:arn": bucket_arn if bucket_key else object_arn}
                    yield "kms:GenerateDataKey", key_arn, "s3", context
                    if call.operation == "CreateMultipartUpload":
                        yield "kms:Decrypt", key_arn, "s3", context
        elif call.service == "secretsmanager" and call.operation == "CreateSecret":
            requested = call.parameters.get("KmsKeyId")
            secret_key = _key_arn_or_none(account, str(requested), region) if requested else None
            if secret_key and (
                "SecretString" in call.parameters or "SecretBinary" in call.parameters
            ):
                context = {"SecretARN": call.checks[0].resource}
                yield "kms:GenerateDataKey", secret_key, "secretsmanager", context
        elif call.service == "secretsmanager" and call.checks:
            secret_arn = call.checks[0].resource
            secret_key = _secret_key_arn(account, region, secret_arn)
            context = {"SecretARN": secret_arn}
            if secret_key and call.operation == "GetSecretValue":
                yield "kms:Decrypt", secret_key, "secretsmanager", context
            elif secret_key and call.operation in ("PutSecretValue", "UpdateSecret"):
                yield "kms:GenerateDataKey", secret_key, "secretsmanager", context
        elif call.service == "sns" and call.operation == "Publish" and call.checks:
            topic_arn = call.checks[0].resource
            topic_key = _topic_key_arn(account, region, topic_arn)
            if topic_key:
                context = {"aws:sns:topicArn": topic_arn}
                yield "kms:GenerateDataKey", topic_key, "sns", context
                yield "kms:Decrypt", topic_key, "sns", context

    def _refuse_missing_object(
        self, principal: Principal, signature: Signature, call: ApiCall
    ) -> None:
        assert call.bucket is not None and call.key is not None
        if _object_exists(self.settings.account, call.bucket, call.key):
            return
        listing = Check("s3:ListBucket", f"arn:aws:s3:::{call.bucket}")
        if not self.judge(principal, signature, listing).allowed:
            raise RefusedError(
                "AccessDenied",
                f"User: {principal.arn} is not authorized to perform: s3:ListBucket on "
                f"resource: arn:aws:s3:::{call.bucket}, so a missing key is refused, not "
                "reported missing",
            )

    # ----------------------------------------------------------------------------------------
    # Responses
    # ----------------------------------------------------------------------------------------

    def _refuse(
        self, environ: dict[str, Any], start_response: Callable[..., Any], refusal: RefusedError
    ) -> list[bytes]:
        return error_response(
            environ,
            start_response,
            code=refusal.code,
            message=refusal.message,
            status=refusal.status,
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


# --------------------------------------------------------------------------------------------
# Reading moto's backends
# --------------------------------------------------------------------------------------------


def _s3_backend(account: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


def _bucket_of(resource: str) -> str:
    return resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]


def _bucket_policy(account: str, resource: str) -> tuple[Statement, ...]:
    bucket = _s3_backend(account).buckets.get(_bucket_of(resource))
    if bucket is None or not bucket.policy:
        return ()
    return policy_statements(bucket.policy, source="bucket")


def _object_exists(account: str, bucket_name: str, key: str) -> bool:
    bucket = _s3_backend(account).buckets.get(bucket_name)
    return bucket is not None and bucket.keys.get(key) is not None


def _object_encryption(account: str, bucket_name: str, key: str) -> tuple[str, bool] | None:
    """(KMS key ARN, S3 Bucket Key used) of a stored SSE-KMS object; ``None`` otherwise."""
    bucket = _s3_backend(account).buckets.get(bucket_name)
    stored = bucket.keys.get(key) if bucket is not None else None
    if stored is None or stored.encryption != "aws:kms":
        return None
    key_arn = _key_arn_or_none(account, stored.kms_key_id)
    return None if key_arn is None else (key_arn, _true(stored.bucket_key_enabled))


def _write_encryption(account: str, region: str, call: ApiCall) -> tuple[str, bool] | None:
    """(KMS key ARN, S3 Bucket Key used) an object write encrypts under: the request's
    settings, else the bucket's default encryption; ``None`` when no customer key is used."""
    context = call.checks[-1].context
    bucket = _s3_backend(account).buckets.get(call.bucket)
    rules = (bucket.encryption or {}).get("Rule", []) if bucket is not None else []
    default_rule: dict[str, Any] = next(iter(rules if isinstance(rules, list) else [rules]), {})
    default = default_rule.get("ApplyServerSideEncryptionByDefault", {})
    requested_bucket_key = call.parameters.get("BucketKeyEnabled")
    bucket_key = (
        bool(requested_bucket_key)
        if requested_bucket_key is not None
        else _true(default_rule.get("BucketKeyEnabled"))
    )
    if context.get("s3:x-amz-server-side-encryption") == "aws:kms":
        requested = context.get("s3:x-amz-server-side-encryption-aws-kms-key-id")
        if isinstance(requested, str):
            key_arn = _key_arn_or_none(account, requested, region)
            return None if key_arn is None else (key_arn, bucket_key)
        return None  # the AWS managed aws/s3 key: no key policy of the vault's to judge
    if "s3:x-amz-server-side-encryption" in context:
        return None
    if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
        key_arn = _key_arn_or_none(account, default["KMSMasterKeyID"], region)
        return None if key_arn is None else (key_arn, bucket_key)
    return None


def _true(value: Any) -> bool:
    """moto keeps booleans from headers and XML as strings or bools."""
    return str(value).lower() == "true"


def _kms_backend(account: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account][region]


def _key_arn_or_none(account: str, key_id: str | None, region: str | None = None) -> str | None:
    if not key_id:
        return None
    region = region or (key_id.split(":")[3] if key_id.startswith("arn:") else "us-east-1")
    backend = _kms_backend(account, region)
    try:
        resolved = backend.any_id_to_key_id(key_id)
    except Exception:  # moto raises several types for an unknown id
        return None
    key = backend.keys.get(resolved)
    return str(key.arn) if key is not None else None


def _kms_resources(
    operation: str, parameters: Mapping[str, object], region: str, account: str
) -> list[str]:
    """The key a KMS call uses, as its ARN; none for a key that does not exist (KMS answers
    NotFoundException, which moto gives), ``*`` for calls on no key (ListKeys, CreateKey)."""
    key_id = parameters.get("KeyId") or parameters.get("TargetKeyId")
    if key_id is None and operation == "Decrypt":
        blob = parameters.get("CiphertextBlob")
        key_id = _ciphertext_key_id(str(blob)) if blob else None
    if key_id is None:
        return ["*"]
    key_arn = _key_arn_or_none(account, str(key_id), region)
    return [key_arn] if key_arn else []


def _ciphertext_key_id(blob: str) -> str | None:
    from moto.kms.utils import _deserialize_ciphertext_blob

    try:
        return str(_deserialize_ciphertext_blob(base64.b64decode(blob)).key_id)
    except Exception:  # not a moto ciphertext: KMS would refuse it anyway
        return None


def _key_policy(account: str, resource: str) -> tuple[Statement, ...]:
    key = _kms_key(account, resource)
    return policy_statements(key.policy, source="key")


def _kms_key(account: str, resource: str) -> Any:
    region = resource.split(":")[3]
    backend = _kms_backend(account, region)
    key_id = backend.any_id_to_key_id(resource.split("/", 1)[1])
    return backend.keys[key_id]


def _secret_backend(account: str, region: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[account][region]


def _secret_resources(
    operation: str, parameters: Mapping[str, object], region: str, account: str
) -> list[str]:
    secret_id = parameters.get("SecretId")
    if operation == "CreateSecret" and "Name" in parameters:
        # The ARN ends in a random suffix AWS picks; naming it without one makes a policy
        # written for "...:secret:NAME-*" not match: refused, never more lenient.
        return [f"arn:aws:secretsmanager:{region}:{account}:secret:{parameters['Name']}"]
    if secret_id is None:
        if operation in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
            return ["*"]
        raise UnmodelledRequestError(f"secretsmanager:{operation} without a SecretId")
    try:
        secret = _secret_backend(account, region).describe_secret(str(secret_id))
    except Exception:  # moto's ResourceNotFound: AWS names the id as asked
        return [f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"]
    return [str(secret.arn)]


def _secret_policy(account: str, resource: str) -> tuple[Statement, ...]:
    region = resource.split(":")[3]
    try:
        secret = _secret_backend(account, region).describe_secret(resource)
    except Exception:  # a missing secret has no policy
        return ()
    return policy_statements(secret.policy, source="secret") if secret.policy else ()


def _secret_key_arn(account: str, region: str, resource: str) -> str | None:
    try:
        secret = _secret_backend(account, region).describe_secret(resource)
    except Exception:
        return None
    if not secret.kms_key_id or secret.kms_key_id == _AWS_MANAGED_SECRETS_KEY:
        return None
    return _key_arn_or_none(account, secret.kms_key_id, region)


def _sns_topic(account: str, resource: str) -> Any:
    from moto.sns.models import sns_backends

    region = resource.split(":")[3]
    return sns_backends[account][region].topics.get(resource)


def _topic_policy(account: str, resource: str) -> tuple[Statement, ...]:
    topic = _sns_topic(account, resource)
    return policy_statements(topic.policy, source="topic") if topic is not None else ()


def _topic_key_arn(account: str, region: str, resource: str) -> str | None:
    topic = _sns_topic(account, resource)
    if topic is None or not topic.kms_master_key_id:
        return None
    return _key_arn_or_none(account, topic.kms_master_key_id, region)


def _trust_policy(account: str, resource: str) -> tuple[Statement, ...]:
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["aws"].get_role_by_arn(resource)
    except Exception:  # no such role: nothing trusts the caller
        return ()
    return policy_statements(role.assume_role_policy_document, source="trust")


def _table_resources(parameters: Mapping[str, object], region: str, account: str) -> list[str]:
    prefix = f"arn:aws:dynamodb:{region}:{account}:table/"
    if "TableName" in parameters:
        table = f"{prefix}{parameters['TableName']}"
        index = parameters.get("IndexName")
        return [f"{table}/index/{index}" if index else table]
    request_items = parameters.get("RequestItems")
    if isinstance(request_items, dict):
        return [f"{prefix}{name}" for name in request_items]
    transact = parameters.get("TransactItems")
    if isinstance(transact, list):
        return [
            f"{prefix}{body['TableName']}"
            for item in transact
            for body in item.values()
            if isinstance(body, dict) and "TableName" in body
        ]
    return ["*"]


def _function_arn(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _because(decision: Decision) -> str:
    if decision.outcome == "explicit-deny":
        labels = ", ".join(statement.label for statement in decision.deciding)
        return f"an explicit deny applies ({labels})"
    return decision.note or "no policy allows it"


def _names_action(statement: Statement, action: str) -> bool:
    if statement.actions is None:
        return True
    return any(matches_glob(pattern.lower(), action.lower()) for pattern in statement.actions)
