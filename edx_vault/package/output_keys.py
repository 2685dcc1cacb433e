"""Where each thing edX delivers goes in the institutional bucket: its raw mirror's key and its
decrypted output's key, spelled by :data:`~edx_vault.package.bucket_layout.PARTITION_LEVELS`.

:func:`output_key` answers for a parsed source object or zip member; the ``*_output_key``
functions spell one kind of key from its parts (the synthetic package and the tests call them
directly). Each refuses a value that could add a level or a partition to the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from edx_vault.package import bucket_layout
from edx_vault.package.bucket_layout import (
    DEIDENTIFIED_PREFIX,
    EMAIL_OPT_IN_PREFIX,
    EVENTS_BY_COURSE_PREFIX,
    EVENTS_PREFIX,
    GRANT_CATEGORY_PREFIXES,
    PARTITION_LEVELS,
    PUBLISHED_PREFIXES,
    RAW_PREFIX,
    RDX_PREFIX,
    TABLE_CATEGORIES,
    UNSPECIFIED_SITE,
    file_name_value,
    org_value,
    partition_value,
)
from edx_vault.package.edx_spellings import GPG_SUFFIX
from edx_vault.package.member_names import PackageMember
from edx_vault.package.source_keys import SourceKind, SourceObject
from edx_vault.settings.types import GrantCategory, Site


def raw_key(source: SourceObject) -> str:
    """Where the byte-identical mirror of a source object goes: ``raw/{bucket}/{key}``."""
    if not source.bucket or "/" in source.bucket:
        raise ValueError(f"{source.bucket!r} is not a bucket name")
    if not source.key or source.key.startswith("/"):
        raise ValueError(f"{source.key!r} is not a relative object key")
    return f"{RAW_PREFIX}{source.bucket}/{source.key}"


def output_key(item: SourceObject | PackageMember) -> str | None:
    """Where the decrypted form of a source object or zip member goes.

    Parameters
    ----------
    item
        An event log or RDX archive (decrypted whole), or a zip member.

    Returns
    -------
    str or None
        The institutional key; ``None`` for what is never published: a zip container (its
        members are) and a ``.failed.gpg`` member (a traceback, reported instead).
    """
    if isinstance(item, SourceObject):
        return _source_output_key(item)
    if item.failed:
        return None
    if item.category == "email-opt-in":
        return email_opt_in_output_key(item.org, item.export_date, item.plaintext_name)
    return course_output_key(
        item.category,
        table=item.table if item.category in TABLE_CATEGORIES else None,
        org=item.org,
        site=item.site,
        course=item.entity,
        export_date=item.export_date,
        file_name=item.plaintext_name,
    )


def _source_output_key(source: SourceObject) -> str | None:
    if source.kind is SourceKind.EVENT_LOG:
        assert source.site is not None and source.date is not None
        return event_log_output_key(source.org, source.site, source.date)
    if source.kind is SourceKind.RDX_ARCHIVE:
        assert source.request_id is not None
        return rdx_output_key(
            source.org, source.request_id, source.file_name.removesuffix(GPG_SUFFIX)
        )
    return None


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
    org_id = org_value(org)
    day = date.isoformat()
    levels = {"org": org_id, "site": partition_value(site, "site"), "date": day}
    return _key(EVENTS_PREFIX, levels, f"{org_id}-{site}-events-{day}.log.gz")


def course_event_log_output_key(org: str, site: Site, course: str, date: dt.date) -> str:
    """Key of one course's share of a daily event log (gzip JSON lines, as the log itself).

    Parameters
    ----------
    org, site, date
        As for :func:`event_log_output_key`: the log the share was split from.
    course
        The course entity (:func:`edx_vault.package.course_ids.course_entity`), or
        :data:`~edx_vault.package.bucket_layout.NO_COURSE` or
        :data:`~edx_vault.package.bucket_layout.UNPARSED`.
    """
    org_id = org_value(org)
    day = date.isoformat()
    levels = {
        "org": org_id,
        "site": partition_value(site, "site"),
        "course": partition_value(course, "course"),
        "date": day,
    }
    return _key(EVENTS_BY_COURSE_PREFIX, levels, f"{org_id}-{site}-events-{day}.{course}.log.gz")


def course_output_key(
    category: GrantCategory,
    *,
    table: str | None,
    org: str,
    site: Site | None,
    course: str,
    export_date: dt.date,
    file_name: str,
) -> str:
    """Key of one decrypted per-course file: a SQL table, a forums dump, a course structure or
    a course export.

    Parameters
    ----------
    category
        ``database`` or ``ora`` (tables), ``forums``, ``course-structure`` or ``course-export``.
    table
        For ``database`` and ``ora``, the table name as edX spells it, e.g. ``auth_user``;
        ``None`` for the other categories.
    org
        The edX org id of the package (lower-cased here).
    site
        ``edx``, ``edge``, or ``None`` for an old forums file whose name does not say the site
        (it goes under ``site=unspecified``).
    course
        The course entity as it appears in the file name, e.g. ``MITx-6.002x-2012_Fall``.
    export_date
        The date of the weekly export the file came from.
    file_name
        The decrypted file's name (the member name without ``.gpg``).
    """
    if category not in bucket_layout.COURSE_CATEGORIES:
        raise ValueError(
            f"{category!r} is not a per-course file category: use 'database', 'ora', 'forums', "
            "'course-structure' or 'course-export'"
        )
    if (table is not None) != (category in TABLE_CATEGORIES):
        raise ValueError(
            f"{category!r} files are tables: name the table"
            if table is None
            else f"{category!r} files are not tables: leave the table out"
        )
    if site is None and category != "forums":
        raise ValueError(f"a {category} file always names its site")
    levels = {
        "org": org_value(org),
        "site": UNSPECIFIED_SITE if site is None else partition_value(site, "site"),
        "course": partition_value(course, "course"),
        "export_date": export_date.isoformat(),
    }
    if table is not None:
        levels["table"] = bucket_layout.table_name(table)
    return _key(GRANT_CATEGORY_PREFIXES[category], levels, file_name)


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
    levels = {"org": org_value(org), "export_date": export_date.isoformat()}
    return _key(EMAIL_OPT_IN_PREFIX, levels, file_name)


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
    levels = {"org": org_value(org), "request": partition_value(request_id, "request id")}
    return _key(RDX_PREFIX, levels, file_name)


def _key(prefix: str, values: Mapping[str, str], file_name: str) -> str:
    """The prefix, then its levels in layout order with their (checked) values, then the file."""
    levels = [
        values[level] if level == "table" else f"{level}={values[level]}"
        for level in PARTITION_LEVELS[prefix]
    ]
    return prefix + "/".join(levels) + "/" + file_name_value(file_name)


def deidentified_output_key(published_key: str) -> str:
    """The de-identified tier's copy of a published key: the same key behind ``deidentified/``.

    Raises
    ------
    ValueError
        For a key that is not under a published prefix (``raw/``, ``_work/``, a copy already).
    """
    if not published_key.startswith(PUBLISHED_PREFIXES):
        raise ValueError(f"{published_key!r} is not a published key: it has no de-identified copy")
    return f"{DEIDENTIFIED_PREFIX}{published_key}"
