"""Plan a sync: what edX has, what is new or changed, and what edX should have but does not.

Listing uses edX's credentials and is paginated; comparison uses the manifest (source ETag and
size), never the key alone, since edX may re-upload a file in place.

Two questions, two bounds. *What to mirror*: every file edX has from the first date on, whatever
its date, today's and a later one included, because an S3 object appears whole or not at all:
a file that is listed is complete. *What is missing*: the cadence (a log a day, a zip a week),
only over the days edX could already have delivered, so a day or a week is never reported
missing before it is over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edx_vault.engine.object_copy import SourceVersion
from edx_vault.package import source_keys
from edx_vault.package.edx_spellings import EDX_SITE_SPELLINGS, UnknownNameError
from edx_vault.package.source_keys import SourceKind, SourceObject
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import Status, source_partition, source_up_to_date

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

from edx_vault.settings.types import MirrorCategory, Site


@dataclass(frozen=True)
class PlanScope:
    """What to look for.

    Attributes
    ----------
    org_groups
        One tuple of lower-cased org ids per partner org (its id and aliases): a day counts as
        delivered when any id of the group has the file.
    first_date
        The first day to mirror: files dated earlier are neither listed nor mirrored.
    last_date
        The last day edX's cadence makes due (the pipeline passes the day before the run's):
        it ends the window of "expected but missing", never what is mirrored. A file dated
        after it (today's, or one edX dated ahead) is mirrored like any other.
    """

    org_groups: tuple[tuple[str, ...], ...]
    sites: tuple[Site, ...]
    categories: tuple[MirrorCategory, ...]
    first_date: dt.date
    last_date: dt.date
    event_bucket: str
    database_bucket: str


@dataclass(frozen=True)
class PlannedSource:
    """One edX object to mirror (and then decrypt)."""

    version: SourceVersion
    kind: SourceKind
    org: str


@dataclass(frozen=True)
class MissingFile:
    """A file edX's cadence says should exist and does not."""

    kind: str  # "event-log" or "weekly-zip"
    org: str
    site: str | None
    period: str  # the day, or "{monday}/{sunday}" for a week

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "org": self.org, "site": self.site, "period": self.period}


@dataclass
class Plan:
    to_mirror: list[PlannedSource] = field(default_factory=list)
    up_to_date: int = 0
    previously_failed: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, str]] = field(default_factory=list)
    missing: list[MissingFile] = field(default_factory=list)
    # Every object listed at edX in scope, known names or not: the report's accounting
    # identity (edx_vault/pipeline/run_accounting.py) checks every one of them ends up somewhere.
    listed: int = 0


@dataclass(frozen=True)
class _Listing:
    """One paginated listing: a prefix, optionally from a key on."""

    bucket: str
    prefix: str
    org: str
    start_after: str = ""


def _list(edx_s3: S3Client, listing: _Listing) -> Iterator[dict[str, Any]]:
    paginator = edx_s3.get_paginator("list_objects_v2")
    pages = (
        paginator.paginate(Bucket=listing.bucket, Prefix=listing.prefix)
        if not listing.start_after
        else paginator.paginate(
            Bucket=listing.bucket, Prefix=listing.prefix, StartAfter=listing.start_after
        )
    )
    for page in pages:
        yield from page.get("Contents", [])  # type: ignore[misc]


def _listings(scope: PlanScope) -> Iterator[_Listing]:
    """Every listing the scope needs."""
    for group in scope.org_groups:
        for org in group:
            if "events" in scope.categories:
                for site in scope.sites:
                    for spelling in EDX_SITE_SPELLINGS[site]:
                        # One listing from the first year's folder on, with no last year: a
                        # log dated today may be the first of a new year's folder, and one
                        # edX dated ahead is mirrored too (see the module's docstring).
                        yield _Listing(
                            scope.event_bucket,
                            source_keys.event_log_folder(org, spelling),
                            org,
                            source_keys.event_log_list_start_after(
                                org, spelling, scope.first_date.year
                            ),
                        )
            if "database" in scope.categories:
                yield _Listing(scope.database_bucket, source_keys.weekly_zip_list_prefix(org), org)
            if "email-opt-in" in scope.categories:
                yield _Listing(
                    scope.database_bucket, source_keys.email_opt_in_list_prefix(org), org
                )
            if "rdx" in scope.categories:
                yield _Listing(scope.event_bucket, source_keys.rdx_list_prefix(org), org)


def _in_scope(source: SourceObject, scope: PlanScope, org: str) -> bool:
    if source.org != org:
        return False  # another org whose id starts with this one's
    if source.site is not None and source.site not in scope.sites:
        return False
    # No upper bound: a listed object is complete, whatever its date. Deferring a file dated
    # today to the next run is what left the Sunday schedule a week behind edX's Sunday zip;
    # deferring one edX dated ahead would leave it out for as long as its date is ahead.
    return source.date is None or scope.first_date <= source.date


def list_sources(
    edx_s3: S3Client, scope: PlanScope
) -> tuple[list[PlannedSource], list[dict[str, str]]]:
    """Every edX object in scope, and the keys under our prefixes we could not recognise."""
    found: dict[tuple[str, str], PlannedSource] = {}
    unknown: list[dict[str, str]] = []
    for listing in _listings(scope):
        bucket, org = listing.bucket, listing.org
        for entry in _list(edx_s3, listing):
            key = entry["Key"]
            try:
                source = source_keys.parse_source_key(bucket, key)
            except UnknownNameError as error:
                unknown.append({"bucket": bucket, "key": key, "reason": str(error)})
                continue
            if not _in_scope(source, scope, org):
                continue
            found[(bucket, key)] = PlannedSource(
                version=SourceVersion(
                    bucket=bucket,
                    key=key,
                    etag=entry["ETag"],
                    size=entry["Size"],
                    last_modified=entry["LastModified"],
                ),
                kind=source.kind,
                org=source.org,
            )
    return sorted(found.values(), key=lambda s: (s.version.bucket, s.version.key)), unknown


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    for offset in range((last - first).days + 1):
        yield first + dt.timedelta(days=offset)


def missing_files(sources: list[PlannedSource], scope: PlanScope) -> list[MissingFile]:
    """Days without an event log per site, and whole weeks (Monday to Sunday) without a zip.

    Only days from ``scope.first_date`` to ``scope.last_date`` are expected, and only weeks
    whose Sunday is one of them: the week ending on the run's own Sunday is not expected yet,
    since edX dates its zip that Sunday and may deliver it later that day. A file dated after
    ``last_date`` is mirrored but stands for no expected day or week; it counts for its week
    once the window reaches that week's Sunday.
    """
    delivered_days: set[tuple[str, str, dt.date]] = set()
    zip_days: set[tuple[str, dt.date]] = set()
    for planned in sources:
        source = source_keys.parse_source_key(planned.version.bucket, planned.version.key)
        if source.kind is SourceKind.EVENT_LOG and source.site and source.date:
            delivered_days.add((source.org, source.site, source.date))
        elif source.kind is SourceKind.WEEKLY_ZIP and source.date:
            zip_days.add((source.org, source.date))
    missing: list[MissingFile] = []
    for group in scope.org_groups:
        name = group[0]
        if "events" in scope.categories:
            for site in scope.sites:
                for day in _days(scope.first_date, scope.last_date):
                    if not any((org, site, day) in delivered_days for org in group):
                        missing.append(MissingFile("event-log", name, site, day.isoformat()))
        if "database" in scope.categories:
            monday = scope.first_date + dt.timedelta(days=-scope.first_date.weekday() % 7)
            while monday + dt.timedelta(days=6) <= scope.last_date:
                week = list(_days(monday, monday + dt.timedelta(days=6)))
                if not any((org, day) in zip_days for org in group for day in week):
                    period = f"{week[0].isoformat()}/{week[-1].isoformat()}"
                    missing.append(MissingFile("weekly-zip", name, None, period))
                monday += dt.timedelta(days=7)
    return missing


def plan_sync(
    edx_s3: S3Client, manifest: Manifest, scope: PlanScope, *, retry_failed: bool = False
) -> Plan:
    """List edX's files in scope and keep those not yet mirrored and decrypted at this version."""
    sources, unknown = list_sources(edx_s3, scope)
    plan = Plan(
        unknown=unknown, missing=missing_files(sources, scope), listed=len(sources) + len(unknown)
    )
    rows = manifest.object_rows((s.version.bucket, s.version.key) for s in sources)
    for planned in sources:
        row = rows.get(source_partition(planned.version.bucket, planned.version.key)) or {}
        same_version = row.get("source_etag") == planned.version.etag
        if source_up_to_date(
            row,
            version=planned.version.etag,
            retry_failed=retry_failed,
            needs_split=planned.kind is SourceKind.EVENT_LOG,
        ):
            plan.up_to_date += 1
        elif same_version and row.get("status") == Status.FAILED and not retry_failed:
            plan.previously_failed.append(
                {"key": planned.version.key, "error_code": row.get("error_code")}
            )
        else:
            plan.to_mirror.append(planned)
    return plan
