"""What a synthetic package holds: its orgs and courses, its dates, and every knob that shapes it.

Same spec and seed: byte-identical plaintexts (and so the same sha256 digests). The names come
out the way edX's exporter spells them (see ``../shared/edx-data-package.md``), awkward cases
included: :func:`demo_package_spec` has them all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.settings.config import DEFAULT_DATABASE_BUCKET, DEFAULT_EVENT_BUCKET
from edx_vault.settings.types import Site

# Tables a synthetic course exports by default (a table with no rows has no file, as at edX).
DEFAULT_TABLES: Final = (
    "auth_user",
    "auth_userprofile",
    "certificates_generatedcertificate",
    "courseware_studentmodule",
    "django_comment_client_role_users",
    "student_anonymoususerid",
    "student_courseaccessrole",
    "student_courseenrollment",
    "user_id_map",
    "grades_persistentcoursegrade",
    "wiki_articlerevision",
)
DEFAULT_ORA_TABLES: Final = (
    "assessment_assessment",
    "submissions_submission",
    "workflow_assessmentworkflow",
)


@dataclass(frozen=True)
class SyntheticCourse:
    """One course run of an org.

    Attributes
    ----------
    org
        The org as the course key spells it (case kept, e.g. ``MITx``).
    course, run
        Course number and run; either may contain ``-`` (that is what makes names ambiguous).
    site
        The site the course runs on.
    ccx_id
        Makes this a CCX (custom course) of the run.
    shorten_to
        Cut the entity to this many characters and append ``-{md5}``, as edX does with
        over-long names.
    old_forums_spelling
        Name the forums file ``{entity}.mongo`` (older packages) instead of ``{entity}-prod``.
    """

    org: str
    course: str
    run: str
    site: Site = "edx"
    ccx_id: int | None = None
    shorten_to: int | None = None
    old_forums_spelling: bool = False

    @property
    def course_id(self) -> str:
        """The opaque course key, e.g. ``course-v1:MITx+6.002x+2012_Fall``."""
        if self.ccx_id is not None:
            return f"ccx-v1:{self.org}+{self.course}+{self.run}+ccx@{self.ccx_id}"
        return f"course-v1:{self.org}+{self.course}+{self.run}"

    @property
    def entity(self) -> str:
        """The course as edX's exporter spells it in file names."""
        parts = [self.org, self.course, self.run]
        if self.ccx_id is not None:
            parts += ["ccx", str(self.ccx_id)]
        # edX's exporter replaces every character above code point 128 with "_".
        entity = "".join("_" if ord(char) > 128 else char for char in "-".join(parts))
        if self.shorten_to is not None and len(entity) > self.shorten_to:
            digest = hashlib.md5(entity.encode(), usedforsecurity=False).hexdigest()
            entity = f"{entity[: self.shorten_to]}-{digest}"
        return entity


@dataclass(frozen=True)
class SyntheticOrg:
    """One org and its courses.

    Attributes
    ----------
    org_id
        The org id as edX's keys spell it (lower case).
    courses
        Its courses, on either site.
    folder_spelling
        The org as edX's exporter configuration spells it, used for the zip's inner folder
        (``MITx-2024-01-07/``); defaults to ``org_id``.
    """

    org_id: str
    courses: tuple[SyntheticCourse, ...]
    folder_spelling: str | None = None

    @property
    def export_spelling(self) -> str:
        """The org as the exporter spells it in zip folders and the email opt-in report."""
        return self.folder_spelling or self.org_id

    def sites(self) -> tuple[Site, ...]:
        """The sites this org has courses on."""
        return tuple(site for site in ("edx", "edge") if any(c.site == site for c in self.courses))


@dataclass(frozen=True)
class PackageSpec:
    """Everything that shapes a synthetic package. Same spec and seed: same plaintexts.

    Attributes
    ----------
    orgs
        The orgs and their courses.
    event_dates
        Days with an event log (one per org and site with courses on it).
    export_dates
        Dates of the weekly zips (and of the email opt-in zips).
    seed
        Seeds every generated value.
    event_log_bytes
        Target size of each decrypted event log (the ``.log.gz`` bytes), from a few bytes (one
        event) to gigabytes; generation streams, so memory stays flat.
    event_gzip_level
        zlib level of the event logs' gzip. Level 1 makes large files about twice as fast:
        roughly 5 MB/s of event log at level 1 and 3 MB/s at level 6 on a laptop-class core,
        so a 1 GB log takes a few minutes.
    openpgp_compression
        Let gpg compress before encrypting, as edX's exporter does (gpg's default). Off makes
        large files faster to generate and to decrypt, and less like edX's.
    rows_per_table
        Rows in each ``.sql`` table (and lines in each forums file).
    tables, ora_tables
        Which database and ORA tables each course exports.
    failed_member
        Ship one ``{file}.failed.gpg`` member (a traceback) in the first org's first zip.
    email_opt_in
        Ship the email opt-in report as its own zip under ``email-opt-in/`` (since 2017-11).
    email_opt_in_in_weekly_zip
        Also put it inside the weekly zip, as packages before 2017-11 did.
    rdx
        Ship one research data exchange archive for the first org.
    force_zip64
        Write zip64 records (local headers, central directory and end records) even for
        small zips, as edX's multi-gigabyte zips need them.
    prod_site_spelling
        Spell edx.org ``prod`` in event keys, as edX's documentation does, instead of ``edx``.
    event_bucket, database_bucket
        The edX bucket names the package is laid out for.
    """

    orgs: tuple[SyntheticOrg, ...]
    event_dates: tuple[dt.date, ...]
    export_dates: tuple[dt.date, ...]
    seed: int = 0
    event_log_bytes: int = 4096
    event_gzip_level: int = 6
    openpgp_compression: bool = True
    rows_per_table: int = 6
    tables: tuple[str, ...] = DEFAULT_TABLES
    ora_tables: tuple[str, ...] = DEFAULT_ORA_TABLES
    failed_member: bool = True
    email_opt_in: bool = True
    email_opt_in_in_weekly_zip: bool = False
    rdx: bool = False
    force_zip64: bool = False
    prod_site_spelling: bool = False
    event_bucket: str = DEFAULT_EVENT_BUCKET
    database_bucket: str = DEFAULT_DATABASE_BUCKET


def demo_package_spec(*, seed: int = 0, **overrides: Any) -> PackageSpec:
    """A package with every awkward name edX produces.

    Three orgs; courses with ``-`` in the number and the run, a CCX, an md5-shortened entity,
    a non-ASCII course number, a mixed-case folder spelling, both sites, the old forums
    spelling; two days of event logs and one weekly export.

    Parameters
    ----------
    seed
        The seed.
    overrides
        Any other :class:`PackageSpec` field, e.g. ``event_log_bytes=10**9`` or ``rdx=True``.
    """
    mitx = SyntheticOrg(
        org_id="mitx",
        courses=(
            SyntheticCourse("MITx", "6.002x", "2012_Fall"),
            SyntheticCourse("MITx", "6.00.1x-2", "3T2024-A"),
            SyntheticCourse("MITx", "6.002x", "2012_Fall", ccx_id=7),
            SyntheticCourse(
                "MITx", "21G.1x", "2024_Spring_" + "Extended-Learners-Cohort" * 6, shorten_to=100
            ),
        ),
    )
    harvardx = SyntheticOrg(
        org_id="harvardx",
        folder_spelling="HarvardX",
        courses=(
            SyntheticCourse("HarvardX", "PH525.1x", "1T2020", site="edge"),
            SyntheticCourse("HarvardX", "Física101", "2T2023", old_forums_spelling=True),
        ),
    )
    delftx = SyntheticOrg(
        org_id="delftx",
        courses=(SyntheticCourse("DelftX", "TPM-1x", "1T-2022", site="edge"),),
    )
    spec = PackageSpec(
        orgs=(mitx, harvardx, delftx),
        event_dates=(dt.date(2024, 1, 6), dt.date(2024, 1, 7)),
        export_dates=(dt.date(2024, 1, 7),),
        seed=seed,
    )
    return dataclasses.replace(spec, **overrides)
