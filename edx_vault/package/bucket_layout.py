"""Prefixes and key spellings of the institutional bucket.

One spelling in one place: the pipeline writes under these prefixes, the storage and access
stacks scope policies by them, and researchers' grants are derived from them. Nothing else in
the code base may build an institutional key by hand.

Layout (Hive-style ``name=value`` partitions, so Athena and Glue can read it; the grant category
is the top-level prefix, so a researcher grant maps a category straight to a prefix)::

    raw/{source bucket}/{source key}                                   byte-identical ciphertext
    events/org={org}/site={site}/date={YYYY-MM-DD}/{org}-{site}-events-{date}.log.gz
    database/{table}/org={org}/site={site}/course={entity}/export_date={date}/{file}
    ora/{table}/org={org}/site={site}/course={entity}/export_date={date}/{file}
    forums/org={org}/site={site|unspecified}/course={entity}/export_date={date}/{file}
    course-structure/org={org}/site={site}/course={entity}/export_date={date}/{file}
    course-export/org={org}/site={site}/course={entity}/export_date={date}/{file}
    email-opt-in/org={org}/export_date={date}/{file}
    rdx/org={org}/request={request id}/{file}
    reports/{run id}.json                                              run reports
    _work/...                                                          plans, Map results

``{file}`` is the decrypted file's name: the edX member name without ``.gpg``.

This module is imported by the CDK stacks, so it stays free of AWS and pydantic imports.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from edx_vault.settings.types import GrantCategory, Site

# Byte-identical ciphertext mirrored from edX: the archive of record. Never readable by researchers.
RAW_PREFIX: Final = "raw/"
# Decrypted data, re-encrypted under the institution's data key. One prefix per grant category.
EVENTS_PREFIX: Final = "events/"
DATABASE_PREFIX: Final = "database/"
ORA_PREFIX: Final = "ora/"
FORUMS_PREFIX: Final = "forums/"
COURSE_STRUCTURE_PREFIX: Final = "course-structure/"
COURSE_EXPORT_PREFIX: Final = "course-export/"
EMAIL_OPT_IN_PREFIX: Final = "email-opt-in/"
# Research data exchange archives: per approved request, not a grant category of their own.
RDX_PREFIX: Final = "rdx/"
# Run reports (JSON) and the pipeline's scratch space (plans, Map results). Never for researchers.
REPORTS_PREFIX: Final = "reports/"
WORK_PREFIX: Final = "_work/"

# The value of the site partition for forums files whose old name does not say the site.
UNSPECIFIED_SITE: Final = "unspecified"

GRANT_CATEGORY_PREFIXES: Final[Mapping[GrantCategory, str]] = MappingProxyType(
    {
        "events": EVENTS_PREFIX,
        "database": DATABASE_PREFIX,
        "ora": ORA_PREFIX,
        "forums": FORUMS_PREFIX,
        "course-structure": COURSE_STRUCTURE_PREFIX,
        "course-export": COURSE_EXPORT_PREFIX,
        "email-opt-in": EMAIL_OPT_IN_PREFIX,
    }
)

PUBLISHED_PREFIXES: Final = (
    EVENTS_PREFIX,
    DATABASE_PREFIX,
    ORA_PREFIX,
    FORUMS_PREFIX,
    COURSE_STRUCTURE_PREFIX,
    COURSE_EXPORT_PREFIX,
    EMAIL_OPT_IN_PREFIX,
    RDX_PREFIX,
)
PIPELINE_ONLY_PREFIXES: Final = (RAW_PREFIX, REPORTS_PREFIX, WORK_PREFIX)

# A partition value or file name must not be able to add a path level or a partition of its own.
# '+' is left out too: S3 event notifications spell a space as '+', so a key holding one is
# ambiguous once it has been through an event.
_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9_.~:-]+$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.~:-]+$")
# Tables sit between the category prefix and the first partition, so they are plain names.
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def raw_object_key(source_bucket: str, source_key: str) -> str:
    """Key of the byte-identical mirror of one object from edX's buckets.

    Parameters
    ----------
    source_bucket
        The edX bucket the object came from, e.g. ``edx-course-data``.
    source_key
        The object's key in that bucket, kept as it is.
    """
    if not source_bucket or "/" in source_bucket:
        raise ValueError(f"{source_bucket!r} is not a bucket name")
    if not source_key or source_key.startswith("/"):
        raise ValueError(f"{source_key!r} is not a relative object key")
    return f"{RAW_PREFIX}{source_bucket}/{source_key}"


def event_log_output_key(org: str, site: Site, date: dt.date) -> str:
    """Key of one decrypted daily event log (still gzip-compressed, as edX ships it).

    Parameters
    ----------
    org
        The edX org id; it is lower-cased here, as in all institutional keys.
    site
        ``edx`` or ``edge`` (edX's ``prod`` spelling is normalised to ``edx`` before this).
    date
        The day the log covers.
    """
    org_id = _org(org)
    day = date.isoformat()
    return (
        f"{EVENTS_PREFIX}org={org_id}/site={_value(site, 'site')}/date={day}/"
        f"{org_id}-{site}-events-{day}.log.gz"
    )


def table_output_key(
    category: GrantCategory,
    *,
    table: str,
    org: str,
    site: Site,
    course: str,
    export_date: dt.date,
    file_name: str,
) -> str:
    """Key of one decrypted SQL table export (``database`` or ``ora``).

    Parameters
    ----------
    category
        ``database`` or ``ora``: the grant category that holds the table.
    table
        The table name as edX spells it, e.g. ``auth_user``.
    org
        The edX org id of the package (lower-cased here).
    site
        ``edx`` or ``edge``.
    course
        The course entity as it appears in the file name, e.g. ``MITx-6.002x-2012_Fall``.
    export_date
        The date of the weekly export the table came from.
    file_name
        The decrypted file's name (the member name without ``.gpg``).
    """
    if category not in ("database", "ora"):
        raise ValueError(f"{category!r} does not hold tables: use 'database' or 'ora'")
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not a table name")
    return (
        f"{GRANT_CATEGORY_PREFIXES[category]}{table}/"
        + _course_partitions(org, site, course, export_date)
        + _file(file_name)
    )


def course_file_output_key(
    category: GrantCategory,
    *,
    org: str,
    site: Site | None,
    course: str,
    export_date: dt.date,
    file_name: str,
) -> str:
    """Key of one decrypted per-course file that is not a table.

    Parameters
    ----------
    category
        ``forums``, ``course-structure`` or ``course-export``.
    org, course, export_date, file_name
        As for :func:`table_output_key`.
    site
        ``edx``, ``edge``, or ``None`` for an old forums file whose name does not say the site
        (it goes under ``site=unspecified``).
    """
    if category not in ("forums", "course-structure", "course-export"):
        raise ValueError(
            f"{category!r} is not a per-course file category: use 'forums', "
            "'course-structure' or 'course-export'"
        )
    if site is None and category != "forums":
        raise ValueError(f"a {category} file always names its site")
    return (
        GRANT_CATEGORY_PREFIXES[category]
        + _course_partitions(org, site, course, export_date)
        + _file(file_name)
    )


def email_opt_in_output_key(org: str, export_date: dt.date, file_name: str) -> str:
    """Key of one decrypted email opt-in report.

    Parameters
    ----------
    org
        The edX org id (lower-cased here).
    export_date
        The date in the name of the zip the report came from.
    file_name
        The decrypted file's name, e.g. ``mitx-email_opt_in-prod-analytics.csv``.
    """
    return f"{EMAIL_OPT_IN_PREFIX}org={_org(org)}/export_date={export_date.isoformat()}/" + _file(
        file_name
    )


def rdx_output_key(org: str, request_id: str, file_name: str) -> str:
    """Key of one decrypted research data exchange archive (still a ``.tar.gz``).

    Parameters
    ----------
    org
        The edX org id (lower-cased here).
    request_id
        The RDX request id from the edX key.
    file_name
        The archive's name without ``.gpg``.
    """
    return f"{RDX_PREFIX}org={_org(org)}/request={_value(request_id, 'request id')}/" + _file(
        file_name
    )


def published_key_pattern(
    category: GrantCategory,
    *,
    org: str = "*",
    site: str = "*",
    course: str = "*",
    table: str = "*",
    date_prefix: str = "",
) -> str:
    """An S3 key pattern (IAM wildcards) that covers one grant's slice of a category.

    The access stack turns each researcher scope into these patterns, so grants follow this
    module's spelling. ``email-opt-in`` has neither a site nor a course partition: ``site`` and
    ``course`` must then stay ``"*"``.

    ``*`` in an IAM pattern also matches ``/``; that is safe here because no partition value or
    file name may hold ``/`` or ``=``, so each ``name=`` level occurs once in a key and a
    wildcard cannot skip into another partition's position.

    Parameters
    ----------
    category
        The grant category.
    org
        A lower-case org id, or ``"*"``.
    site
        ``edx``, ``edge``, ``unspecified`` (forums only) or ``"*"``.
    course
        A course entity or a glob such as ``MITx-6.*``, or ``"*"``.
    table
        ``database`` and ``ora`` only: one table name, or ``"*"`` for every table.
    date_prefix
        The leading characters of the date partition (``date=`` for events, ``export_date=``
        otherwise), e.g. ``"2025"`` or ``"2025-03-1"``; ``""`` for any date. See
        :func:`date_partition_prefixes`.
    """
    return _slice_levels(category, org, site, course, table, date_prefix).key_pattern


def published_prefix_pattern(
    category: GrantCategory,
    *,
    org: str = "*",
    site: str = "*",
    course: str = "*",
    table: str = "*",
    date_prefix: str = "",
) -> str:
    """The ``s3:prefix`` pattern a ListBucket request must match to list one grant's slice.

    It is the key pattern of :func:`published_key_pattern` cut after its last constrained
    level, so a researcher can list from the deepest folder that is wholly theirs downwards
    (``events/org=mitx/*`` when every site and date is granted), and never a folder that also
    holds other orgs' or courses' keys. A level ends in ``/`` unless its value already ends in a
    wildcard, so ``org=mitx`` cannot also match ``org=mitxpro``.

    Parameters
    ----------
    category, org, site, course, table, date_prefix
        As for :func:`published_key_pattern`.
    """
    return _slice_levels(category, org, site, course, table, date_prefix).prefix_pattern


class _SliceLevels:
    """The levels of one slice's keys, each ``(text, constrained)``, and the patterns from them."""

    def __init__(self, levels: list[tuple[str, bool]], *, dated: bool) -> None:
        self.levels = levels
        self.dated = dated

    @property
    def key_pattern(self) -> str:
        texts = [text for text, _ in self.levels]
        if self.dated:
            return "/".join(texts) + "*"
        return "/".join(texts) + "/*"

    @property
    def prefix_pattern(self) -> str:
        last = max(index for index, (_, constrained) in enumerate(self.levels) if constrained)
        kept = "/".join(text for text, _ in self.levels[: last + 1])
        if self.dated and last == len(self.levels) - 1:
            return kept + "*"
        return kept if kept.endswith("*") else kept + "/*"


def _slice_levels(
    category: GrantCategory, org: str, site: str, course: str, table: str, date_prefix: str
) -> _SliceLevels:
    prefix = GRANT_CATEGORY_PREFIXES[category]
    org_part = "*" if org == "*" else _org(org)
    if not _is_date_prefix(date_prefix):
        raise ValueError(f"{date_prefix!r} is not the start of a YYYY-MM-DD date")
    levels: list[tuple[str, bool]] = [(prefix.rstrip("/"), True)]
    if category in ("database", "ora"):
        if table != "*" and not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"{table!r} is not a table name")
        levels.append((table, table != "*"))
    elif table != "*":
        raise ValueError(f"{category!r} files are not tables: leave the table out")
    levels.append((f"org={org_part}", org_part != "*"))
    if category == "email-opt-in":
        if site != "*" or course != "*":
            raise ValueError("email opt-in reports have no site or course partition")
    else:
        levels.append((f"site={site}", site != "*"))
        if category == "events":
            if course != "*":
                raise ValueError(
                    "event logs hold all of an org's courses: they have no course part"
                )
        else:
            levels.append((f"course={course}", course != "*"))
    if date_prefix:
        date_name = "date" if category == "events" else "export_date"
        levels.append((f"{date_name}={date_prefix}", True))
    return _SliceLevels(levels, dated=bool(date_prefix))


def date_partition_prefixes(first: dt.date | None, last: dt.date | None) -> tuple[str, ...]:
    """The fewest date-partition prefixes that cover exactly the days ``first`` to ``last``.

    IAM patterns have no ranges, only ``*`` and ``?``; but a ``YYYY-MM-DD`` date sorts as its
    text, so a range of days is a set of text prefixes: 2025-01-01 to 2026-03-31 is ``2025``,
    ``2026-01``, ``2026-02`` and ``2026-03``. A prefix is used only when every real date that
    starts with it lies in the range.

    Parameters
    ----------
    first, last
        The first and last day, both included; ``None`` for no bound on that side.

    Returns
    -------
    tuple of str
        ``("",)`` when neither bound is set (any date); empty when ``first`` is after ``last``.
    """
    low = first or dt.date.min
    high = last or dt.date.max
    prefixes: list[str] = []

    def visit(prefix: str) -> None:
        bounds = _dates_starting_with(prefix)
        if bounds is None or bounds[1] < low or bounds[0] > high:
            return
        if low <= bounds[0] and bounds[1] <= high:
            prefixes.append(prefix)
            return
        shape = _DATE_SHAPE[len(prefix)]
        for character in "-" if shape == "-" else "0123456789":
            visit(prefix + character)

    if low <= high:
        visit("")
    return tuple(prefixes)


_DATE_SHAPE: Final = "0000-00-00"


def _is_date_prefix(text: str) -> bool:
    """Whether ``text`` is the start of a ``YYYY-MM-DD`` spelling (``""`` included)."""
    return len(text) <= len(_DATE_SHAPE) and all(
        character == "-" if shape == "-" else character.isdigit() and character.isascii()
        for character, shape in zip(text, _DATE_SHAPE, strict=False)
    )


def _dates_starting_with(prefix: str) -> tuple[dt.date, dt.date] | None:
    """The earliest and latest real dates whose ISO spelling starts with ``prefix``, if any."""
    earliest = _first_date_from(prefix + "0000-00-00"[len(prefix) :])
    latest = _last_date_until(prefix + "9999-99-99"[len(prefix) :])
    if earliest is None or latest is None:
        return None
    if not earliest.isoformat().startswith(prefix) or not latest.isoformat().startswith(prefix):
        return None
    return earliest, latest


def _first_date_from(text: str) -> dt.date | None:
    """The first real date whose spelling sorts at or after ``text`` (``YYYY-MM-DD`` digits)."""
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    if year == 0:
        year, month, day = 1, 1, 1
    if month == 0:
        month, day = 1, 1
    if month > 12:
        year, month, day = year + 1, 1, 1
    if day == 0:
        day = 1
    if year > dt.MAXYEAR:
        return None
    if day > _days_in_month(year, month):
        year, month, day = (year, month + 1, 1) if month < 12 else (year + 1, 1, 1)
    return dt.date(year, month, day) if year <= dt.MAXYEAR else None


def _last_date_until(text: str) -> dt.date | None:
    """The last real date whose spelling sorts at or before ``text`` (``YYYY-MM-DD`` digits)."""
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    if month > 12:
        month, day = 12, 31
    if month == 0:
        year, month, day = year - 1, 12, 31
    if day == 0:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        day = 31
    if year < dt.MINYEAR:
        return None
    return dt.date(year, month, min(day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _course_partitions(org: str, site: Site | None, course: str, export_date: dt.date) -> str:
    site_value = UNSPECIFIED_SITE if site is None else _value(site, "site")
    return (
        f"org={_org(org)}/site={site_value}/course={_value(course, 'course')}/"
        f"export_date={export_date.isoformat()}/"
    )


def _org(org: str) -> str:
    return _value(org.lower(), "org")


def _value(value: str, what: str) -> str:
    if not _PARTITION_VALUE.fullmatch(value):
        raise ValueError(f"{value!r} cannot be a {what} partition value")
    return value


def _file(file_name: str) -> str:
    if not _FILE_NAME.fullmatch(file_name) or file_name in (".", ".."):
        raise ValueError(f"{file_name!r} cannot be a file name in the bucket")
    return file_name
