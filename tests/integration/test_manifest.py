"""Manifest status transitions are conditional writes: no double publish, no lost failure."""

from __future__ import annotations

import datetime as dt

from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import (
    ClaimOutcome,
    Status,
    object_row,
    source_up_to_date,
    unit_row,
)
from edx_vault.pipeline.settle import settle_source
from tests.integration.conftest import Vault

ROW = unit_row(
    "course-data",
    "mitx-2024-03-03.zip",
    "mitx-2024-03-03/MITx-6.002x-2012_Fall-auth_user-prod-analytics.sql.gpg",
)


def test_first_claim_wins_and_a_second_run_is_told_busy(vault: Vault) -> None:
    # Given a row nobody has touched
    manifest = vault.manifest
    # When two runs claim it
    first = manifest.claim(ROW, version='"v1"', run_id="run-a")
    second = manifest.claim(ROW, version='"v1"', run_id="run-b")
    # Then only the first holds it
    assert (first, second) == (ClaimOutcome.CLAIMED, ClaimOutcome.BUSY)
    assert manifest.get(ROW)["run_id"] == "run-a"


def test_interleaved_claims_by_many_runs_have_exactly_one_winner(vault: Vault) -> None:
    # Given eight runs asking for the same file one after another. (Sequential on purpose:
    # moto's server does not serialise concurrent conditional writes the way DynamoDB does,
    # so a threaded race here would test moto, not our condition.)
    outcomes = [vault.manifest.claim(ROW, version='"v1"', run_id=f"run-{n}") for n in range(8)]
    # Then exactly one claims it and every other one is told it is busy
    assert outcomes[0] is ClaimOutcome.CLAIMED
    assert outcomes[1:] == [ClaimOutcome.BUSY] * 7


def test_done_row_is_not_claimed_again_for_the_same_version(vault: Vault) -> None:
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    manifest.complete(
        ROW, run_id="run-a", attributes={"output_key": "database/x", "plaintext_bytes": 7}
    )
    # When the next weekly run sees the same version / Then it is already done
    assert manifest.claim(ROW, version='"v1"', run_id="run-b") is ClaimOutcome.ALREADY_DONE
    row = manifest.get(ROW)
    assert row["status"] == Status.DONE
    assert row["plaintext_bytes"] == 7


def test_a_new_version_from_edx_is_processed_again(vault: Vault) -> None:
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    manifest.complete(ROW, run_id="run-a", attributes={})
    assert manifest.claim(ROW, version='"v2"', run_id="run-b") is ClaimOutcome.CLAIMED
    assert manifest.get(ROW)["source_etag"] == '"v2"'


def test_failure_is_kept_and_not_retried_for_the_same_version_unless_asked(vault: Vault) -> None:
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    manifest.fail(ROW, run_id="run-a", code="tampered", reason="integrity check failed")
    assert manifest.claim(ROW, version='"v1"', run_id="run-b") is ClaimOutcome.ALREADY_FAILED
    row = manifest.get(ROW)
    assert (row["status"], row["error_code"]) == (Status.FAILED, "tampered")
    # When the admin asks for a retry / Then it is claimable and the old error is cleared
    assert manifest.claim(ROW, version='"v1"', run_id="run-c", retry_failed=True) is (
        ClaimOutcome.CLAIMED
    )
    assert "error_code" not in manifest.get(ROW)


def test_a_stale_run_cannot_overwrite_the_current_holder(vault: Vault) -> None:
    # Given run-a claimed the row and then went silent past the lease
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    early = Manifest(vault.table, clock=lambda: now)
    later = Manifest(vault.table, clock=lambda: now + dt.timedelta(hours=1))
    early.claim(ROW, version='"v1"', run_id="run-a")
    # When run-b takes over the stale claim
    assert later.claim(ROW, version='"v1"', run_id="run-b") is ClaimOutcome.CLAIMED
    # Then run-a's late success is refused and run-b's result stands
    try:
        early.complete(ROW, run_id="run-a", attributes={"output_key": "stale"})
    except vault.table.meta.client.exceptions.ConditionalCheckFailedException:
        pass
    else:
        raise AssertionError("a stale run completed a row it no longer holds")
    later.complete(ROW, run_id="run-b", attributes={"output_key": "fresh"})
    assert vault.manifest.get(ROW)["output_key"] == "fresh"


def test_object_rows_are_read_in_batches(vault: Vault) -> None:
    # Given 150 mirrored objects (more than one BatchGetItem)
    keys = [("edx-course-data", f"mitx/edx/events/2024/f{n}.gpg") for n in range(150)]
    for bucket, key in keys:
        vault.manifest.claim(object_row(bucket, key), version=f'"{key}"', run_id="run")
    # When they are read back / Then every row is found
    rows = vault.manifest.object_rows(keys)
    assert len(rows) == 150
    assert rows["edx-course-data/mitx/edx/events/2024/f149.gpg"]["status"] == Status.IN_PROGRESS


def test_a_retry_by_the_same_run_takes_its_own_claim_back(vault: Vault) -> None:
    # Given run-a claimed the row and its attempt then died of a TransientError, so the row is
    # still in_progress under run-a (Step Functions retries the item only after that attempt
    # ended: a run's attempts at one item never overlap)
    manifest = vault.manifest
    assert manifest.claim(ROW, version='"v1"', run_id="run-a") is ClaimOutcome.CLAIMED
    # When Step Functions retries the item in the same run
    retried = manifest.claim(ROW, version='"v1"', run_id="run-a")
    # Then the retry holds the row and can finish it, rather than being told "busy" and
    # leaving the file unpublished and the row locked for the lease
    assert retried is ClaimOutcome.CLAIMED
    manifest.complete(ROW, run_id="run-a", attributes={"output_key": "database/x"})
    row = manifest.get(ROW)
    assert (row["status"], row["attempts"]) == (Status.DONE, 2)


def test_another_live_run_still_finds_a_retried_claim_busy(vault: Vault) -> None:
    # Given run-a's claim, taken back by its own retry
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    # When another run asks for it within the lease / Then it is still run-a's
    assert manifest.claim(ROW, version='"v1"', run_id="run-b") is ClaimOutcome.BUSY
    assert manifest.get(ROW)["run_id"] == "run-a"


def test_the_same_run_does_not_take_a_claim_for_another_version(vault: Vault) -> None:
    # Given run-a holds the row for version v1
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    # When something in run-a asks for it at another version / Then the clause does not apply:
    # a retry is the same item, so the same version
    assert manifest.claim(ROW, version='"v2"', run_id="run-a") is ClaimOutcome.BUSY
    assert manifest.get(ROW)["source_etag"] == '"v1"'


def test_a_run_releases_an_item_it_could_not_finish_and_the_next_run_takes_it(
    vault: Vault,
) -> None:
    # Given run-a claimed the row and every retry of its item died of a TransientError, so the
    # row is still in_progress under run-a, well within the lease
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-a")
    # When run-a's report releases what it could not finish
    manifest.release(ROW, run_id="run-a", reason="no result after the retries")
    # Then the row says so, and the next run takes it at once rather than after the lease
    row = manifest.get(ROW)
    assert (row["status"], row["error_code"]) == (Status.INTERRUPTED, "no-result")
    assert manifest.claim(ROW, version='"v1"', run_id="run-b") is ClaimOutcome.CLAIMED
    manifest.complete(ROW, run_id="run-b", attributes={"output_key": "database/x"})
    row = manifest.get(ROW)
    assert (row["status"], row["run_id"], row["attempts"]) == (Status.DONE, "run-b", 2)
    assert "error_code" not in row


def test_a_release_leaves_another_runs_claim_and_a_finished_row_alone(vault: Vault) -> None:
    # Given one row held by run-b and another that run-a finished
    manifest = vault.manifest
    manifest.claim(ROW, version='"v1"', run_id="run-b")
    finished = object_row("course-data", "mitx-2024-03-03.zip")
    manifest.claim(finished, version='"v1"', run_id="run-a")
    manifest.complete(finished, run_id="run-a", attributes={"raw_key": "raw/x"})
    # When run-a releases both (its report found no result file for either)
    manifest.release(ROW, run_id="run-a", reason="no result")
    manifest.release(finished, run_id="run-a", reason="no result")
    # Then neither changes: run-b's claim is run-b's, and a done row stays done
    held, done = manifest.get(ROW), manifest.get(finished)
    assert (held["status"], held["run_id"]) == (Status.IN_PROGRESS, "run-b")
    assert done["status"] == Status.DONE


def test_an_interrupted_unit_keeps_its_source_unsettled(vault: Vault) -> None:
    # Given a source with one unit done and one interrupted (released by its run's report)
    manifest = vault.manifest
    bucket, key = "course-data", "mitx-2024-03-03.zip"
    source = object_row(bucket, key)
    manifest.claim(source, version='"v1"', run_id="run-a")
    manifest.complete(source, run_id="run-a", attributes={"unit_count": 2})
    done, interrupted = unit_row(bucket, key, "a.sql.gpg"), unit_row(bucket, key, "b.sql.gpg")
    for unit in (done, interrupted):
        manifest.claim(unit, version='"v1"', run_id="run-a")
    manifest.complete(done, run_id="run-a", attributes={"output_key": "database/a"})
    manifest.release(interrupted, run_id="run-a", reason="no result")
    # When the report settles the source
    settled = settle_source(manifest, bucket, key)
    # Then it is not settled, so the next plan (with or without --retry-failed) takes it up
    assert settled is False
    row = manifest.get(source) or {}
    assert not source_up_to_date(row, version='"v1"', retry_failed=False)
