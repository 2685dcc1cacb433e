"""The de-identify step over moto: the identifier corpus published as a course's event file and
its tables, planned and copied as the state machine does, then read back byte by byte.

The proof of the transforms themselves is tests/engine/test_deidentify_corpus.py; this checks
what the step adds: every copied kind is found and written where grants read it, nothing
identifying reaches the tier's bytes (the gzip copy decompressed), the kept fields and the join
survive the trip through S3, a second run has nothing to do, a new key rebuilds everything, an
orphan is removed, and a read that breaks mid-copy publishes nothing and heals on the retry.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote, quote_plus

import pytest
from botocore.exceptions import ResponseStreamingError

from edx_vault.devtools.synthetic.identifier_corpus import IdentifierCorpus, identifier_corpus
from edx_vault.engine.errors import is_transient
from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.engine.publish import PART_BYTES
from edx_vault.package.bucket_layout import DEIDENTIFIED_PREFIX
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.deidentify_items import DeidentifyBatch
from edx_vault.pipeline.deidentify_report import deidentified_report
from edx_vault.pipeline.steps.deidentify import (
    DEIDENTIFY_ITEMS,
    deidentify_batch,
    plan_deidentified,
    plan_failed,
)
from edx_vault.settings.secret_formats import PSEUDONYM_KEY, SecretNotSetError
from tests.integration.conftest import Vault

pytestmark = pytest.mark.integration

KEY: Final = bytes(range(32))
CREATED: Final = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
COURSE: Final = "VaultX-DEID101-2025_T1"
EVENTS: Final = (
    f"events-by-course/org=VaultX/site=edx/course={COURSE}/date=2025-03-05/"
    f"VaultX-edx-events-2025-03-05.{COURSE}.log.gz"
)


def table_key(table: str) -> str:
    return (
        f"database/{table}/org=VaultX/site=edx/course={COURSE}/export_date=2025-03-09/"
        f"{COURSE}-{table}-prod-analytics.sql"
    )


NOT_COPIED: Final = (
    table_key("user_id_map"),
    f"ora/submissions_submission/org=VaultX/site=edx/course={COURSE}/export_date=2025-03-09/"
    f"{COURSE}-submissions_submission-prod-analytics.sql",
    EVENTS.replace(f"course={COURSE}", "course=_unparsed"),
)


def _put(vault: Vault, key: str, body: bytes) -> None:
    vault.s3.put_object(
        Bucket=vault.target.bucket,
        Key=key,
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=vault.target.kms_key_arn,
    )


def publish_corpus(vault: Vault, corpus: IdentifierCorpus) -> None:
    """The corpus as the pipeline publishes it: one course event file and the tables."""
    _put(vault, EVENTS, gzip.compress(b"".join(event.line for event in corpus.events)))
    for table, lines in corpus.tables.items():
        _put(vault, table_key(table), b"".join(lines))
    for key in NOT_COPIED:
        _put(vault, key, b"not copied\n")


def no_wait(_: float) -> None:
    """A new epoch's wait skipped, where no test reads which copies are made in its second."""


def fail_if_waiting(_: float) -> None:
    """A first build (an empty tier) has no older copies to tell apart: it never waits."""
    raise AssertionError("a new epoch over an empty tier waited")


def run_step(
    context: RunContext, run_id: str, *, wait: Callable[[float], None] = no_wait
) -> dict[str, Any]:
    """Plan, then every batch of the work list, as the state machine runs them."""
    plan = plan_deidentified(context, run_id, key_created=CREATED, wait=wait)
    files = context.files(run_id)
    for batch in files.get_json(files.key(DEIDENTIFY_ITEMS)):
        deidentify_batch(
            context,
            DeidentifyBatch.model_validate(batch),
            Pseudonymizer(KEY),
            key_created=CREATED,
        )
    return plan


def tier(vault: Vault) -> dict[str, bytes]:
    """Every object under deidentified/, event copies decompressed (course exports, also
    .gz, are copied as they are)."""
    listing = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix=DEIDENTIFIED_PREFIX)
    found = {}
    for entry in listing.get("Contents", []):
        body = vault.s3.get_object(Bucket=vault.target.bucket, Key=entry["Key"])["Body"].read()
        events = entry["Key"].startswith(f"{DEIDENTIFIED_PREFIX}events-by-course/")
        found[entry["Key"]] = gzip.decompress(body) if events else body
    return found


def _spellings(identifier: str) -> set[str]:
    forms = {identifier, identifier.lower(), identifier.upper()}
    forms |= {quote(form, safe="") for form in list(forms)} | {quote_plus(f) for f in list(forms)}
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}
    return {form.lower() for form in forms}


@pytest.fixture(scope="module")
def corpus() -> IdentifierCorpus:
    return identifier_corpus()


def test_the_tier_holds_no_planted_identifier_and_keeps_what_it_must(
    vault: Vault, corpus: IdentifierCorpus
) -> None:
    # Given the corpus published as a course event file and its tables
    publish_corpus(vault, corpus)
    context = vault.context()
    # When the step runs
    plan = run_step(context, "run-1")
    copies = tier(vault)
    # Then each copied file has its copy, and nothing that is not copied does
    copied_tables = {"auth_user", "student_courseenrollment", "credit_crediteligibility"}
    for table in copied_tables:
        assert DEIDENTIFIED_PREFIX + table_key(table) in copies
    assert DEIDENTIFIED_PREFIX + EVENTS in copies
    assert not {DEIDENTIFIED_PREFIX + key for key in NOT_COPIED} & set(copies)
    assert plan["due"] == len(copies)
    # And no planted identifier is in any byte of the tier, in any spelling
    haystack = b"".join(copies.values()).decode().lower()
    found = [i for i in corpus.identifiers if any(f in haystack for f in _spellings(i))]
    assert found == []
    # And the kept event fields equal the originals
    written = [json.loads(line) for line in copies[DEIDENTIFIED_PREFIX + EVENTS].splitlines()]
    assert len(written) == len(corpus.events)
    for event, record in zip(corpus.events, written, strict=True):
        for path, value in event.kept.items():
            node: Any = record
            for part in path.split("."):
                node = json.loads(node) if isinstance(node, str) else node
                node = node[part]
            assert node == value, (event.case, path)
    # And each event's learner joins the de-identified auth_user through the pseudonyms
    header, *rows = copies[DEIDENTIFIED_PREFIX + table_key("auth_user")].decode().splitlines()
    users = {
        row["id"]: row["username"]
        for row in (dict(zip(header.split("\t"), r.split("\t"), strict=True)) for r in rows)
    }
    assert all(users[record["context"]["user_id"]] == record["username"] for record in written)
    # And the copy says where it came from, under which key's creation (never the key)
    head = vault.s3.head_object(Bucket=vault.target.bucket, Key=DEIDENTIFIED_PREFIX + EVENTS)
    assert head["Metadata"]["original-key"] == EVENTS
    assert head["Metadata"]["pseudonym-key-created"] == "2025-01-01T00:00:00+00:00"
    assert KEY.hex() not in json.dumps(head["Metadata"])
    # And the report counts them with no failure
    section, failures = deidentified_report(context.files("run-1"), expected=True)
    assert failures == []
    assert section is not None
    assert (section["written"], section["failed"], section["removed"]) == (len(copies), 0, 0)


def test_a_second_run_is_idle_and_an_orphan_is_removed(
    vault: Vault, corpus: IdentifierCorpus
) -> None:
    # Given a tier built once
    publish_corpus(vault, corpus)
    context = vault.context()
    first = run_step(context, "run-1", wait=fail_if_waiting)
    # When an original is deleted and the step runs again
    vault.s3.delete_object(Bucket=vault.target.bucket, Key=table_key("auth_user"))
    second = run_step(context, "run-2")
    # Then nothing is copied again, and the orphaned copy is gone from the tier
    assert (second["due"], second["removed"]) == (0, 1)
    assert second["up_to_date"] == first["due"] - 1
    assert DEIDENTIFIED_PREFIX + table_key("auth_user") not in tier(vault)


def test_a_new_pseudonym_key_rebuilds_the_whole_tier(
    vault: Vault, corpus: IdentifierCorpus
) -> None:
    # Given a tier built under one key
    publish_corpus(vault, corpus)
    context = vault.context()
    first = run_step(context, "run-1")
    before = tier(vault)
    # When the key is rotated (a new created time) and the step runs
    rotated = CREATED + dt.timedelta(days=30)
    plan = plan_deidentified(context, "run-2", key_created=rotated, wait=time.sleep)
    files = context.files("run-2")
    for batch in files.get_json(files.key(DEIDENTIFY_ITEMS)):
        deidentify_batch(
            context,
            DeidentifyBatch.model_validate(batch),
            Pseudonymizer(KEY[::-1]),
            key_created=rotated,
        )
    # Then every copy is due and made again, with the new key's pseudonyms
    assert (plan["due"], plan["up_to_date"]) == (first["due"], 0)
    after = tier(vault)
    assert set(after) == set(before)
    assert after[DEIDENTIFIED_PREFIX + EVENTS] != before[DEIDENTIFIED_PREFIX + EVENTS]
    # And once rebuilt (the new epoch waited out its first second), nothing is due again
    third = plan_deidentified(context, "run-3", key_created=rotated, wait=fail_if_waiting)
    assert (third["due"], third["up_to_date"]) == (0, first["due"])


class _BreakingBody:
    """A response body that breaks after ``after_bytes``, as a dropped connection does."""

    def __init__(self, body: Any, after_bytes: int) -> None:
        self._body = body
        self._left = after_bytes

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise ResponseStreamingError(error="connection reset")
        data = bytes(self._body.read(min(size, self._left) if size >= 0 else self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()


class _BreakingS3:
    """The vault's client, with one GET of ``key`` whose body breaks mid-read."""

    def __init__(self, s3: Any, key: str, after_bytes: int = 64) -> None:
        self._s3, self._key, self._after, self.broken = s3, key, after_bytes, False

    def get_object(self, **kwargs: Any) -> Any:
        response = self._s3.get_object(**kwargs)
        if kwargs["Key"] == self._key and not self.broken:
            self.broken = True
            response["Body"] = _BreakingBody(response["Body"], self._after)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_a_read_broken_mid_copy_publishes_nothing_and_the_retry_completes(
    vault: Vault, corpus: IdentifierCorpus
) -> None:
    # Given the corpus, and a connection that breaks in the middle of reading the event file
    publish_corpus(vault, corpus)
    context = vault.context()
    plan_deidentified(context, "run-1", key_created=CREATED, wait=no_wait)
    files = context.files("run-1")
    [batch] = [
        DeidentifyBatch.model_validate(b) for b in files.get_json(files.key(DEIDENTIFY_ITEMS))
    ]
    breaking = _BreakingS3(vault.s3, EVENTS)
    faulty = RunContext(settings=context.settings, vault_s3=breaking, manifest=context.manifest)  # type: ignore[arg-type]
    # When the batch runs: the error is one the state machine retries
    with pytest.raises(ResponseStreamingError) as raised:
        deidentify_batch(faulty, batch, Pseudonymizer(KEY), key_created=CREATED)
    assert breaking.broken and is_transient(raised.value)
    # Then no copy of the event file exists, not even in part
    assert DEIDENTIFIED_PREFIX + EVENTS not in tier(vault)
    assert not vault.s3.list_multipart_uploads(Bucket=vault.target.bucket).get("Uploads")
    # And the retried batch makes it, and the report has no failure
    deidentify_batch(faulty, batch, Pseudonymizer(KEY), key_created=CREATED)
    assert DEIDENTIFIED_PREFIX + EVENTS in tier(vault)
    _, failures = deidentified_report(files, expected=True)
    assert failures == []


def test_a_batch_that_left_no_result_fails_the_run_naming_each_file(
    vault: Vault, corpus: IdentifierCorpus
) -> None:
    # Given a plan whose batch never ran (its task failed after its retries)
    publish_corpus(vault, corpus)
    context = vault.context()
    plan = plan_deidentified(context, "run-1", key_created=CREATED, wait=no_wait)
    # When the report reads the run
    section, failures = deidentified_report(context.files("run-1"), expected=True)
    # Then each due copy is a failure, by key, and the section counts them
    assert section is not None and section["failed"] == plan["due"] == len(failures)
    assert {f["code"] for f in failures} == {"no-result"}
    assert EVENTS in {f["source_key"] for f in failures}


def test_a_plan_without_its_key_fails_the_run_with_the_command_that_sets_it(
    vault: Vault,
) -> None:
    # Given a plan that could not read the pseudonym key (the handler records why, then fails)
    context = vault.context()
    error = SecretNotSetError(PSEUDONYM_KEY, "arn:aws:secretsmanager:us-east-1:1:secret:k")
    plan_failed(context, "run-1", code="secret-not-set", reason=str(error))
    # When the report reads the run
    section, [failure] = deidentified_report(context.files("run-1"), expected=True)
    # Then the run fails, saying which command fills the key
    assert failure["code"] == "secret-not-set"
    assert "edx-vault pseudonym-key init" in failure["reason"]
    assert section is not None and section["error"]["code"] == "secret-not-set"
    # And a deployment without the step has no section and no failure from it
    assert deidentified_report(vault.context().files("run-2"), expected=False) == (None, [])
    # But one with the step whose plan left nothing fails the run
    _, [lost] = deidentified_report(vault.context().files("run-2"), expected=True)
    assert lost["code"] == "no-result"


def test_a_large_copy_broken_after_its_first_part_leaves_no_upload_and_heals(
    vault: Vault,
) -> None:
    # Given a course export of three upload parts, copied as it is, whose read breaks after
    # the first part was sent (a multipart upload under way)
    export = (
        f"course-export/org=VaultX/site=edx/course={COURSE}/export_date=2025-03-09/"
        f"{COURSE}-course-prod-analytics.xml.tar.gz"
    )
    original = random.Random(7).randbytes(2 * PART_BYTES + 1024)
    _put(vault, export, original)
    context = vault.context()
    plan_deidentified(context, "run-1", key_created=CREATED, wait=no_wait)
    files = context.files("run-1")
    [batch] = [
        DeidentifyBatch.model_validate(b) for b in files.get_json(files.key(DEIDENTIFY_ITEMS))
    ]
    breaking = _BreakingS3(vault.s3, export, after_bytes=PART_BYTES + 4096)
    faulty = RunContext(settings=context.settings, vault_s3=breaking, manifest=context.manifest)  # type: ignore[arg-type]
    # When the batch runs, the read breaks: an error the state machine retries
    with pytest.raises(ResponseStreamingError):
        deidentify_batch(faulty, batch, Pseudonymizer(KEY), key_created=CREATED)
    # Then the upload was aborted: no copy, no open upload
    assert DEIDENTIFIED_PREFIX + export not in tier(vault)
    assert not vault.s3.list_multipart_uploads(Bucket=vault.target.bucket).get("Uploads")
    # And the retry publishes the whole copy, byte for byte
    deidentify_batch(faulty, batch, Pseudonymizer(KEY), key_created=CREATED)
    assert tier(vault)[DEIDENTIFIED_PREFIX + export] == original
