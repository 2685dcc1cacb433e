"""Which errors the pipeline retries: one classification, asked by the handlers and the decrypter.

Step Functions retries only an error named ``TransientError``, so an error that clears up by
itself but is not turned into one fails its item for good, and one wrongly turned into one is
retried five times for nothing. Each case below comes as a pair: an error that must be retried
and a similar-looking one that must not (same family, same layer, different meaning).
"""

from __future__ import annotations

import http.client
import io
import zipfile
from collections.abc import Callable
from typing import Any, cast

import pytest
import urllib3.exceptions
from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

from edx_vault.engine.errors import (
    EdxCredentialsRejectedError,
    PermanentError,
    ShortReadError,
    TransientError,
    as_transient,
    is_transient,
)
from edx_vault.pipeline.lambda_runtime import aws_errors_classified

S3_URL = "https://vault-data.s3.us-east-1.amazonaws.com/raw/edx/mitx-2024-03-03.zip"


def service_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"{code} from the service"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(cast(Any, response), operation)


# (id, retried, not retried): factories, so every test gets fresh exception objects.
PAIRS: list[tuple[str, Callable[[], BaseException], Callable[[], BaseException]]] = [
    (
        "s3-slow-down-vs-no-such-key",
        lambda: service_error("SlowDown", 503),
        lambda: service_error("NoSuchKey", 404),
    ),
    (
        "s3-internal-error-vs-access-denied",
        lambda: service_error("InternalError", 500),
        lambda: service_error("AccessDenied", 403),
    ),
    (
        "service-unavailable-vs-not-implemented",
        lambda: service_error("ServiceUnavailable", 503),
        lambda: service_error("NotImplemented", 501),
    ),
    (
        "kms-throttling-vs-kms-access-denied",
        lambda: service_error("ThrottlingException", 400, "Decrypt"),
        lambda: service_error("AccessDeniedException", 400, "Decrypt"),
    ),
    (
        "dynamodb-throughput-vs-condition-failed",
        lambda: service_error("ProvisionedThroughputExceededException", 400, "UpdateItem"),
        lambda: service_error("ConditionalCheckFailedException", 400, "UpdateItem"),
    ),
    (
        "lambda-too-many-requests-vs-validation",
        lambda: service_error("TooManyRequestsException", 429, "Invoke"),
        lambda: service_error("ValidationException", 400, "Invoke"),
    ),
    (
        "unknown-code-429-vs-unknown-code-400",
        lambda: service_error("Unrecognised", 429),
        lambda: service_error("Unrecognised", 400),
    ),
    (
        "bad-gateway-vs-invalid-range",
        lambda: service_error("BadGateway", 502),
        lambda: service_error("InvalidRange", 416),
    ),
    (
        "gateway-timeout-vs-no-such-version",
        lambda: service_error("GatewayTimeout", 504),
        lambda: service_error("NoSuchVersion", 404),
    ),
    (
        "read-timeout-vs-no-credentials",
        lambda: botocore_errors.ReadTimeoutError(endpoint_url=S3_URL),
        lambda: botocore_errors.NoCredentialsError(),
    ),
    (
        "connection-closed-vs-param-validation",
        lambda: botocore_errors.ConnectionClosedError(endpoint_url=S3_URL),
        lambda: botocore_errors.ParamValidationError(report="Missing required parameter Key"),
    ),
    (
        "response-streaming-vs-unknown-service",
        lambda: botocore_errors.ResponseStreamingError(
            error=urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
        ),
        lambda: botocore_errors.UnknownServiceError(service_name="s4", known_service_names="s3"),
    ),
    (
        "incomplete-read-vs-no-region",
        lambda: botocore_errors.IncompleteReadError(actual_bytes=10, expected_bytes=20),
        lambda: botocore_errors.NoRegionError(),
    ),
    (
        "endpoint-connection-vs-partial-credentials",
        lambda: botocore_errors.EndpointConnectionError(endpoint_url=S3_URL),
        lambda: botocore_errors.PartialCredentialsError(provider="env", cred_var="secret"),
    ),
    (
        "connect-timeout-vs-unseekable-stream",
        lambda: botocore_errors.ConnectTimeoutError(endpoint_url=S3_URL),
        lambda: botocore_errors.UnseekableStreamError(stream_object=io.BytesIO()),
    ),
    (
        "checksum-mismatch-in-transit-vs-missing-parameters",
        lambda: botocore_errors.FlexibleChecksumError(error_msg="CRC32 does not match"),
        lambda: botocore_errors.MissingParametersError(object_name="GetObject", missing="Bucket"),
    ),
    (
        "urllib3-protocol-vs-location-parse",
        lambda: urllib3.exceptions.ProtocolError(
            "Connection broken", ConnectionResetError(104, "Connection reset by peer")
        ),
        lambda: urllib3.exceptions.LocationParseError("http://[::1"),
    ),
    (
        "urllib3-read-timeout-vs-decode",
        lambda: urllib3.exceptions.ReadTimeoutError(None, S3_URL, "Read timed out."),  # type: ignore[arg-type]
        lambda: urllib3.exceptions.DecodeError("unknown content encoding"),
    ),
    (
        "http-incomplete-read-vs-bad-status",
        lambda: http.client.IncompleteRead(b"partial", 100),
        lambda: http.client.BadStatusLine("HTTP/9.9 ???"),
    ),
    (
        "connection-reset-vs-file-not-found",
        lambda: ConnectionResetError(104, "Connection reset by peer"),
        lambda: FileNotFoundError(2, "No such file or directory"),
    ),
    (
        "remote-disconnected-vs-permission",
        lambda: http.client.RemoteDisconnected("Remote end closed connection without response"),
        lambda: PermissionError(13, "Permission denied"),
    ),
    (
        "socket-timeout-vs-value-error",
        lambda: TimeoutError("timed out"),  # socket.timeout is this class
        lambda: ValueError("I/O operation on closed file"),
    ),
    (
        "transient-vs-permanent",
        lambda: TransientError("a file replaced mid-copy"),
        lambda: PermanentError("corrupt", "gpg stopped before confirming the file's integrity"),
    ),
    (
        "short-read-vs-bad-zip",
        lambda: ShortReadError("got 10 bytes, expected 20"),
        lambda: zipfile.BadZipFile("Bad CRC-32 for file 'a.sql.gpg'"),
    ),
    (
        "broken-pipe-vs-edx-credentials-rejected",
        lambda: BrokenPipeError(32, "Broken pipe"),
        lambda: EdxCredentialsRejectedError("edX's S3 rejected the stored credentials"),
    ),
]
RETRIED = [pytest.param(retried, id=name) for name, retried, _ in PAIRS]
NOT_RETRIED = [pytest.param(not_retried, id=name) for name, _, not_retried in PAIRS]


@pytest.mark.parametrize("make_error", RETRIED)
def test_errors_that_clear_up_by_themselves_are_transient(
    make_error: Callable[[], BaseException],
) -> None:
    # Given an error from throttling, a server fault or the network
    error = make_error()
    # When it is classified / Then it is worth retrying
    assert is_transient(error)


@pytest.mark.parametrize("make_error", NOT_RETRIED)
def test_errors_about_the_request_or_the_file_are_not_transient(
    make_error: Callable[[], BaseException],
) -> None:
    # Given an error that a retry cannot change (a refusal, a missing object, a bug, a bad file)
    error = make_error()
    # When it is classified / Then it is not retried
    assert not is_transient(error)


@pytest.mark.parametrize("make_error", RETRIED)
def test_a_handler_reports_each_transient_error_under_the_name_the_state_machine_retries(
    make_error: Callable[[], BaseException],
) -> None:
    # Given a handler's work that fails with an error that clears up by itself
    error = make_error()
    # When it leaves the handler through aws_errors_classified
    with pytest.raises(Exception) as raised, aws_errors_classified():
        raise error
    # Then Lambda sees exactly TransientError (its class name is the error type Step Functions
    # matches; a subclass would not be retried), chained to the original for the logs
    assert type(raised.value) is TransientError
    assert raised.value is error or raised.value.__cause__ is error


@pytest.mark.parametrize("make_error", NOT_RETRIED)
def test_a_handler_lets_every_other_error_through_unchanged(
    make_error: Callable[[], BaseException],
) -> None:
    # Given a handler's work that fails for a reason a retry cannot fix
    error = make_error()
    # When it leaves the handler through aws_errors_classified
    with pytest.raises(BaseException) as raised, aws_errors_classified():
        raise error
    # Then it is the same error, not a retry
    assert raised.value is error


def test_builtin_connection_error_is_not_shadowed_by_botocores_name() -> None:
    # Given the builtin ConnectionError (raised by http.client and the socket layer), a different
    # class from botocore.exceptions.ConnectionError although both are spelled the same
    error = ConnectionError("connection lost")
    assert not isinstance(error, botocore_errors.ConnectionError)
    # When it leaves a handler / Then it is retried, not a crash
    with pytest.raises(TransientError), aws_errors_classified():
        raise error


def test_a_transient_summary_names_the_code_or_the_class_never_more() -> None:
    # Given a throttled GET and a cut connection
    throttled = service_error("SlowDown", 503)
    cut = ShortReadError("s3://edx/mitx-2024-03-03.zip: got 10 bytes, expected 20")
    # When each is turned into the error the state machine retries
    # Then the message says what happened, and a plain TransientError is passed on as it is
    assert str(as_transient(throttled)) == "SlowDown: SlowDown from the service"
    assert str(as_transient(cut)) == (
        "ShortReadError: s3://edx/mitx-2024-03-03.zip: got 10 bytes, expected 20"
    )
    plain = TransientError("retry later")
    assert as_transient(plain) is plain
