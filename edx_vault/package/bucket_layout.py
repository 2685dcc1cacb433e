"""The layout of the institutional bucket: its prefixes, and the levels below each.

One spelling in one place: the pipeline writes under these prefixes, the storage and access
stacks scope policies by them, and researchers' grants are derived from them.
:mod:`edx_vault.package.output_keys` spells the keys and :mod:`edx_vault.package.grant_patterns`
the grants' IAM patterns, both from :data:`PARTITION_LEVELS`; nothing else in the code base may
build an institutional key by hand.

Layout (Hive-style ``name=value`` partitions, so Athena and Glue can read it; the grant category
is the top-level prefix, so a researcher grant maps a category straight to a prefix)::

    raw/{source bucket}/{source key}                                   byte-identical ciphertext
    events/org={org}/site={site}/date={YYYY-MM-DD}/{org}-{site}-events-{date}.log.gz
    events-by-course/org={org}/site={site}/course={entity}/date={date}/{org}-{site}-events-{date}.{entity}.log.gz
    database/{table}/org={org}/site={site}/course={entity}/export_date={date}/{file}
    ora/{table}/org={org}/site={site}/course={entity}/export_date={date}/{file}
    forums/org={org}/site={site|unspecified}/course={entity}/export_date={date}/{file}
    course-structure/org={org}/site={site}/course={entity}/export_date={date}/{file}
    course-export/org={org}/site={site}/course={entity}/export_date={date}/{file}
    email-opt-in/org={org}/export_date={date}/{file}
    rdx/org={org}/request={request id}/{file}
    deidentified/{published key}                                       the de-identified tier
    reports/{run id}.json                                              run reports
    _work/...                                                          plans, Map results

``{file}`` is the decrypted file's name: the edX member name without ``.gpg``.

``events-by-course/`` holds each daily event log split by course (:mod:`edx_vault.engine.course_split`):
``{entity}`` is the course spelled as in the weekly export's file names
(:mod:`edx_vault.package.course_ids`), so one course glob grants a course's tables and its events.
Two values are not courses: :data:`NO_COURSE` (events that name no course) and
:data:`UNPARSED` (lines that are not JSON). The course comes before the date so that a course's
whole history is one folder, and a course-limited grant is a prefix per course.

``deidentified/`` is the de-identified tier (docs/deidentification.md): a copy of each published
file a grant without ``identifiable = true`` may read, its identifiers dropped or pseudonymized,
under the identified copy's own key behind this prefix
(``deidentified/events-by-course/org=.../...``), so its partitions are the same. Files that are
identifying as a whole have no copy.

This module is imported by the CDK stacks, so it stays free of AWS and pydantic imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from edx_vault.settings.types import GrantCategory

# Byte-identical ciphertext mirrored from edX: the archive of record. Never readable by researchers.
RAW_PREFIX: Final = "raw/"
# Decrypted data, re-encrypted under the institution's data key. One prefix per grant category.
EVENTS_PREFIX: Final = "events/"
# The same event logs split by course. Granted under the ``events`` category (see grant_patterns).
EVENTS_BY_COURSE_PREFIX: Final = "events-by-course/"
DATABASE_PREFIX: Final = "database/"
ORA_PREFIX: Final = "ora/"
FORUMS_PREFIX: Final = "forums/"
COURSE_STRUCTURE_PREFIX: Final = "course-structure/"
COURSE_EXPORT_PREFIX: Final = "course-export/"
EMAIL_OPT_IN_PREFIX: Final = "email-opt-in/"
# Research data exchange archives: per approved request, not a grant category of their own.
RDX_PREFIX: Final = "rdx/"
# Run reports (JSON) and the pipeline's scratch space (plans, Map results). Never for researchers.
# The de-identified tier: published keys behind this prefix.
DEIDENTIFIED_PREFIX: Final = "deidentified/"
REPORTS_PREFIX: Final = "reports/"
WORK_PREFIX: Final = "_work/"
# Under _work/: which course files each event log's split published (so a re-issued log's
# courses that are gone can be removed), and a split's spilled buffers (deleted when it ends;
# a lifecycle rule removes what a killed split leaves).
COURSE_SPLIT_INDEX_PREFIX: Final = f"{WORK_PREFIX}course-splits/"
COURSE_SPLIT_SPILL_PREFIX: Final = f"{WORK_PREFIX}course-split-spill/"

# The value of the site partition for forums files whose old name does not say the site.
UNSPECIFIED_SITE: Final = "unspecified"
# The course partition values of events-by-course/ that are not courses: events that name no
# course, and lines that are not JSON events. course_ids never spells a course exactly like
# either (an entity may start with "_" when its org's first letter is not ASCII), and the
# grant checks refuse a course glob, other than "*", that matches them.
NO_COURSE: Final = "_none"
UNPARSED: Final = "_unparsed"
NOT_COURSES: Final = (NO_COURSE, UNPARSED)

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
    EVENTS_BY_COURSE_PREFIX,
    DATABASE_PREFIX,
    ORA_PREFIX,
    FORUMS_PREFIX,
    COURSE_STRUCTURE_PREFIX,
    COURSE_EXPORT_PREFIX,
    EMAIL_OPT_IN_PREFIX,
    RDX_PREFIX,
)
PIPELINE_ONLY_PREFIXES: Final = (RAW_PREFIX, REPORTS_PREFIX, WORK_PREFIX)

_COURSE_FILE_LEVELS: Final = ("org", "site", "course", "export_date")
# The levels below each published prefix, in order: "table" is a folder named for the table, the
# others are "name=value" partitions. The file follows the last level.
PARTITION_LEVELS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        EVENTS_PREFIX: ("org", "site", "date"),
        EVENTS_BY_COURSE_PREFIX: ("org", "site", "course", "date"),
        DATABASE_PREFIX: ("table", *_COURSE_FILE_LEVELS),
        ORA_PREFIX: ("table", *_COURSE_FILE_LEVELS),
        FORUMS_PREFIX: _COURSE_FILE_LEVELS,
        COURSE_STRUCTURE_PREFIX: _COURSE_FILE_LEVELS,
        COURSE_EXPORT_PREFIX: _COURSE_FILE_LEVELS,
        EMAIL_OPT_IN_PREFIX: ("org", "export_date"),
        RDX_PREFIX: ("org", "request"),
    }
)
# The categories whose files are SQL tables, each under a folder of its table.
TABLE_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset(
    category
    for category, prefix in GRANT_CATEGORY_PREFIXES.items()
    if "table" in PARTITION_LEVELS[prefix]
)
# The categories of per-course files (a key has a course partition); the others' files hold
# every course of an org.
COURSE_CATEGORIES: Final[frozenset[GrantCategory]] = frozenset(
    category
    for category, prefix in GRANT_CATEGORY_PREFIXES.items()
    if "course" in PARTITION_LEVELS[prefix]
)

# A partition value or file name must not be able to add a path level or a partition of its own.
# '+' is left out too: S3 event notifications spell a space as '+', so a key holding one is
# ambiguous once it has been through an event.
_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9_.~:-]+$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.~:-]+$")
# Tables sit between the category prefix and the first partition, so they are plain names.
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def partition_value(value: str, what: str) -> str:
    """``value``, checked to be one partition value (no ``/``, ``=``, ``+``, space...).

    Raises
    ------
    ValueError
        Naming ``what`` the value was for.
    """
    if not _PARTITION_VALUE.fullmatch(value):
        raise ValueError(f"{value!r} cannot be a {what} partition value")
    return value


def org_value(org: str) -> str:
    """The ``org=`` partition value of an org id: lower-cased, as in all institutional keys."""
    return partition_value(org.lower(), "org")


def table_name(table: str) -> str:
    """``table``, checked to be a plain table name (the folder below ``database/`` or ``ora/``)."""
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not a table name")
    return table


def file_name_value(file_name: str) -> str:
    """``file_name``, checked to be one file name that cannot add a level to a key."""
    if not _FILE_NAME.fullmatch(file_name) or file_name in (".", ".."):
        raise ValueError(f"{file_name!r} cannot be a file name in the bucket")
    return file_name
