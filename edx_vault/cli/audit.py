"""``edx-vault audit``: who read the data bucket, from its S3 server access logs.

Finds where the data bucket logs to (``GetBucketLogging``: the access-logs bucket and prefix),
lists the log objects delivered since ``--since`` (their keys carry the delivery time), reads
and parses them, and prints per researcher the objects and bytes read, the first and last read
and the identifying files read; then the pipeline's, the admins' and anyone else's requests.
A requester outside the vault whose data request succeeded is an **unexpected reader**: it is
flagged and the exit status is 1.

S3 delivers access logs best-effort, most within a few hours: the last hours' reads may not be
in the logs yet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Final

from edx_vault.access.audit import Audit, audit, known_principals
from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from edx_vault.cli.grants import parse_moment
from edx_vault.cli.tables import render_table
from edx_vault.package.access_log_readers import ReaderActivity
from edx_vault.pipeline.read_audit import log_object_keys, read_records

DEFAULT_DAYS: Final = 7
PERSONAL_DATA_NOTE: Final = (
    "Every file holds personal data (event logs carry usernames and IP addresses); "
    "identifying files (names, emails, learners' own text) are listed by name."
)


# ``--since``: a date (``YYYY-MM-DD``, midnight UTC) or an ISO 8601 time (UTC unless zoned),
# read as ``grants check --at`` reads its moment.
parse_since = parse_moment


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Audit the reads since ``--since``; exit 1 when an unexpected reader is found."""
    config = context.config()
    data_bucket = context.deployment().storage.data_bucket
    s3 = context.s3()
    since: dt.datetime = args.since or context.now() - dt.timedelta(days=DEFAULT_DAYS)
    logging = s3.get_bucket_logging(Bucket=data_bucket).get("LoggingEnabled")
    if not logging:
        raise CliError(
            f"server access logging is off for {data_bucket}: there is nothing to audit; "
            "deploy the storage stack again to turn it back on"
        )
    logs_bucket, prefix = logging["TargetBucket"], logging.get("TargetPrefix", "")
    keys = log_object_keys(s3, logs_bucket=logs_bucket, prefix=prefix, since=since)
    records, unparsed = read_records(
        s3, logs_bucket=logs_bucket, keys=keys, since=since, until=None
    )
    result = audit(records, known_principals(config), researcher=args.researcher)
    configured = [r.name for r in config.researchers]
    if args.researcher is None:
        quiet = [name for name in configured if name not in {e.name for e in result.researchers()}]
    else:
        quiet = [] if result.researchers() else [args.researcher]
    if args.json:
        context.out(
            json.dumps(
                {
                    "data_bucket": data_bucket,
                    "logs_bucket": logs_bucket,
                    "prefix": prefix,
                    "since": since.isoformat(),
                    "log_objects": len(keys),
                    "unparsed_lines": unparsed,
                    "researchers_without_reads": quiet,
                    **result.as_dict(),
                },
                indent=2,
            )
        )
    else:
        _print(
            context, result, quiet, since=since, where=f"{logs_bucket}/{prefix}", objects=len(keys)
        )
        if unparsed:
            context.note(f"warning: {unparsed} lines of the logs are not access log records")
    return EXIT_FAILURE if result.unexpected_readers else EXIT_OK


def _print(
    context: CliContext,
    result: Audit,
    quiet: list[str],
    *,
    since: dt.datetime,
    where: str,
    objects: int,
) -> None:
    context.out(
        f"Reads since {since:%Y-%m-%d %H:%M} UTC, from {objects} log objects in {where} "
        f"({result.records} requests)"
    )
    context.out(PERSONAL_DATA_NOTE)
    researchers = result.researchers()
    rows = [_reader_row(entry) for entry in researchers] + [
        (name, 0, 0, None, None, 0, 0) for name in quiet
    ]
    context.out()
    if rows:
        headers = ("RESEARCHER", "OBJECTS", "BYTES", "FIRST READ", "LAST READ", "IDENTIFYING")
        for line in render_table((*headers, "REFUSED"), rows):
            context.out(f"  {line}")
    else:
        context.out("  No researcher is configured.")
    for entry in researchers:
        if entry.identifying_keys:
            context.out()
            context.out(f"Identifying files read by {entry.name}:")
            for key in sorted(entry.identifying_keys):
                context.out(f"  {key}")
    others = [entry for entry in result.activity if entry.kind != "researcher"]
    if others:
        context.out()
        context.out("Other principals:")
        table = render_table(
            ("KIND", "WHO", "REQUESTS", "REFUSED", "OBJECTS READ", "FLAG"),
            [
                (
                    entry.kind,
                    entry.name,
                    entry.requests,
                    entry.refused,
                    len(entry.objects_read),
                    "UNEXPECTED READER" if entry.unexpected_reader else None,
                )
                for entry in others
            ],
        )
        for line in table:
            context.out(f"  {line}")
    context.out()
    if result.unexpected_readers:
        context.out(
            f"{len(result.unexpected_readers)} unexpected reader(s): "
            f"{', '.join(result.unexpected_readers)}. Find out who they are; report a possible "
            "incident to edX within 24 hours (docs/governance.md)."
        )
    else:
        context.out("No unexpected readers.")


def _reader_row(entry: ReaderActivity) -> tuple[object, ...]:
    def moment(value: dt.datetime | None) -> str | None:
        return None if value is None else f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"

    return (
        entry.name,
        len(entry.objects_read),
        entry.bytes_read,
        moment(entry.first_read),
        moment(entry.last_read),
        len(entry.identifying_keys),
        entry.refused,
    )
