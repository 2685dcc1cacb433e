"""Database and ORA tables: the ``.sql`` members of a weekly zip, in edX's TSV conventions.

A header row, then one line per row: tab-separated, ``\\n`` line ends, no quoting, ``NULL``
for a missing value, and backslash, tab, newline and carriage return as two-character escapes.
Columns are the source tables' (a table not listed here gets a generic set); each value is
chosen by its column's name: realistic enough for parsers, never real.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator
from typing import Final

from edx_vault.devtools.synthetic.people import AWKWARD_TEXTS, Learner, learners, rng, timestamp
from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticCourse, SyntheticOrg


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


# Column names per table (edX's exports keep the source tables' columns).
_TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    # The columns edX's exporter selects (edx-analytics-exporter, AuthUserTask), in its order.
    "auth_user": _columns(
        "id username first_name last_name email password is_staff is_active is_superuser "
        "last_login date_joined status email_key avatar_type country show_country "
        "date_of_birth interesting_tags ignored_tags email_tag_filter_strategy "
        "display_tag_filter_strategy consecutive_days_visit_count"
    ),
    "auth_userprofile": _columns(
        "id user_id name language location meta courseware gender mailing_address "
        "year_of_birth level_of_education goals country bio"
    ),
    "certificates_generatedcertificate": _columns(
        "id user_id download_url grade course_id key distinction status name created_date "
        "modified_date error_reason mode"
    ),
    "courseware_studentmodule": _columns(
        "id module_type module_id student_id state grade created modified max_grade done course_id"
    ),
    "django_comment_client_role_users": _columns("course_id user_id name"),
    "student_anonymoususerid": _columns("id user_id anonymous_user_id course_id"),
    "student_courseaccessrole": _columns("org course_id user_id role"),
    "student_courseenrollment": _columns("id user_id course_id created is_active mode"),
    "user_id_map": _columns("hash_id id username"),
    "grades_persistentcoursegrade": _columns(
        "course_id user_id grading_policy_hash percent_grade letter_grade "
        "passed_timestamp created modified"
    ),
    "wiki_articlerevision": _columns(
        "id revision_number user_message automatic_log ip_address modified created "
        "deleted locked article_id content title user_id"
    ),
}
_GENERIC_COLUMNS: Final = ("id", "uuid", "course_id", "user_id", "created_at", "raw_answer")


def table_lines(
    spec: PackageSpec, org: SyntheticOrg, course: SyntheticCourse, table: str, day: dt.date
) -> Iterator[bytes]:
    """One course's export of one table: a header row, then ``rows_per_table`` rows."""
    columns = _TABLE_COLUMNS.get(table, _GENERIC_COLUMNS)
    draw = rng(spec, "table", org.org_id, course.entity, table, day)
    people = learners(spec, org)
    yield ("\t".join(columns) + "\n").encode()
    for row in range(spec.rows_per_table):
        learner = people[row % len(people)]
        cells = (_cell(column, row, draw, learner, course, day) for column in columns)
        line = "\t".join("NULL" if value is None else _tsv_escape(value) for value in cells)
        yield (line + "\n").encode()


def _tsv_escape(value: str) -> str:
    """edX's .sql convention: backslash, tab, newline and CR as two-character escapes."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _cell(
    column: str,
    row: int,
    draw: random.Random,
    learner: Learner,
    course: SyntheticCourse,
    day: dt.date,
) -> str | None:
    """One value, by column name: realistic enough for parsers, never real."""
    # Offset by column so that a table with a few text columns shows every awkward text in
    # its first rows, whatever rows_per_table is.
    awkward = AWKWARD_TEXTS[(row + len(column)) % len(AWKWARD_TEXTS)]
    if column in ("id", "revision_number"):
        return str(row + 1)
    if column in ("user_id", "student_id"):
        return str(learner.user_id)
    if column == "username":
        return learner.username
    if column == "email":
        return learner.email
    if column in ("name", "first_name"):
        return learner.full_name if column == "name" else learner.full_name.split()[0]
    if column == "last_name":
        return learner.full_name.split()[-1]
    if column == "course_id":
        return course.course_id
    if column == "org":
        return course.org
    if column in ("state", "goals", "bio", "mailing_address", "content", "raw_answer", "meta"):
        return awkward
    if column in ("year_of_birth", "level_of_education") and row % 2:
        return None  # often left blank by learners: NULL in the export
    if column.startswith(("is_", "done", "distinction", "deleted", "locked")):
        return str(draw.randrange(2))
    if column in ("email_key", "error_reason", "download_url") or (
        column in ("last_login", "passed_timestamp") and row % 3 == 0
    ):
        return None
    if column in ("created", "modified", "created_at", "created_date", "modified_date") or (
        column in ("last_login", "date_joined", "passed_timestamp")
    ):
        return timestamp(draw, day)
    if column in ("uuid", "anonymous_user_id", "hash_id", "key", "grading_policy_hash"):
        return hashlib.md5(
            f"{column}{row}{learner.user_id}".encode(), usedforsecurity=False
        ).hexdigest()
    if column in ("grade", "percent_grade", "max_grade"):
        return f"{draw.random():.2f}"
    if column == "ip_address":
        return f"198.51.100.{draw.randrange(1, 255)}"
    return draw.choice(("audit", "verified", "honor", "m", "f", "o", "", "staff", "Student"))
