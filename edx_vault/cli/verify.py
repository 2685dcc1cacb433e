"""``edx-vault verify``: check every published object still is what the pipeline published.

For each manifest row that is done and names an output key, the object's current version is
streamed through sha256 (in memory, 1 MiB at a time, nothing on disk) and compared with the
plaintext digest and size the pipeline recorded; when the row records the version it published,
the current version must be that one. A missing, unreadable, replaced or altered object is a
problem, and any problem makes the exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from edx_vault.cli.context import CliContext
from edx_vault.cli.errors import aws_error_code
from edx_vault.cli.progress import Progress
from edx_vault.cli.tables import render_table
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import Status
from edx_vault.pipeline.manifest_schema import PARTITION_KEY, SORT_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK_BYTES: Final = 1024 * 1024
_MISSING_CODES: Final = frozenset({"NoSuchKey", "NoSuchVersion", "404"})


@dataclass(frozen=True)
class Problem:
    """One published object that is not as published.

    Attributes
    ----------
    output_key
        The object.
    problem
        ``missing``, ``unreadable``, ``replaced``, ``size-mismatch`` or ``sha256-mismatch``.
    detail
        What was expected and found (digests, sizes, version ids: nothing from the data).
    source
        The manifest row (``{pk} {sk}``) it came from.
    """

    output_key: str
    problem: str
    detail: str
    source: str


def published_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifest rows of published objects: done, with an output key."""
    return [row for row in rows if row.get("status") == Status.DONE and row.get("output_key")]


def check_object(s3: S3Client, bucket: str, row: dict[str, Any]) -> list[Problem]:
    """Compare one published object with its manifest row.

    Parameters
    ----------
    s3
        An S3 client.
    bucket
        The data bucket.
    row
        A row from :func:`published_rows`.
    """
    key = str(row["output_key"])
    source = f"{row.get(PARTITION_KEY, '?')} {row.get(SORT_KEY, '?')}"

    def problem(kind: str, detail: str) -> Problem:
        return Problem(output_key=key, problem=kind, detail=detail, source=source)

    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = aws_error_code(error)
        if code in _MISSING_CODES:
            return [problem("missing", "no such object")]
        return [problem("unreadable", code)]
    digest = hashlib.sha256()
    size = 0
    for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)

    problems: list[Problem] = []
    published_version = row.get("output_version_id") or None
    current_version = response.get("VersionId")
    if published_version and current_version != published_version:
        problems.append(
            problem(
                "replaced",
                f"current version {current_version} is not the published {published_version}",
            )
        )
    expected_size = row.get("plaintext_bytes")
    if expected_size is not None and int(expected_size) != size:
        problems.append(problem("size-mismatch", f"expected {expected_size} bytes, found {size}"))
    expected_sha = row.get("plaintext_sha256")
    if expected_sha and expected_sha != digest.hexdigest():
        problems.append(
            problem("sha256-mismatch", f"expected {expected_sha}, found {digest.hexdigest()}")
        )
    return problems


def run(args: argparse.Namespace, context: CliContext) -> int:
    """Check every published object; exit 1 on any problem."""
    deployment = context.deployment()
    bucket = deployment.storage.data_bucket
    rows = published_rows(Manifest(context.manifest_table()).scan())
    rows.sort(key=lambda row: str(row["output_key"]))
    s3 = context.s3()
    progress = Progress(context.stderr, len(rows), "objects verified", enabled=not args.json)
    problems: list[Problem] = []
    for row in rows:
        problems.extend(check_object(s3, bucket, row))
        progress.advance()
    progress.finish()

    damaged = len({p.output_key for p in problems})
    if args.json:
        context.out(
            json.dumps(
                {
                    "bucket": bucket,
                    "checked": len(rows),
                    "intact": len(rows) - damaged,
                    "problems": [asdict(p) for p in problems],
                },
                indent=2,
            )
        )
    else:
        context.out(
            f"Verified {len(rows)} published objects in {bucket}: "
            f"{len(rows) - damaged} intact, {damaged} with problems"
        )
        if problems:
            table = render_table(
                ("PROBLEM", "OBJECT", "DETAIL"),
                [(p.problem, p.output_key, p.detail) for p in problems],
            )
            for line in table:
                context.out(f"  {line}")
    return 1 if problems else 0
