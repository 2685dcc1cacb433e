"""S3 server access logs in the embedded AWS: one record per request to a bucket whose logging is
configured, written to its target bucket as S3 writes them.

moto stores a bucket's ``LoggingConfiguration``, and writes malformed log objects for some
requests (turned off here). Here the authorizer's
WSGI layer (:meth:`AccessLogs.wsgi`) sees every request, with the principal the authorizer
resolved (:func:`note_principal`) and the answer, allowed or refused, and builds the record of
AWS's "Amazon S3 server access log format" (:mod:`edx_vault.package.access_log_records`): the
requester is the caller's ARN (``arn:aws:sts::{account}:assumed-role/{role}/{session}`` for a
role session), the account's canonical user ID for the root user, ``-`` when unsigned or
unknown.

Delivery. AWS delivers log objects "on a best-effort basis", most "within a few hours", as
``{TargetPrefix}YYYY-mm-DD-HH-MM-SS-{UniqueString}`` objects written by the logging service
(``logging.s3.amazonaws.com``), not by the caller. Here records are held in memory and written,
straight into moto's backend (no authorization: the logging service is not a caller), as one
log object per target when any of these happens, so tests and ``edx-vault audit`` see them
without waiting:

* a request to a bucket that has records waiting (the logs bucket is being read);
* ``POST /_edx_vault/access-logs`` (answers ``{"delivered": N}``, the objects written);
* :data:`FLUSH_RECORDS` records wait for one target.

Not modelled: ``BATCH.DELETE.OBJECT`` records per key of a multi-object delete (only its
``REST.POST.MULTI_OBJECT_DELETE`` is logged), TLS fields (the server is plain HTTP on loopback,
logged ``-`` as AWS logs plain-HTTP requests), S3's lifecycle actions (moto expires nothing).
Requests served in lenient mode (``--lenient``: no authorizer) are not logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, Final
from urllib.parse import parse_qs, unquote

from edx_vault.devtools.embedded_aws.aws_responses import request_headers, signed_service
from edx_vault.devtools.embedded_aws.principals import Principal
from edx_vault.package.access_log_records import AccessLogRecord, format_record, log_object_key

LOGGER = logging.getLogger("edx_vault.devtools.embedded_aws.access_logs")

CONTROL_PATH: Final = "/_edx_vault/access-logs"
FLUSH_RECORDS: Final = 1000
# moto's canonical user ID of every bucket's owner (moto.s3.models.OWNER).
_OWNER: Final = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
_REQUESTER: Final = "edx_vault.requester"
_ERROR_CODE: Final = re.compile(rb"<Code>([^<]+)</Code>")
# Sub-resources -> the RESOURCE of S3's REST.{METHOD}.{RESOURCE}, on a bucket and on an object.
_BUCKET_RESOURCES: Final[Mapping[str, str]] = {
    "versions": "BUCKETVERSIONS",
    "uploads": "UPLOADS",
    "location": "LOCATION",
    "policy": "BUCKETPOLICY",
    "policyStatus": "BUCKETPOLICYSTATUS",
    "versioning": "VERSIONING",
    "encryption": "ENCRYPTION",
    "tagging": "TAGGING",
    "lifecycle": "LIFECYCLE",
    "logging": "LOGGING_STATUS",
    "publicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "ownershipControls": "OWNERSHIP_CONTROLS",
    "notification": "NOTIFICATION",
    "acl": "ACL",
    "cors": "CORS",
    "replication": "REPLICATION",
    "object-lock": "OBJECT_LOCK_CONFIGURATION",
    "delete": "MULTI_OBJECT_DELETE",
}
_OBJECT_RESOURCES: Final[Mapping[str, str]] = {
    "uploads": "UPLOADS",
    "uploadId": "UPLOAD",
    "tagging": "OBJECT_TAGGING",
    "acl": "ACL",
    "attributes": "OBJECT_ATTRIBUTES",
    "retention": "RETENTION",
    "legal-hold": "LEGAL_HOLD",
    "restore": "RESTORE",
}

StartResponse = Callable[..., Any]
Application = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def note_principal(environ: dict[str, Any], principal: Principal) -> None:
    """Remember who signed the request, for its log record (the authorizer calls this)."""
    environ[_REQUESTER] = _OWNER if principal.type == "Account" else principal.arn


def operation_name(method: str, key: str, query: Mapping[str, list[str]], copy: bool) -> str:
    """S3's name of the operation in the log: ``REST.GET.OBJECT``, ``REST.PUT.PART``..."""
    if key:
        resource = next(
            (_OBJECT_RESOURCES[name] for name in query if name in _OBJECT_RESOURCES), "OBJECT"
        )
        if resource == "UPLOAD" and method == "PUT":
            resource = "PART"
        if copy and method == "PUT":
            return f"REST.COPY.{'PART' if resource == 'PART' else 'OBJECT'}"
        return f"REST.{method}.{resource}"
    resource = next(
        (_BUCKET_RESOURCES[name] for name in query if name in _BUCKET_RESOURCES), "BUCKET"
    )
    return f"REST.{method}.{resource}"


class AccessLogs:
    """The log records of one embedded AWS, waiting for delivery (thread-safe).

    Parameters
    ----------
    account
        The account whose moto S3 backend holds the buckets.
    """

    def __init__(self, account: str) -> None:
        self.account = account
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[str]] = {}

    def wsgi(self, application: Application) -> Application:
        """``application``, with every request to a logged bucket logged (and moto's own log
        writing turned off)."""
        _silence_moto_access_logs()

        def logging_requests(environ: dict[str, Any], start_response: StartResponse) -> Any:
            path = str(environ.get("PATH_INFO", ""))
            if path == CONTROL_PATH and environ.get("REQUEST_METHOD") == "POST":
                return self._control(start_response)
            if path.startswith("/_edx_vault/") or path.startswith("/moto-api"):
                return application(environ, start_response)
            bucket = unquote(path.lstrip("/")).partition("/")[0]
            if not bucket or signed_service(environ) not in ("s3", ""):
                return application(environ, start_response)
            self._deliver_to(bucket)
            logged = self._logging_of(bucket)
            if logged is None:
                return application(environ, start_response)
            return self._logged(application, environ, start_response, bucket, logged)

        return logging_requests

    def deliver(self) -> int:
        """Write every waiting record; the number of log objects written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return sum(
            self._write(target, prefix, lines) for (target, prefix), lines in pending.items()
        )

    def add(self, target: str, prefix: str, record: AccessLogRecord) -> None:
        """Queue one record for ``target`` under ``prefix``; deliver when enough wait."""
        line = format_record(record)
        with self._lock:
            lines = self._pending.setdefault((target, prefix), [])
            lines.append(line)
            full = len(lines) >= FLUSH_RECORDS
            if full:
                del self._pending[(target, prefix)]
        if full:
            self._write(target, prefix, lines)

    def _deliver_to(self, bucket: str) -> None:
        with self._lock:
            due = {where: lines for where, lines in self._pending.items() if where[0] == bucket}
            for where in due:
                del self._pending[where]
        for (target, prefix), lines in due.items():
            self._write(target, prefix, lines)

    def _write(self, target: str, prefix: str, lines: list[str]) -> int:
        from moto.s3.models import s3_backends

        backend = s3_backends[self.account]["aws"]
        if target not in backend.buckets:
            # AWS cannot deliver to a bucket that is gone either; the records are lost.
            LOGGER.warning("access logs for %s dropped: no bucket %s", prefix, target)
            return 0
        key = log_object_key(prefix, dt.datetime.now(dt.UTC), secrets.token_hex(8).upper())
        backend.put_object(target, key, ("\n".join(lines) + "\n").encode("utf-8"))
        return 1

    def _logging_of(self, bucket: str) -> tuple[str, str] | None:
        from moto.s3.models import s3_backends

        found = s3_backends[self.account]["aws"].buckets.get(bucket)
        if found is None or not found.logging.get("TargetBucket"):
            return None
        return str(found.logging["TargetBucket"]), str(found.logging.get("TargetPrefix") or "")

    def _control(self, start_response: StartResponse) -> list[bytes]:
        body = json.dumps({"delivered": self.deliver()}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def _logged(
        self,
        application: Application,
        environ: dict[str, Any],
        start_response: StartResponse,
        bucket: str,
        target: tuple[str, str],
    ) -> Iterator[bytes]:
        received = dt.datetime.now(dt.UTC)
        started = time.monotonic()
        answer: dict[str, Any] = {}

        def recording_start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            answer["status"] = int(status.split(" ", 1)[0])
            answer["headers"] = {name.lower(): value for name, value in headers}
            return start_response(status, headers, *rest)

        sent = 0
        error_body = b""
        answered = application(environ, recording_start)
        try:
            for chunk in answered:
                sent += len(chunk)
                if answer.get("status", 200) >= 300 and len(error_body) < 4096:
                    error_body += chunk
                yield chunk
        finally:
            close = getattr(answered, "close", None)
            if close is not None:
                close()
            elapsed = int((time.monotonic() - started) * 1000)
            for log_bucket, record in self._records(
                environ, bucket, received, elapsed, answer, sent, error_body
            ):
                logging_target = target if log_bucket == bucket else self._logging_of(log_bucket)
                if logging_target is not None:
                    self.add(*logging_target, record)

    def _records(
        self,
        environ: dict[str, Any],
        bucket: str,
        received: dt.datetime,
        elapsed_ms: int,
        answer: Mapping[str, Any],
        sent: int,
        error_body: bytes,
    ) -> list[tuple[str, AccessLogRecord]]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        path = str(environ.get("PATH_INFO", ""))
        raw_query = str(environ.get("QUERY_STRING", ""))
        query = parse_qs(raw_query, keep_blank_values=True)
        key = unquote(path.lstrip("/")).partition("/")[2]
        headers = request_headers(environ)
        lowered = {name.lower(): value for name, value in headers.items()}
        response = answer.get("headers", {})
        status = answer.get("status")
        copy_source = lowered.get("x-amz-copy-source")
        operation = operation_name(method, key, query, bool(copy_source))
        signed = "Authorization" in headers or "X-Amz-Credential" in query
        record = AccessLogRecord(
            bucket_owner=_OWNER,
            bucket=bucket,
            time=received,
            remote_ip=environ.get("REMOTE_ADDR") or None,
            requester=environ.get(_REQUESTER),
            request_id=response.get("x-amz-request-id") or secrets.token_hex(8).upper(),
            operation=operation,
            key=key or None,
            request_uri=f"{method} {path}{'?' + raw_query if raw_query else ''} "
            f"{environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}",
            http_status=status,
            error_code=_error_code(status, response, error_body),
            bytes_sent=sent if method != "HEAD" else 0,
            object_size=_object_size(method, key, status, response, environ),
            total_time_ms=elapsed_ms,
            turn_around_time_ms=elapsed_ms,
            referer=lowered.get("referer"),
            user_agent=lowered.get("user-agent"),
            version_id=next(iter(query.get("versionId", [])), None),
            host_id=response.get("x-amz-id-2") or secrets.token_urlsafe(32),
            signature_version="SigV4" if signed else None,
            authentication_type=("QueryString" if "X-Amz-Credential" in query else "AuthHeader")
            if signed
            else None,
            host_header=lowered.get("host"),
        )
        records = [(bucket, record)]
        if copy_source:
            # S3 logs a copy twice: REST.COPY.OBJECT in the destination's log, and
            # REST.COPY.OBJECT_GET (the read) in the source bucket's.
            source_bucket, _, source_key = unquote(copy_source).lstrip("/").partition("/")
            source_key = source_key.split("?versionId=", 1)[0]
            records.append(
                (
                    source_bucket,
                    replace(
                        record, bucket=source_bucket, key=source_key, operation=f"{operation}_GET"
                    ),
                )
            )
        return records


def _silence_moto_access_logs() -> None:
    """moto 5.2.5 writes a log object per PutObject and ListObjects itself, in no format S3 has
    (bucket ``originbucket``, requester ``-``, unquoted fields): a parser of AWS's format
    rejects it, so it is turned off; these records replace it."""
    from moto.s3.models import S3Backend

    def no_log(self: Any, request: Any, bucket_name: str) -> None:
        return None

    S3Backend.log_incoming_request = no_log  # type: ignore[method-assign]


def _error_code(status: int | None, response: Mapping[str, str], body: bytes) -> str | None:
    if status is None or status < 300:
        return None
    if response.get("x-amzn-errortype"):
        return response["x-amzn-errortype"]
    match = _ERROR_CODE.search(body)
    return match.group(1).decode("utf-8", "replace") if match else None


def _object_size(
    method: str,
    key: str,
    status: int | None,
    response: Mapping[str, str],
    environ: Mapping[str, Any],
) -> int | None:
    if not key or status is None or status >= 300:
        return None
    if method in ("GET", "HEAD"):
        whole = response.get("content-range", "").rpartition("/")[2]
        size = whole if whole.isdigit() else response.get("content-length", "")
        return int(size) if size.isdigit() else None
    if method == "PUT":
        # An SDK's streaming upload (aws-chunked) says the object's own size in this header;
        # its Content-Length counts the chunk signatures too.
        length = str(
            environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH") or ""
        )
        return int(length) if length.isdigit() else None
    return None
