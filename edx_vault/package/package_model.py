"""What edX delivers, by name: every key and zip member name, and where each one goes.

Pure Python, no AWS calls. The planner parses the keys it lists in edX's buckets with
:func:`parse_source_key`; the decrypt step parses each zip member name with
:func:`parse_member_name`; both ask :func:`output_key` where the decrypted file goes. A name that
does not match one of edX's documented spellings raises :class:`UnknownNameError` saying what was
expected: nothing is ever guessed, so an unexpected file is reported, not misfiled.

Decisions (see ``../shared/edx-data-package.md`` for the facts they rest on):

* **Anchored from the right.** Course numbers and runs contain ``-``, so a member name is never
  split on a fixed number of dashes. The parser strips the extension, then the site name
  (``prod-analytics``, ``prod-edge-analytics``, or the docs' ``{site}-analytics`` spelling),
  then the table, which must be a known table name; whatever is left is the course entity,
  kept exactly as spelled. If more than one reading of a name would succeed it is rejected as
  ambiguous; with the names edX uses none is.
* **Unknown tables are rejected** at the top of the weekly zip: a ``.sql`` member whose table is
  not in :data:`DATABASE_TABLES` raises :class:`UnknownNameError` (it is reported, and stays
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
  kept verbatim as the course partition, :attr:`PackageMember.entity_digest` holds the digest and
  :attr:`PackageMember.course` is ``None`` (the cut cannot be undone). A name shortened so far
  that its table or site suffix is gone cannot be placed and is rejected.
* **Org in paths.** ``org=`` is the org of the package (the zip's or file's org, lower-cased),
  because that is what a data-sharing agreement and the planner's configuration name. The
  course's own org, which may be an alias of it, is in :attr:`CourseParts.org`.
* **Site.** edX's docs spell edx.org ``prod``, its code and data ``edx``; both are accepted in
  event keys and normalised to ``edx``, so both spellings of one day map to the same output key.
* **Buckets.** Bucket names are configurable, so a key's kind is read from its shape, not from
  the bucket it was listed in; the bucket is recorded for the raw mirror.
* **Failed exports.** ``{file}.failed.gpg`` is parsed like ``{file}.gpg`` and marked ``failed``;
  it has no output key: it is reported, never published as data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from edx_vault.package import bucket_layout
from edx_vault.settings.types import GrantCategory, Site


class UnknownNameError(ValueError):
    """A key or member name that is not one of edX's documented spellings."""


class UnsafeMemberNameError(UnknownNameError):
    """A zip member name that could escape its folder or confuse a path (``..``, ``/abs``...)."""


class SourceKind(StrEnum):
    """The kinds of object edX puts in its buckets for an org."""

    EVENT_LOG = "event-log"
    WEEKLY_ZIP = "weekly-zip"
    EMAIL_OPT_IN_ZIP = "email-opt-in-zip"
    RDX_ARCHIVE = "rdx-archive"


# How edX spells each site in event keys: its code and data say "edx", its docs say "prod".
EDX_SITE_SPELLINGS: Final[Mapping[Site, tuple[str, ...]]] = MappingProxyType(
    {"edx": ("edx", "prod"), "edge": ("edge",)}
)
_SITE_BY_SPELLING: Final[Mapping[str, Site]] = MappingProxyType(
    {spelling: site for site, spellings in EDX_SITE_SPELLINGS.items() for spelling in spellings}
)

# The `{name}` part of table and report file names, longest first. The exporter writes
# "prod-analytics" / "prod-edge-analytics"; the docs write "{site}-analytics".
_ANALYTICS_NAME_SITES: Final[Mapping[str, Site]] = MappingProxyType(
    {
        "prod-edge-analytics": "edge",
        "prod-analytics": "edx",
        "edge-analytics": "edge",
        "edx-analytics": "edx",
    }
)
# The canonical `{name}` edX's exporter writes for each site (what the synthetic package uses).
ANALYTICS_NAME_BY_SITE: Final[Mapping[Site, str]] = MappingProxyType(
    {"edx": "prod-analytics", "edge": "prod-edge-analytics"}
)
# Forums files say their environment, not the analytics name: "-prod" / "-edge".
_FORUMS_SUFFIX_SITES: Final[Mapping[str, Site]] = MappingProxyType({"prod": "edx", "edge": "edge"})
FORUMS_SUFFIX_BY_SITE: Final[Mapping[Site, str]] = MappingProxyType({"edx": "prod", "edge": "edge"})

DATABASE_TABLES: Final = frozenset(
    {
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
        "courseware_studentmodule",
        "django_comment_client_role_users",
        "student_courseaccessrole",
        "student_courseenrollment",
        "student_languageproficiency",
        "user_api_usercoursetag",
        "user_id_map",
        "student_anonymoususerid",
        "wiki_article",
        "wiki_articlerevision",
        "teams",
        "teams_membership",
        "grades_persistentcoursegrade",
        "grades_persistentsubsectiongrade",
        "credit_crediteligibility",
        "course_groups_cohortmembership",
        # Older packages only.
        "verify_student_verificationstatus",
        # The docs' names for the exporter's "teams" and "teams_membership".
        "teams_courseteam",
        "teams_courseteammembership",
    }
)
# The 21 documented open-response assessment tables of the ora/ folder.
ORA_TABLES: Final = (
    "assessment_assessment",
    "assessment_assessmentfeedback",
    "assessment_assessmentfeedback_assessments",
    "assessment_assessmentfeedback_options",
    "assessment_assessmentfeedbackoption",
    "assessment_assessmentpart",
    "assessment_criterion",
    "assessment_criterionoption",
    "assessment_peerworkflow",
    "assessment_peerworkflowitem",
    "assessment_rubric",
    "assessment_studenttrainingworkflow",
    "assessment_studenttrainingworkflowitem",
    "assessment_trainingexample",
    "assessment_trainingexample_options_selected",
    "submissions_score",
    "submissions_scoresummary",
    "submissions_studentitem",
    "submissions_submission",
    "workflow_assessmentworkflow",
    "workflow_assessmentworkflowstep",
)
_ORA_TABLE: Final = re.compile(r"^(assessment|submissions|workflow)_[a-z0-9_]+$")

# Table-like names for the files that are not SQL tables.
FORUMS_TABLE: Final = "forums"
COURSE_STRUCTURE_TABLE: Final = "course_structure"
COURSE_EXPORT_TABLE: Final = "course_export"
EMAIL_OPT_IN_TABLE: Final = "email_opt_in"

ORA_FOLDER: Final = "ora"
FAILED_SUFFIX: Final = ".failed"
GPG_SUFFIX: Final = ".gpg"

# The org ids edX uses in keys; the same rule as the deployment configuration.
_ORG = r"[A-Za-z0-9][A-Za-z0-9_.]{0,63}"
_DATE = r"\d{4}-\d{2}-\d{2}"
_EVENT_KEY = re.compile(
    rf"^(?P<org>{_ORG})/(?P<site>[a-z]+)/events/(?P<year>\d{{4}})/"
    rf"(?P<file_org>{_ORG})-(?P<file_site>[a-z]+)-events-(?P<date>{_DATE})\.log\.gz\.gpg$"
)
_WEEKLY_ZIP_KEY = re.compile(rf"^(?P<org>{_ORG})-(?P<date>{_DATE})\.zip$")
_EMAIL_OPT_IN_PREFIX = "email-opt-in/"
_EMAIL_OPT_IN_ZIP_KEY = re.compile(rf"^email-opt-in/(?P<org>{_ORG})-(?P<date>{_DATE})\.zip$")
_RDX_KEY = re.compile(
    rf"^(?P<org>{_ORG})/rdx/(?P<request>[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}})/"
    r"(?P<file>[A-Za-z0-9_.~:-]+\.tar\.gz\.gpg)$"
)
# Characters an entity may hold: course-key characters, non-ASCII already replaced by "_".
_ENTITY = re.compile(r"^[A-Za-z0-9_.~:]+(-[A-Za-z0-9_.~:]+)+$")
_SHORTENED_ENTITY = re.compile(r"^(?P<cut>.+)-(?P<digest>[0-9a-f]{32})$")
_CCX_TAIL = re.compile(r"^\d+$")

_EXPECTED_SOURCE_KEYS = (
    "{org}/{site}/events/{year}/{org}-{site}-events-{date}.log.gz.gpg, "
    "{org}-{date}.zip, email-opt-in/{org}-{date}.zip or "
    "{org}/rdx/{request id}/{org}_{course}_{run}.tar.gz.gpg"
)


@dataclass(frozen=True)
class SourceObject:
    """One object in edX's buckets, as its key describes it.

    Attributes
    ----------
    bucket, key
        Where it is in edX's buckets.
    kind
        What it is.
    org
        The org id, lower-cased.
    site
        ``edx`` or ``edge`` for event logs; ``None`` otherwise (a weekly zip holds both sites).
    date
        The day of an event log or the export date of a zip; ``None`` for RDX archives.
    request_id
        The RDX request id; ``None`` otherwise.
    """

    bucket: str
    key: str
    kind: SourceKind
    org: str
    site: Site | None
    date: dt.date | None
    request_id: str | None = None

    @property
    def file_name(self) -> str:
        """The last path component of the key."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def is_zip(self) -> bool:
        """Whether this is an unencrypted zip whose members are the encrypted files."""
        return self.kind in (SourceKind.WEEKLY_ZIP, SourceKind.EMAIL_OPT_IN_ZIP)


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
class PackageMember:
    """One encrypted member of a weekly or email opt-in zip.

    Attributes
    ----------
    source
        The zip it is in.
    member_name
        The member's full name in the zip, e.g. ``mitx-2024-01-07/ora/...sql.gpg``.
    org
        The package's org id, lower-cased: the ``org=`` partition.
    entity
        The course entity (or the org, for the email opt-in report) exactly as in the file name.
    course
        The entity's parts when they can be told apart; ``None`` if a dash in the course number
        or run makes the split ambiguous, if the entity was md5-shortened, or for org-level files.
    table
        The SQL table, or ``forums``, ``course_structure``, ``course_export``, ``email_opt_in``.
    category
        The grant category (the top-level prefix of the output key).
    site
        ``edx`` or ``edge``; ``None`` for an old-style forums file that does not say.
    export_date
        The date of the zip.
    failed
        Whether this is a ``.failed.gpg`` marker: a traceback, never data.
    plaintext_name
        The decrypted file's name: the member's base name without ``.gpg``.
    entity_digest
        The md5 digest ending an over-long, shortened entity; ``None`` otherwise.
    """

    source: SourceObject
    member_name: str
    org: str
    entity: str
    course: CourseParts | None
    table: str
    category: GrantCategory
    site: Site | None
    export_date: dt.date
    failed: bool
    plaintext_name: str
    entity_digest: str | None = None


# --------------------------------------------------------------------------------------------
# edX's keys: parsing, and spelling them for the planner
# --------------------------------------------------------------------------------------------


def canonical_site(spelling: str) -> Site:
    """The site an edX key spelling stands for (``prod`` and ``edx`` are both edx.org).

    Raises
    ------
    UnknownNameError
        If the spelling is not one edX uses.
    """
    try:
        return _SITE_BY_SPELLING[spelling]
    except KeyError:
        raise UnknownNameError(
            f"{spelling!r} is not an edX site: expected one of {sorted(_SITE_BY_SPELLING)}"
        ) from None


def parse_source_key(bucket: str, key: str) -> SourceObject:
    """Describe one object listed in edX's buckets.

    Parameters
    ----------
    bucket
        The bucket it was listed in (recorded, not interpreted: bucket names are configurable).
    key
        Its key.

    Returns
    -------
    SourceObject
        With the org lower-cased and the site normalised (``prod`` becomes ``edx``).

    Raises
    ------
    UnknownNameError
        If the key is not one of edX's spellings, or its parts disagree (the year folder is not
        the date's year, the folder's org is not the file's, the date is not a real date).
    """
    if "/events/" in key:
        return _parse_event_key(bucket, key)
    if "/rdx/" in key:
        return _parse_rdx_key(bucket, key)
    if key.startswith(_EMAIL_OPT_IN_PREFIX):
        match = _EMAIL_OPT_IN_ZIP_KEY.fullmatch(key)
        if not match:
            raise UnknownNameError(
                f"{key!r} is in email-opt-in/ but is not email-opt-in/{{org}}-{{YYYY-MM-DD}}.zip"
            )
        return SourceObject(
            bucket=bucket,
            key=key,
            kind=SourceKind.EMAIL_OPT_IN_ZIP,
            org=match["org"].lower(),
            site=None,
            date=_date(match["date"], key),
        )
    if "/" not in key and key.endswith(".zip"):
        match = _WEEKLY_ZIP_KEY.fullmatch(key)
        if not match:
            raise UnknownNameError(f"{key!r} is a zip but is not {{org}}-{{YYYY-MM-DD}}.zip")
        return SourceObject(
            bucket=bucket,
            key=key,
            kind=SourceKind.WEEKLY_ZIP,
            org=match["org"].lower(),
            site=None,
            date=_date(match["date"], key),
        )
    raise UnknownNameError(f"{key!r} is not an edX package key: expected {_EXPECTED_SOURCE_KEYS}")


def _parse_event_key(bucket: str, key: str) -> SourceObject:
    match = _EVENT_KEY.fullmatch(key)
    if not match:
        raise UnknownNameError(
            f"{key!r} is not an event log key: expected "
            "{org}/{site}/events/{year}/{org}-{site}-events-{YYYY-MM-DD}.log.gz.gpg"
        )
    org = match["org"].lower()
    if match["file_org"].lower() != org:
        raise UnknownNameError(
            f"{key!r}: the file's org {match['file_org']!r} is not its folder's org "
            f"{match['org']!r}"
        )
    site = canonical_site(match["site"])
    if canonical_site(match["file_site"]) != site:
        raise UnknownNameError(
            f"{key!r}: the file's site {match['file_site']!r} is not its folder's site "
            f"{match['site']!r}"
        )
    date = _date(match["date"], key)
    if int(match["year"]) != date.year:
        raise UnknownNameError(
            f"{key!r}: the year folder {match['year']} is not the year of the date {date}"
        )
    return SourceObject(
        bucket=bucket, key=key, kind=SourceKind.EVENT_LOG, org=org, site=site, date=date
    )


def _parse_rdx_key(bucket: str, key: str) -> SourceObject:
    match = _RDX_KEY.fullmatch(key)
    if not match:
        raise UnknownNameError(
            f"{key!r} is not an RDX key: expected "
            "{org}/rdx/{request id}/{org}_{course}_{run}.tar.gz.gpg"
        )
    org = match["org"].lower()
    if not match["file"].lower().startswith(f"{org}_"):
        raise UnknownNameError(
            f"{key!r}: the archive {match['file']!r} does not start with its folder's org "
            f"{match['org']!r} and '_'"
        )
    return SourceObject(
        bucket=bucket,
        key=key,
        kind=SourceKind.RDX_ARCHIVE,
        org=org,
        site=None,
        date=None,
        request_id=match["request"],
    )


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UnknownNameError(f"{name!r}: {text!r} is not a real date") from None


def _site_spelling(spelling: str) -> str:
    canonical_site(spelling)
    return spelling


def event_log_key(org: str, site_spelling: str, date: dt.date) -> str:
    """The key edX gives one daily event log.

    Parameters
    ----------
    org
        The org id (edX keys spell it in lower case).
    site_spelling
        One of the spellings in :data:`EDX_SITE_SPELLINGS` (``edx``, ``prod`` or ``edge``).
    date
        The day.
    """
    org_id = org.lower()
    site = _site_spelling(site_spelling)
    return (
        f"{event_log_list_prefix(org_id, site, date.year)}"
        f"{org_id}-{site}-events-{date.isoformat()}.log.gz.gpg"
    )


def weekly_zip_key(org: str, date: dt.date) -> str:
    """The key of one weekly database export zip in the database bucket's root."""
    return f"{org.lower()}-{date.isoformat()}.zip"


def email_opt_in_zip_key(org: str, date: dt.date) -> str:
    """The key of one email opt-in zip (edX has shipped these apart since 2017-11)."""
    return f"{_EMAIL_OPT_IN_PREFIX}{org.lower()}-{date.isoformat()}.zip"


def event_log_folder(org: str, site_spelling: str) -> str:
    """The folder holding one org's event logs for one site spelling, one subfolder a year."""
    return f"{org.lower()}/{_site_spelling(site_spelling)}/events/"


def event_log_list_prefix(org: str, site_spelling: str, year: int) -> str:
    """The prefix to list one org's event logs for one site spelling and year."""
    return f"{event_log_folder(org, site_spelling)}{year:04d}/"


def event_log_list_start_after(org: str, site_spelling: str, first_year: int) -> str:
    """Where to start listing :func:`event_log_folder` to see every year from ``first_year`` on.

    Year folders have a fixed width, so they sort by year: every key of ``first_year``'s folder
    and of the later years' sorts after ``{folder}{first_year}``, every earlier year's key before
    it. Listing from there skips the earlier years without listing them and still sees every
    later year, however far ahead.
    """
    return f"{event_log_folder(org, site_spelling)}{first_year:04d}"


def weekly_zip_list_prefix(org: str) -> str:
    """The prefix to list one org's weekly zips.

    The database bucket's root is shared by all orgs and edX may put other files there: parse
    every listed key with :func:`parse_source_key` (which rejects what is not
    ``{org}-{date}.zip``) and keep those whose :attr:`SourceObject.org` is this org.
    """
    return f"{org.lower()}-"


def email_opt_in_list_prefix(org: str) -> str:
    """The prefix to list one org's email opt-in zips."""
    return f"{_EMAIL_OPT_IN_PREFIX}{org.lower()}-"


def rdx_list_prefix(org: str) -> str:
    """The prefix to list one org's research data exchange archives."""
    return f"{org.lower()}/rdx/"


# --------------------------------------------------------------------------------------------
# Zip members
# --------------------------------------------------------------------------------------------


def is_directory_entry(member_name: str) -> bool:
    """Whether a zip entry is a folder (``zip -r`` writes them); folders are not members."""
    return member_name.endswith("/")


def parse_member_name(source: SourceObject, member_name: str) -> PackageMember:
    """Describe one member of a weekly or email opt-in zip.

    Parameters
    ----------
    source
        The zip, as :func:`parse_source_key` described it.
    member_name
        The member's name as the zip's central directory spells it.

    Returns
    -------
    PackageMember

    Raises
    ------
    UnsafeMemberNameError
        If the name is absolute, has ``..`` / ``.`` / empty components, a backslash, NUL or
        another control character, or lies outside the zip's ``{org}-{date}/`` folder.
    UnknownNameError
        If the name is not one of edX's member spellings (this includes directory entries:
        skip those with :func:`is_directory_entry`).
    ValueError
        If ``source`` is not a zip.
    """
    if not source.is_zip or source.date is None:
        raise ValueError(f"{source.key!r} is a {source.kind}, not a zip: it has no members")
    _reject_unsafe(member_name)
    if is_directory_entry(member_name):
        raise UnknownNameError(
            f"{member_name!r} is a directory entry, not a member: skip it (is_directory_entry)"
        )
    base_name, in_ora_folder = _locate(source, member_name)
    if not base_name.endswith(GPG_SUFFIX):
        raise UnknownNameError(
            f"{member_name!r} does not end in .gpg: every member of an edX zip is encrypted"
        )
    plaintext_name = base_name.removesuffix(GPG_SUFFIX)
    failed = plaintext_name.endswith(FAILED_SUFFIX)
    data_name = plaintext_name.removesuffix(FAILED_SUFFIX)
    try:
        reading = _read_data_name(source, data_name, in_ora_folder=in_ora_folder)
    except UnknownNameError as error:
        raise UnknownNameError(f"{member_name!r}: {error}") from None
    entity, table, category, site = reading
    shortened = _SHORTENED_ENTITY.fullmatch(entity) if category != "email-opt-in" else None
    return PackageMember(
        source=source,
        member_name=member_name,
        org=source.org,
        entity=entity,
        course=None if category == "email-opt-in" or shortened else _course_parts(entity),
        table=table,
        category=category,
        site=site,
        export_date=source.date,
        failed=failed,
        plaintext_name=plaintext_name,
        entity_digest=shortened["digest"] if shortened else None,
    )


def _reject_unsafe(member_name: str) -> None:
    def unsafe(why: str) -> UnsafeMemberNameError:
        return UnsafeMemberNameError(f"{member_name!r} is not a safe member name: {why}")

    if not member_name:
        raise unsafe("it is empty")
    if "\x00" in member_name:
        raise unsafe("it holds a NUL character")
    if "\\" in member_name:
        raise unsafe("it holds a backslash")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in member_name):
        raise unsafe("it holds a control character")
    if member_name.startswith("/") or re.match(r"^[A-Za-z]:", member_name):
        raise unsafe("it is an absolute path")
    components = member_name.removesuffix("/").split("/")
    if any(component in ("", ".", "..") for component in components):
        raise unsafe("it has an empty, '.' or '..' component")


def _locate(source: SourceObject, member_name: str) -> tuple[str, bool]:
    """Check the member's folder; return its base name and whether it is in ``ora/``."""
    assert source.date is not None
    folder = f"{source.org}-{source.date.isoformat()}"
    parts = member_name.split("/")
    # The folder carries the org as the exporter's configuration spells it: compare without case.
    in_folder = len(parts) >= 2 and parts[0].lower() == folder
    if source.kind is SourceKind.EMAIL_OPT_IN_ZIP and len(parts) == 1:
        return parts[0], False
    if not in_folder:
        raise UnsafeMemberNameError(
            f"{member_name!r} is outside the zip's folder {folder}/: every member of "
            f"{source.key} must be under it"
        )
    if len(parts) == 2:
        return parts[1], False
    if source.kind is SourceKind.WEEKLY_ZIP and len(parts) == 3 and parts[1] == ORA_FOLDER:
        return parts[2], True
    raise UnknownNameError(
        f"{member_name!r} is in an unexpected folder: a {source.kind} holds files in "
        f"{folder}/" + (f" and {folder}/ora/" if source.kind is SourceKind.WEEKLY_ZIP else "")
    )


_Reading = tuple[str, str, GrantCategory, Site | None]


def _read_data_name(source: SourceObject, name: str, *, in_ora_folder: bool) -> _Reading:
    """Split a decrypted file name into (entity, table, category, site)."""
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
    if name.endswith(".json"):
        return _read_course_file(
            name.removesuffix(".json"), "course_structure", COURSE_STRUCTURE_TABLE
        )
    if name.endswith(".xml.tar.gz"):
        return _read_course_file(name.removesuffix(".xml.tar.gz"), "course", COURSE_EXPORT_TABLE)
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
        for name, site in _ANALYTICS_NAME_SITES.items()
        if stem.endswith(f"-{name}")
    ]


def _read_table(stem: str, *, ora: bool) -> _Reading:
    readings: list[_Reading] = []
    unknown_tables: list[str] = []
    bad_entities: list[str] = []
    for rest, site in _analytics_readings(stem):
        entity, _, table = rest.rpartition("-")
        known = bool(_ORA_TABLE.fullmatch(table)) if ora else table in DATABASE_TABLES
        if not known:
            if entity:
                unknown_tables.append(table)
        elif not _is_entity(entity):
            bad_entities.append(entity)
        else:
            readings.append((entity, table, "ora" if ora else "database", site))
    if len(readings) == 1:
        return readings[0]
    if len(readings) > 1:
        raise UnknownNameError(f"ambiguous: it reads as any of {readings}")
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
    if any(_ORA_TABLE.fullmatch(table) for table in unknown_tables):
        raise UnknownNameError(f"the ORA table {unknown_tables[0]!r} belongs in ora/")
    raise UnknownNameError(
        f"unknown table {unknown_tables[0]!r}: it is reported, not published, until it is "
        "added to DATABASE_TABLES"
    )


def _read_course_file(stem: str, marker: str, table: str) -> _Reading:
    category: GrantCategory = (
        "course-structure" if table == COURSE_STRUCTURE_TABLE else "course-export"
    )
    readings: list[_Reading] = []
    for rest, site in _analytics_readings(stem):
        entity = rest.removesuffix(f"-{marker}")
        if entity != rest and _is_entity(entity):
            readings.append((entity, table, category, site))
    if len(readings) == 1:
        return readings[0]
    if len(readings) > 1:
        raise UnknownNameError(f"ambiguous: it reads as any of {readings}")
    _reject_cut_past_suffix(stem)
    raise UnknownNameError(
        f"expected {{entity}}-{marker}-prod-analytics or {{entity}}-{marker}-prod-edge-analytics"
    )


def _read_forums(stem: str) -> _Reading:
    entity, _, suffix = stem.rpartition("-")
    if suffix in _FORUMS_SUFFIX_SITES and _is_entity(entity):
        return entity, FORUMS_TABLE, "forums", _FORUMS_SUFFIX_SITES[suffix]
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


# --------------------------------------------------------------------------------------------
# Institutional keys
# --------------------------------------------------------------------------------------------


def raw_key(source: SourceObject) -> str:
    """Where the byte-identical mirror of a source object goes: ``raw/{bucket}/{key}``."""
    return bucket_layout.raw_object_key(source.bucket, source.key)


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
    if item.category in ("database", "ora"):
        assert item.site is not None  # tables always name their site
        return bucket_layout.table_output_key(
            item.category,
            table=item.table,
            org=item.org,
            site=item.site,
            course=item.entity,
            export_date=item.export_date,
            file_name=item.plaintext_name,
        )
    if item.category == "email-opt-in":
        return bucket_layout.email_opt_in_output_key(
            item.org, item.export_date, item.plaintext_name
        )
    return bucket_layout.course_file_output_key(
        item.category,
        org=item.org,
        site=item.site,
        course=item.entity,
        export_date=item.export_date,
        file_name=item.plaintext_name,
    )


def _source_output_key(source: SourceObject) -> str | None:
    if source.kind is SourceKind.EVENT_LOG:
        assert source.site is not None and source.date is not None
        return bucket_layout.event_log_output_key(source.org, source.site, source.date)
    if source.kind is SourceKind.RDX_ARCHIVE:
        assert source.request_id is not None
        return bucket_layout.rdx_output_key(
            source.org, source.request_id, source.file_name.removesuffix(GPG_SUFFIX)
        )
    return None
