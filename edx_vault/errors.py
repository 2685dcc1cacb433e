"""The failures the pipeline records instead of retrying.

A :class:`PermanentError` is about the file itself (corrupt, for another key, unknown name...):
retrying cannot help, so the item is marked failed in the manifest with ``code`` and ``reason``
and the run goes on. Anything else (throttling, network) propagates so Step Functions retries it.
Messages never include secret values or plaintext.
"""

from __future__ import annotations


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
    can name exactly this one; anything else is not retried.
    """


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
    }
)
