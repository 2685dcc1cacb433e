"""The package layout: which objects a spec makes, under which keys, holding which files.

As edX lays it out (see ``../shared/edx-data-package.md``): per org, one encrypted event log a
site and day; per export date, a weekly zip whose every member is its own encrypted file in
``{org}-{date}/`` and ``{org}-{date}/ora/``, and an email opt-in zip; optionally one RDX
archive. Keys come from the package model's own key functions; each file carries what it was
generated as (:class:`UnitIntent`) so tests can check the model's reading of its name.

Nothing is generated here: each file's content is a callable that produces it when the file is
encrypted, so a package streams one file at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from edx_vault.devtools.synthetic.course_files import course_export, course_structure, forums_lines
from edx_vault.devtools.synthetic.event_logs import event_log
from edx_vault.devtools.synthetic.reports import email_opt_in, failed_export_text, rdx_archive
from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticCourse, SyntheticOrg
from edx_vault.devtools.synthetic.tables import table_lines
from edx_vault.package.edx_spellings import (
    ANALYTICS_NAME_BY_SITE,
    COURSE_EXPORT_TABLE,
    COURSE_STRUCTURE_TABLE,
    EMAIL_OPT_IN_TABLE,
    FAILED_SUFFIX,
    FORUMS_SUFFIX_BY_SITE,
    FORUMS_TABLE,
    GPG_SUFFIX,
    ORA_FOLDER,
)
from edx_vault.package.source_keys import email_opt_in_zip_key, event_log_key, weekly_zip_key
from edx_vault.settings.types import GrantCategory, Site

# The member that fails to export when PackageSpec.failed_member is on (or the first table, if
# this one is not exported): the table edX's exporter copies from another job's output, the one
# most likely to be missing.
FAILED_TABLE: Final = "courseware_studentmodule"

Content = Callable[[], Iterable[bytes]]


@dataclass(frozen=True)
class UnitIntent:
    """What a file was generated as, so tests can check the package model's reading of it."""

    category: GrantCategory | None
    table: str | None = None
    site: Site | None = None
    entity: str | None = None


@dataclass(frozen=True)
class PlannedFile:
    """One file to encrypt: a whole object (``name`` is its key) or a zip member (its name)."""

    name: str
    content: Content
    intent: UnitIntent


@dataclass(frozen=True)
class PlannedZip:
    """An unencrypted zip whose members are each encrypted on their own."""

    key: str
    date: dt.date
    members: tuple[PlannedFile, ...]

    @property
    def folders(self) -> list[str]:
        """The folders its members are in, for the zip's directory entries."""
        return sorted({m.name.rsplit("/", 1)[0] + "/" for m in self.members if "/" in m.name})


def package_layout(spec: PackageSpec) -> Iterator[tuple[str, PlannedFile | PlannedZip]]:
    """Every object of the package, in order, with the bucket it goes in."""
    for org in spec.orgs:
        for site in org.sites():
            for day in spec.event_dates:
                yield spec.event_bucket, _event_log(spec, org, site, day)
        for day in spec.export_dates:
            yield spec.database_bucket, _weekly_zip(spec, org, day)
            if spec.email_opt_in and "edx" in org.sites():
                folder = _folder(org, day)
                report = _email_opt_in_report(spec, org, folder, day)
                yield (
                    spec.database_bucket,
                    PlannedZip(email_opt_in_zip_key(org.org_id, day), day, (report,)),
                )
    if spec.rdx and spec.orgs:
        yield spec.event_bucket, _rdx_archive(spec, spec.orgs[0])


def _streamed(produce: Callable[..., Iterable[bytes]], *args: object) -> Content:
    return functools.partial(produce, *args)


def _whole(produce: Callable[..., bytes], *args: object) -> Content:
    return lambda: [produce(*args)]


def _folder(org: SyntheticOrg, day: dt.date) -> str:
    return f"{org.export_spelling}-{day.isoformat()}"


def _event_log(spec: PackageSpec, org: SyntheticOrg, site: Site, day: dt.date) -> PlannedFile:
    spelling = "prod" if site == "edx" and spec.prod_site_spelling else site
    return PlannedFile(
        event_log_key(org.org_id, spelling, day),
        _streamed(event_log, spec, org, site, day),
        UnitIntent("events", site=site),
    )


def _weekly_zip(spec: PackageSpec, org: SyntheticOrg, day: dt.date) -> PlannedZip:
    folder = _folder(org, day)
    members = [
        member for course in org.courses for member in _course_files(spec, org, course, folder, day)
    ]
    if spec.failed_member and org is spec.orgs[0] and day == spec.export_dates[0]:
        failed_table = FAILED_TABLE if FAILED_TABLE in spec.tables else next(iter(spec.tables), "")
        for index, member in enumerate(members):
            if member.intent.category == "database" and member.intent.table == failed_table:
                members[index] = _failed_export(member)
                break
    if spec.email_opt_in_in_weekly_zip and "edx" in org.sites():
        members.append(_email_opt_in_report(spec, org, folder, day))
    return PlannedZip(weekly_zip_key(org.org_id, day), day, tuple(members))


def _course_files(
    spec: PackageSpec, org: SyntheticOrg, course: SyntheticCourse, folder: str, day: dt.date
) -> Iterator[PlannedFile]:
    """One course's members of the weekly zip: its tables, ORA tables, forums and course files."""
    entity, site = course.entity, course.site
    analytics = ANALYTICS_NAME_BY_SITE[site]

    def planned(
        file_name: str, content: Content, category: GrantCategory, table: str, *, named: bool = True
    ) -> PlannedFile:
        intent = UnitIntent(category, table, site if named else None, entity)
        return PlannedFile(f"{folder}/{file_name}{GPG_SUFFIX}", content, intent)

    for table in spec.tables:
        content = _streamed(table_lines, spec, org, course, table, day)
        yield planned(f"{entity}-{table}-{analytics}.sql", content, "database", table)
    for table in spec.ora_tables:
        content = _streamed(table_lines, spec, org, course, table, day)
        yield planned(f"{ORA_FOLDER}/{entity}-{table}-{analytics}.sql", content, "ora", table)
    forums = _streamed(forums_lines, spec, org, course, day)
    if course.old_forums_spelling:  # older packages: the name does not say the site
        yield planned(f"{entity}.mongo", forums, "forums", FORUMS_TABLE, named=False)
    else:
        forums_name = f"{entity}-{FORUMS_SUFFIX_BY_SITE[site]}.mongo"
        yield planned(forums_name, forums, "forums", FORUMS_TABLE)
    yield planned(
        f"{entity}-course_structure-{analytics}.json",
        _whole(course_structure, course),
        "course-structure",
        COURSE_STRUCTURE_TABLE,
    )
    yield planned(
        f"{entity}-course-{analytics}.xml.tar.gz",
        _whole(course_export, course, day),
        "course-export",
        COURSE_EXPORT_TABLE,
    )


def _failed_export(member: PlannedFile) -> PlannedFile:
    """edX removes the data file and ships ``{file}.failed`` (a traceback) in its place."""
    data_name = member.name.removesuffix(GPG_SUFFIX)
    file_name = data_name.rsplit("/", 1)[-1]
    return PlannedFile(
        f"{data_name}{FAILED_SUFFIX}{GPG_SUFFIX}",
        _whole(failed_export_text, file_name),
        member.intent,
    )


def _email_opt_in_report(
    spec: PackageSpec, org: SyntheticOrg, folder: str, day: dt.date
) -> PlannedFile:
    """The email opt-in report: its own zip's member, or (before 2017-11) a weekly zip's."""
    org_name = org.export_spelling
    return PlannedFile(
        f"{folder}/{org_name}-{EMAIL_OPT_IN_TABLE}-{ANALYTICS_NAME_BY_SITE['edx']}.csv{GPG_SUFFIX}",
        _whole(email_opt_in, spec, org, day),
        UnitIntent("email-opt-in", EMAIL_OPT_IN_TABLE, "edx", org_name),
    )


def _rdx_archive(spec: PackageSpec, org: SyntheticOrg) -> PlannedFile:
    """A research data exchange archive for the org's first course."""
    course = org.courses[0]
    request_id, archive = rdx_archive(spec, org)
    file_name = f"{org.org_id}_{course.course}_{course.run}.tar.gz{GPG_SUFFIX}"
    return PlannedFile(
        f"{org.org_id}/rdx/{request_id}/{file_name}", lambda: [archive], UnitIntent(None)
    )
