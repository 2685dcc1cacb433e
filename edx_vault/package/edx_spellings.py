"""How edX spells things in its names: sites, table names, suffixes, and the errors for a name
that is none of them.

The vocabulary :mod:`edx_vault.package.source_keys` and :mod:`edx_vault.package.member_names`
read edX's keys and member names with, and :mod:`edx_vault.devtools.synthetic` writes
them with. Facts, not rules: see ``../shared/edx-data-package.md`` for where each comes from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from edx_vault.settings.types import Site


class UnknownNameError(ValueError):
    """A key or member name that is not one of edX's documented spellings."""


class UnsafeMemberNameError(UnknownNameError):
    """A zip member name that could escape its folder or confuse a path (``..``, ``/abs``...)."""


# How edX spells each site in event keys: its code and data say "edx", its docs say "prod".
EDX_SITE_SPELLINGS: Final[Mapping[Site, tuple[str, ...]]] = MappingProxyType(
    {"edx": ("edx", "prod"), "edge": ("edge",)}
)
_SITE_BY_SPELLING: Final[Mapping[str, Site]] = MappingProxyType(
    {spelling: site for site, spellings in EDX_SITE_SPELLINGS.items() for spelling in spellings}
)

# The `{name}` part of table and report file names, longest first. The exporter writes
# "prod-analytics" / "prod-edge-analytics"; the docs write "{site}-analytics".
ANALYTICS_NAME_SITES: Final[Mapping[str, Site]] = MappingProxyType(
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
FORUMS_SUFFIX_SITES: Final[Mapping[str, Site]] = MappingProxyType({"prod": "edx", "edge": "edge"})
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
# Any table of the ORA apps: the ora/ folder accepts a new one (the folder says what it is).
ORA_TABLE: Final = re.compile(r"^(assessment|submissions|workflow)_[a-z0-9_]+$")

# Table-like names for the files that are not SQL tables.
FORUMS_TABLE: Final = "forums"
COURSE_STRUCTURE_TABLE: Final = "course_structure"
COURSE_EXPORT_TABLE: Final = "course_export"
EMAIL_OPT_IN_TABLE: Final = "email_opt_in"

ORA_FOLDER: Final = "ora"
FAILED_SUFFIX: Final = ".failed"
GPG_SUFFIX: Final = ".gpg"


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
