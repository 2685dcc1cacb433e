"""The weekly read audit: who read the data bucket, from its S3 server access logs.

The Report step calls :func:`audit_summary` and writes the result to
``reports/{run_id}-audit.json``; its ``unexpected_reader_count`` is the ``UnexpectedReaders``
metric, alarmed on above zero. ``edx-vault audit`` reads the same logs with the same parser
(:mod:`edx_vault.package.access_log_records`) and classification
(:mod:`edx_vault.package.access_log_readers`).

S3 delivers access logs "on a best-effort basis", most "within a few hours of the time that
they are recorded" (S3 User Guide, "Logging requests with server access logging"): a log object
holds records from before its key's time, never after. So the log objects read are those whose
key time is at or after ``since``, and the records counted are those whose request time is in
``[since, until)``. A window that ends at the run's start misses the last hours' records, which
the next window will not count either: :func:`weekly_window` ends the window a day before the run.

Lambda side: no import of ``edx_vault.access`` or the configuration. The Report function needs
``s3:ListBucket`` on the access-logs bucket (``s3:prefix`` under the data bucket's log prefix)
and ``s3:GetObject`` on that prefix's objects; the logs bucket is SSE-S3, so no KMS permission.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from edx_vault.package.access_log_readers import (
    KnownPrincipals,
    ReaderKind,
    summarize,
    unexpected_readers,
)
from edx_vault.package.access_log_records import (
    AccessLogFormatError,
    AccessLogRecord,
    log_object_time,
    parse_line,
)
from edx_vault.settings.pipeline_settings import (
    UNEXPECTED_READERS_METRIC as UNEXPECTED_READERS_METRIC,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Late deliveries: the audit window ends this long before the run that writes it.
DELIVERY_SLACK: Final = dt.timedelta(days=1)
AUDIT_PERIOD: Final = dt.timedelta(days=7)


def weekly_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``(since, until)``: the seven days that end :data:`DELIVERY_SLACK` before ``now``."""
    until = now.astimezone(dt.UTC) - DELIVERY_SLACK
    return until - AUDIT_PERIOD, until


# A run's audit summary sits beside its report, told apart by this ending.
AUDIT_REPORT_SUFFIX: Final = "-audit.json"


def audit_report_key(run_id: str) -> str:
    """Where the Report step writes a run's audit summary: ``reports/{run_id}-audit.json``."""
    return f"reports/{run_id}{AUDIT_REPORT_SUFFIX}"


def log_object_keys(
    s3: S3Client, *, logs_bucket: str, prefix: str, since: dt.datetime
) -> list[str]:
    """The log objects delivered at or after ``since`` (to the second), oldest first.

    Keys are ``{prefix}YYYY-mm-DD-HH-MM-SS-{unique}``, so they sort by delivery time and the
    listing can start after the prefix plus ``since``'s timestamp (a key of that very second
    has a ``-{unique}`` more, so sorts after it).
    """
    start_after = f"{prefix}{since.astimezone(dt.UTC):%Y-%m-%d-%H-%M-%S}"
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=logs_bucket, Prefix=prefix, StartAfter=start_after):
        for entry in page.get("Contents", []):
            # Anything else under the prefix is not a log object.
            if log_object_time(entry["Key"], prefix) is not None:
                keys.append(entry["Key"])
    return sorted(keys)


def read_records(
    s3: S3Client,
    *,
    logs_bucket: str,
    keys: list[str],
    since: dt.datetime,
    until: dt.datetime | None,
) -> tuple[list[AccessLogRecord], int]:
    """The records of the log objects whose request time is in ``[since, until)``, and how many
    lines were not records (counted, not fatal: one odd line must not hide a week's audit)."""
    records: list[AccessLogRecord] = []
    unparsed = 0
    for key in keys:
        text = s3.get_object(Bucket=logs_bucket, Key=key)["Body"].read().decode("utf-8", "replace")
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = parse_line(line)
            except AccessLogFormatError:
                unparsed += 1
                continue
            if record.time >= since and (until is None or record.time < until):
                records.append(record)
    return records, unparsed


def audit_summary(
    s3: S3Client,
    *,
    logs_bucket: str,
    prefix: str,
    since: dt.datetime,
    until: dt.datetime,
    principals: KnownPrincipals,
    identifying: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Who read the data bucket between ``since`` and ``until``, from its access logs.

    Parameters
    ----------
    s3
        A client that may list and read the access-logs bucket.
    logs_bucket
        The access-logs bucket.
    prefix
        The data bucket's log prefix in it (``data-bucket/``).
    since, until
        The requests counted (aware datetimes; :func:`weekly_window`).
    principals
        The vault's researchers, pipeline and admin roles.
    identifying
        Whether an object key holds identifying data; each principal's identifying reads are
        then listed (``None``: not assessed, the list is empty).

    Returns
    -------
    dict
        JSON-ready: the window, the log objects and records read, per principal kind the
        activity of each principal (requests, refusals, reads, objects and bytes read, first and
        last read), the unexpected readers and their count (the ``UnexpectedReaders`` metric).
    """
    keys = log_object_keys(s3, logs_bucket=logs_bucket, prefix=prefix, since=since)
    records, unparsed = read_records(
        s3, logs_bucket=logs_bucket, keys=keys, since=since, until=until
    )
    activity = summarize(records, principals, identifying=identifying)
    by_kind: dict[ReaderKind, list[dict[str, Any]]] = {}
    for (kind, _), entry in sorted(activity.items()):
        by_kind.setdefault(kind, []).append(entry.as_dict())
    unexpected = unexpected_readers(activity)
    return {
        "since": since.astimezone(dt.UTC).isoformat(),
        "until": until.astimezone(dt.UTC).isoformat(),
        "logs_bucket": logs_bucket,
        "prefix": prefix,
        "log_objects": len(keys),
        "records": len(records),
        "unparsed_lines": unparsed,
        "researchers": by_kind.get("researcher", []),
        "pipeline": by_kind.get("pipeline", []),
        "admins": by_kind.get("admin", []),
        "s3": by_kind.get("s3", []),
        "unexpected": by_kind.get("unexpected", []),
        "unexpected_readers": unexpected,
        "unexpected_reader_count": len(unexpected),
    }
