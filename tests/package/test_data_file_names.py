"""What a decrypted file's name says: entity, table, category and site, read from the right."""

from __future__ import annotations

import pytest

from edx_vault.package.data_file_names import CourseParts
from edx_vault.package.edx_spellings import (
    DATABASE_TABLES,
    ORA_TABLES,
    UnknownNameError,
)
from edx_vault.package.output_keys import output_key
from edx_vault.package.source_keys import (
    SourceObject,
)
from tests.package.conftest import FOLDER, member


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
