"""What a researcher scope lets its role read: the slices of the published data it names, and
the IAM patterns of each (from :mod:`edx_vault.package.grant_patterns`).

Pure Python; :mod:`edx_vault.access.grants` calls :func:`scope_slices` for every scope that
:mod:`edx_vault.access.grant_checks` found sound.

Decisions (``docs/researchers.md`` explains them to admins and researchers):

* **Two tiers.** A grant with ``identifiable = true`` reads the original tier (edX's files as
  published); a grant without it reads the de-identified tier only (``deidentified/`` and the
  same key: docs/deidentification.md), for every category it names, and never an original:
  the originals carry usernames, IP addresses and, in some events, emails and names. Not
  both for an identifiable grant: reading an original and its copy side by side pairs each
  username with its pseudonym, and pseudonyms are the same in every course and file, so that
  pairing would re-identify the same learners in any copy beyond the grant (a collaborator's
  de-identified extract of another course). An identifiable approval that also wants the
  tier gets a second, non-identifiable researcher entry.
* **Identifying data** has no de-identified copy and needs ``identifiable = true``: names,
  email addresses, or text learners wrote themselves, in which they may say anything about
  themselves. That is the ``email-opt-in`` report (names and emails, kept to contact learners),
  ``forums`` and ``ora`` (free-text posts, answers and peer feedback), and the ``database``
  tables without a copy (``has_deidentified_copy``: ``user_id_map``, tables no rule reviewed).
  The tables in :data:`IDENTIFYING_TABLES` (``auth_user``...) are identifying as published, but
  their copies keep only reviewed columns, so a non-identifiable grant may read those.
* **Org-wide files.** An email opt-in report holds every course of an org. It cannot be cut by
  course, so a scope that names it must say ``courses = ["*"]``: granting the whole file for a
  course-limited approval would over-grant, and silently dropping it would under-grant.
* **Events** are published twice: each day's log of an org and site (``events/``, every course
  in one file) and the same log split by course (``events-by-course/``). A course-limited scope
  reads its courses' per-course files only, never the org's logs; a scope whose courses
  include ``"*"`` reads both, with the split's ``_none`` and ``_unparsed`` folders (events that
  name no course, lines that are not events), which belong to the org, not to a course. So a
  course glob other than ``"*"`` must not match those two (:mod:`~edx_vault.access.grant_checks`).
  The de-identified tier copies the per-course files only, ``_none`` included and never
  ``_unparsed`` (lines that are not events are dropped, not copied), so a non-identifiable
  grant reads ``deidentified/events-by-course/`` alone, whole org or not.
* **Orgs are exact**: a grant for ``MITx`` does not include the alias ``MITxPRO``; name each.
* **Sites**: old forums files that do not say their site (``site=unspecified``) are included
  only when the scope grants both sites. Email opt-in reports exist for edx.org only.
* **Dates** are the data's own date (an event log's day, a weekly export's date), both ends
  included. An open end is capped at 31 December of the year the grant expires: nothing dated
  later can have been published while the grant still works, and whole years make short
  policies.
* **Listing** follows the dates as reading does. A slice without a date range lists its folder
  (its org, site, course and table). A dated slice lists its date prefixes only
  (``.../course=X/date=2025-03`` and below), never the folder above the date level: IAM cannot
  filter a listing's response, so a listing of ``.../course=X/`` (even with ``delimiter=/``,
  which shows date folder names only) would show the dates outside the range; it is refused,
  and researchers list each granted date prefix. A course-limited events slice lists its
  courses' folders of ``events-by-course/`` only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from edx_vault.package.bucket_layout import PARTITION_LEVELS
from edx_vault.package.edx_spellings import DATABASE_TABLES, ORA_TABLES
from edx_vault.package.grant_patterns import (
    CATEGORY_PREFIXES,
    DEIDENTIFIED_CATEGORY_PREFIXES,
    date_partition_prefixes,
    original_prefix,
    slice_patterns,
)
from edx_vault.package.identifying_columns import (
    has_deidentified_copy as has_deidentified_copy,
)
from edx_vault.package.identifying_data import (
    IDENTIFYING_CATEGORIES as IDENTIFYING_CATEGORIES,
)
from edx_vault.package.identifying_data import IDENTIFYING_TABLES as IDENTIFYING_TABLES
from edx_vault.package.identifying_data import is_identifying as is_identifying
from edx_vault.settings.config_researchers import ResearcherScope
from edx_vault.settings.types import GrantCategory, Site

# Categories whose every file holds every course of an org (no key of theirs has a course
# partition), so a grant cannot be limited to some courses. Not events: they are also split by
# course.
ORG_WIDE_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset(
    category
    for category, prefixes in CATEGORY_PREFIXES.items()
    if not any("course" in PARTITION_LEVELS[prefix] for prefix in prefixes)
)
TABLES_BY_CATEGORY: Final[Mapping[GrantCategory, frozenset[str]]] = {
    "database": DATABASE_TABLES,
    "ora": frozenset(ORA_TABLES),
}
ALL_SITES: Final[tuple[Site, ...]] = ("edx", "edge")


@dataclass(frozen=True)
class ReadableSlice:
    """One slice of one category a grant may read, with the patterns that express it.

    Attributes
    ----------
    category, org, site, course, table
        The slice; ``"*"`` for every site, course or table.
    prefix
        The published prefix read: the category's, or ``events-by-course/`` for the per-course
        event files; behind ``deidentified/`` for a grant without ``identifiable = true``.
    date_from, date_to
        The data dates included (``None``: unbounded on that side, before capping).
    key_patterns
        Object key patterns (IAM wildcards) for ``s3:GetObject``.
    prefix_patterns
        ``s3:prefix`` patterns for ``s3:ListBucket``: the slice's folder without a date range,
        else one per date prefix (a listing must name a granted date, month or year).
    """

    category: GrantCategory
    prefix: str
    org: str
    site: str
    course: str
    table: str
    date_from: dt.date | None
    date_to: dt.date | None
    key_patterns: tuple[str, ...]
    prefix_patterns: tuple[str, ...]


def scope_tables(scope: ResearcherScope, category: GrantCategory) -> tuple[str, ...]:
    """The tables of ``category`` the scope grants; ``("*",)`` for all (or no tables at all)."""
    if category not in TABLES_BY_CATEGORY or scope.tables is None:
        return ("*",)
    return tuple(t for t in scope.tables if t in TABLES_BY_CATEGORY[category])


def covers_whole_orgs(scope: ResearcherScope) -> bool:
    """Whether a scope grants every course of its orgs (its courses include ``"*"``)."""
    return "*" in scope.courses


def scope_prefixes(
    scope: ResearcherScope, category: GrantCategory, *, identifiable: bool
) -> tuple[str, ...]:
    """The published prefixes of ``category`` a scope reads.

    The original tier's for an ``identifiable`` researcher, the de-identified tier's otherwise
    (none for a category without a copy: the grant checks refuse those). A prefix whose keys
    have no course partition (an org's whole event log) only for a scope that covers whole
    orgs: a course-limited scope reads ``events-by-course/`` alone.
    """
    tier = CATEGORY_PREFIXES if identifiable else DEIDENTIFIED_CATEGORY_PREFIXES
    return tuple(
        prefix
        for prefix in tier[category]
        if "course" in PARTITION_LEVELS[original_prefix(prefix)] or covers_whole_orgs(scope)
    )


def _sites(scope: ResearcherScope, category: GrantCategory) -> tuple[str, ...]:
    if category == "email-opt-in" or set(ALL_SITES) <= set(scope.sites):
        # Both sites: one pattern, and old forums files (site=unspecified) are included.
        return ("*",)
    return tuple(dict.fromkeys(scope.sites))


def scope_slices(
    scope: ResearcherScope, *, expires: dt.date, identifiable: bool
) -> list[ReadableSlice]:
    """Every slice a (checked) scope grants, an open date range capped at the expiry's year.

    Parameters
    ----------
    scope
        A scope :mod:`~edx_vault.access.grant_checks` found sound.
    expires
        The grant's expiry (caps an open date range).
    identifiable
        The researcher's ``identifiable``: the original tier when true, else the
        de-identified tier only.
    """
    date_to = scope.date_to
    if date_to is None and scope.date_from is not None:
        date_to = dt.date(expires.year, 12, 31)
    date_prefixes = date_partition_prefixes(scope.date_from, date_to)
    slices: list[ReadableSlice] = []
    for category in dict.fromkeys(scope.categories):
        for prefix in scope_prefixes(scope, category, identifiable=identifiable):
            levels = PARTITION_LEVELS[original_prefix(prefix)]
            whole = covers_whole_orgs(scope) or "course" not in levels
            courses = ("*",) if whole else tuple(dict.fromkeys(scope.courses))
            for org in dict.fromkeys(org.lower() for org in scope.orgs):
                for site in _sites(scope, category):
                    for course in courses:
                        for table in scope_tables(scope, category):
                            parts = {"org": org, "site": site, "course": course, "table": table}
                            slices.append(
                                _slice(category, prefix, parts, scope, date_to, date_prefixes)
                            )
    return slices


def _slice(
    category: GrantCategory,
    prefix: str,
    parts: Mapping[str, str],
    scope: ResearcherScope,
    date_to: dt.date | None,
    date_prefixes: Sequence[str],
) -> ReadableSlice:
    keys = [
        slice_patterns(category, **parts, date_prefix=date_prefix, prefix=prefix).key_pattern
        for date_prefix in date_prefixes
    ]
    # Listing is limited like reading: with a date range, s3:prefix must lie within one of the
    # granted date prefixes (".../date=2025-03*"), so a researcher sees neither the names nor the
    # sizes of files dated outside it. The folder above the date level is refused even with a
    # delimiter: IAM decides on the request, never on the response, and that listing would
    # name every date. s3:prefix is the listing's Prefix parameter ("Bucket policy examples
    # using condition keys", S3 User Guide), and StringLike matches it with '*' and '?' only,
    # '*' matching any characters, '/' included (IAM User Guide, "Condition operators"): a
    # longer prefix below a granted one still matches, and no key holds two date levels.
    # Without a range date_prefixes is ("",): the slice's folder, whatever the date.
    folders = [
        slice_patterns(category, **parts, date_prefix=date_prefix, prefix=prefix).prefix_pattern
        for date_prefix in date_prefixes
    ]
    return ReadableSlice(
        category=category,
        prefix=prefix,
        org=parts["org"],
        site=parts["site"],
        course=parts["course"],
        table=parts["table"],
        date_from=scope.date_from,
        date_to=date_to,
        key_patterns=tuple(dict.fromkeys(keys)),
        prefix_patterns=tuple(dict.fromkeys(folders)),
    )
