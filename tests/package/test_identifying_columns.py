"""The tables' column allowlists, reviewed as data, and their agreement with identifying_data."""

from __future__ import annotations

import pytest

from edx_vault.package.edx_spellings import DATABASE_TABLES, ORA_TABLES
from edx_vault.package.identifying_columns import (
    COPIED_TABLES,
    TABLE_RULES,
    CopiedTable,
    NotCopied,
    has_deidentified_copy,
    table_rule,
)
from edx_vault.package.identifying_data import IDENTIFYING_CATEGORIES, IDENTIFYING_TABLES
from edx_vault.package.table_columns import EXPORTER_SELECT_COLUMNS

# Columns that hold names, contact details, free text or network addresses in edX's tables.
_IDENTIFYING_COLUMNS = {
    "username",
    "email",
    "name",
    "first_name",
    "last_name",
    "password",
    "mailing_address",
    "location",
    "city",
    "bio",
    "goals",
    "meta",
    "state",
    "content",
    "title",
    "user_message",
    "automatic_log",
    "ip_address",
    "raw_answer",
    "download_url",
    "verify_uuid",
    "download_uuid",
    "key",
    "description",
    "hash_id",
}
# (table, column) kept on purpose although its name says otherwise, with why.
_REVIEWED_EXCEPTIONS = {
    ("django_comment_client_role_users", "name"): "the role's name, not a person's",
    ("user_api_usercoursetag", "key"): "an A/B partition's name, not a certificate key",
}


def test_every_documented_table_has_an_explicit_rule_with_reasons() -> None:
    assert {*DATABASE_TABLES, *ORA_TABLES} <= set(TABLE_RULES)
    for table, rule in TABLE_RULES.items():
        assert rule.reason.strip(), table
        if isinstance(rule, CopiedTable):
            assert rule.columns, table
            assert all(column.reason.strip() for column in rule.columns.values()), table


def test_identifying_columns_are_never_kept_and_user_ids_are_pseudonymized() -> None:
    for table, rule in TABLE_RULES.items():
        if not isinstance(rule, CopiedTable):
            continue
        for name, column in rule.columns.items():
            if column.treatment == "keep" and name in _IDENTIFYING_COLUMNS:
                assert (table, name) in _REVIEWED_EXCEPTIONS, (table, name)
            if name in ("user_id", "student_id", "owner_id", "anonymous_user_id"):
                assert column.treatment != "keep", (table, name)


def test_identifying_data_and_the_column_rules_agree() -> None:
    # Every table identifying_data calls identifying keeps none of its identifying columns
    for table in IDENTIFYING_TABLES:
        rule = table_rule(table)
        if isinstance(rule, CopiedTable):
            kept = {name for name, column in rule.columns.items() if column.treatment == "keep"}
            assert not kept & _IDENTIFYING_COLUMNS, table
    # auth_user, whose columns edX's exporter fixes: names, email and password are dropped
    auth_user = table_rule("auth_user")
    assert isinstance(auth_user, CopiedTable)
    declared = set(EXPORTER_SELECT_COLUMNS["auth_user"].names)
    assert {"first_name", "last_name", "email", "password"} <= declared - set(auth_user.columns)
    # The categories identifying as a whole have no de-identified copy; ORA tables neither
    for category in IDENTIFYING_CATEGORIES:
        assert not has_deidentified_copy(category)
    assert all(isinstance(table_rule(table), NotCopied) for table in ORA_TABLES)
    assert not has_deidentified_copy("ora", "submissions_submission")


@pytest.mark.parametrize(
    ("category", "table", "copied"),
    [
        ("events", "*", True),
        ("database", "*", True),
        ("database", "auth_user", True),
        ("database", "user_id_map", False),
        ("database", "a_table_added_next_year", False),
        ("forums", "*", False),
        ("email-opt-in", "*", False),
        ("course-structure", "*", True),
    ],
)
def test_has_deidentified_copy(category: str, table: str, copied: bool) -> None:
    assert has_deidentified_copy(category, table) is copied  # type: ignore[arg-type]


def test_unreviewed_tables_are_not_copied() -> None:
    assert isinstance(table_rule("a_table_added_next_year"), NotCopied)
    assert isinstance(table_rule("assessment_brand_new"), NotCopied)
    assert "auth_user" in COPIED_TABLES and "user_id_map" not in COPIED_TABLES
