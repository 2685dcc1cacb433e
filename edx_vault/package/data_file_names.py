"""The names of the decrypted files in edX's zips: which course entity, table, grant category
and site a name such as ``MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql`` stands for.

:func:`read_data_file_name` reads the name a zip member has once its folder and its ``.gpg``
(or ``.failed.gpg``) suffix are taken off (:mod:`edx_vault.package.member_names` does that).

Decisions (see ``../shared/edx-data-package.md`` for the facts they rest on):

* **Anchored from the right.** Course numbers and runs contain ``-``, so a name is never split
  on a fixed number of dashes. The reader strips the extension, then the site name
  (``prod-analytics``, ``prod-edge-analytics``, or the docs' ``{site}-analytics`` spelling),
  then the table, which must be a known table name; whatever is left is the course entity,
  kept exactly as spelled. If more than one reading of a name would succeed it is rejected as
  ambiguous; with the names edX uses none is.
* **Unknown tables are rejected** at the top of the weekly zip: a ``.sql`` file whose table is
  not in :data:`~edx_vault.package.edx_spellings.DATABASE_TABLES` raises
  :class:`~edx_vault.package.edx_spellings.UnknownNameError` (it is reported, and stays
  mirrored in ``raw/``). Accepting it would mean trusting a dash split we cannot check, and a new
  table may carry personal data no grant has been reviewed for. The ``ora/`` folder is the
  exception: it only ever holds the ORA apps' tables, so any table named
  ``assessment_*``, ``submissions_*`` or ``workflow_*`` is accepted there (the folder and the
  prefix together say what it is). Doc and code spellings are both known
  (``teams``/``teams_courseteam``, ``teams_membership``/``teams_courseteammembership``).
* **Forums.** ``{entity}-prod.mongo`` is edx.org, ``{entity}-edge.mongo`` is edge; the older
  ``{entity}.mongo`` does not say its site: ``site`` is ``None`` and the file goes under
  ``site=unspecified``. If an old-style entity happened to end in ``-prod`` or ``-edge`` it would
  be read as the new spelling: that is the spelling edX's exporter has written for years.
* **md5-shortened entities.** An over-long entity is cut and ends in ``-{32 hex digits}``; it is
  kept verbatim as the course partition, :attr:`DataFileName.entity_digest` holds the digest and
  :attr:`DataFileName.course` is ``None`` (the cut cannot be undone). A name shortened so far
  that its table or site suffix is gone cannot be placed and is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from edx_vault.package.edx_spellings import (
    ANALYTICS_NAME_SITES,
    COURSE_EXPORT_TABLE,
    COURSE_STRUCTURE_TABLE,
    DATABASE_TABLES,
    EMAIL_OPT_IN_TABLE,
    FORUMS_SUFFIX_SITES,
    FORUMS_TABLE,
    ORA_TABLE,
    UnknownNameError,
)
from edx_vault.package.source_keys import SourceKind, SourceObject
from edx_vault.settings.types import GrantCategory, Site

# Characters an entity may hold: course-key characters, non-ASCII already replaced by "_".
_ENTITY = re.compile(r"^[A-Za-z0-9_.~:]+(-[A-Za-z0-9_.~:]+)+$")
_SHORTENED_ENTITY = re.compile(r"^(?P<cut>.+)-(?P<digest>[0-9a-f]{32})$")
_CCX_TAIL = re.compile(r"^\d+$")


@dataclass(frozen=True)
class CourseParts:
    """A course entity split into its parts, when the split is unambiguous.

    Attributes
    ----------
    org
        The course's org as spelled in the file name (case kept; may be an alias).
    course, run
        The course number and run.
    ccx_id
        The custom course id of a CCX course, else ``None``.
    """

    org: str
    course: str
    run: str
    ccx_id: str | None = None


@dataclass(frozen=True)
class DataFileName:
    """What a decrypted file's name says.

    Attributes
    ----------
    entity
        The course entity (or the org, for the email opt-in report) exactly as in the name.
    table
        The SQL table, or ``forums``, ``course_structure``, ``course_export``, ``email_opt_in``.
    category
        The grant category (the top-level prefix of the output key).
    site
        ``edx`` or ``edge``; ``None`` for an old-style forums file that does not say.
    course
        The entity's parts when they can be told apart; ``None`` if a dash in the course number
        or run makes the split ambiguous, if the entity was md5-shortened, or for org-level files.
    entity_digest
        The md5 digest ending an over-long, shortened entity; ``None`` otherwise.
    """

    entity: str
    table: str
    category: GrantCategory
    site: Site | None
    course: CourseParts | None
    entity_digest: str | None


def read_data_file_name(source: SourceObject, name: str, *, in_ora_folder: bool) -> DataFileName:
    """Read a decrypted file's name (without ``.gpg`` and ``.failed``) found in ``source``.

    Raises
    ------
    UnknownNameError
        If the name is not one of edX's spellings for a file in that zip and folder.
    """
    entity, table, category, site = _read(source, name, in_ora_folder=in_ora_folder)
    if category == "email-opt-in":
        return DataFileName(entity, table, category, site, course=None, entity_digest=None)
    shortened = _SHORTENED_ENTITY.fullmatch(entity)
    return DataFileName(
        entity,
        table,
        category,
        site,
        course=None if shortened else _course_parts(entity),
        entity_digest=shortened["digest"] if shortened else None,
    )


# (entity, table, category, site): one way of reading a name.
_Reading = tuple[str, str, GrantCategory, Site | None]

# The per-course files that are not tables: extension -> (the marker before the site name,
# table, category).
_COURSE_FILES: Final[dict[str, tuple[str, str, GrantCategory]]] = {
    ".json": ("course_structure", COURSE_STRUCTURE_TABLE, "course-structure"),
    ".xml.tar.gz": ("course", COURSE_EXPORT_TABLE, "course-export"),
}


def _read(source: SourceObject, name: str, *, in_ora_folder: bool) -> _Reading:
    if source.kind is SourceKind.EMAIL_OPT_IN_ZIP or name.endswith(".csv"):
        if in_ora_folder or not name.endswith(".csv"):
            raise UnknownNameError(
                "expected the email opt-in report {org}-email_opt_in-{site}-analytics.csv.gpg"
            )
        return _read_email_opt_in(source, name)
    if in_ora_folder:
        if not name.endswith(".sql"):
            raise UnknownNameError("ora/ holds only {entity}-{table}-prod-analytics.sql.gpg tables")
        return _read_table(name.removesuffix(".sql"), ora=True)
    if name.endswith(".sql"):
        return _read_table(name.removesuffix(".sql"), ora=False)
    for extension, (marker, table, category) in _COURSE_FILES.items():
        if name.endswith(extension):
            return _read_course_file(name.removesuffix(extension), marker, table, category)
    if name.endswith(".mongo"):
        return _read_forums(name.removesuffix(".mongo"))
    raise UnknownNameError(
        "expected {entity}-{table}-{name}.sql, {entity}-course_structure-{name}.json, "
        "{entity}-course-{name}.xml.tar.gz, {entity}[-prod|-edge].mongo or "
        "{org}-email_opt_in-{name}.csv, each followed by .gpg (or .failed.gpg)"
    )


def _analytics_readings(stem: str) -> list[tuple[str, Site]]:
    """Every (rest, site) the stem could be read as, by the `{name}` suffix it ends with."""
    return [
        (stem.removesuffix(f"-{name}"), site)
        for name, site in ANALYTICS_NAME_SITES.items()
        if stem.endswith(f"-{name}")
    ]


def _one_reading(readings: list[_Reading]) -> _Reading | None:
    """The one reading of a name; ``None`` if there is none; an error if there are several."""
    if len(readings) > 1:
        raise UnknownNameError(f"ambiguous: it reads as any of {readings}")
    return readings[0] if readings else None


def _read_table(stem: str, *, ora: bool) -> _Reading:
    readings: list[_Reading] = []
    unknown_tables: list[str] = []
    bad_entities: list[str] = []
    for rest, site in _analytics_readings(stem):
        entity, _, table = rest.rpartition("-")
        known = bool(ORA_TABLE.fullmatch(table)) if ora else table in DATABASE_TABLES
        if not known:
            if entity:
                unknown_tables.append(table)
        elif not _is_entity(entity):
            bad_entities.append(entity)
        else:
            readings.append((entity, table, "ora" if ora else "database", site))
    reading = _one_reading(readings)
    if reading is not None:
        return reading
    if bad_entities:
        raise UnknownNameError(
            f"{bad_entities[0]!r} is not a course entity: expected org-course-run made of "
            "letters, digits and _ . ~ : joined by -"
        )
    if not unknown_tables:
        _reject_cut_past_suffix(stem)
        raise UnknownNameError(
            "expected {entity}-{table}-prod-analytics.sql or "
            "{entity}-{table}-prod-edge-analytics.sql (and .gpg)"
        )
    if ora:
        raise UnknownNameError(
            f"{unknown_tables[0]!r} is not an ORA table: ora/ holds assessment_*, "
            "submissions_* and workflow_* tables"
        )
    if any(ORA_TABLE.fullmatch(table) for table in unknown_tables):
        raise UnknownNameError(f"the ORA table {unknown_tables[0]!r} belongs in ora/")
    raise UnknownNameError(
        f"unknown table {unknown_tables[0]!r}: it is reported, not published, until it is "
        "added to DATABASE_TABLES"
    )


def _read_course_file(stem: str, marker: str, table: str, category: GrantCategory) -> _Reading:
    readings: list[_Reading] = []
    for rest, site in _analytics_readings(stem):
        entity = rest.removesuffix(f"-{marker}")
        if entity != rest and _is_entity(entity):
            readings.append((entity, table, category, site))
    reading = _one_reading(readings)
    if reading is not None:
        return reading
    _reject_cut_past_suffix(stem)
    raise UnknownNameError(
        f"expected {{entity}}-{marker}-prod-analytics or {{entity}}-{marker}-prod-edge-analytics"
    )


def _read_forums(stem: str) -> _Reading:
    entity, _, suffix = stem.rpartition("-")
    if suffix in FORUMS_SUFFIX_SITES and _is_entity(entity):
        return entity, FORUMS_TABLE, "forums", FORUMS_SUFFIX_SITES[suffix]
    if _is_entity(stem):
        # The old spelling: the file does not say its site.
        return stem, FORUMS_TABLE, "forums", None
    raise UnknownNameError(
        "expected forums {entity}-prod.mongo, {entity}-edge.mongo or {entity}.mongo"
    )


def _read_email_opt_in(source: SourceObject, name: str) -> _Reading:
    stem = name.removesuffix(".csv")
    for rest, site in _analytics_readings(stem):
        org, marker, tail = rest.rpartition(f"-{EMAIL_OPT_IN_TABLE}")
        if marker and not tail and org.lower() == source.org:
            return org, EMAIL_OPT_IN_TABLE, "email-opt-in", site
    raise UnknownNameError(
        f"expected the email opt-in report {source.org}-email_opt_in-prod-analytics.csv "
        "(or -{site}-analytics.csv) for the zip's own org"
    )


def _reject_cut_past_suffix(stem: str) -> None:
    if _SHORTENED_ENTITY.fullmatch(stem):
        raise UnknownNameError(
            "the name was md5-shortened past its table and site, so it cannot be placed"
        )


def _is_entity(entity: str) -> bool:
    return bool(_ENTITY.fullmatch(entity))


def _course_parts(entity: str) -> CourseParts | None:
    """Split ``org-course-run[-ccx-id]`` only when no reading other than one is possible."""
    tokens = entity.split("-")
    if len(tokens) == 3:
        return CourseParts(org=tokens[0], course=tokens[1], run=tokens[2])
    if len(tokens) == 5 and tokens[3] == "ccx" and _CCX_TAIL.fullmatch(tokens[4]):
        return CourseParts(org=tokens[0], course=tokens[1], run=tokens[2], ccx_id=tokens[4])
    return None
