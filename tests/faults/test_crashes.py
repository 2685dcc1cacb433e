"""Lambda invocations that die mid-work, through the real state machine.

A ``crash`` fault (``edx_vault.devtools.embedded_aws.faults``) kills the invocation making a chosen call, as
a killed process dies on AWS (out of memory, the sandbox stopped): the call is not executed,
the invoke answers ``Runtime.ExitError``, and nothing the handler sends afterwards reaches AWS,
so no ``except``/``finally`` clean-up runs: no AbortMultipartUpload, no manifest update.

What each case expects, and why:

- **The crashed run does not heal the items, and says so.** The state machine retries only
  ``TransientError`` and Lambda's own service errors (``TRANSIENT_ERRORS`` in
  ``stacks/sync_state_machine.py``); a dead runtime is a function error (``Runtime.ExitError``
  here; Step Functions' guide calls unhandled errors ``Lambda.Unknown``; neither is retried), so
  the task fails, its Catch records no result, and the Report names every item of the dead
  invocation's batch ``no-result``: the run exits 1 and does not call itself a success.
- **The next run heals.** The crashed invocation's manifest claim is still ``in_progress``
  (its handler never got to record anything) and the claim's lease is 20 minutes
  (``edx_vault.pipeline.manifest.DEFAULT_LEASE``); the Report releases the claims its run holds on items
  that left no result, so the next run claims the file at once and publishes it: every file
  exactly once, with the generator's bytes, under the data key.
- **An upload the crash left open is the lifecycle rule's.** A killed process cannot abort its
  multipart upload. The data bucket's lifecycle rule aborts incomplete uploads after
  ``INCOMPLETE_UPLOAD_DAYS`` (``stacks/data_bucket.py``); the embedded AWS stores lifecycle
  rules but never acts on them. So a case checks that the only open upload is the one the dead
  invocation started, that the deployed bucket has that rule, then aborts it as the rule would,
  and the usual leftovers check (no open upload, no partial object, no row ``in_progress``)
  follows.

Each case is two ``sync --wait`` runs on the fault matrix's shared embedded AWS (``conftest.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest

from edx_vault.cli import sync as sync_command
from stacks.data_bucket import INCOMPLETE_UPLOAD_DAYS
from tests.faults.conftest import CasePackage, FaultVault, SyncOutcome

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB: Final = 1024 * 1024
DECRYPT: Final = "*FunctionsDecrypt*"
MIRROR: Final = "*FunctionsMirror*"


@dataclass(frozen=True)
class Crash:
    """One invocation killed at one call."""

    rule: dict[str, Any]
    stage: str  # the report's stage for the crashed item
    large: bool = False  # the event log over the multipart thresholds
    leaves_upload: bool = False  # the dead invocation had a multipart upload open


CRASHES: Final = (
    pytest.param(
        Crash(
            # The publisher's multipart upload of the decrypted event log (8 MiB parts): the
            # first part goes through, the invocation dies 4 MiB into the second.
            {
                "service": "s3",
                "operation": "UploadPart",
                "resource": "{bucket}/events/*",
                "function": DECRYPT,
                "after_bytes": 12 * MIB,
            },
            stage="decrypt",
            large=True,
            leaves_upload=True,
        ),
        id="decrypt-dies-mid-multipart-upload",
    ),
    pytest.param(
        Crash(
            # A weekly zip member's decrypt, at its PutObject of the output: nothing published.
            {
                "service": "s3",
                "operation": "PutObject",
                "resource": "{bucket}/database/*",
                "function": DECRYPT,
            },
            stage="decrypt",
        ),
        id="decrypt-dies-at-its-publish",
    ),
    pytest.param(
        Crash(
            # A decrypt's second manifest UpdateItem (the first is its claim): the output is
            # published, the row not yet marked done.
            {
                "service": "dynamodb",
                "operation": "UpdateItem",
                "resource": "{table}",
                "function": DECRYPT,
                "after_calls": 1,
            },
            stage="decrypt",
        ),
        id="decrypt-dies-between-publish-and-record",
    ),
    pytest.param(
        Crash(
            # The mirror's multipart copy of the event log into raw/ (16 MiB parts): one part
            # goes through, the invocation dies in the other.
            {
                "service": "s3",
                "operation": "UploadPart",
                "resource": "{bucket}/raw/*",
                "function": MIRROR,
                "after_bytes": 16 * MIB + 64 * 1024,
            },
            stage="mirror",
            large=True,
            leaves_upload=True,
        ),
        id="mirror-dies-mid-copy",
    ),
)


@pytest.fixture(autouse=True)
def _one_case(vault: FaultVault, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Poll the run often; at the end, pass or fail, clear the faults and the case's files."""
    monkeypatch.setattr(sync_command, "POLL_INTERVAL_SECONDS", 0.1)
    yield
    vault.end_case()


def _crashed_run_is_honest(
    vault: FaultVault, package: CasePackage, run: SyncOutcome, stage: str
) -> list[str]:
    """The run with the crash: the crash fired once, the run is not a success, and it names
    every file of the case it left unpublished as ``no-result`` of the crashed step (a Mirror
    or Decrypt invocation works through a batch of items, all of which die with it)."""
    problems = []
    if [rule["fired"] for rule in run.fired] != [1]:
        problems.append(f"the crash fired {[rule['fired'] for rule in run.fired]} times, not once")
    if run.exit_code == 0:
        problems.append("exit 0 after a crash")
    report = run.report
    if report is None:
        return [*problems, "no report"]
    if report["status"] == "succeeded":
        problems.append("report succeeded after a crash")
    lost = [f for f in report["failures"] if f["code"] == "no-result" and f["stage"] == stage]
    if not lost:
        problems.append(f"no {stage} no-result failure in the report")
    named = {(f["source_key"], f["member"]) for f in lost}
    versions = vault.versions()
    for unit in package.published_units:
        if not vault.unpublished_unit(unit, versions):
            continue
        name = (unit.source_key, unit.member_name if stage == "decrypt" else None)
        if name not in named:
            problems.append(f"unpublished and not named no-result: {name}")
    return problems


def _healed(vault: FaultVault, package: CasePackage, run: SyncOutcome) -> list[str]:
    """The next run: a success, and every file of the case published exactly once."""
    problems = []
    if run.exit_code != 0 or run.execution_status != "SUCCEEDED":
        problems.append(f"exit {run.exit_code}, execution {run.execution_status}")
    report = run.report
    if report is None or report["status"] != "succeeded" or report["failures"]:
        problems.append("the next run's report is not a success")
    problems.extend(vault.unpublished(package))
    return problems


def _uploads_left_for_the_lifecycle_rule(
    vault: FaultVault, package: CasePackage, crash: Crash, second_started: dt.datetime
) -> list[str]:
    """Only the dead invocation's upload is open; the bucket's lifecycle rule aborts it."""
    open_uploads = vault.open_uploads(package)
    if not crash.leaves_upload:
        return []  # the leftovers check demands none
    problems = []
    if len(open_uploads) != 1 or open_uploads[0]["Initiated"] >= second_started:
        problems.append(f"expected the crashed run's one open upload, got {open_uploads}")
    days = vault.incomplete_uploads_aborted_after_days()
    if days != INCOMPLETE_UPLOAD_DAYS:
        problems.append(f"the data bucket aborts incomplete uploads after {days} days")
    vault.abort_as_the_lifecycle_rule_would(open_uploads)
    return problems


@pytest.mark.parametrize("crash", CRASHES)
def test_a_crashed_invocation_is_healed_by_the_next_run(vault: FaultVault, crash: Crash) -> None:
    # Given a fresh package at edX, and one invocation of the step that will die at the call
    package = vault.new_large_event_log() if crash.large else vault.new_package()
    rule = {**crash.rule, "resource": crash.rule["resource"].format(**vault.rule_names())}
    # When the admin syncs (the crash is armed for the first run only), then syncs again
    first = vault.sync([{**rule, "action": "crash", "times": 1}])
    second_started = dt.datetime.now(dt.UTC)
    second = vault.sync()
    # Then the first run names the file it lost, the second publishes everything once
    problems = _crashed_run_is_honest(vault, package, first, crash.stage)
    problems += [f"next run: {p}" for p in _healed(vault, package, second)]
    # And nothing is left half done, but the upload only the lifecycle rule can abort
    problems += _uploads_left_for_the_lifecycle_rule(vault, package, crash, second_started)
    problems += vault.leftovers(package)
    details = "\n".join(f"run {n}: {run.describe()}" for n, run in enumerate((first, second), 1))
    assert not problems, "\n".join([*problems, details, f"handlers' logs: {vault.log_file}"])
