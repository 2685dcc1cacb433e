"""A researcher reads what their grant covers, with the recipes docs/researchers.md shows
(:mod:`edx_vault.devtools.research_recipes`).

On the strict embedded AWS, after the shared sync (tests/local/synced_vault.py): the example
configuration's in-account researcher (``identifiable = false``: the de-identified tier only)
assumes their role, as their own IAM user, lists the granted date prefixes of a course (their
grant starts on 2024-01-01, so a listing of the whole course folder, or of a year before, is
refused) and reads its de-identified events with pandas (with their date partition) and a
granted table's copy as a Hive-partitioned pyarrow dataset; they get exactly the rows of the
plaintext edX encrypted, each username as its pseudonym under the vault's key. The same recipe
on the identified original, or on a prefix the grant does not cover, is refused, and the data
czar's audit shows the reads and the refusals.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs
import pytest
from botocore.exceptions import ClientError

from edx_vault.access.researcher_roles import ACCESS_STACK_SUFFIX, role_output_name
from edx_vault.cli import main
from edx_vault.devtools.research_recipes import (
    list_files,
    listing_prefixes,
    read_events,
    read_table,
    researcher_filesystem,
    researcher_s3,
)
from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.package.bucket_layout import DEIDENTIFIED_PREFIX
from edx_vault.package.course_ids import course_of_line
from edx_vault.settings import stack_outputs
from edx_vault.settings.secret_store import read_pseudonym_key
from tests.local.synced_vault import Synced

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("cli_environment"),
]

# The in-account researcher of config/example.toml, and the course and table their grant names.
RESEARCHER = "asmith-irb-2026-201"
RESEARCHER_USER = "asmith"
COURSE = "ExampleX-6.002x-2012_Fall"
TABLE = "student_courseenrollment"
# The grant's date_from (config/example.toml); it has no date_to.
DATE_FROM = dt.date(2024, 1, 1)
# Not identifiable: the grant reads the de-identified tier, the same keys behind deidentified/.
ORIGINAL_EVENTS = f"events-by-course/org=examplex/site=edx/course={COURSE}"
COURSE_EVENTS = f"{DEIDENTIFIED_PREFIX}{ORIGINAL_EVENTS}"
ACCESS = stack_outputs.stack_name("EdxVault", ACCESS_STACK_SUFFIX)


@dataclass(frozen=True)
class Researcher:
    """The researcher's role session, as boto3 and pyarrow take it."""

    credentials: dict[str, str]
    endpoint: str
    region: str

    def filesystem(self) -> pafs.S3FileSystem:
        return researcher_filesystem(self.credentials, region=self.region, endpoint=self.endpoint)

    def s3(self) -> Any:
        return researcher_s3(self.credentials, region=self.region, endpoint=self.endpoint)


@pytest.fixture(scope="module")
def researcher(synced: Synced) -> Iterator[Researcher]:
    """The researcher's own IAM user (the grant's principal) assumes the researcher's role."""
    iam = synced.aws.root_client("iam")
    iam.create_user(UserName=RESEARCHER_USER)
    key = iam.create_access_key(UserName=RESEARCHER_USER)["AccessKey"]
    import boto3

    sts = boto3.session.Session().client(
        "sts",
        endpoint_url=synced.aws.state.endpoint,
        region_name=synced.aws.state.region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    role_arn = synced.aws.output(ACCESS, role_output_name(RESEARCHER))
    session = sts.assume_role(RoleArn=role_arn, RoleSessionName=RESEARCHER_USER)
    yield Researcher(session["Credentials"], synced.aws.state.endpoint, synced.aws.state.region)


def course_lines(synced: Synced, course: str) -> list[dict[str, Any]]:
    """The events of ``course`` in the plaintext edX encrypted: every org-level log of the
    package, read back by the admin (the e2e module checks each is the plaintext, by digest)."""
    admin = synced.aws.client("s3")
    events = []
    for unit in synced.seeded.package.published_units:
        if unit.output_key and unit.output_key.startswith("events/org=examplex/site=edx/"):
            body = admin.get_object(Bucket=synced.bucket, Key=unit.output_key)["Body"].read()
            for line in gzip.decompress(body).splitlines(keepends=True):
                if course_of_line(line) == course:
                    events.append(json.loads(line))
    return events


def vault_pseudonyms(synced: Synced) -> Pseudonymizer:
    """The pseudonyms under the vault's own key, read by the admin."""
    storage = stack_outputs.stack_name("EdxVault", stack_outputs.STORAGE_STACK_SUFFIX)
    secret_arn = synced.aws.output(storage, stack_outputs.PSEUDONYM_KEY_SECRET_ARN)
    key = read_pseudonym_key(synced.aws.client("secretsmanager"), secret_arn)
    assert key is not None
    return Pseudonymizer(key.key_bytes)


def test_a_granted_course_reads_with_the_plaintexts_rows(
    synced: Synced, researcher: Researcher
) -> None:
    # Given the researcher's role session and the docs' recipe: list the grant's dates of the
    # course's de-identified events, then read
    prefixes = listing_prefixes(COURSE_EVENTS, "date", DATE_FROM)
    # When they read the course's events
    files = list_files(researcher.s3(), synced.bucket, prefixes)
    events = read_events(researcher.filesystem(), files)
    # Then the rows are the course's events in the plaintext, each username as its pseudonym
    # under the vault's key (never the username itself), and the date is a partition column
    expected = course_lines(synced, COURSE)
    assert expected
    pseudonyms = vault_pseudonyms(synced)
    got = Counter(zip(events["username"], events["event_type"], events["time"], strict=True))
    # (an event without a username, an anonymous page view, keeps it empty)
    assert got == Counter(
        (pseudonyms.username(e["username"]) if e["username"] else "", e["event_type"], e["time"])
        for e in expected
    )
    assert not {e["username"] for e in expected if e.get("username")} & set(events["username"])
    assert set(events["date"]) == {e["time"][:10] for e in expected}


def test_the_identified_original_of_the_same_course_is_refused(
    synced: Synced, researcher: Researcher
) -> None:
    # Given the identified course files the de-identified ones were made from
    prefixes = listing_prefixes(ORIGINAL_EVENTS, "date", DATE_FROM)
    # When the researcher lists them / Then S3 refuses, and a read by name is refused too
    with pytest.raises(ClientError, match="AccessDenied"):
        list_files(researcher.s3(), synced.bucket, prefixes)
    [original] = list_files(synced.aws.client("s3"), synced.bucket, prefixes)[:1]
    with pytest.raises(OSError, match=r"(?i)access.?denied|forbidden|403"):
        read_events(researcher.filesystem(), [original])


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        (f"{COURSE_EVENTS}/date=2024", True),  # a year the grant covers
        (f"{COURSE_EVENTS}/date={DATE_FROM}/", True),  # its first day
        (f"{COURSE_EVENTS}/date=2023-12-31/", False),  # the day before date_from
        (f"{COURSE_EVENTS}/date=2023", False),  # the year before
        (f"{COURSE_EVENTS}/", False),  # the whole course folder: every date's names
        (f"{COURSE_EVENTS}/date=", False),
    ],
)
def test_a_listing_must_name_the_grants_dates(
    synced: Synced, researcher: Researcher, prefix: str, allowed: bool
) -> None:
    # Given the researcher's grant from 2024-01-01 on, and a listing with delimiter '/' (the
    # one that would show only date folder names)
    s3 = researcher.s3()
    # When they list the prefix
    if allowed:
        listed = s3.list_objects_v2(Bucket=synced.bucket, Prefix=prefix, Delimiter="/")
        # Then S3 answers, and nothing in the answer lies outside the prefix
        names = [o["Key"] for o in listed.get("Contents", [])]
        names += [p["Prefix"] for p in listed.get("CommonPrefixes", [])]
        assert all(name.startswith(prefix) for name in names)
        return
    # Then S3 refuses it, even though the answer would hold folder names only
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket=synced.bucket, Prefix=prefix, Delimiter="/")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_granted_table_reads_as_a_partitioned_dataset(
    synced: Synced, researcher: Researcher
) -> None:
    # Given the granted table's de-identified folder for the course, listed by the grant's dates
    folder = f"{DEIDENTIFIED_PREFIX}database/{TABLE}/org=examplex/site=edx/course={COURSE}"
    files = list_files(
        researcher.s3(), synced.bucket, listing_prefixes(folder, "export_date", DATE_FROM)
    )
    # When they read it with the pyarrow recipe
    base = f"{synced.bucket}/{DEIDENTIFIED_PREFIX}database/{TABLE}"
    table = read_table(researcher.filesystem(), files, table_folder=base)
    # Then it holds the de-identified copy's rows (read back by the admin), one per row of the
    # plaintext, with the partitions as columns
    admin = synced.aws.client("s3")
    prefix = folder + "/"
    expected_rows = 0
    for entry in admin.list_objects_v2(Bucket=synced.bucket, Prefix=prefix)["Contents"]:
        body = admin.get_object(Bucket=synced.bucket, Key=entry["Key"])["Body"].read()
        lines = body.decode().splitlines()
        assert table.column_names[: len(lines[0].split("\t"))] == lines[0].split("\t")
        expected_rows += len(lines) - 1
    assert expected_rows and table.num_rows == expected_rows
    assert set(table.column("course").to_pylist()) == {COURSE}


def test_the_same_recipe_on_the_orgs_whole_log_is_refused(
    synced: Synced, researcher: Researcher
) -> None:
    # Given the org-level logs, which a course-limited grant never reads
    prefixes = listing_prefixes("events/org=examplex/site=edx", "date", DATE_FROM)
    # When the researcher points the recipe at them / Then S3 refuses the listing
    with pytest.raises(ClientError, match="AccessDenied"):
        list_files(researcher.s3(), synced.bucket, prefixes)
    # And a read of one of those logs by name is refused too
    [log] = list_files(synced.aws.client("s3"), synced.bucket, prefixes)[:1]
    with pytest.raises(OSError, match=r"(?i)access.?denied|forbidden|403"):
        read_events(researcher.filesystem(), [log])


def test_the_audit_shows_the_researchers_reads_and_their_refusal(
    synced: Synced, researcher: Researcher, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the reads and the refusal above (this module's earlier tests), as S3 logs them
    read = list_files(
        researcher.s3(), synced.bucket, listing_prefixes(COURSE_EVENTS, "date", DATE_FROM)
    )
    # When the data czar runs the audit for that researcher
    capsys.readouterr()
    status = main(["audit", "--json", "--researcher", RESEARCHER])
    audit = json.loads(capsys.readouterr().out)
    # Then it shows the researcher's reads of the course's files (and of nothing identifying),
    # its refused listings, and no unexpected reader
    [mine] = [entry for entry in audit["activity"] if entry["kind"] == "researcher"]
    assert mine["name"] == RESEARCHER
    assert mine["objects_read"] >= len(read) > 0
    assert mine["refused"] >= 1
    assert mine["identifying_objects_read"] == []
    assert mine["requesters"] == [
        f"arn:aws:sts::123456789012:assumed-role/edxvault-{RESEARCHER}/{RESEARCHER_USER}"
    ]
    assert audit["unexpected_readers"] == [] and status == 0
