"""The keys of edX's buckets: what each object is, read from its key, and the keys and listing
prefixes the planner asks for.

edX puts four kinds of object in its buckets for an org (:class:`SourceKind`): daily event logs,
weekly database zips, email opt-in zips and research data exchange (RDX) archives. Each has one
documented key spelling (:data:`_KEY_SHAPES`); a key that is none of them raises
:class:`~edx_vault.package.edx_spellings.UnknownNameError` saying what was expected.

Decisions:

* **Buckets.** Bucket names are configurable, so a key's kind is read from its shape, not from
  the bucket it was listed in; the bucket is recorded for the raw mirror.
* **Site.** edX's docs spell edx.org ``prod``, its code and data ``edx``; both are accepted in
  event keys and normalised to ``edx``, so both spellings of one day map to the same output key.
* **Org.** Org ids are lower-cased, as edX's keys spell them and as the institutional keys do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from edx_vault.package.edx_spellings import UnknownNameError, canonical_site
from edx_vault.settings.types import Site


class SourceKind(StrEnum):
    """The kinds of object edX puts in its buckets for an org."""

    EVENT_LOG = "event-log"
    WEEKLY_ZIP = "weekly-zip"
    EMAIL_OPT_IN_ZIP = "email-opt-in-zip"
    RDX_ARCHIVE = "rdx-archive"


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


_EMAIL_OPT_IN_FOLDER: Final = "email-opt-in/"
# The org ids edX uses in keys; the same rule as the deployment configuration.
_ORG = r"[A-Za-z0-9][A-Za-z0-9_.]{0,63}"
_DATE = r"\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class _KeyShape:
    """One kind's key spelling: which keys claim to be of the kind, and the spelling they must
    then have (its named groups are checked against each other by :func:`_source_object`)."""

    kind: SourceKind
    claims: Callable[[str], bool]
    pattern: re.Pattern[str]
    mismatch: str


# In the order they are tried: the first shape a key claims decides what it must be.
_KEY_SHAPES: Final = (
    _KeyShape(
        SourceKind.EVENT_LOG,
        lambda key: "/events/" in key,
        re.compile(
            rf"^(?P<org>{_ORG})/(?P<site>[a-z]+)/events/(?P<year>\d{{4}})/"
            rf"(?P<file_org>{_ORG})-(?P<file_site>[a-z]+)-events-(?P<date>{_DATE})\.log\.gz\.gpg$"
        ),
        "is not an event log key: expected "
        "{org}/{site}/events/{year}/{org}-{site}-events-{YYYY-MM-DD}.log.gz.gpg",
    ),
    _KeyShape(
        SourceKind.RDX_ARCHIVE,
        lambda key: "/rdx/" in key,
        re.compile(
            rf"^(?P<org>{_ORG})/rdx/(?P<request>[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}})/"
            r"(?P<file>[A-Za-z0-9_.~:-]+\.tar\.gz\.gpg)$"
        ),
        "is not an RDX key: expected {org}/rdx/{request id}/{org}_{course}_{run}.tar.gz.gpg",
    ),
    _KeyShape(
        SourceKind.EMAIL_OPT_IN_ZIP,
        lambda key: key.startswith(_EMAIL_OPT_IN_FOLDER),
        re.compile(rf"^email-opt-in/(?P<org>{_ORG})-(?P<date>{_DATE})\.zip$"),
        "is in email-opt-in/ but is not email-opt-in/{org}-{YYYY-MM-DD}.zip",
    ),
    _KeyShape(
        SourceKind.WEEKLY_ZIP,
        lambda key: "/" not in key and key.endswith(".zip"),
        re.compile(rf"^(?P<org>{_ORG})-(?P<date>{_DATE})\.zip$"),
        "is a zip but is not {org}-{YYYY-MM-DD}.zip",
    ),
)
_EXPECTED_SOURCE_KEYS: Final = (
    "{org}/{site}/events/{year}/{org}-{site}-events-{date}.log.gz.gpg, "
    "{org}-{date}.zip, email-opt-in/{org}-{date}.zip or "
    "{org}/rdx/{request id}/{org}_{course}_{run}.tar.gz.gpg"
)


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
    for shape in _KEY_SHAPES:
        if shape.claims(key):
            match = shape.pattern.fullmatch(key)
            if not match:
                raise UnknownNameError(f"{key!r} {shape.mismatch}")
            return _source_object(bucket, key, shape.kind, match)
    raise UnknownNameError(f"{key!r} is not an edX package key: expected {_EXPECTED_SOURCE_KEYS}")


def _source_object(bucket: str, key: str, kind: SourceKind, match: re.Match[str]) -> SourceObject:
    """The object a key names, once the parts its spelling repeats are checked to agree."""
    parts = match.groupdict()
    org = parts["org"].lower()
    if "file_org" in parts and parts["file_org"].lower() != org:
        raise UnknownNameError(
            f"{key!r}: the file's org {parts['file_org']!r} is not its folder's org "
            f"{parts['org']!r}"
        )
    site = canonical_site(parts["site"]) if "site" in parts else None
    if "file_site" in parts and canonical_site(parts["file_site"]) != site:
        raise UnknownNameError(
            f"{key!r}: the file's site {parts['file_site']!r} is not its folder's site "
            f"{parts['site']!r}"
        )
    date = _date(parts["date"], key) if "date" in parts else None
    if "year" in parts and date is not None and int(parts["year"]) != date.year:
        raise UnknownNameError(
            f"{key!r}: the year folder {parts['year']} is not the year of the date {date}"
        )
    if "file" in parts and not parts["file"].lower().startswith(f"{org}_"):
        raise UnknownNameError(
            f"{key!r}: the archive {parts['file']!r} does not start with its folder's org "
            f"{parts['org']!r} and '_'"
        )
    return SourceObject(
        bucket=bucket,
        key=key,
        kind=kind,
        org=org,
        site=site,
        date=date,
        request_id=parts.get("request"),
    )


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UnknownNameError(f"{name!r}: {text!r} is not a real date") from None


# --------------------------------------------------------------------------------------------
# The keys and listing prefixes the planner asks edX's buckets for
# --------------------------------------------------------------------------------------------


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
        One of the spellings in :data:`~edx_vault.package.edx_spellings.EDX_SITE_SPELLINGS`
        (``edx``, ``prod`` or ``edge``).
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
    return f"{_EMAIL_OPT_IN_FOLDER}{org.lower()}-{date.isoformat()}.zip"


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
    return f"{_EMAIL_OPT_IN_FOLDER}{org.lower()}-"


def rdx_list_prefix(org: str) -> str:
    """The prefix to list one org's research data exchange archives."""
    return f"{org.lower()}/rdx/"
