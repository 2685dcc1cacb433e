"""The failures the pipeline records instead of retrying.

A :class:`PermanentError` is about the file itself (corrupt, for another key, unknown name...):
retrying cannot help, so the item is marked failed in the manifest with ``code`` and ``reason``
and the run goes on. Anything else (throttling, network) propagates so Step Functions retries it.
:func:`is_transient` is the one place that says which errors clear up by themselves: the Lambda
handlers (:func:`edx_vault.pipeline.lambda_runtime.aws_errors_classified`) and the ciphertext reader of
:mod:`edx_vault.engine.gpg_stream` both ask it. Messages never include secret values or plaintext.
"""

from __future__ import annotations

import builtins
import http.client

import urllib3.exceptions
from botocore import exceptions as botocore_errors


class PermanentError(Exception):
    """A file that cannot be processed as it is.

    Parameters
    ----------
    code
        A short, stable identifier for reports and alarms (``tampered``, ``unsafe-member``...).
    reason
        One sentence for a person: what is wrong and, where it helps, what to do.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class TransientError(Exception):
    """A failure worth retrying (throttling, a dropped connection, a file replaced mid-copy).

    Lambda reports the exception's class name as the error type, so the state machine's Retry
    can name exactly this one; anything else is not retried. A subclass would be reported under
    its own name, so :func:`edx_vault.pipeline.lambda_runtime.aws_errors_classified` re-raises every
    subclass as a plain ``TransientError``.
    """


class ShortReadError(TransientError):
    """A response body ended before the bytes it promised (a connection cut mid-body)."""


class EdxCredentialsRejectedError(Exception):
    """edX's S3 refused the stored credentials: they were retired, mistyped, or lack access."""


# Error codes S3/STS return when edX's keys are no good (not a transient condition).
CREDENTIALS_REJECTED_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"}
)
# Error codes that clear up by themselves.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "PreconditionFailed",  # edX replaced the file since the plan: the next run takes it
        # The rest of botocore's own lists of throttling and transient codes
        # (botocore.retries.standard), which it retries a few times before giving up to us.
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "TransactionInProgressException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        "RequestTimeoutException",
    }
)
# HTTP statuses of service errors that clear up by themselves, whatever their code (botocore's
# lists): 429 Too Many Requests, and the server-side 5xx except 501 Not Implemented.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Exceptions raised by the network under a request or a response body. botocore wraps most of
# urllib3's, but not all of them on every path (a body read through ``iter_chunks`` or the raw
# stream), and http.client and the socket layer raise the builtin ones.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    TransientError,
    # EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError
    botocore_errors.ConnectionError,
    # ReadTimeoutError, ConnectionClosedError, ResponseStreamingError
    botocore_errors.HTTPClientError,
    # A body shorter than its Content-Length
    botocore_errors.IncompleteReadError,
    # A body whose bytes do not match the checksum S3 sent: damaged in transit, not at rest
    # (S3 checks what it stores), so a second read gets the right bytes
    botocore_errors.FlexibleChecksumError,
    urllib3.exceptions.ProtocolError,  # "Connection broken", connection reset mid-body
    urllib3.exceptions.TimeoutError,  # read and connect timeouts, refused new connections
    http.client.IncompleteRead,  # urllib3's IncompleteRead too
    builtins.ConnectionError,  # reset, aborted, refused, broken pipe, RemoteDisconnected
    builtins.TimeoutError,  # socket.timeout
)


def aws_error_code(error: BaseException) -> str | None:
    """The service's error code of an AWS call's error (``NoSuchKey``), or None for any other."""
    if isinstance(error, botocore_errors.ClientError):
        code = error.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is worth retrying as it is: throttling, a server fault, the network.

    Parameters
    ----------
    error
        Anything an AWS call, a response body or a stream over one raised.

    Returns
    -------
    bool
        True for the network failures in :data:`TRANSIENT_EXCEPTIONS` and for service errors
        whose code is in :data:`TRANSIENT_CODES` or whose HTTP status is in
        :data:`TRANSIENT_STATUSES`; False for everything else, a :class:`PermanentError` above all.
    """
    if isinstance(error, PermanentError):
        return False
    if isinstance(error, botocore_errors.ClientError):
        if aws_error_code(error) in TRANSIENT_CODES:
            return True
        return (
            error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in TRANSIENT_STATUSES
        )
    return isinstance(error, TRANSIENT_EXCEPTIONS)


def as_transient(error: BaseException) -> TransientError:
    """A plain :class:`TransientError` that says what ``error`` was, for ``raise ... from error``.

    A plain ``TransientError`` is returned as it is; any other error, a subclass included, is
    summarised (its service error code, or its class name and message).
    """
    if type(error) is TransientError:
        return error
    return TransientError(describe(error))


def describe(error: BaseException) -> str:
    """One line naming ``error``: a service error's code and message, or the class and message."""
    if isinstance(error, botocore_errors.ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "") or "ClientError"
        message = details.get("Message", "")
        return f"{code}: {message}" if message else code
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
