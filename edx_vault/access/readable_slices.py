"""What a researcher scope lets its role read: the slices of the published data it names, and
the IAM patterns of each (from :mod:`edx_vault.package.grant_patterns`).

Pure Python; :mod:`edx_vault.access.grants` calls :func:`scope_slices` for every scope that
:mod:`edx_vault.access.grant_checks` found sound.

Decisions (``docs/researchers.md`` explains them to admins and researchers):

* **Identifying data** needs ``identifiable = true`` on the researcher. Identifying means: names,
  email addresses, or text learners wrote themselves, in which they may say anything about
  themselves. That is the ``email-opt-in`` report (names and emails, kept to contact learners),
  ``forums`` and ``ora`` (free-text posts, answers and peer feedback), and the ``database``
  tables in :data:`IDENTIFYING_TABLES`. Nothing in the package is anonymous: usernames, user ids
  and IP addresses are everywhere (events, most tables), so every grant is for personal data and
  needs an approval; the flag marks the data that names people outright.
* **Org-wide files.** An event log, and an email opt-in report, holds every course of an org.
  They cannot be cut by course, so a scope that names them must say ``courses = ["*"]``:
  granting the whole file for a course-limited approval would over-grant, and silently dropping
  it would under-grant.
* **Orgs are exact**: a grant for ``MITx`` does not include the alias ``MITxPRO``; name each.
* **Sites**: old forums files that do not say their site (``site=unspecified``) are included
  only when the scope grants both sites. Email opt-in reports exist for edx.org only.
* **Dates** are the data's own date (an event log's day, a weekly export's date), both ends
  included. An open end is capped at 31 December of the year the grant expires: nothing dated
  later can have been published while the grant still works, and whole years make short
  policies.
* **Listing** is by folder: a researcher may list the slice's folder (its org, site, course and
  table), and so see the names of files dated outside the range, but read only those inside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from edx_vault.package.bucket_layout import COURSE_CATEGORIES, GRANT_CATEGORY_PREFIXES
from edx_vault.package.edx_spellings import DATABASE_TABLES, ORA_TABLES
from edx_vault.package.grant_patterns import date_partition_prefixes, slice_patterns
from edx_vault.settings.config_researchers import ResearcherScope
from edx_vault.settings.types import GrantCategory, Site

# Categories that name learners or hold their own free text.
IDENTIFYING_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset(
    {"email-opt-in", "forums", "ora"}
)
# database tables with names or emails (auth_user, auth_userprofile, the certificate's name)
# or free text with the author's IP address (wiki revisions).
IDENTIFYING_TABLES: Final = frozenset(
    {
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
        "wiki_articlerevision",
    }
)
# Files that hold every course of an org (their keys have no course partition), so a grant
# cannot be limited to some courses.
ORG_WIDE_CATEGORIES: Final[frozenset[GrantCategory]] = (
    frozenset(GRANT_CATEGORY_PREFIXES) - COURSE_CATEGORIES
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
    date_from, date_to
        The data dates included (``None``: unbounded on that side, before capping).
    key_patterns
        Object key patterns (IAM wildcards) for ``s3:GetObject``.
    prefix_patterns
        ``s3:prefix`` patterns for ``s3:ListBucket``: the slice's folders, whatever the dates.
    """

    category: GrantCategory
    org: str
    site: str
    course: str
    table: str
    date_from: dt.date | None
    date_to: dt.date | None
    key_patterns: tuple[str, ...]
    prefix_patterns: tuple[str, ...]


def is_identifying(category: GrantCategory, table: str = "*") -> bool:
    """Whether a category (or one of its tables; ``"*"`` for all) is identifying data."""
    if category in IDENTIFYING_CATEGORIES:
        return True
    if category == "database":
        return table == "*" or table in IDENTIFYING_TABLES
    return False


def scope_tables(scope: ResearcherScope, category: GrantCategory) -> tuple[str, ...]:
    """The tables of ``category`` the scope grants; ``("*",)`` for all (or no tables at all)."""
    if category not in TABLES_BY_CATEGORY or scope.tables is None:
        return ("*",)
    return tuple(t for t in scope.tables if t in TABLES_BY_CATEGORY[category])


def _sites(scope: ResearcherScope, category: GrantCategory) -> tuple[str, ...]:
    if category == "email-opt-in" or set(ALL_SITES) <= set(scope.sites):
        # Both sites: one pattern, and old forums files (site=unspecified) are included.
        return ("*",)
    return tuple(dict.fromkeys(scope.sites))


def scope_slices(scope: ResearcherScope, *, expires: dt.date) -> list[ReadableSlice]:
    """Every slice a (checked) scope grants, an open date range capped at the expiry's year."""
    date_to = scope.date_to
    if date_to is None and scope.date_from is not None:
        date_to = dt.date(expires.year, 12, 31)
    date_prefixes = date_partition_prefixes(scope.date_from, date_to)
    slices: list[ReadableSlice] = []
    for category in dict.fromkeys(scope.categories):
        courses = ("*",) if category in ORG_WIDE_CATEGORIES else tuple(dict.fromkeys(scope.courses))
        for org in dict.fromkeys(org.lower() for org in scope.orgs):
            for site in _sites(scope, category):
                for course in courses:
                    for table in scope_tables(scope, category):
                        slices.append(
                            _slice(
                                category, org, site, course, table, scope, date_to, date_prefixes
                            )
                        )
    return slices


def _slice(
    category: GrantCategory,
    org: str,
    site: str,
    course: str,
    table: str,
    scope: ResearcherScope,
    date_to: dt.date | None,
    date_prefixes: Iterable[str],
) -> ReadableSlice:
    parts = {"org": org, "site": site, "course": course, "table": table}
    keys = [
        slice_patterns(category, **parts, date_prefix=date_prefix).key_pattern
        for date_prefix in date_prefixes
    ]
    # Listing works by folder, without the date range: a researcher may see the names of the
    # slice's files of other dates (org, site, course, table and date: no learner data), and
    # pandas and Athena can read a partitioned folder. Reading them is still refused.
    prefixes = [slice_patterns(category, **parts).prefix_pattern]
    return ReadableSlice(
        category=category,
        org=org,
        site=site,
        course=course,
        table=table,
        date_from=scope.date_from,
        date_to=date_to,
        key_patterns=tuple(dict.fromkeys(keys)),
        prefix_patterns=tuple(dict.fromkeys(prefixes)),
    )
