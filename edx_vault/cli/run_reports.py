"""Reading the run reports the pipeline's Report step writes to ``reports/{run_id}.json``.

The schema (the pipeline writes it, the CLI only reads it)::

    {"run_id", "started", "finished", "status": "succeeded" | "failed",
     "files": {CATEGORY: {"count", "bytes"}},
     "failures": [{"source_key", "member", "stage", "code", "reason"}],
     "missing": [{"kind", "org", "site", "period"}],
     "unknown": [{"bucket", "key", "reason"}],
     "previously_failed": [{"key", "member", "error_code"}],
     "accounting": {"listed", "published", "up_to_date", "failed",
                    "deferred": {"failed-before", "unknown-name"}, "unaccounted"},
     "key_expiry": {"fingerprint", "expires", "days_left"} | null,
     "duration_seconds", "estimated_cost_usd"}

Reading is tolerant of extra fields and of missing optional ones, so a CLI and a pipeline one
version apart still understand each other; only ``status`` is required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from edx_vault.cli.errors import CliError, aws_error_code
from edx_vault.package.bucket_layout import REPORTS_PREFIX
from edx_vault.pipeline.key_metadata import KEY_EXPIRY_WARNING_DAYS
from edx_vault.pipeline.read_audit import AUDIT_REPORT_SUFFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPORT_STATUSES: Final = ("succeeded", "failed")


class ReportFormatError(CliError):
    """A report object that is not the documented JSON."""


def report_key(run_id: str) -> str:
    """Where the report of run ``run_id`` (the execution name) is kept."""
    return f"{REPORTS_PREFIX}{run_id}.json"


@dataclass(frozen=True)
class RunReport:
    """One run's report, as written by the pipeline.

    Attributes
    ----------
    key
        The S3 key it was read from.
    document
        The whole JSON document (extra fields included).
    """

    key: str
    document: dict[str, Any]

    @property
    def run_id(self) -> str:
        """The run (execution) name; empty when the report omits it."""
        return str(self.document.get("run_id", ""))

    @property
    def status(self) -> str:
        """``succeeded`` or ``failed``."""
        return str(self.document["status"])

    @property
    def files(self) -> dict[str, dict[str, int]]:
        """Published files per category: ``{"count", "bytes"}``."""
        files: dict[str, dict[str, int]] = self.document.get("files") or {}
        return files

    @property
    def course_split(self) -> dict[str, int] | None:
        """``{"logs", "course_files", "lines", "unassigned", "unparsed"}``: what the run's
        splits by course did; ``None`` in a report from before the split."""
        split = self.document.get("course_split")
        return split if isinstance(split, dict) else None

    @property
    def failures(self) -> list[dict[str, Any]]:
        """``{"source_key", "member", "stage", "code", "reason"}`` per failed item."""
        return list(self.document.get("failures") or [])

    @property
    def missing(self) -> list[dict[str, Any]]:
        """``{"kind", "org", "site", "period"}`` per file expected but missing at edX."""
        return list(self.document.get("missing") or [])

    @property
    def unknown(self) -> list[dict[str, Any]]:
        """``{"bucket", "key", "reason"}`` per edX object the pipeline did not recognise."""
        return list(self.document.get("unknown") or [])

    @property
    def previously_failed(self) -> list[dict[str, Any]]:
        """``{"key", "member", "error_code"}`` per file deferred as failed before (not retried)."""
        return list(self.document.get("previously_failed") or [])

    @property
    def accounting(self) -> dict[str, Any] | None:
        """Where each file edX listed ended up (see ``edx_vault.pipeline.run_accounting``), if recorded."""
        accounting = self.document.get("accounting")
        return accounting if isinstance(accounting, dict) else None

    @property
    def key_expiry(self) -> dict[str, Any] | None:
        """``{"fingerprint", "expires", "days_left"}`` of the primary key, if reported."""
        expiry: dict[str, Any] | None = self.document.get("key_expiry")
        return expiry


def parse_report(key: str, body: bytes) -> RunReport:
    """A report from its JSON.

    Raises
    ------
    ReportFormatError
        Not JSON, not an object, or without a valid ``status``.
    """
    try:
        document = json.loads(body)
    except ValueError:
        raise ReportFormatError(f"report {key} is not JSON") from None
    if not isinstance(document, dict) or document.get("status") not in REPORT_STATUSES:
        raise ReportFormatError(
            f"report {key} is not a run report (no status {' or '.join(REPORT_STATUSES)})"
        )
    return RunReport(key=key, document=document)


def load_report(s3: S3Client, bucket: str, key: str) -> RunReport | None:
    """The report at ``key``, or ``None`` if there is no such object."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if aws_error_code(error) in ("NoSuchKey", "404"):
            return None
        raise
    return parse_report(key, body)


def latest_report_key(s3: S3Client, bucket: str) -> str | None:
    """The most recently written run report under ``reports/`` (not a run's read audit beside
    it), or ``None`` when there is none."""
    newest: tuple[Any, str] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REPORTS_PREFIX):
        for entry in page.get("Contents", []):
            if not entry["Key"].endswith(".json") or entry["Key"].endswith(AUDIT_REPORT_SUFFIX):
                continue
            candidate = (entry["LastModified"], entry["Key"])
            if newest is None or candidate > newest:
                newest = candidate
    return None if newest is None else newest[1]


def human_bytes(count: int) -> str:
    """``1536`` as ``1.5 KiB``: sizes for people (``--json`` keeps exact bytes)."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _member(failure: dict[str, Any]) -> str:
    member = failure.get("member")
    return f"{failure.get('source_key', '?')}{f' :: {member}' if member else ''}"


def summary_lines(report: RunReport, *, limit: int = 20) -> list[str]:
    """A human summary: status, files per category, failures, missing and unknown files.

    Parameters
    ----------
    report
        The report.
    limit
        How many failures, missing and unknown entries to list before ``... and N more``.
    """
    document = report.document
    lines = [
        f"run {report.run_id or report.key}: {report.status.upper()}"
        + (
            f" in {document['duration_seconds']} s"
            if document.get("duration_seconds") is not None
            else ""
        )
        + (
            f", estimated cost ${document['estimated_cost_usd']}"
            if document.get("estimated_cost_usd") is not None
            else ""
        )
    ]
    if report.files:
        lines.append("  published:")
        lines.extend(
            f"    {category:<18} {totals.get('count', 0):>8} files {human_bytes(totals.get('bytes', 0)):>10}"
            for category, totals in sorted(report.files.items())
        )
    else:
        lines.append("  published: nothing new")
    audit = report.document.get("audit")
    if isinstance(audit, dict):
        unexpected = audit.get("unexpected_readers") or []
        lines.append(
            f"  read audit {audit.get('since', '?')[:10]} .. {audit.get('until', '?')[:10]}: "
            f"{audit.get('records', 0)} requests"
            + (f"; UNEXPECTED readers: {', '.join(unexpected)}" if unexpected else "")
            + f" ({audit.get('key')})"
        )
    split = report.course_split
    if split and split.get("logs"):
        lines.append(
            f"  split {split['logs']} event logs by course: {split['course_files']} course files; "
            f"{split.get('unassigned', 0)} events name no course (course=_none), "
            f"{split.get('unparsed', 0)} lines are not JSON (course=_unparsed)"
        )

    accounting = report.accounting
    if accounting and accounting.get("listed") is not None:
        deferred = accounting.get("deferred") or {}
        lines.append(
            f"  edX listed {accounting['listed']} files: {accounting.get('published', 0)} "
            f"published, {accounting.get('up_to_date', 0)} up to date, "
            f"{accounting.get('failed', 0)} failed, {sum(deferred.values())} deferred"
            + (
                f", {accounting['unaccounted']} UNACCOUNTED"
                if accounting.get("unaccounted")
                else ""
            )
        )

    def listed(title: str, entries: list[dict[str, Any]], render: Any) -> None:
        if not entries:
            return
        lines.append(f"  {title} ({len(entries)}):")
        lines.extend(f"    {render(entry)}" for entry in entries[:limit])
        if len(entries) > limit:
            lines.append(f"    ... and {len(entries) - limit} more (see --json or {report.key})")

    listed(
        "failures",
        report.failures,
        lambda f: (
            f"[{f.get('stage', '?')}/{f.get('code', '?')}] {_member(f)}: {f.get('reason', '')}"
        ),
    )
    listed(
        "deferred: failed before for this version, not retried (`sync --retry-failed`)",
        report.previously_failed,
        lambda p: (
            f"[{p.get('error_code') or '?'}] {p.get('key', '?')}"
            + (f" :: {p['member']}" if p.get("member") else "")
        ),
    )
    listed(
        "expected but missing at edX",
        report.missing,
        lambda m: " ".join(str(m.get(k, "")) for k in ("kind", "org", "site", "period")),
    )
    listed(
        "deferred: unknown files at edX (not mirrored)",
        report.unknown,
        lambda u: f"s3://{u.get('bucket', '?')}/{u.get('key', '?')}: {u.get('reason', '')}",
    )
    expiry = report.key_expiry
    if expiry and expiry.get("days_left") is not None:
        days = int(expiry["days_left"])
        if days < KEY_EXPIRY_WARNING_DAYS:
            lines.append(
                f"  WARNING: pipeline key {expiry.get('fingerprint', '?')} expires in {days} "
                f"days ({expiry.get('expires')}); run `edx-vault keygen --rotate`"
            )
    return lines
