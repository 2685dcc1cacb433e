"""edX's bucket keys: what each object is, read from its key, and the keys the planner lists."""

from __future__ import annotations

import datetime as dt

import pytest

from edx_vault.package.edx_spellings import (
    EDX_SITE_SPELLINGS,
    UnknownNameError,
    canonical_site,
)
from edx_vault.package.output_keys import output_key, raw_key
from edx_vault.package.source_keys import (
    SourceKind,
    email_opt_in_list_prefix,
    email_opt_in_zip_key,
    event_log_folder,
    event_log_key,
    event_log_list_prefix,
    event_log_list_start_after,
    parse_source_key,
    rdx_list_prefix,
    weekly_zip_key,
    weekly_zip_list_prefix,
)
from tests.package.conftest import DATABASE, DAY, EVENTS


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
