"""Every researcher x what they may and may not do, judged on the synthesized policies.

The judge is :mod:`edx_vault.access.policy_evaluator` (moto ignores Condition keys, and the grants'
promises live in conditions). Each cell evaluates the researcher role's identity policies
together with the data bucket's policy and the data key's policy, as AWS would for a request
in the same account, and names the expected outcome exactly: ``allow``, ``implicit-deny`` (no
statement grants it) or ``explicit-deny`` with the statement that refuses.

One table in one file, over 400 lines because it is data: each researcher's rows are read
against the others' (what ann may read, ben may not), which a split would hide. The bucket and
key policies' own guarantees are in ``test_vault_boundaries.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from edx_vault.access.access_check import (
    check_assume,
    check_bucket_action,
    check_key,
    check_list,
    check_read,
)
from edx_vault.access.policy_evaluator import Decision
from edx_vault.access.researcher_roles import GRANT_TAG
from edx_vault.access.template_policies import RolePolicies, VaultPolicies
from edx_vault.package import output_keys
from edx_vault.package.bucket_layout import NO_COURSE, UNPARSED
from edx_vault.settings.types import Site
from tests.access.conftest import SynthesizedGrants
from tests.access.grant_config import (
    ADMIN_ROLE,
    ANN_CALLER,
    ANN_EXTERNAL_ID,
    NOW,
    OIDC_PROVIDER,
    REGION,
    SAML_PROVIDER,
)

Probe = Callable[[VaultPolicies, RolePolicies], Decision]


@dataclass(frozen=True)
class Cell:
    researcher: str
    what: str
    probe: Probe
    outcome: str
    # For an explicit deny, the Sid of a statement that must be among the deciding ones.
    by: str | None = None


def read(key: str, *, at: dt.datetime = NOW, **context: str | None) -> Probe:
    def probe(policies: VaultPolicies, role: RolePolicies) -> Decision:
        check = check_read(policies, role, key, at=at, region=REGION, context=context)
        return check.deciding

    return probe


def listing(prefix: str | None, *, at: dt.datetime = NOW) -> Probe:
    return lambda policies, role: check_list(policies, role, prefix, at=at)


def s3_action(action: str, key: str | None) -> Probe:
    return lambda policies, role: check_bucket_action(policies, role, action, key=key, at=NOW)


def kms(action: str, **context: str | None) -> Probe:
    return lambda policies, role: check_key(policies, role, action, at=NOW, context=context)


def assume(
    caller: str, action: str = "sts:AssumeRole", *, at: dt.datetime = NOW, **ctx: str
) -> Probe:
    context = {key.replace("__", ":"): value for key, value in ctx.items()}
    return lambda policies, role: check_assume(
        role, caller=caller, action=action, at=at, context=context
    )


def db(table: str, course: str, date: str, *, org: str = "examplex", site: str = "edx") -> str:
    return (
        f"database/{table}/org={org}/site={site}/course={course}/export_date={date}/"
        f"{course}-{table}-prod-analytics.sql"
    )


def events(org: str, site: Site, date: str) -> str:
    """An org's daily event log (every course), keyed as the pipeline writes it."""
    return output_keys.event_log_output_key(org, site, dt.date.fromisoformat(date))


def course_events(course: str, date: str, *, org: str = "examplex", site: Site = "edx") -> str:
    """One course's share of an org's daily event log, keyed as the split step writes it."""
    day = dt.date.fromisoformat(date)
    return output_keys.course_event_log_output_key(org, site, course, day)


def tier(key: str) -> str:
    """The de-identified tier's copy of a published key: what a non-identifiable grant reads."""
    return output_keys.deidentified_output_key(key)


def tdb(table: str, course: str, date: str, *, org: str = "examplex", site: str = "edx") -> str:
    """The de-identified copy of a table file (see :func:`db`)."""
    return tier(db(table, course, date, org=org, site=site))


def tcourse_events(course: str, date: str, *, org: str = "examplex", site: Site = "edx") -> str:
    """The de-identified copy of one course's share of a daily event log."""
    return tier(course_events(course, date, org=org, site=site))


def folder(key: str, level: str) -> str:
    """The folder of ``key`` that holds its ``level=`` partition: what a listing names."""
    return key[: key.index(f"/{level}=") + 1]


CS101 = "ExampleX-CS101-2025_T1"
CS202 = "ExampleX-CS202-2025_T1"
ANN_MFA = {"aws__MultiFactorAuthPresent": "true", "sts__ExternalId": ANN_EXTERNAL_ID}
SAML_SESSION = {"SAML__aud": "https://signin.aws.amazon.com/saml", "SAML__sub": "ben@example.edu"}
OIDC_SUB = "login.example.edu/realms/research__sub"
ANN_EXPIRY = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)

CELLS = [
    # --- ann-course: course-limited, de-identified, dated ------------------------------------
    Cell(
        "ann-course",
        "granted table, course, date",
        read(tdb("student_courseenrollment", CS101, "2025-03-02")),
        "allow",
    ),
    Cell(
        "ann-course",
        "granted table on the first day",
        read(tdb("courseware_studentmodule", CS101, "2025-01-01")),
        "allow",
    ),
    Cell(
        "ann-course",
        "granted table on the last day",
        read(tdb("courseware_studentmodule", CS101, "2025-06-30")),
        "allow",
    ),
    Cell(
        "ann-course",
        "course structure of a granted course",
        read(
            tier(
                f"course-structure/org=examplex/site=edx/course={CS101}/export_date=2025-05-04/{CS101}-course_structure-prod-analytics.json"
            )
        ),
        "allow",
    ),
    Cell(
        "ann-course",
        "her course's events on the range's last day, edge",
        read(tcourse_events(CS101, "2025-03-31", site="edge")),
        "allow",
    ),
    Cell(
        "ann-course",
        "her course's events on the range's first day, edx",
        read(tcourse_events(CS101, "2025-03-01")),
        "allow",
    ),
    Cell(
        "ann-course",
        "the org's whole event log of a granted day (every course)",
        read(events("examplex", "edx", "2025-03-10")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "another course's events of a granted day",
        read(tcourse_events(CS202, "2025-03-10")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "events naming no course (_none)",
        read(tcourse_events(NO_COURSE, "2025-03-10")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "lines that are not events (_unparsed)",
        read(tcourse_events(UNPARSED, "2025-03-10", site="edge")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "her course's events in the alias org",
        read(tcourse_events(CS101, "2025-03-10", org="examplexpro")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "a day before the date range",
        read(tdb("student_courseenrollment", CS101, "2024-12-31")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "a day after the date range",
        read(tdb("student_courseenrollment", CS101, "2025-07-01")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "her course's events the day before the range",
        read(tcourse_events(CS101, "2025-02-28")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "her course's events the day after the range",
        read(tcourse_events(CS101, "2025-04-01", site="edge")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "ungranted course",
        read(tdb("student_courseenrollment", CS202, "2025-03-02")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "ungranted table",
        read(tdb("grades_persistentcoursegrade", CS101, "2025-03-02")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "ungranted site",
        read(tdb("student_courseenrollment", CS101, "2025-03-02", site="edge")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "the tier's auth_user, a table her scope does not name",
        read(tdb("auth_user", CS101, "2025-03-02")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "email opt-in without identifiable",
        read(
            "email-opt-in/org=examplex/export_date=2025-03-02/examplex-email_opt_in-prod-analytics.csv"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "forums without identifiable",
        read(
            f"forums/org=examplex/site=edx/course={CS101}/export_date=2025-03-02/{CS101}-prod.mongo"
        ),
        "implicit-deny",
    ),
    # She is not identifiable: she reads the de-identified tier (above), never an original,
    # not even the original of a file whose copy she reads
    Cell(
        "ann-course",
        "the identified original of her course's events (its copy is granted)",
        read(course_events(CS101, "2025-03-10")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "the identified original of a granted table (its copy is granted)",
        read(db("student_courseenrollment", CS101, "2025-03-02")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "auth_user as published (names, emails)",
        read(db("auth_user", CS101, "2025-03-02")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the original folder of a granted day",
        listing(folder(course_events(CS101, "2025-03-10"), "date") + "date=2025-03-10/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the original folder of a granted month's table",
        listing(
            folder(db("student_courseenrollment", CS101, "2025-03-02"), "export_date")
            + "export_date=2025-03"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "a copy of the org's whole log (the tier has none; never granted)",
        read(tier(events("examplex", "edx", "2025-03-10"))),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "a copy under forums/ (the tier has none; never granted)",
        read(
            f"deidentified/forums/org=examplex/site=edx/course={CS101}/export_date=2025-03-02/{CS101}-prod.mongo"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the de-identified tier's root",
        listing("deidentified/"),
        "explicit-deny",
        "DenyResearchersListingOutsidePublishedData",
    ),
    Cell(
        "ann-course",
        "list the tier's per-course events' root",
        listing("deidentified/events-by-course/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course", "list the tier's tables", listing("deidentified/database/"), "implicit-deny"
    ),
    Cell("ann-course", "another org", read(events("otheru", "edx", "2025-03-10")), "implicit-deny"),
    Cell(
        "ann-course",
        "the alias org is not implied",
        read(events("examplexpro", "edx", "2025-03-10")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "raw/ mirror",
        read(
            "raw/edx-course-data/examplex/edx/events/2025/examplex-edx-events-2025-03-10.log.gz.gpg"
        ),
        "explicit-deny",
        "DenyResearchersPipelineOnlyPrefixes",
    ),
    Cell(
        "ann-course",
        "reports/",
        read("reports/2025-03-09T06-00-00Z.json"),
        "explicit-deny",
        "DenyResearchersPipelineOnlyPrefixes",
    ),
    Cell(
        "ann-course",
        "_work/",
        read("_work/run-1/plan.jsonl"),
        "explicit-deny",
        "DenyResearchersPipelineOnlyPrefixes",
    ),
    Cell(
        "ann-course",
        "rdx/ (not a grant category)",
        read("rdx/org=examplex/request=R1/examplex_CS101_2025.tar.gz"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "granted key over plain HTTP",
        read(
            tdb("student_courseenrollment", CS101, "2025-03-02"), **{"aws:SecureTransport": "false"}
        ),
        "explicit-deny",
    ),
    Cell(
        "ann-course",
        "granted key, last second before expiry",
        read(
            tdb("student_courseenrollment", CS101, "2025-03-02"),
            at=ANN_EXPIRY - dt.timedelta(seconds=1),
        ),
        "allow",
    ),
    Cell(
        "ann-course",
        "granted key at expiry",
        read(tdb("student_courseenrollment", CS101, "2025-03-02"), at=ANN_EXPIRY),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "granted key a year after expiry",
        read(tcourse_events(CS101, "2025-03-10"), at=ANN_EXPIRY + dt.timedelta(days=365)),
        "implicit-deny",
    ),
    # Listing follows the dates: a dated grant lists its date prefixes (a day, a month, a year
    # it wholly covers) and below, never the folder above the date level.
    Cell(
        "ann-course",
        "list a granted month of a granted course",
        listing(
            folder(tdb("student_courseenrollment", CS101, "2025-03-02"), "export_date")
            + "export_date=2025-03"
        ),
        "allow",
    ),
    Cell(
        "ann-course",
        "list the range's first day",
        listing(
            folder(tdb("courseware_studentmodule", CS101, "2025-01-01"), "export_date")
            + "export_date=2025-01-01/"
        ),
        "allow",
    ),
    Cell(
        "ann-course",
        "list the range's last day, by glob-matched course",
        listing(
            folder(
                tdb("student_courseenrollment", "ExampleX-CS101-2024_T3", "2025-06-30"),
                "export_date",
            )
            + "export_date=2025-06-30/"
        ),
        "allow",
    ),
    Cell(
        "ann-course",
        "list the day before date_from",
        listing(
            folder(tdb("student_courseenrollment", CS101, "2024-12-31"), "export_date")
            + "export_date=2024-12-31/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the year before date_from",
        listing(
            folder(tdb("student_courseenrollment", CS101, "2024-12-31"), "export_date")
            + "export_date=2024"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the day after date_to",
        listing(
            folder(tdb("student_courseenrollment", CS101, "2025-07-01"), "export_date")
            + "export_date=2025-07-01/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the range's year, which runs past date_to",
        listing(
            folder(tdb("student_courseenrollment", CS101, "2025-03-02"), "export_date")
            + "export_date=2025"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list a granted course's whole folder (every date)",
        listing(
            f"deidentified/database/student_courseenrollment/org=examplex/site=edx/course={CS101}/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list a granted course's date level without a date",
        listing(
            f"deidentified/database/student_courseenrollment/org=examplex/site=edx/course={CS101}/export_date="
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the granted courses by glob (every date)",
        listing(
            "deidentified/database/courseware_studentmodule/org=examplex/site=edx/course=ExampleX-CS101-"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list another course on a granted day",
        listing(
            folder(tdb("student_courseenrollment", CS202, "2025-03-02"), "export_date")
            + "export_date=2025-03-02/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list her course's events on a granted day",
        listing(folder(tcourse_events(CS101, "2025-03-10"), "date") + "date=2025-03-10/"),
        "allow",
    ),
    Cell(
        "ann-course",
        "list her course's events of the granted month, edge",
        listing(folder(tcourse_events(CS101, "2025-03-10", site="edge"), "date") + "date=2025-03"),
        "allow",
    ),
    Cell(
        "ann-course",
        "list her course's events the day before the range",
        listing(folder(tcourse_events(CS101, "2025-02-28"), "date") + "date=2025-02-28/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list her course's events the day after the range",
        listing(folder(tcourse_events(CS101, "2025-04-01"), "date") + "date=2025-04-01/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list her course's whole event folder (every date)",
        listing(folder(tcourse_events(CS101, "2025-03-10"), "date")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list her courses' event folders by glob (every date)",
        listing(
            folder(tcourse_events(CS101, "2025-03-10", site="edge"), "course")
            + "course=ExampleX-CS101-"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list another course's events on a granted day",
        listing(folder(tcourse_events(CS202, "2025-03-10"), "date") + "date=2025-03-10/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the org's whole event logs",
        listing(folder(events("examplex", "edx", "2025-03-10"), "site")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the events naming no course on a granted day",
        listing(folder(tcourse_events(NO_COURSE, "2025-03-10"), "date") + "date=2025-03-10/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list every course's event folders of the org",
        listing(folder(tcourse_events(CS101, "2025-03-10"), "site")),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the org's whole event log of a granted day",
        listing(folder(events("examplex", "edx", "2025-03-10"), "date") + "date=2025-03-10/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list the per-course events' root",
        listing("events-by-course/"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list without a prefix",
        listing(None),
        "explicit-deny",
        "DenyResearchersListingOutsidePublishedData",
    ),
    Cell(
        "ann-course",
        "list with an empty prefix",
        listing(""),
        "explicit-deny",
        "DenyResearchersListingOutsidePublishedData",
    ),
    Cell(
        "ann-course",
        "list raw/",
        listing("raw/"),
        "explicit-deny",
        "DenyResearchersListingOutsidePublishedData",
    ),
    Cell(
        "ann-course",
        "list reports/",
        listing("reports/"),
        "explicit-deny",
        "DenyResearchersListingOutsidePublishedData",
    ),
    Cell("ann-course", "list a whole category", listing("database/"), "implicit-deny"),
    Cell(
        "ann-course",
        "list another course",
        listing(
            "deidentified/database/student_courseenrollment/org=examplex/site=edx/course=ExampleX-CS202-2025_T1/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list an ungranted table on a granted day",
        listing(
            folder(tdb("auth_user", CS101, "2025-03-02"), "export_date") + "export_date=2025-03-02/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list her course's events in another org whose id starts the same, on a granted day",
        listing(
            folder(tcourse_events(CS101, "2025-03-10", org="examplexpro"), "date")
            + "date=2025-03-10/"
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "list a granted day, last second before expiry",
        listing(
            folder(tcourse_events(CS101, "2025-03-10"), "date") + "date=2025-03-10/",
            at=ANN_EXPIRY - dt.timedelta(seconds=1),
        ),
        "allow",
    ),
    Cell(
        "ann-course",
        "list a granted day after expiry",
        listing(
            folder(tcourse_events(CS101, "2025-03-10"), "date") + "date=2025-03-10/", at=ANN_EXPIRY
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "write to a granted prefix",
        s3_action("s3:PutObject", tdb("student_courseenrollment", CS101, "2025-03-02")),
        "explicit-deny",
        "DenyResearchersAnythingButReading",
    ),
    Cell(
        "ann-course",
        "delete a granted object",
        s3_action("s3:DeleteObject", tdb("student_courseenrollment", CS101, "2025-03-02")),
        "explicit-deny",
        "DenyResearchersAnythingButReading",
    ),
    Cell(
        "ann-course",
        "read an old version",
        s3_action("s3:GetObjectVersion", tdb("student_courseenrollment", CS101, "2025-03-02")),
        "explicit-deny",
        "DenyResearchersAnythingButReading",
    ),
    Cell(
        "ann-course",
        "read the bucket policy",
        s3_action("s3:GetBucketPolicy", None),
        "explicit-deny",
        "DenyResearchersAnythingButReading",
    ),
    Cell(
        "ann-course",
        "decrypt directly with KMS",
        kms("kms:Decrypt"),
        "explicit-deny",
        "DenyResearchersDecryptOutsideS3",
    ),
    Cell(
        "ann-course",
        "decrypt through S3 for another bucket",
        kms(
            "kms:Decrypt",
            **{
                "kms:ViaService": "s3.us-east-1.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::elsewhere",
            },
        ),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "decrypt through S3 in another region",
        kms("kms:Decrypt", **{"kms:ViaService": "s3.eu-west-1.amazonaws.com"}),
        "explicit-deny",
        "DenyResearchersDecryptOutsideS3",
    ),
    Cell(
        "ann-course",
        "encrypt with the data key",
        kms("kms:Encrypt", **{"kms:ViaService": "s3.us-east-1.amazonaws.com"}),
        "explicit-deny",
        "DenyResearchersAnythingButDecrypt",
    ),
    Cell(
        "ann-course",
        "describe the data key",
        kms("kms:DescribeKey"),
        "explicit-deny",
        "DenyResearchersAnythingButDecrypt",
    ),
    Cell("ann-course", "assume with external id and MFA", assume(ANN_CALLER, **ANN_MFA), "allow"),
    Cell(
        "ann-course",
        "assume without the external id",
        assume(ANN_CALLER, aws__MultiFactorAuthPresent="true"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "assume with a wrong external id",
        assume(ANN_CALLER, aws__MultiFactorAuthPresent="true", sts__ExternalId="guess"),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "assume without MFA",
        assume(ANN_CALLER, sts__ExternalId=ANN_EXTERNAL_ID),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "assume after expiry",
        assume(ANN_CALLER, at=ANN_EXPIRY, **ANN_MFA),
        "implicit-deny",
    ),
    Cell(
        "ann-course",
        "assumed by someone else",
        assume("arn:aws:iam::210987654321:role/mallory", **ANN_MFA),
        "implicit-deny",
    ),
    Cell("ann-course", "assumed by the admin", assume(ADMIN_ROLE, **ANN_MFA), "implicit-deny"),
    # --- ben-identified: identifying categories, whole org, SAML ------------------------------
    Cell(
        "ben-identified",
        "email opt-in",
        read(
            "email-opt-in/org=otheru/export_date=2025-03-02/otheru-email_opt_in-prod-analytics.csv"
        ),
        "allow",
    ),
    Cell(
        "ben-identified",
        "auth_user",
        read(db("auth_user", "OtherU-X1-2025", "2025-03-02", org="otheru", site="edge")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "forums whose site is unspecified",
        read(
            "forums/org=otheru/site=unspecified/course=OtherU-X1-2014/export_date=2016-01-03/OtherU-X1-2014.mongo"
        ),
        "allow",
    ),
    Cell(
        "ben-identified",
        "any date (no range)",
        read(db("student_courseenrollment", "OtherU-X1-2013", "2013-09-01", org="otheru")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "ungranted category",
        read(
            output_keys.course_output_key(
                "course-structure",
                table=None,
                org="otheru",
                site="edx",
                course="OtherU-X1-2025",
                export_date=dt.date(2025, 3, 2),
                file_name="OtherU-X1-2025-course_structure-prod-analytics.json",
            )
        ),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "the org's whole event log (courses = ['*'])",
        read(events("otheru", "edx", "2025-03-10")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "a course's events",
        read(course_events("OtherU-X1-2013", "2013-09-01", org="otheru", site="edge")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "events naming no course (_none)",
        read(course_events(NO_COURSE, "2025-03-10", org="otheru")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "lines that are not events (_unparsed)",
        read(course_events(UNPARSED, "2025-03-10", org="otheru", site="edge")),
        "allow",
    ),
    # He is identifiable: he reads the originals only. Not also the tier: the two side by side
    # would pair each username with its pseudonym, and pseudonyms are the same in every course
    # and file, so that pairing would re-identify the tier beyond his grant.
    Cell(
        "ben-identified",
        "the tier's copy of a course's events",
        read(tcourse_events("OtherU-X1-2013", "2013-09-01", org="otheru", site="edge")),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "the tier's copy of a table",
        read(tdb("student_courseenrollment", "OtherU-X1-2013", "2013-09-01", org="otheru")),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "list the tier's copies of the org's course events",
        listing("deidentified/events-by-course/org=otheru/"),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "another org's course events",
        read(course_events(CS101, "2025-03-10")),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "list the org's event logs",
        listing(folder(events("otheru", "edx", "2025-03-10"), "site")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "list the org's per-course event folders",
        listing(folder(course_events(NO_COURSE, "2025-03-10", org="otheru"), "site")),
        "allow",
    ),
    Cell(
        "ben-identified",
        "list one old day of the org's logs (no date range: every date)",
        listing(folder(events("otheru", "edx", "2013-09-01"), "date") + "date=2013-09-01/"),
        "allow",
    ),
    Cell(
        "ben-identified",
        "list another org's event logs (courses = ['*'] is its own orgs')",
        listing(folder(events("examplex", "edx", "2025-03-10"), "site")),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "list another org's per-course events",
        listing(folder(course_events(CS101, "2025-03-10"), "site")),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "list an org whose id starts with its org's",
        listing("events/org=otheruniversity/"),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "list the per-course events' root",
        listing("events-by-course/"),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "another org's email opt-in",
        read(
            "email-opt-in/org=examplex/export_date=2025-03-02/examplex-email_opt_in-prod-analytics.csv"
        ),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "ora is not granted",
        read(
            "ora/submissions_submission/org=otheru/site=edx/course=OtherU-X1-2025/export_date=2025-03-02/f.sql"
        ),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "raw/ email opt-in zip",
        read("raw/course-data/email-opt-in/otheru-2025-03-02.zip"),
        "explicit-deny",
        "DenyResearchersPipelineOnlyPrefixes",
    ),
    Cell(
        "ben-identified",
        "list the org's tables' folder",
        listing("database/auth_user/org=otheru/"),
        "allow",
    ),
    Cell(
        "ben-identified",
        "assume through SAML as ben",
        assume(SAML_PROVIDER, "sts:AssumeRoleWithSAML", **SAML_SESSION),
        "allow",
    ),
    Cell(
        "ben-identified",
        "assume through SAML as someone else",
        assume(
            SAML_PROVIDER,
            "sts:AssumeRoleWithSAML",
            SAML__aud="https://signin.aws.amazon.com/saml",
            SAML__sub="eve@example.edu",
        ),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "assume through SAML for another audience",
        assume(
            SAML_PROVIDER,
            "sts:AssumeRoleWithSAML",
            SAML__aud="https://other.example/saml",
            SAML__sub="ben@example.edu",
        ),
        "implicit-deny",
    ),
    Cell(
        "ben-identified",
        "plain AssumeRole by the provider",
        assume(SAML_PROVIDER, **SAML_SESSION),
        "implicit-deny",
    ),
    # --- cat-oidc: one ORA table of one course of the alias org, edge only, OIDC -------------
    Cell(
        "cat-oidc",
        "granted ORA table",
        read(
            "ora/submissions_submission/org=examplexpro/site=edge/course=ExampleXPRO-DS1-2025/export_date=2025-11-02/ExampleXPRO-DS1-2025-submissions_submission-prod-edge-analytics.sql"
        ),
        "allow",
    ),
    Cell(
        "cat-oidc",
        "another ORA table",
        read(
            "ora/assessment_assessment/org=examplexpro/site=edge/course=ExampleXPRO-DS1-2025/export_date=2025-11-02/f.sql"
        ),
        "implicit-deny",
    ),
    Cell(
        "cat-oidc",
        "another run of the course",
        read(
            "ora/submissions_submission/org=examplexpro/site=edge/course=ExampleXPRO-DS1-2024/export_date=2025-11-02/f.sql"
        ),
        "implicit-deny",
    ),
    Cell(
        "cat-oidc",
        "the other site",
        read(
            "ora/submissions_submission/org=examplexpro/site=edx/course=ExampleXPRO-DS1-2025/export_date=2025-11-02/f.sql"
        ),
        "implicit-deny",
    ),
    Cell(
        "cat-oidc",
        "the partner's main org",
        read(
            "ora/submissions_submission/org=examplex/site=edge/course=ExampleXPRO-DS1-2025/export_date=2025-11-02/f.sql"
        ),
        "implicit-deny",
    ),
    Cell(
        "cat-oidc",
        "granted table after expiry",
        read(
            "ora/submissions_submission/org=examplexpro/site=edge/course=ExampleXPRO-DS1-2025/export_date=2025-11-02/f.sql",
            at=dt.datetime(2026, 6, 30, tzinfo=dt.UTC),
        ),
        "implicit-deny",
    ),
    Cell(
        "cat-oidc",
        "assume with the subject's token",
        assume(OIDC_PROVIDER, "sts:AssumeRoleWithWebIdentity", **{OIDC_SUB: "f:1234:cat"}),
        "allow",
    ),
    Cell(
        "cat-oidc",
        "assume with another subject's token",
        assume(OIDC_PROVIDER, "sts:AssumeRoleWithWebIdentity", **{OIDC_SUB: "f:1234:eve"}),
        "implicit-deny",
    ),
    Cell(
        "cat-oidc",
        "assume with a token without a subject",
        assume(OIDC_PROVIDER, "sts:AssumeRoleWithWebIdentity"),
        "implicit-deny",
    ),
    # --- dan-expired: expired at synth, so the role reads nothing, even "before" expiry -------
    Cell(
        "dan-expired",
        "events it once had, before its expiry",
        read(events("examplex", "edx", "2025-03-10"), at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)),
        "explicit-deny",
        "GrantExpired",
    ),
    Cell(
        "dan-expired",
        "events now",
        read(events("examplex", "edx", "2025-03-10")),
        "explicit-deny",
        "GrantExpired",
    ),
    Cell(
        "dan-expired",
        "a course's events now",
        read(course_events(CS101, "2025-03-10")),
        "explicit-deny",
        "GrantExpired",
    ),
    Cell(
        "dan-expired",
        "list its org's events",
        listing("events/org=examplex/"),
        "explicit-deny",
        "GrantExpired",
    ),
    Cell(
        "dan-expired",
        "assume after expiry",
        assume("arn:aws:iam::123456789012:user/dan"),
        "implicit-deny",
    ),
]


@pytest.mark.parametrize("cell", CELLS, ids=[f"{c.researcher}: {c.what}" for c in CELLS])
def test_every_cell_of_the_access_matrix(synthesized: SynthesizedGrants, cell: Cell) -> None:
    # Given the researcher's synthesized role, the bucket policy and the key policy
    policies = synthesized.policies
    role = policies.role_tagged(GRANT_TAG, cell.researcher)
    # When the request is evaluated
    decision = cell.probe(policies, role)
    # Then the outcome is exactly the expected one, decided by the expected statement
    assert decision.outcome == cell.outcome, [s.label for s in decision.deciding]
    if cell.by is not None:
        assert cell.by in {s.sid for s in decision.deciding}
