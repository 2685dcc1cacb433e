"""The package model: every edX key and member spelling, and where each one goes.

Cases follow ../shared/edx-data-package.md; every accepted name is checked field by field and
by its institutional key, and every rejection by the kind of error and what its message says.
"""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest

from edx_vault.package import bucket_layout
from edx_vault.package.package_model import (
    DATABASE_TABLES,
    EDX_SITE_SPELLINGS,
    ORA_TABLES,
    CourseParts,
    PackageMember,
    SourceKind,
    SourceObject,
    UnknownNameError,
    UnsafeMemberNameError,
    canonical_site,
    email_opt_in_list_prefix,
    email_opt_in_zip_key,
    event_log_folder,
    event_log_key,
    event_log_list_prefix,
    event_log_list_start_after,
    is_directory_entry,
    output_key,
    parse_member_name,
    parse_source_key,
    raw_key,
    rdx_list_prefix,
    weekly_zip_key,
    weekly_zip_list_prefix,
)
from edx_vault.settings.types import GrantCategory

DAY = dt.date(2024, 1, 7)
EVENTS = "edx-course-data"
DATABASE = "course-data"
FOLDER = "mitx-2024-01-07"


@pytest.fixture
def weekly_zip() -> SourceObject:
    return parse_source_key(DATABASE, "mitx-2024-01-07.zip")


@pytest.fixture
def opt_in_zip() -> SourceObject:
    return parse_source_key(DATABASE, "email-opt-in/mitx-2024-01-07.zip")


def member(source: SourceObject, name: str) -> PackageMember:
    return parse_member_name(source, name)


# --------------------------------------------------------------------------------------------
# Source keys
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "site", "expected_output"),
    [
        (
            "mitx/edx/events/2024/mitx-edx-events-2024-01-07.log.gz.gpg",
            "edx",
            "events/org=mitx/site=edx/date=2024-01-07/mitx-edx-events-2024-01-07.log.gz",
        ),
        (
            # The docs' spelling of edx.org: same site, same output key.
            "mitx/prod/events/2024/mitx-prod-events-2024-01-07.log.gz.gpg",
            "edx",
            "events/org=mitx/site=edx/date=2024-01-07/mitx-edx-events-2024-01-07.log.gz",
        ),
        (
            "mitx/edge/events/2024/mitx-edge-events-2024-01-07.log.gz.gpg",
            "edge",
            "events/org=mitx/site=edge/date=2024-01-07/mitx-edge-events-2024-01-07.log.gz",
        ),
    ],
)
def test_event_log_keys_parse_to_org_site_date_and_a_gzip_output(
    key: str, site: str, expected_output: str
) -> None:
    # Given a daily event log key in edX's event bucket
    # When it is parsed
    source = parse_source_key(EVENTS, key)
    # Then every field is read and the decrypted log keeps its .log.gz compression
    assert source.kind is SourceKind.EVENT_LOG
    assert (source.org, source.site, source.date, source.request_id) == ("mitx", site, DAY, None)
    assert output_key(source) == expected_output
    assert raw_key(source) == f"raw/{EVENTS}/{key}"


def test_a_mixed_case_org_is_lower_cased_for_paths_but_the_raw_mirror_keeps_the_key() -> None:
    # Given an event key whose org is not lower-case
    key = "MITx/edx/events/2024/MITx-edx-events-2024-01-07.log.gz.gpg"
    # When it is parsed
    source = parse_source_key(EVENTS, key)
    # Then paths use the lower-case org id, and the raw mirror is the key byte for byte
    assert source.org == "mitx"
    assert output_key(source) == (
        "events/org=mitx/site=edx/date=2024-01-07/mitx-edx-events-2024-01-07.log.gz"
    )
    assert raw_key(source) == f"raw/{EVENTS}/{key}"


def test_a_weekly_zip_is_a_container_with_no_output_key() -> None:
    # Given the weekly database export zip in the database bucket's root
    source = parse_source_key(DATABASE, "mitx-2024-01-07.zip")
    # Then it is read as a zip for its org and date, whose members (not itself) are published
    assert (source.kind, source.org, source.date, source.site) == (
        SourceKind.WEEKLY_ZIP,
        "mitx",
        DAY,
        None,
    )
    assert source.is_zip
    assert output_key(source) is None
    assert raw_key(source) == "raw/course-data/mitx-2024-01-07.zip"


def test_an_email_opt_in_zip_is_a_container_under_its_own_prefix() -> None:
    source = parse_source_key(DATABASE, "email-opt-in/MITx-2024-01-07.zip")
    assert (source.kind, source.org, source.date) == (SourceKind.EMAIL_OPT_IN_ZIP, "mitx", DAY)
    assert source.is_zip
    assert output_key(source) is None
    assert raw_key(source) == "raw/course-data/email-opt-in/MITx-2024-01-07.zip"


def test_an_rdx_archive_keeps_its_request_and_tar_gz_name() -> None:
    # Given a research data exchange archive
    key = "mitx/rdx/REQ-0042/mitx_6.002x_2012_Fall.tar.gz.gpg"
    # When it is parsed
    source = parse_source_key(EVENTS, key)
    # Then its request id is kept and it decrypts to rdx/ as the .tar.gz it is
    assert (source.kind, source.org, source.request_id, source.date) == (
        SourceKind.RDX_ARCHIVE,
        "mitx",
        "REQ-0042",
        None,
    )
    assert output_key(source) == "rdx/org=mitx/request=REQ-0042/mitx_6.002x_2012_Fall.tar.gz"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("mitx/edx/events/2023/mitx-edx-events-2024-01-07.log.gz.gpg", "year folder 2023"),
        ("mitx/edx/events/2024/harvardx-edx-events-2024-01-07.log.gz.gpg", "org 'harvardx'"),
        ("mitx/edx/events/2024/mitx-edge-events-2024-01-07.log.gz.gpg", "site 'edge'"),
        ("mitx/edx/events/2024/mitx-edx-events-2024-02-30.log.gz.gpg", "not a real date"),
        ("mitx/staging/events/2024/mitx-staging-events-2024-01-07.log.gz.gpg", "not an edX site"),
        ("mitx/edx/events/2024/mitx-edx-events-2024-01-07.log.gz", "expected"),
        ("mitx/edx/events/2024/mitx-edx-events-20240107.log.gz.gpg", "expected"),
        ("mitx-2024-13-01.zip", "not a real date"),
        ("mitx-latest.zip", "{org}-{YYYY-MM-DD}.zip"),
        ("email-opt-in/mitx.zip", "email-opt-in/{org}-{YYYY-MM-DD}.zip"),
        ("mitx/rdx/REQ-1/harvardx_PH525_1T2020.tar.gz.gpg", "does not start with"),
        ("mitx/rdx/REQ-1/mitx_6.002x.zip", "not an RDX key"),
        ("mitx/notes/readme.txt", "not an edX package key"),
        ("", "not an edX package key"),
    ],
)
def test_unknown_or_inconsistent_keys_are_rejected_saying_what_was_expected(
    key: str, message: str
) -> None:
    # Given a key that is not one of edX's spellings, or whose parts disagree
    # When it is parsed, then it is rejected, never guessed, and the message says why
    with pytest.raises(UnknownNameError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_source_key(EVENTS, key)


@pytest.mark.parametrize("spelling", ["edx", "prod", "edge"])
def test_planner_keys_round_trip_through_the_parser(spelling: str) -> None:
    # Given the key and list prefix the planner spells for one org, site spelling and day
    key = event_log_key("MITx", spelling, DAY)
    prefix = event_log_list_prefix("MITx", spelling, DAY.year)
    # When the key is parsed back
    source = parse_source_key(EVENTS, key)
    # Then it is the same day, the prefix lists it, and the site is the canonical one
    assert key.startswith(prefix)
    assert prefix == f"mitx/{spelling}/events/2024/"
    assert (source.org, source.date, source.site) == ("mitx", DAY, canonical_site(spelling))


@pytest.mark.parametrize("spelling", ["edx", "prod", "edge"])
def test_listing_from_the_first_year_sees_every_later_year_and_no_earlier_one(
    spelling: str,
) -> None:
    # Given event logs from the year before the first date, from its first day, a new year's
    # first day and a date edX put years ahead
    before, first, new_year, ahead = (
        event_log_key("MITx", spelling, day)
        for day in (
            dt.date(2023, 12, 31),
            dt.date(2024, 1, 1),
            dt.date(2025, 1, 1),
            dt.date(2031, 5, 1),
        )
    )
    # When the planner lists the events folder from the first year on
    folder = event_log_folder("MITx", spelling)
    start_after = event_log_list_start_after("MITx", spelling, 2024)
    # Then S3's key order (listing returns keys after StartAfter) keeps exactly the later ones
    assert all(key.startswith(folder) for key in (before, first, new_year, ahead))
    assert before < start_after < first < new_year < ahead
    assert event_log_list_prefix("MITx", spelling, 2024).startswith(folder)


def test_zip_and_rdx_keys_and_prefixes_are_the_documented_spellings() -> None:
    assert weekly_zip_key("MITx", DAY) == "mitx-2024-01-07.zip"
    assert weekly_zip_list_prefix("MITx") == "mitx-"
    assert email_opt_in_zip_key("MITx", DAY) == "email-opt-in/mitx-2024-01-07.zip"
    assert email_opt_in_list_prefix("MITx") == "email-opt-in/mitx-"
    assert rdx_list_prefix("MITx") == "mitx/rdx/"
    assert parse_source_key(DATABASE, weekly_zip_key("mitx", DAY)).kind is SourceKind.WEEKLY_ZIP
    assert (
        parse_source_key(DATABASE, email_opt_in_zip_key("mitx", DAY)).kind
        is SourceKind.EMAIL_OPT_IN_ZIP
    )


def test_site_spellings_cover_the_docs_and_the_code() -> None:
    # edX's code and data say "edx", its docs say "prod": the planner lists both.
    assert dict(EDX_SITE_SPELLINGS) == {"edx": ("edx", "prod"), "edge": ("edge",)}
    assert canonical_site("prod") == "edx"
    with pytest.raises(UnknownNameError, match="expected one of"):
        canonical_site("PROD")
    with pytest.raises(UnknownNameError):
        event_log_key("mitx", "staging", DAY)


# --------------------------------------------------------------------------------------------
# Zip members
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(DATABASE_TABLES))
@pytest.mark.parametrize(
    ("analytics", "site"), [("prod-analytics", "edx"), ("prod-edge-analytics", "edge")]
)
def test_every_known_table_parses_on_both_sites(
    weekly_zip: SourceObject, table: str, analytics: str, site: str
) -> None:
    # Given a table member of the weekly zip
    name = f"{FOLDER}/MITx-6.002x-2012_Fall-{table}-{analytics}.sql.gpg"
    # When it is parsed
    parsed = member(weekly_zip, name)
    # Then table, site and entity are read, and it goes under database/{table}/
    assert (parsed.table, parsed.site, parsed.category) == (table, site, "database")
    assert parsed.entity == "MITx-6.002x-2012_Fall"
    assert parsed.course == CourseParts(org="MITx", course="6.002x", run="2012_Fall")
    assert parsed.plaintext_name == f"MITx-6.002x-2012_Fall-{table}-{analytics}.sql"
    assert not parsed.failed
    assert output_key(parsed) == (
        f"database/{table}/org=mitx/site={site}/course=MITx-6.002x-2012_Fall/"
        f"export_date=2024-01-07/MITx-6.002x-2012_Fall-{table}-{analytics}.sql"
    )


@pytest.mark.parametrize("table", ORA_TABLES)
def test_every_documented_ora_table_parses_under_ora(weekly_zip: SourceObject, table: str) -> None:
    name = f"{FOLDER}/ora/MITx-6.002x-2012_Fall-{table}-prod-analytics.sql.gpg"
    parsed = member(weekly_zip, name)
    assert (parsed.table, parsed.category, parsed.site) == (table, "ora", "edx")
    assert output_key(parsed) == (
        f"ora/{table}/org=mitx/site=edx/course=MITx-6.002x-2012_Fall/export_date=2024-01-07/"
        f"MITx-6.002x-2012_Fall-{table}-prod-analytics.sql"
    )


def test_there_are_the_21_documented_ora_tables() -> None:
    assert len(ORA_TABLES) == len(set(ORA_TABLES)) == 21


def test_a_new_ora_prefixed_table_is_accepted_in_the_ora_folder(weekly_zip: SourceObject) -> None:
    # Given an ORA table edX added after the docs were written (the AI tables exist in the code)
    name = f"{FOLDER}/ora/MITx-6.002x-2012_Fall-assessment_aiclassifierset-prod-analytics.sql.gpg"
    # When it is parsed, then the folder and the prefix together place it
    parsed = member(weekly_zip, name)
    assert (parsed.table, parsed.category) == ("assessment_aiclassifierset", "ora")


@pytest.mark.parametrize(
    ("name", "table", "category", "site", "output"),
    [
        (
            "MITx-6.002x-2012_Fall-course_structure-prod-analytics.json.gpg",
            "course_structure",
            "course-structure",
            "edx",
            "course-structure/org=mitx/site=edx/course=MITx-6.002x-2012_Fall/"
            "export_date=2024-01-07/MITx-6.002x-2012_Fall-course_structure-prod-analytics.json",
        ),
        (
            "MITx-6.002x-2012_Fall-course-prod-edge-analytics.xml.tar.gz.gpg",
            "course_export",
            "course-export",
            "edge",
            "course-export/org=mitx/site=edge/course=MITx-6.002x-2012_Fall/"
            "export_date=2024-01-07/MITx-6.002x-2012_Fall-course-prod-edge-analytics.xml.tar.gz",
        ),
        (
            "MITx-6.002x-2012_Fall-prod.mongo.gpg",
            "forums",
            "forums",
            "edx",
            "forums/org=mitx/site=edx/course=MITx-6.002x-2012_Fall/export_date=2024-01-07/"
            "MITx-6.002x-2012_Fall-prod.mongo",
        ),
        (
            "MITx-6.002x-2012_Fall-edge.mongo.gpg",
            "forums",
            "forums",
            "edge",
            "forums/org=mitx/site=edge/course=MITx-6.002x-2012_Fall/export_date=2024-01-07/"
            "MITx-6.002x-2012_Fall-edge.mongo",
        ),
        (
            # The older forums spelling does not say its site.
            "MITx-6.002x-2012_Fall.mongo.gpg",
            "forums",
            "forums",
            None,
            "forums/org=mitx/site=unspecified/course=MITx-6.002x-2012_Fall/"
            "export_date=2024-01-07/MITx-6.002x-2012_Fall.mongo",
        ),
    ],
)
def test_course_files_that_are_not_tables_go_to_their_own_categories(
    weekly_zip: SourceObject,
    name: str,
    table: str,
    category: str,
    site: str | None,
    output: str,
) -> None:
    parsed = member(weekly_zip, f"{FOLDER}/{name}")
    assert (parsed.table, parsed.category, parsed.site) == (table, category, site)
    assert parsed.entity == "MITx-6.002x-2012_Fall"
    assert output_key(parsed) == output


@pytest.mark.parametrize(
    "name",
    [
        "mitx-2024-01-07/MITx-email_opt_in-prod-analytics.csv.gpg",
        "MITx-email_opt_in-prod-analytics.csv.gpg",
    ],
)
def test_the_email_opt_in_report_goes_to_email_opt_in_by_org_and_date(
    opt_in_zip: SourceObject, name: str
) -> None:
    # Given the one member of an email opt-in zip, in its folder or at the root
    parsed = member(opt_in_zip, name)
    # Then it is the org-level report, without course partitions
    assert (parsed.table, parsed.category, parsed.site, parsed.course) == (
        "email_opt_in",
        "email-opt-in",
        "edx",
        None,
    )
    assert output_key(parsed) == (
        "email-opt-in/org=mitx/export_date=2024-01-07/MITx-email_opt_in-prod-analytics.csv"
    )


def test_the_docs_site_spelling_of_the_email_opt_in_report_is_accepted(
    opt_in_zip: SourceObject,
) -> None:
    parsed = member(opt_in_zip, "mitx-email_opt_in-edx-analytics.csv.gpg")
    assert (parsed.category, parsed.site) == ("email-opt-in", "edx")


def test_an_email_opt_in_report_inside_an_old_weekly_zip_is_recognised(
    weekly_zip: SourceObject,
) -> None:
    # Before 2017-11 the report shipped inside the weekly zip.
    parsed = member(weekly_zip, f"{FOLDER}/mitx-email_opt_in-prod-analytics.csv.gpg")
    assert parsed.category == "email-opt-in"
    assert output_key(parsed) == (
        "email-opt-in/org=mitx/export_date=2024-01-07/mitx-email_opt_in-prod-analytics.csv"
    )


def test_an_email_opt_in_report_of_another_org_is_rejected(opt_in_zip: SourceObject) -> None:
    with pytest.raises(UnknownNameError, match="the zip's own org"):
        member(opt_in_zip, "harvardx-email_opt_in-prod-analytics.csv.gpg")


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


# Ambiguity: course numbers and runs contain "-", so names are read from the right.


@pytest.mark.parametrize(
    ("entity", "course"),
    [
        ("MITx-6.002x-2012_Fall", CourseParts("MITx", "6.002x", "2012_Fall")),
        ("MITx-6.00.1x-2-3T2024-A", None),
        ("DelftX-TPM-1x-1T-2022", None),
        ("MITx-6.002x-2012_Fall-ccx-7", CourseParts("MITx", "6.002x", "2012_Fall", ccx_id="7")),
        ("MITx-6-002x-3T-2024-ccx-12", None),
        ("HarvardX-F_sica101-2T2023", CourseParts("HarvardX", "F_sica101", "2T2023")),
        # Table and site names inside the entity do not fool the right-anchored reading.
        ("MITx-auth_user-prod-analytics", None),
    ],
)
def test_entities_with_dashes_are_kept_whole_and_split_only_when_unambiguous(
    weekly_zip: SourceObject, entity: str, course: CourseParts | None
) -> None:
    # Given members of one course whose entity may hold extra dashes
    names = [
        f"{FOLDER}/{entity}-student_courseenrollment-prod-analytics.sql.gpg",
        f"{FOLDER}/ora/{entity}-submissions_submission-prod-edge-analytics.sql.gpg",
        f"{FOLDER}/{entity}-course_structure-prod-analytics.json.gpg",
        f"{FOLDER}/{entity}-course-prod-analytics.xml.tar.gz.gpg",
        f"{FOLDER}/{entity}-edge.mongo.gpg",
    ]
    for name in names:
        # When each is parsed
        parsed = member(weekly_zip, name)
        # Then the entity is exactly the course's, whatever its dashes, and split only if safe
        assert parsed.entity == entity, name
        assert parsed.course == course, name
        assert f"/course={entity}/" in (output_key(parsed) or ""), name


def test_an_md5_shortened_entity_is_kept_with_its_digest(weekly_zip: SourceObject) -> None:
    # Given an over-long entity, cut and ending in -{md5}
    digest = "0123456789abcdef0123456789abcdef"
    entity = f"MITx-21G.1x-2024_Spring_Extended-Learners-Cohort-{digest}"
    # When a member of it is parsed
    parsed = member(weekly_zip, f"{FOLDER}/{entity}-auth_user-prod-analytics.sql.gpg")
    # Then the entity is the course partition verbatim, the digest is noted, no split is guessed
    assert parsed.entity == entity
    assert parsed.entity_digest == digest
    assert parsed.course is None
    assert f"/course={entity}/" in (output_key(parsed) or "")


def test_a_name_shortened_past_its_table_cannot_be_placed(weekly_zip: SourceObject) -> None:
    name = f"{FOLDER}/MITx-21G.1x-2024_Spring_Ext-0123456789abcdef0123456789abcdef.sql.gpg"
    with pytest.raises(UnknownNameError, match="md5-shortened past its table"):
        member(weekly_zip, name)


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


# --------------------------------------------------------------------------------------------
# The bucket layout
# --------------------------------------------------------------------------------------------


def test_every_grant_category_has_exactly_one_published_prefix() -> None:
    assert set(bucket_layout.GRANT_CATEGORY_PREFIXES) == set(get_args(GrantCategory))
    prefixes = list(bucket_layout.GRANT_CATEGORY_PREFIXES.values())
    assert len(set(prefixes)) == len(prefixes)
    assert set(prefixes) | {bucket_layout.RDX_PREFIX} == set(bucket_layout.PUBLISHED_PREFIXES)
    assert not set(bucket_layout.PUBLISHED_PREFIXES) & set(bucket_layout.PIPELINE_ONLY_PREFIXES)


def test_published_prefixes_do_not_nest() -> None:
    # A grant on one prefix must never reach into another.
    everything = bucket_layout.PUBLISHED_PREFIXES + bucket_layout.PIPELINE_ONLY_PREFIXES
    for prefix in everything:
        assert prefix.endswith("/")
        assert [other for other in everything if other.startswith(prefix)] == [prefix]


def test_output_keys_start_with_their_category_prefix(weekly_zip: SourceObject) -> None:
    names = {
        "database": f"{FOLDER}/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg",
        "ora": f"{FOLDER}/ora/MITx-6.002x-2012_Fall-submissions_score-prod-analytics.sql.gpg",
        "forums": f"{FOLDER}/MITx-6.002x-2012_Fall.mongo.gpg",
        "course-structure": f"{FOLDER}/MITx-6.002x-2012_Fall-course_structure-prod-analytics.json.gpg",
        "course-export": f"{FOLDER}/MITx-6.002x-2012_Fall-course-prod-analytics.xml.tar.gz.gpg",
        "email-opt-in": f"{FOLDER}/mitx-email_opt_in-prod-analytics.csv.gpg",
    }
    for category, name in names.items():
        parsed = member(weekly_zip, name)
        assert parsed.category == category
        key = output_key(parsed) or ""
        assert key.startswith(bucket_layout.GRANT_CATEGORY_PREFIXES[parsed.category])


@pytest.mark.parametrize(
    ("category", "scope", "pattern"),
    [
        (
            "database",
            {"org": "MITx", "course": "MITx-6.*"},
            "database/*/org=mitx/site=*/course=MITx-6.*/*",
        ),
        (
            "forums",
            {"org": "mitx", "site": "unspecified"},
            "forums/org=mitx/site=unspecified/course=*/*",
        ),
        ("events", {"org": "mitx", "site": "edge"}, "events/org=mitx/site=edge/*"),
        ("email-opt-in", {"org": "mitx"}, "email-opt-in/org=mitx/*"),
    ],
)
def test_grant_patterns_follow_the_layout(
    category: GrantCategory, scope: dict[str, str], pattern: str
) -> None:
    assert bucket_layout.published_key_pattern(category, **scope) == pattern


def test_grant_patterns_refuse_partitions_a_category_does_not_have() -> None:
    with pytest.raises(ValueError, match="no site or course"):
        bucket_layout.published_key_pattern("email-opt-in", org="mitx", course="MITx-6.*")
    with pytest.raises(ValueError, match="no course part"):
        bucket_layout.published_key_pattern("events", org="mitx", course="MITx-6.*")


@pytest.mark.parametrize("bad", ["a/b", "org=x", "", "a b", "a+b"])
def test_spelling_functions_refuse_values_that_would_add_a_level_or_a_partition(bad: str) -> None:
    # Given a partition value or file name holding "/", "=", a space or "+" (S3 events spell a
    # space "+"), or nothing at all
    # When a key is spelled with it, then it is refused
    with pytest.raises(ValueError, match="partition value"):
        bucket_layout.table_output_key(
            "database",
            table="auth_user",
            org="mitx",
            site="edx",
            course=bad,
            export_date=DAY,
            file_name="x.sql",
        )
    with pytest.raises(ValueError, match="file name"):
        bucket_layout.email_opt_in_output_key("mitx", DAY, bad)
    with pytest.raises(ValueError, match="file name"):
        bucket_layout.rdx_output_key("mitx", "REQ-1", "..")
