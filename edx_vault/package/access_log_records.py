"""Amazon S3 server access log records: one line per request, as S3 writes them and reads back.

Shared by the embedded AWS (which writes the data bucket's access logs as S3 does), the Report
step's weekly read audit and ``edx-vault audit`` (which read them). Pure Python, no AWS calls.

The format is AWS's ("Amazon S3 server access log format", S3 User Guide): newline-delimited
records of space-delimited fields, in this order: bucket owner, bucket, ``[time]``, remote IP,
requester, request ID, operation, key, ``"request-URI"``, HTTP status, error code, bytes sent,
object size, total time, turn-around time, ``"referer"``, ``"user-agent"``, version ID, host ID,
signature version, cipher suite, authentication type, host header, TLS version, access point ARN,
ACL required. "Any field can be set to ``-`` to indicate that the data was unknown or
unavailable, or that the field was not applicable to this request." AWS has added fields at the
end over the years (the latest, the source region) and older records stop earlier, so a record
may have more fields than :data:`FIELDS` (kept in ``extra``) or fewer (missing ones are ``None``).

Log objects are named ``{TargetPrefix}YYYY-mm-DD-HH-MM-SS-{UniqueString}`` (the "simple prefix"
key format of "Logging requests with server access logging"), the time being the delivery's, UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Final
from urllib.parse import quote, unquote

# The fields of a record, in AWS's order.
FIELDS: Final = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time_ms",
    "turn_around_time_ms",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
)
# Records written before AWS added the later fields end after the user agent.
MIN_FIELDS: Final = FIELDS.index("user_agent") + 1
_QUOTED: Final = frozenset({"request_uri", "referer", "user_agent"})
_INTEGERS: Final = frozenset(
    {"http_status", "bytes_sent", "object_size", "total_time_ms", "turn_around_time_ms"}
)
_TOKEN: Final = re.compile(r'\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\S+')
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_TIME: Final = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})")
_KEY_TIME: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9A-Za-z]+$")
# Characters S3 leaves as they are in the key field; everything else is percent-encoded.
_KEY_SAFE: Final = "/=-_.~"


class AccessLogFormatError(ValueError):
    """A line that is not an S3 server access log record."""


@dataclass(frozen=True)
class AccessLogRecord:
    """One request, as S3's server access log records it (``None`` where the log says ``-``).

    Attributes
    ----------
    bucket_owner
        The canonical user ID of the bucket's owner.
    bucket
        The bucket the request was made to.
    time
        When the request was received (aware, UTC offset as logged).
    remote_ip
        The requester's apparent address.
    requester
        Who signed the request: an IAM user's ARN, a role session's
        ``arn:aws:sts::{account}:assumed-role/{role}/{session}``, a canonical user ID (the
        account's root, other accounts), or ``None`` for an unauthenticated request.
    request_id
        S3's id for the request.
    operation
        ``REST.GET.OBJECT``, ``REST.PUT.OBJECT``, ``REST.GET.BUCKET`` (a listing), ``S3.EXPIRE.OBJECT``
        (a lifecycle action S3 takes itself)...
    key
        The object key, decoded (``None`` for a request on the bucket).
    request_uri
        The HTTP request line (``GET /bucket/key HTTP/1.1``).
    http_status
        The response's status.
    error_code
        S3's error code (``AccessDenied``...), ``None`` on success.
    bytes_sent
        Response body bytes (``-`` in the log is 0).
    object_size, total_time_ms, turn_around_time_ms, referer, user_agent, version_id, host_id,
    signature_version, cipher_suite, authentication_type, host_header, tls_version,
    access_point_arn, acl_required
        As AWS documents them.
    extra
        Fields after the last one named here (AWS appends new fields at the end).
    """

    bucket_owner: str | None
    bucket: str | None
    time: dt.datetime
    remote_ip: str | None
    requester: str | None
    request_id: str | None
    operation: str | None
    key: str | None
    request_uri: str | None
    http_status: int | None
    error_code: str | None
    bytes_sent: int
    object_size: int | None
    total_time_ms: int | None
    turn_around_time_ms: int | None
    referer: str | None
    user_agent: str | None
    version_id: str | None = None
    host_id: str | None = None
    signature_version: str | None = None
    cipher_suite: str | None = None
    authentication_type: str | None = None
    host_header: str | None = None
    tls_version: str | None = None
    access_point_arn: str | None = None
    acl_required: str | None = None
    extra: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        """Whether S3 answered with a 2xx status."""
        return self.http_status is not None and 200 <= self.http_status < 300


def parse_time(text: str) -> dt.datetime:
    """``06/Feb/2019:00:00:38 +0000`` (brackets optional) as an aware datetime.

    Month names are matched here, not by ``strptime``, whose ``%b`` follows the locale.

    Raises
    ------
    AccessLogFormatError
        When the text is not such a time.
    """
    match = _TIME.fullmatch(text.strip("[]"))
    if match is None or match.group(2) not in _MONTHS:
        raise AccessLogFormatError(f"not an access log time: {text!r}")
    day, month, year, hour, minute, second, offset = match.groups()
    sign = -1 if offset[0] == "-" else 1
    zone = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    return dt.datetime(
        int(year),
        _MONTHS.index(month) + 1,
        int(day),
        int(hour),
        int(minute),
        int(second),
        tzinfo=zone,
    )


def format_time(moment: dt.datetime) -> str:
    """An aware datetime as the log writes it, in UTC: ``[06/Feb/2019:00:00:38 +0000]``."""
    utc = moment.astimezone(dt.UTC)
    return (
        f"[{utc.day:02d}/{_MONTHS[utc.month - 1]}/{utc.year:04d}:"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} +0000]"
    )


def parse_line(line: str) -> AccessLogRecord:
    """One log line as a record.

    Raises
    ------
    AccessLogFormatError
        When the line has too few fields, or a time or number field that is not one.
    """
    tokens = _TOKEN.findall(line.strip())
    if len(tokens) < MIN_FIELDS:
        raise AccessLogFormatError(
            f"an access log record has at least {MIN_FIELDS} fields, this line {len(tokens)}"
        )
    values: dict[str, object] = {}
    for name, token in zip(FIELDS, tokens, strict=False):
        values[name] = _field_value(name, token)
    values["extra"] = tuple(tokens[len(FIELDS) :])
    if values["bytes_sent"] is None:
        values["bytes_sent"] = 0
    return AccessLogRecord(**values)  # type: ignore[arg-type]


def parse_log(text: str) -> Iterator[AccessLogRecord]:
    """Every record of a log object's text, in order; blank lines are skipped.

    Raises
    ------
    AccessLogFormatError
        At the first line that is not a record (the message gives its number).
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield parse_line(line)
        except AccessLogFormatError as error:
            raise AccessLogFormatError(f"line {number}: {error}") from None


def format_record(record: AccessLogRecord) -> str:
    """The record as one log line (no newline), as S3 writes it."""
    parts: list[str] = []
    for spec in fields(record):
        if spec.name == "extra":
            continue
        value = getattr(record, spec.name)
        if spec.name == "time":
            parts.append(format_time(value))
        elif spec.name in _QUOTED:
            parts.append('"' + ("-" if value is None else str(value).replace('"', '\\"')) + '"')
        elif spec.name == "key":
            parts.append("-" if value is None else quote(value, safe=_KEY_SAFE))
        elif spec.name == "bytes_sent":
            parts.append(str(value) if value else "-")
        else:
            parts.append("-" if value is None or value == "" else str(value))
    parts.extend(record.extra)
    return " ".join(parts)


def log_object_key(prefix: str, delivered: dt.datetime, unique: str) -> str:
    """A log object's key: ``{prefix}YYYY-mm-DD-HH-MM-SS-{unique}``, the time in UTC."""
    utc = delivered.astimezone(dt.UTC)
    return f"{prefix}{utc:%Y-%m-%d-%H-%M-%S}-{unique}"


def log_object_time(key: str, prefix: str) -> dt.datetime | None:
    """When a log object was delivered, from its key (UTC); ``None`` when the key is not one."""
    if not key.startswith(prefix):
        return None
    match = _KEY_TIME.fullmatch(key[len(prefix) :])
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        return None


def _field_value(name: str, text: str) -> object:
    if name == "time":
        return parse_time(text)
    if name in _QUOTED:
        text = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
        text = text.replace('\\"', '"')
    if text == "-":
        return None
    if name == "key":
        return unquote(text)
    if name in _INTEGERS:
        try:
            return int(text)
        except ValueError:
            raise AccessLogFormatError(f"{name} is not a number: {text!r}") from None
    return text
