"""Reading requests and writing AWS-shaped error responses in the embedded AWS's WSGI layers.

The authorizer and the fault injector both read each request (its body, the call it makes):
what one reads is kept in the request's WSGI environ for the other, and for moto.

The authorizer and the fault injector answer requests themselves, in front of moto, so their
errors must look as AWS's do to every SDK: S3 answers XML ``<Error>`` (a HEAD only a status),
the JSON protocols ``{"__type": ..., "message": ...}`` with the code in ``x-amzn-ErrorType``,
the query protocols ``<ErrorResponse>``, Lambda's REST API JSON with a ``Type``.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from edx_vault.devtools.embedded_aws.api_requests import (
    ApiCall,
    Signature,
    UnsignedRequestError,
    read_signature,
    service_operation,
)
from edx_vault.devtools.embedded_aws.s3_requests import s3_call

# The JSON protocols name access errors differently from S3 and the query protocols.
_JSON_CODES = {"AccessDenied": "AccessDeniedException"}
# Where the environ keeps what was read of the request.
_BODY = "edx_vault.body"
_CALL = "edx_vault.call"


def request_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers, named as SDKs write them (``X-Amz-Target``, ``Authorization``)."""
    headers: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            headers["-".join(part.capitalize() for part in name[5:].split("_"))] = value
    if "CONTENT_TYPE" in environ:
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, left in place for the next layer (and moto) to read again."""
    cached = environ.get(_BODY)
    if isinstance(cached, bytes):
        return cached
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    body = stream.read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ[_BODY] = body
    return body


def read_call(
    environ: dict[str, Any],
    signature: Signature,
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
) -> ApiCall:
    """What a signed request does: for S3 the call with its IAM checks (:func:`s3_call`); for
    the other services its operation and decoded parameters, without checks (the authorizer
    judges those by service).

    Raises
    ------
    UnmodelledRequestError
        When the operation cannot be named.
    """
    cached = environ.get(_CALL)
    if isinstance(cached, ApiCall):
        return cached
    method = environ.get("REQUEST_METHOD", "GET")
    path = (environ.get("RAW_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
    if signature.service == "s3":
        needs_body = method == "POST" and "delete" in query
        call = s3_call(method, path, query, headers, read_body(environ) if needs_body else None)
    else:
        operation, parameters = service_operation(
            signature, method, path, headers, query, read_body(environ)
        )
        call = ApiCall(signature.service, operation, (), parameters)
    environ[_CALL] = call
    return call


def signed_service(environ: Mapping[str, Any]) -> str:
    """The service the request is signed for (``s3``, ``kms``...), or ``""`` if unsigned."""
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    try:
        return read_signature(request_headers(environ), query).service
    except UnsignedRequestError:
        return ""


def error_response(
    environ: Mapping[str, Any],
    start_response: Callable[..., Any],
    *,
    code: str,
    message: str,
    status: int,
) -> list[bytes]:
    """Answer the request with an AWS error in its protocol's shape.

    ``status`` is S3's and the query protocols' HTTP status; the JSON protocols answer access
    errors with 400, as AWS does, and other errors with ``status``.
    """
    headers = request_headers(environ)
    target = headers.get("X-Amz-Target", "")
    service = signed_service(environ)
    if environ.get("REQUEST_METHOD") == "HEAD":
        body, content_type = b"", "application/xml"
    elif target:
        json_code = _JSON_CODES.get(code, code)
        if target.startswith("DynamoDB"):
            json_code = f"com.amazonaws.dynamodb.v20120810#{json_code}"
        body = json.dumps({"__type": json_code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
        if status == HTTPStatus.FORBIDDEN:
            status = HTTPStatus.BAD_REQUEST
    elif service == "s3":
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            f"<Error><Code>{code}</Code><Message>{_xml(message)}</Message>"
            "<RequestId>embedded</RequestId></Error>"
        ).encode()
        content_type = "application/xml"
    elif service == "lambda":
        body = json.dumps({"Type": "User", "Message": message}).encode()
        content_type = "application/json"
    else:
        query_code = "AuthorizationError" if service == "sns" and code == "AccessDenied" else code
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{query_code}</Code><Message>{_xml(message)}</Message>"
            "</Error><RequestId>embedded</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("x-amzn-ErrorType", code),
        ],
    )
    return [body]


def _xml(text: str) -> str:
    element = ElementTree.Element("m")
    element.text = text
    return ElementTree.tostring(element, encoding="unicode")[3:-4]
