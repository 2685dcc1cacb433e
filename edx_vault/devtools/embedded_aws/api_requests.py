"""What IAM sees in an HTTP request to the embedded AWS: who signed it, the operation, and the
actions, resources and condition keys AWS authorizes it by.

The strict embedded AWS (:mod:`edx_vault.devtools.embedded_aws.authorization`) decides every
request from this description. Each service the vault's principals call is modelled operation
by operation: S3 from the method, path and sub-resource
(:mod:`edx_vault.devtools.embedded_aws.s3_requests`), the JSON and query protocol services here,
from the ``X-Amz-Target`` header or the ``Action`` parameter. A request whose operation cannot
be named is :class:`UnmodelledRequestError`: the authorizer refuses it, naming what it did not
understand.

Nothing here imports moto: it reads the request only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, unquote

from edx_vault.access.policy_evaluator import ContextValue

# SigV4: "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, ...".
_CREDENTIAL: Final = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# CloudWatch's RPC v2 CBOR protocol names the operation in the path.
_RPC_V2_PATH: Final = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
# Lambda's Invoke: POST /2015-03-31/functions/{FunctionName}/invocations.
_LAMBDA_INVOKE: Final = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class UnmodelledRequestError(Exception):
    """The request names an operation, sub-resource or service this model does not know."""


class UnsignedRequestError(Exception):
    """The request carries no AWS Signature Version 4."""


@dataclass(frozen=True)
class Signature:
    """Who signed a request, from its SigV4 ``Authorization`` header or presigned query.

    Attributes
    ----------
    access_key_id
        The signing key.
    session_token
        ``X-Amz-Security-Token``, for temporary credentials.
    region
        The credential scope's region.
    service
        The credential scope's service (the signing name: ``s3``, ``kms``, ``states``...).
    presigned
        Signed in the query string (a presigned URL) rather than a header.
    """

    access_key_id: str
    session_token: str | None
    region: str
    service: str
    presigned: bool = False


@dataclass(frozen=True)
class Check:
    """One authorization AWS performs for a request: an action on a resource, in a context.

    Attributes
    ----------
    action
        The IAM action, e.g. ``s3:GetObject``.
    resource
        The resource's ARN (``*`` where the action has no resource type).
    context
        The request-specific condition keys (``s3:prefix``, ``sts:ExternalId``...). Global keys
        (time, principal, transport) are added by the authorizer.
    """

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiCall:
    """One request, as the authorizer needs it.

    Attributes
    ----------
    service
        The signing name (``s3``, ``kms``, ``secretsmanager``, ``states``...).
    operation
        The API operation (``GetObject``, ``Decrypt``, ``AssumeRole``...).
    checks
        What AWS authorizes, in order.
    parameters
        The decoded request parameters (JSON body, query or form), for the implied checks.
    bucket, key
        For S3: the bucket and object key, if any.
    """

    service: str
    operation: str
    checks: tuple[Check, ...]
    parameters: Mapping[str, object] = field(default_factory=dict)
    bucket: str | None = None
    key: str | None = None


def read_signature(headers: Mapping[str, str], query: Mapping[str, Sequence[str]]) -> Signature:
    """Who signed the request.

    Raises
    ------
    UnsignedRequestError
        When neither the ``Authorization`` header nor the query carries a SigV4 credential.
    """
    authorization = headers.get("Authorization", "")
    match = _CREDENTIAL.search(authorization)
    if match is not None:
        return Signature(
            access_key_id=match.group(1),
            session_token=headers.get("X-Amz-Security-Token"),
            region=match.group(2),
            service=match.group(3),
        )
    credential = first_value(query, "X-Amz-Credential")
    if credential is not None:
        parts = credential.split("/")
        if len(parts) == 5:
            return Signature(
                access_key_id=parts[0],
                session_token=first_value(query, "X-Amz-Security-Token"),
                region=parts[2],
                service=parts[3],
                presigned=True,
            )
    raise UnsignedRequestError("the request is not signed with AWS Signature Version 4")


def first_value(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The first value of a query or form parameter, or ``None``."""
    values = query.get(name)
    return values[0] if values else None


# --------------------------------------------------------------------------------------------
# JSON, query and RPC v2 services: the operation from the target header or the Action parameter
# --------------------------------------------------------------------------------------------

# Signing name -> IAM service prefix, where they differ.
_IAM_PREFIX: Final = {"monitoring": "cloudwatch"}


def service_operation(
    signature: Signature,
    method: str,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    body: bytes,
) -> tuple[str, dict[str, object]]:
    """The operation name and decoded parameters of a non-S3 request.

    Raises
    ------
    UnmodelledRequestError
        When the operation cannot be named.
    """
    target = headers.get("X-Amz-Target")
    if target:
        try:
            parameters = json.loads(body or b"{}")
        except ValueError:
            parameters = {}
        return target.rsplit(".", 1)[-1], parameters if isinstance(parameters, dict) else {}
    rpc = _RPC_V2_PATH.match(path)
    if rpc is not None:
        return rpc.group(1), {}
    if signature.service == "lambda":
        invoke = _LAMBDA_INVOKE.match(path)
        if invoke is not None and method == "POST":
            return "Invoke", {"FunctionName": unquote(invoke.group(1))}
        raise UnmodelledRequestError(f"lambda {method} {path}")
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
    merged = {**query, **form}
    action = first_value(merged, "Action")
    if action is None:
        raise UnmodelledRequestError(f"{signature.service} {method} {path}: no operation named")
    return action, {name: values[0] for name, values in merged.items() if values}


def iam_action(service: str, operation: str) -> str:
    """The IAM action for an operation of a service whose actions are named after operations."""
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"
