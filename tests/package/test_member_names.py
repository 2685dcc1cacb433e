"""Zip members: safe names in the zip's folder, .gpg and .failed.gpg, directory entries."""

from __future__ import annotations

import pytest

from edx_vault.package.edx_spellings import (
    UnknownNameError,
    UnsafeMemberNameError,
)
from edx_vault.package.member_names import is_directory_entry, parse_member_name
from edx_vault.package.output_keys import output_key
from edx_vault.package.source_keys import (
    SourceObject,
    parse_source_key,
)
from tests.package.conftest import EVENTS, FOLDER, member


def test_a_failed_export_is_parsed_marked_failed_and_never_published(
    weekly_zip: SourceObject,
) -> None:
    # Given a {file}.failed.gpg marker (it holds a traceback)
    name = f"{FOLDER}/MITx-6.002x-2012_Fall-courseware_studentmodule-prod-analytics.sql.failed.gpg"
    # When it is parsed
    parsed = member(weekly_zip, name)
    # Then it says what failed, is marked failed, and has no output key
    assert parsed.failed
    assert (parsed.table, parsed.entity) == ("courseware_studentmodule", "MITx-6.002x-2012_Fall")
    assert parsed.plaintext_name.endswith(".sql.failed")
    assert output_key(parsed) is None


def test_the_zip_folder_matches_the_org_without_case(weekly_zip: SourceObject) -> None:
    # The folder carries the org as edX's exporter configuration spells it.
    parsed = member(
        weekly_zip, "MITx-2024-01-07/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg"
    )
    assert parsed.org == "mitx"
    assert (output_key(parsed) or "").startswith("database/auth_user/org=mitx/")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            f"{FOLDER}/MITx-6.002x-2012_Fall-shopping_cart-prod-analytics.sql.gpg",
            "unknown table 'shopping_cart'",
        ),
        (
            f"{FOLDER}/MITx-6.002x-2012_Fall-assessment_rubric-prod-analytics.sql.gpg",
            "belongs in ora/",
        ),
        (
            f"{FOLDER}/ora/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg",
            "not an ORA table",
        ),
        (f"{FOLDER}/MITx-6.002x-2012_Fall-auth_user-staging-analytics.sql.gpg", "expected"),
        (f"{FOLDER}/auth_user-prod-analytics.sql.gpg", "expected"),
        (f"{FOLDER}/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql", "does not end in .gpg"),
        (f"{FOLDER}/MITx-6.002x-2012_Fall-auth_user-prod-analytics.parquet.gpg", "expected"),
        (f"{FOLDER}/extra/MITx-6.002x-2012_Fall-prod.mongo.gpg", "unexpected folder"),
        (f"{FOLDER}/ora/MITx-6.002x-2012_Fall-prod.mongo.gpg", "ora/ holds only"),
        (f"{FOLDER}/MITx-6.002x-2012 Fall-auth_user-prod-analytics.sql.gpg", "expected"),
    ],
)
def test_unknown_member_names_are_rejected_saying_what_was_expected(
    weekly_zip: SourceObject, name: str, message: str
) -> None:
    with pytest.raises(UnknownNameError, match=message) as raised:
        member(weekly_zip, name)
    assert not isinstance(raised.value, UnsafeMemberNameError)


def test_an_email_opt_in_zip_holds_only_the_report(opt_in_zip: SourceObject) -> None:
    with pytest.raises(UnknownNameError, match="email opt-in report"):
        member(opt_in_zip, "MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg")


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        f"{FOLDER}/../evil.sql.gpg",
        f"{FOLDER}/./MITx-6.002x-2012_Fall-prod.mongo.gpg",
        f"{FOLDER}//MITx-6.002x-2012_Fall-prod.mongo.gpg",
        "/etc/passwd",
        "/mitx-2024-01-07/MITx-6.002x-2012_Fall-prod.mongo.gpg",
        "C:/evil.gpg",
        f"{FOLDER}\\MITx-6.002x-2012_Fall-prod.mongo.gpg",
        f"{FOLDER}/MITx-6.002x-2012_Fall-prod.mongo.gpg\x00.txt",
        f"{FOLDER}/MITx-6.002x-2012_Fall\n-prod.mongo.gpg",
        "harvardx-2024-01-07/HarvardX-PH525.1x-1T2020-prod.mongo.gpg",
        "mitx-2024-01-08/MITx-6.002x-2012_Fall-prod.mongo.gpg",
        "MITx-6.002x-2012_Fall-prod.mongo.gpg",
        "",
    ],
)
def test_unsafe_member_names_are_rejected_before_anything_else(
    weekly_zip: SourceObject, name: str
) -> None:
    # Given a member name that could escape its folder or confuse a path
    # When it is parsed, then it is rejected as unsafe (which is also an unknown name)
    with pytest.raises(UnsafeMemberNameError) as raised:
        member(weekly_zip, name)
    assert isinstance(raised.value, UnknownNameError)


def test_directory_entries_are_not_members(weekly_zip: SourceObject) -> None:
    # Given the folder entries `zip -r` writes
    for name in (f"{FOLDER}/", f"{FOLDER}/ora/"):
        # Then callers can tell them apart, and parsing one says to skip it
        assert is_directory_entry(name)
        with pytest.raises(UnknownNameError, match="directory entry"):
            member(weekly_zip, name)
    assert not is_directory_entry(f"{FOLDER}/MITx-6.002x-2012_Fall-prod.mongo.gpg")


def test_only_zips_have_members() -> None:
    source = parse_source_key(EVENTS, "mitx/edx/events/2024/mitx-edx-events-2024-01-07.log.gz.gpg")
    with pytest.raises(ValueError, match="not a zip") as raised:
        parse_member_name(source, f"{FOLDER}/MITx-6.002x-2012_Fall-prod.mongo.gpg")
    assert not isinstance(raised.value, UnknownNameError)
