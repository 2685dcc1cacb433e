"""The de-identified tier's rules for the ``.sql`` tables: which columns pass, by name, and why.

Most tables are ``SELECT *`` of a live table, so their columns drift (see
:mod:`edx_vault.package.table_columns`): a rule is an allowlist **by column name**, read from
each file's header line at run time. A column no rule names is dropped, whatever it holds; a
column that points at a learner is pseudonymized into the same space as the events' ids
(:mod:`edx_vault.engine.pseudonyms`), so a de-identified table joins the de-identified events.
A table that is identifying as a whole is not copied at all (:class:`NotCopied`), nor is a
table without a reviewed rule. :mod:`edx_vault.engine.deidentify_tables` applies the rules.

Sources: the columns are edX's (edx-documentation ``internal_data_formats/sql_schema.rst``,
``edx-analytics-exporter``'s ``SELECT`` lists); what to remove follows edX's own obfuscation of
these tables for RDX research packages (``en_us/data/source/rdx/rdx_data.rst``), stricter in
three places: free text is dropped rather than scanned (``goals``, wiki text), the row ids of
per-learner tables are dropped (nothing joins on them, and they would link a de-identified row
back to its original), and ``auth_userprofile``'s ``language`` goes with the other quasi-identifiers
edX removes. Which *files* are identifying for the grants stays in
:mod:`edx_vault.package.identifying_data`; a test checks the two agree (every identifying table
drops or pseudonymizes something here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

from edx_vault.package.bucket_layout import TABLE_CATEGORIES
from edx_vault.package.edx_spellings import DATABASE_TABLES, ORA_TABLE, ORA_TABLES
from edx_vault.package.identifying_data import IDENTIFYING_CATEGORIES

if TYPE_CHECKING:
    from edx_vault.settings.types import GrantCategory

ColumnTreatment = Literal["keep", "username", "user_id", "anonymous_user_id", "user_profile_id"]


@dataclass(frozen=True)
class ColumnRule:
    """One allowlisted column: kept as it is, or replaced by its pseudonym of that kind."""

    treatment: ColumnTreatment
    reason: str


@dataclass(frozen=True)
class CopiedTable:
    """A table copied with only the columns named here (in the file's own order)."""

    columns: Mapping[str, ColumnRule]
    reason: str


@dataclass(frozen=True)
class NotCopied:
    """A table with no de-identified copy: identifying as a whole, or not yet reviewed."""

    reason: str


TableRule = CopiedTable | NotCopied
_Spec = tuple[ColumnTreatment, str]


def _copied(reason: str, **columns: _Spec) -> CopiedTable:
    return CopiedTable(
        MappingProxyType({name: ColumnRule(*rule) for name, rule in columns.items()}), reason
    )


_LEARNER: Final[_Spec] = ("user_id", "the learner, pseudonymized as context.user_id in events")
_COURSE: Final[_Spec] = ("keep", "the course")
_CREATED: Final[_Spec] = ("keep", "when the row was created")
_MODIFIED: Final[_Spec] = ("keep", "when the row last changed")

TABLE_RULES: Final[Mapping[str, TableRule]] = MappingProxyType(
    {
        "auth_user": _copied(
            "who is staff and when accounts were made; names, email and password dropped",
            id=("user_id", "the learner: the key every user_id column points at"),
            username=("username", "the learner's username, as in the events' username"),
            is_staff=("keep", "to leave staff out of analyses"),
            is_active=("keep", "whether the account is active"),
            is_superuser=("keep", "to leave administrators out of analyses"),
            last_login=("keep", "last login time (edX's RDX keeps it)"),
            date_joined=("keep", "registration time (edX's RDX keeps it)"),
        ),
        "auth_userprofile": _copied(
            "the self-reported demographics edX's RDX keeps; name, address and free text dropped",
            id=("user_profile_id", "the profile, for student_languageproficiency"),
            user_id=_LEARNER,
            gender=("keep", "self-reported, optional"),
            year_of_birth=("keep", "self-reported, optional"),
            level_of_education=("keep", "self-reported, optional"),
            country=("keep", "self-reported country code"),
        ),
        "certificates_generatedcertificate": _copied(
            "who earned which certificate; the name on it and its public links dropped",
            user_id=_LEARNER,
            course_id=_COURSE,
            grade=("keep", "the grade certified"),
            status=("keep", "downloadable, notpassing..."),
            mode=("keep", "the certificate's mode"),
            distinction=("keep", "with distinction"),
            created_date=_CREATED,
            modified_date=_MODIFIED,
        ),
        "courseware_studentmodule": _copied(
            "per learner and block: grades and timing; the state (answers, free text) dropped",
            student_id=("user_id", "the learner (an auth_user.id), as context.user_id"),
            module_type=("keep", "the block's type"),
            module_id=("keep", "the block"),
            course_id=_COURSE,
            grade=("keep", "points earned"),
            max_grade=("keep", "points possible"),
            done=("keep", "completion flag"),
            created=_CREATED,
            modified=_MODIFIED,
        ),
        "django_comment_client_role_users": _copied(
            "forum roles: to tell moderators from learners",
            course_id=_COURSE,
            user_id=_LEARNER,
            name=("keep", "the role's name (Student, Moderator), not a person's"),
        ),
        "student_courseaccessrole": _copied(
            "course team roles: to leave staff out",
            org=("keep", "the org"),
            course_id=_COURSE,
            user_id=_LEARNER,
            role=("keep", "instructor, staff, beta tester..."),
        ),
        "student_courseenrollment": _copied(
            "enrollments",
            user_id=_LEARNER,
            course_id=_COURSE,
            created=("keep", "when the learner enrolled"),
            is_active=("keep", "still enrolled"),
            mode=("keep", "audit, verified, honor..."),
        ),
        "student_languageproficiency": _copied(
            "languages learners say they speak",
            user_profile_id=("user_profile_id", "the profile, as auth_userprofile.id"),
            code=("keep", "a language code"),
        ),
        "user_api_usercoursetag": _copied(
            "A/B test partitions learners were assigned to",
            user_id=_LEARNER,
            course_id=_COURSE,
            key=("keep", "the partition"),
            value=("keep", "the group"),
        ),
        "user_id_map": NotCopied(
            "it exists to map edX's hashed ids to user ids and usernames: a re-identification "
            "table (edX's RDX omits it); the pseudonyms replace it"
        ),
        "student_anonymoususerid": _copied(
            "links edX's per-course anonymous ids (LTI, ORA) to learners, both pseudonymized",
            user_id=_LEARNER,
            anonymous_user_id=("anonymous_user_id", "the per-course anonymous id"),
            course_id=_COURSE,
        ),
        "wiki_article": _copied(
            "wiki pages; the owner pseudonymized, group permissions dropped (as edX's RDX)",
            id=("keep", "the article: revisions point at it"),
            current_revision_id=("keep", "its current revision"),
            owner_id=("user_id", "who created it, pseudonymized"),
            created=_CREATED,
            modified=_MODIFIED,
        ),
        "wiki_articlerevision": _copied(
            "who edited which wiki page when; the text, title, message and IP address dropped",
            id=("keep", "the revision"),
            revision_number=("keep", "its number"),
            article_id=("keep", "the article"),
            previous_revision_id=("keep", "the revision it replaced"),
            user_id=("user_id", "the author, pseudonymized"),
            created=_CREATED,
            modified=_MODIFIED,
            deleted=("keep", "deleted flag"),
            locked=("keep", "locked flag"),
        ),
        **{
            name: _copied(
                "teams; their learner-written name and description dropped",
                id=("keep", "the team: memberships point at it"),
                team_id=("keep", "the team's slug, as in edx.team.* events"),
                course_id=_COURSE,
                topic_id=("keep", "the team's topic"),
                date_created=_CREATED,
                last_activity_at=("keep", "last activity"),
                team_size=("keep", "members"),
                language=("keep", "the team's language"),
                country=("keep", "the team's country"),
                discussion_topic_id=("keep", "the team's discussion"),
            )
            for name in ("teams", "teams_courseteam")
        },
        **{
            name: _copied(
                "team memberships",
                user_id=_LEARNER,
                team_id=("keep", "the team (teams.id)"),
                date_joined=("keep", "when the learner joined"),
                last_activity_at=("keep", "last activity"),
            )
            for name in ("teams_membership", "teams_courseteammembership")
        },
        "grades_persistentcoursegrade": _copied(
            "course grades",
            user_id=_LEARNER,
            course_id=_COURSE,
            course_edited_timestamp=("keep", "content version"),
            course_version=("keep", "content version"),
            grading_policy_hash=("keep", "which grading policy"),
            percent_grade=("keep", "the grade"),
            letter_grade=("keep", "the letter grade"),
            passed_timestamp=("keep", "when the learner passed"),
            created=_CREATED,
            modified=_MODIFIED,
        ),
        "grades_persistentsubsectiongrade": _copied(
            "subsection grades",
            user_id=_LEARNER,
            course_id=_COURSE,
            usage_key=("keep", "the subsection"),
            subtree_edited_timestamp=("keep", "content version"),
            course_version=("keep", "content version"),
            earned_all=("keep", "points"),
            possible_all=("keep", "points possible"),
            earned_graded=("keep", "graded points"),
            possible_graded=("keep", "graded points possible"),
            first_attempted=("keep", "first attempt"),
            visible_blocks_hash=("keep", "which blocks counted"),
            created=_CREATED,
            modified=_MODIFIED,
        ),
        "credit_crediteligibility": _copied(
            "credit eligibility (the exporter selects username, not user_id)",
            username=("username", "the learner's username, as in the events"),
            course_id=("keep", "the credit course"),
            deadline=("keep", "eligibility deadline"),
            created=_CREATED,
            modified=_MODIFIED,
        ),
        "course_groups_cohortmembership": _copied(
            "cohort assignments",
            user_id=_LEARNER,
            course_user_group_id=("keep", "the cohort"),
            course_id=_COURSE,
        ),
        "verify_student_verificationstatus": _copied(
            "in-course reverification status (older packages)",
            user_id=_LEARNER,
            course_id=_COURSE,
            timestamp=("keep", "when"),
            status=("keep", "the status"),
            checkpoint_location=("keep", "the checkpoint block"),
        ),
        **{
            name: NotCopied(
                "open-response assessment: learners' submissions and peer feedback are free "
                "text, and student ids are edX's anonymous ids; edX's RDX omits all ORA tables"
            )
            for name in ORA_TABLES
        },
    }
)

_UNREVIEWED: Final = NotCopied("no reviewed rule for this table: nothing of it is copied")


def table_rule(table: str) -> TableRule:
    """The rule for a ``.sql`` table by name; a table without one is :class:`NotCopied`.

    >>> table_rule("user_id_map").__class__.__name__
    'NotCopied'
    >>> table_rule("auth_user").columns["email"]
    Traceback (most recent call last):
    KeyError: 'email'
    """
    rule = TABLE_RULES.get(table)
    if rule is not None:
        return rule
    if ORA_TABLE.fullmatch(table):
        return TABLE_RULES[ORA_TABLES[0]]
    return _UNREVIEWED


# Every table edX documents has a rule (a test checks it); these are the ones copied.
COPIED_TABLES: Final = frozenset(
    name
    for name in (*DATABASE_TABLES, *ORA_TABLES)
    if isinstance(TABLE_RULES.get(name), CopiedTable)
)


def has_deidentified_copy(category: GrantCategory, table: str = "*") -> bool:
    """Whether the de-identified tier holds a copy of a category (or of one of its tables).

    The categories identifying as a whole (:data:`~edx_vault.package.identifying_data.IDENTIFYING_CATEGORIES`:
    the email opt-in report, forums, ORA) have none; the ``database`` tables have one when
    their rule copies them (``"*"``: some do); event logs, course structure and course exports
    do (the last two are course content, not learner data).
    """
    if category in IDENTIFYING_CATEGORIES:
        return False
    if category in TABLE_CATEGORIES and table != "*":
        return isinstance(table_rule(table), CopiedTable)
    return True
