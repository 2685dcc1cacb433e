"""The IAM patterns that cover one slice of a grant category: the object keys a grant may read
and the folders it may list, spelled from :data:`~edx_vault.package.bucket_layout.PARTITION_LEVELS`.

IAM patterns have only ``*`` and ``?``; a slice is a category narrowed by org, site, course,
table and a range of data dates, and the range becomes a few date-partition prefixes
(:func:`date_partition_prefixes`). The access stack turns each researcher scope into these
patterns (:mod:`edx_vault.access.readable_slices`), so grants follow the layout's spelling.

A category is read from one published prefix, except ``events``: the daily logs under
``events/`` (every course of an org) and the same logs split by course under
``events-by-course/`` (:data:`CATEGORY_PREFIXES`), where the course is a level of its own,
before the date. A grant without ``identifiable = true`` reads the de-identified tier instead
(:data:`DEIDENTIFIED_CATEGORY_PREFIXES`: ``deidentified/`` and the original's prefix, the same
levels below). :data:`RESEARCHER_PREFIXES` are all the prefixes a grant can name, in both
tiers, so the bucket policy lets researchers list there and nowhere else.

``*`` in an IAM pattern also matches ``/``; that is safe here because no partition value or
file name may hold ``/`` or ``=``, so each ``name=`` level occurs once in a key and a wildcard
cannot skip into another partition's position.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    EMAIL_OPT_IN_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    EVENTS_PREFIX,
    GRANT_CATEGORY_PREFIXES,
    PARTITION_LEVELS,
    org_value,
    table_name,
)
from edx_vault.package.identifying_columns import has_deidentified_copy

if TYPE_CHECKING:
    from edx_vault.settings.types import GrantCategory

# The published prefixes each category is read from, its own first. An event log holds every
# course of an org; its split by course is the same events, granted under the same category.
CATEGORY_PREFIXES: Final[Mapping[GrantCategory, tuple[str, ...]]] = MappingProxyType(
    {
        category: (prefix, EVENTS_BY_COURSE_PREFIX) if prefix == EVENTS_PREFIX else (prefix,)
        for category, prefix in GRANT_CATEGORY_PREFIXES.items()
    }
)
# The de-identified tier's prefixes each category is read from by a grant without
# identifiable = true: "deidentified/" and the original prefix, for the categories that have a
# copy (has_deidentified_copy: not email opt-in, forums or ORA, which identify as a whole).
# Events only from the per-course copies: the tier has no copy of events/, the whole-org logs
# (the course files are the same events), and a whole-org grant reads every course's copy,
# _none included.
DEIDENTIFIED_CATEGORY_PREFIXES: Final[Mapping[GrantCategory, tuple[str, ...]]] = MappingProxyType(
    {
        category: tuple(
            f"{DEIDENTIFIED_PREFIX}{prefix}" for prefix in prefixes if prefix != EVENTS_PREFIX
        )
        if has_deidentified_copy(category)
        else ()
        for category, prefixes in CATEGORY_PREFIXES.items()
    }
)
# Every prefix a researcher grant can name, in either tier: the bucket policy denies
# researchers' listings anywhere else.
RESEARCHER_PREFIXES: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(
        prefix
        for tier in (CATEGORY_PREFIXES, DEIDENTIFIED_CATEGORY_PREFIXES)
        for prefixes in tier.values()
        for prefix in prefixes
    )
)


def original_prefix(prefix: str) -> str:
    """The published prefix a prefix of either tier copies: ``deidentified/events-by-course/``
    is ``events-by-course/``; an original prefix is itself. Its levels are the same."""
    return prefix.removeprefix(DEIDENTIFIED_PREFIX)


# Why the files of a prefix without a site or course partition cannot be narrowed by one.
_NO_SITE_OR_COURSE: Final = {
    EVENTS_PREFIX: (
        "event logs hold all of an org's courses: they have no course part; a course's events "
        f"are under {EVENTS_BY_COURSE_PREFIX!r}"
    ),
    EMAIL_OPT_IN_PREFIX: "email opt-in reports have no site or course partition",
}


class SlicePatterns:
    """The levels of one slice's keys, each ``(text, constrained)``, and the patterns from them.

    Build it with :func:`slice_patterns`.
    """

    def __init__(self, levels: list[tuple[str, bool]], *, dated: bool) -> None:
        self.levels = levels
        self.dated = dated

    @property
    def key_pattern(self) -> str:
        """An S3 key pattern (IAM wildcards) covering the slice's objects, for ``s3:GetObject``."""
        texts = [text for text, _ in self.levels]
        if self.dated:
            return "/".join(texts) + "*"
        return "/".join(texts) + "/*"

    @property
    def prefix_pattern(self) -> str:
        """The ``s3:prefix`` pattern a ListBucket request must match to list the slice.

        It is :attr:`key_pattern` cut after its last constrained level, so a researcher can list
        from the deepest folder that is wholly theirs downwards (``events/org=mitx/*`` when every
        site and date is granted), and never a folder that also holds other orgs' or courses'
        keys. A level ends in ``/`` unless its value already ends in a wildcard, so
        ``org=mitx`` cannot also match ``org=mitxpro``. A slice with a date prefix ends at its
        date level (``.../date=2025-03*``): it lists that prefix and below, never the folder
        above the dates, which would name the files of other dates too.
        """
        last = max(index for index, (_, constrained) in enumerate(self.levels) if constrained)
        kept = "/".join(text for text, _ in self.levels[: last + 1])
        if self.dated and last == len(self.levels) - 1:
            return kept + "*"
        return kept if kept.endswith("*") else kept + "/*"


def slice_patterns(
    category: GrantCategory,
    *,
    org: str = "*",
    site: str = "*",
    course: str = "*",
    table: str = "*",
    date_prefix: str = "",
    prefix: str | None = None,
) -> SlicePatterns:
    """The patterns of one grant's slice of a category, under one of its published prefixes.

    ``email-opt-in`` has neither a site nor a course partition, ``events/`` no course partition:
    ``site`` and ``course`` must then stay ``"*"``. A course's events are under
    ``events-by-course/``, whose date level follows the course. A de-identified prefix has the
    levels of the original it copies.

    Parameters
    ----------
    category
        The grant category.
    org
        An org id (lower-cased here), or ``"*"``.
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
    prefix
        One of the category's :data:`CATEGORY_PREFIXES` (``events-by-course/`` for a course's
        events) or :data:`DEIDENTIFIED_CATEGORY_PREFIXES`; the category's own prefix when
        ``None``.

    Raises
    ------
    ValueError
        For a prefix that is not the category's, a level its keys do not have, or a value that
        is not one.
    """
    if prefix is None:
        prefix = GRANT_CATEGORY_PREFIXES[category]
    elif prefix not in (*CATEGORY_PREFIXES[category], *DEIDENTIFIED_CATEGORY_PREFIXES[category]):
        raise ValueError(f"{category!r} files are not under {prefix!r}")
    names = PARTITION_LEVELS[original_prefix(prefix)]
    values = {"org": "*" if org == "*" else org_value(org), "site": site, "course": course}
    if not _is_date_prefix(date_prefix):
        raise ValueError(f"{date_prefix!r} is not the start of a YYYY-MM-DD date")
    if table != "*":
        if "table" not in names:
            raise ValueError(f"{category!r} files are not tables: leave the table out")
        table_name(table)
    if any(value != "*" and name not in names for name, value in values.items()):
        raise ValueError(_NO_SITE_OR_COURSE[original_prefix(prefix)])
    levels: list[tuple[str, bool]] = [(prefix.rstrip("/"), True)]
    for name in names:
        if name == "table":
            levels.append((table, table != "*"))
        elif name in values:
            levels.append((f"{name}={values[name]}", values[name] != "*"))
        elif date_prefix:  # the date partition: date= or export_date=
            levels.append((f"{name}={date_prefix}", True))
    return SlicePatterns(levels, dated=bool(date_prefix))


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
