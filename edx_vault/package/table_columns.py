"""The columns of the published datasets, declared, each table with where its columns come from.

The research catalog (:mod:`edx_vault.package.table_catalog`) needs every table's columns when
it is deployed, before any file exists; reading a header line at query time is not something
Athena does (a TSV table's columns are positional). So the columns are declared here, from
edX's own sources, and a test checks them against the synthetic package's files, which were
written independently (``tests/package/test_table_catalog.py``).

Which ``.sql`` tables are declared, and why only those:

- edX's exporter (``openedx-unsupported/edx-analytics-exporter``, ``exporter/tasks.py``) writes
  a few tables with an explicit ``SELECT`` list: their header is fixed by that list, so it is
  declared here column for column (:data:`EXPORTER_SELECT_COLUMNS`).
- Every other table is ``SELECT *`` (or ``a.*``) of a live edx-platform or ORA table: its
  columns are whatever that table had on the export date, and Django migrations add columns
  over the years. A fixed list would drift, and a TSV table maps columns by *position*, so a
  drift would silently shift values into the wrong columns. edX documents the ORA tables'
  columns only as an ERD image (``en_us/data/source/internal_data_formats/ora2_data.rst``), so
  there is no text to take either. These tables (:data:`UNDECLARED_SQL_TABLES`) are not
  declared here: the pipeline's UpdateCatalog step makes their catalog tables from the header
  line of each table's newest published export, and extends them only when a newer header
  appends columns (:mod:`edx_vault.pipeline.steps.catalog`,
  :mod:`edx_vault.package.catalog_headers`).

This module is imported by the CDK stacks: no AWS or pydantic imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from edx_vault.package.deidentified_fields import all_field_rules
from edx_vault.package.edx_spellings import DATABASE_TABLES, ORA_TABLES

_EXPORTER: Final = "edx-analytics-exporter exporter/tasks.py"


@dataclass(frozen=True)
class Column:
    """One column: its name as the file spells it, its Glue/Hive type, and what it holds."""

    name: str
    type: str = "string"
    comment: str = ""


@dataclass(frozen=True)
class DeclaredColumns:
    """A table's columns, in file order, and the source they were taken from."""

    columns: tuple[Column, ...]
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in file order (a TSV header line, split on tabs)."""
        return tuple(column.name for column in self.columns)


def _strings(names: str, source: str) -> DeclaredColumns:
    # Every .sql column is read as a string: edX writes NULL, empty strings and MySQL datetimes
    # in the same columns, and a string column never fails a query on a value it cannot parse.
    return DeclaredColumns(tuple(Column(name) for name in names.split()), source)


# The tables whose exporter task names every column (class name in exporter/tasks.py).
EXPORTER_SELECT_COLUMNS: Final[Mapping[str, DeclaredColumns]] = MappingProxyType(
    {
        "auth_user": _strings(
            "id username first_name last_name email password is_staff is_active is_superuser "
            "last_login date_joined status email_key avatar_type country show_country "
            "date_of_birth interesting_tags ignored_tags email_tag_filter_strategy "
            "display_tag_filter_strategy consecutive_days_visit_count",
            f"{_EXPORTER} AuthUserTask (password and the forum-era columns are constants)",
        ),
        "user_id_map": _strings("hash_id id username", f"{_EXPORTER} UserIDMapTask"),
        "student_courseaccessrole": _strings(
            "org course_id user_id role", f"{_EXPORTER} CourseRoleTask"
        ),
        "django_comment_client_role_users": _strings(
            "course_id user_id name", f"{_EXPORTER} ForumRoleTask"
        ),
        "credit_crediteligibility": _strings(
            "id created modified username deadline course_id",
            f"{_EXPORTER} CourseCreditEligibilityTask",
        ),
        "verify_student_verificationstatus": _strings(
            "timestamp status course_id checkpoint_location user_id",
            f"{_EXPORTER} InCourseReverificationTask",
        ),
    }
)
# Tables of database/ and ora/ with no declared columns (SELECT *): their catalog tables come
# from the newest export's header line (the UpdateCatalog step), not from the storage stack.
UNDECLARED_SQL_TABLES: Final = frozenset(
    {*DATABASE_TABLES, *ORA_TABLES} - set(EXPORTER_SELECT_COLUMNS)
)

# The top-level fields of a tracking-log event, as edX documents them
# (en_us/data/source/internal_data_formats/tracking_logs/common_fields.rst). ``event`` is a JSON
# object in server events and a JSON *string* in browser events: declared a string, the OpenX
# SerDe gives the object's JSON text, so json_extract works on both.
EVENT_COLUMNS: Final = DeclaredColumns(
    (
        Column("username"),
        Column("session"),
        Column("event_type"),
        Column("name", comment="the event's name in newer events, when event_type is a URL"),
        Column("time", comment="UTC, ISO 8601"),
        Column("ip"),
        Column("agent"),
        Column("host"),
        Column("referer"),
        Column("accept_language"),
        Column("event_source", comment="browser, server or mobile"),
        Column("page"),
        Column("event", comment="JSON text: parse with json_extract"),
        Column(
            "context",
            "struct<course_id:string,org_id:string,user_id:string,path:string>",
            "course_id is empty for events outside a course",
        ),
    ),
    "edx-documentation tracking_logs/common_fields.rst",
)

# The top-level fields the de-identified tier keeps of an event (any rule's path's first part:
# the envelope's, and "event" for the payload rules), from the one reviewed allowlist.
DEIDENTIFIED_EVENT_FIELDS: Final = frozenset(
    rule.path.split(".", 1)[0] for _, rule in all_field_rules()
)
_PSEUDONYM_COMMENTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "username": "a pseudonym (u_...): joins the tier's tables' username columns",
        "session": "a pseudonym (s_...)",
        "context": "user_id is a pseudonym (i_...); course_id is empty outside a course",
    }
)


def _struct_type(paths: list[str]) -> str:
    """A Hive ``struct<...>`` of string leaves for dotted paths, in first-seen order."""
    children: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        children.setdefault(head, [])
        if rest:
            children[head].append(rest)
    fields = (
        f"{name}:{_struct_type(rest) if rest else 'string'}" for name, rest in children.items()
    )
    return f"struct<{','.join(fields)}>"


# The context fields the tier keeps, as a struct from the allowlist's context.* paths (module
# and component too, which the original table leaves out of its context struct).
DEIDENTIFIED_CONTEXT_TYPE: Final = _struct_type(
    [
        rule.path.removeprefix("context.")
        for _, rule in all_field_rules()
        if rule.path.startswith("context.")
    ]
)
# The de-identified tier's event lines (deidentified/events-by-course/): the columns of
# EVENT_COLUMNS the allowlist keeps (no ip, agent, host, referer, accept_language), so the two
# tables read the same JSON keys the same way; context.user_id is a pseudonym string there.
DEIDENTIFIED_EVENT_COLUMNS: Final = DeclaredColumns(
    tuple(
        Column(
            column.name,
            DEIDENTIFIED_CONTEXT_TYPE if column.name == "context" else column.type,
            _PSEUDONYM_COMMENTS.get(column.name, column.comment),
        )
        for column in EVENT_COLUMNS.columns
        if column.name in DEIDENTIFIED_EVENT_FIELDS
    ),
    "edx_vault/package/deidentified_fields.py, the fields the tier keeps",
)

# mongoexport lines of the forums (en_us/data/source/internal_data_formats/discussion_data.rst).
# Hive column names cannot start with "_": the OpenX SerDe maps them (FORUMS_JSON_MAPPING).
# Extended-JSON values ({"$oid": ...}, {"$date": ...}) are read as their JSON text.
FORUMS_COLUMNS: Final = DeclaredColumns(
    (
        Column("id", comment='the document id: {"$oid": ...}'),
        Column("type", comment="CommentThread or Comment"),
        Column("author_id"),
        Column("author_username"),
        Column("body"),
        Column("course_id"),
        Column("anonymous", "boolean"),
        Column("votes"),
        Column("created_at", comment='{"$date": ...}'),
        Column("updated_at", comment='{"$date": ...}'),
        Column("title", comment="threads only"),
        Column("thread_type", comment="threads only: discussion or question"),
        Column("commentable_id", comment="threads only"),
        Column("comment_thread_id", comment="comments only"),
        Column("parent_id", comment="comments only: the comment replied to"),
        Column("endorsed", "boolean"),
        Column("closed", "boolean"),
        Column("comment_count", "int"),
        Column("last_activity_at"),
    ),
    "edx-documentation discussion_data.rst",
)
FORUMS_JSON_MAPPING: Final[Mapping[str, str]] = MappingProxyType({"id": "_id", "type": "_type"})

# The email opt-in report's header since 2017 (../shared/edx-data-package.md; older reports lack
# user_id and username, and would read shifted: they predate every deployment of this vault).
EMAIL_OPT_IN_COLUMNS: Final = _strings(
    "user_id username email full_name course_id is_opted_in_for_email preference_set_datetime",
    "edx-platform email_opt_in_list command (edx-documentation institution_data.rst)",
)
