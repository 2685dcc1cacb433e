"""The fault matrix: every external call of a sync, failing, through the real state machine.

Each case seeds a tiny package of its own (one event log, one weekly zip of 4 members, dated a
Sunday no other case uses), arms a fault on one call (`edx_vault.devtools.embedded_aws.faults`), runs
``edx-vault sync --wait`` on the shared embedded AWS (see ``conftest.py``) and clears the fault:

- **transient** (the first 2 matching calls; a retryable code, or the connection cut mid-body):
  the same run heals. It exits 0, its report says succeeded with every file accounted for, and
  every file of the case is published exactly once with the generator's bytes under the data key,
  its event log split into course files holding exactly its lines (``split_checks.py``);
- **persistent** (every matching call): the run does not call itself a success while a file of
  the case is unpublished (exit 1, or a failed report naming the file). Then the fault is
  cleared and the next run heals.

After every case: no open multipart upload, no partial or unexpected object in the bucket, no
manifest row left ``in_progress``, and the fault actually fired (a case whose fault never hit
a call would prove nothing).

Cases that take the same path as another are skipped unless ``EDX_VAULT_FULL_FAULT_MATRIX=1``
(``make test-faults``); see :data:`TRANSIENT_COVERED_BY`, :data:`PERSISTENT_COVERED_BY` and
:data:`PERSISTENT_IN_MAKE_TEST`.

A case the product does not heal yet is marked ``xfail(strict=True)`` with the defect: a fix
flips it to XPASS, which fails the suite until the mark is removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from edx_vault.cli import sync as sync_command
from tests.faults.conftest import CasePackage, FaultVault, SyncOutcome
from tests.faults.split_checks import event_logs, published_count

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRANSIENT_TIMES: Final = 2
S3_SLOW_DOWN: Final = {"error": "SlowDown", "status": 503}
S3_INTERNAL: Final = {"error": "InternalError", "status": 500}
THROTTLED: Final = {"error": "ThrottlingException", "status": 400}
DYNAMODB_THROTTLED: Final = {"error": "ProvisionedThroughputExceededException", "status": 400}
LAMBDA_THROTTLED: Final = {"error": "TooManyRequestsException", "status": 429}
RESET: Final = {"action": "reset", "after_bytes": 100}


def s3(operation: str, resource: str, effect: Mapping[str, Any]) -> dict[str, Any]:
    return {"service": "s3", "operation": operation, "resource": resource, **effect}


def dynamodb(operation: str, effect: Mapping[str, Any] = DYNAMODB_THROTTLED) -> dict[str, Any]:
    # BatchGetItem names its tables in RequestItems, not TableName: its resource is empty.
    resource = "*" if operation == "BatchGetItem" else "{table}"
    return {"service": "dynamodb", "operation": operation, "resource": resource, **effect}


# Calls only one step makes, failed once: when one has fired, that step is being retried and
# the steps before it are done, so the case's fault is armed then (FaultVault.sync).
COLLECT_LISTED: Final = {**s3("GetObject", "{bucket}/_work/*/units/*", S3_INTERNAL), "times": 1}
DECRYPT_NEXT: Final = {
    **s3("PutObject", "{bucket}/_work/*/decrypt-items.json", S3_INTERNAL),
    "times": 1,
}
REPORT_STARTED: Final = {**s3("GetObject", "{bucket}/_work/*/plan.json", S3_INTERNAL), "times": 1}


def invoke(function: str) -> dict[str, Any]:
    return {
        "service": "lambda",
        "operation": "Invoke",
        "resource": f"*Functions{function}*",
        **LAMBDA_THROTTLED,
    }


@dataclass(frozen=True)
class Fault:
    """One call failing. ``rules`` without ``times`` are the fault; with it, a precondition."""

    step: str
    call: str
    rules: tuple[dict[str, Any], ...]
    # Arm once the execution has entered this state (polled: the state's first call must come
    # later than the poll sees the state, so prefer ``trigger`` where a step has one).
    arm_at: str | None = None
    trigger: dict[str, Any] | None = None  # arm once this rule has fired (see FaultVault.sync)
    large: bool = False  # the case's package is one event log over the multipart thresholds
    xfail: Mapping[str, str] = field(default_factory=dict)  # kind -> the defect

    def trigger_for(self, names: Mapping[str, str]) -> dict[str, Any] | None:
        if self.trigger is None:
            return None
        return {**self.trigger, "resource": self.trigger["resource"].format(**names)}

    def rules_for(self, kind: str, names: Mapping[str, str]) -> list[dict[str, Any]]:
        rules = []
        for template in self.rules:
            rule = {**template, "resource": template["resource"].format(**names)}
            if kind == "transient":
                rule.setdefault("times", TRANSIENT_TIMES)
            rules.append(rule)
        return rules


FAULTS: Final = (
    # ------------------------------------------------------------------ Plan
    Fault(
        "plan",
        "edx-ListObjectsV2-SlowDown",
        (
            s3("ListObjectsV2", "edx-course-data", S3_SLOW_DOWN),
            s3("ListObjectsV2", "course-data", S3_SLOW_DOWN),
        ),
    ),
    Fault("plan", "manifest-BatchGetItem-throttled", (dynamodb("BatchGetItem"),)),
    Fault(
        "plan",
        "secrets-GetSecretValue-throttled",
        (
            {
                "service": "secretsmanager",
                "operation": "GetSecretValue",
                "resource": "{edx_secret}",
                **THROTTLED,
            },
        ),
    ),
    Fault(
        "plan",
        "work-PutObject-InternalError",
        (s3("PutObject", "{bucket}/_work/*/mirror-items.json", S3_INTERNAL),),
    ),
    Fault(
        "plan",
        "lambda-Invoke-throttled",
        (invoke("Plan"),),
    ),
    # ------------------------------------------------------------------ MirrorFiles
    Fault(
        "mirror",
        "edx-GetObject-SlowDown",
        (
            s3("GetObject", "edx-course-data/*", S3_SLOW_DOWN),
            s3("GetObject", "course-data/*", S3_SLOW_DOWN),
        ),
    ),
    Fault(
        "mirror",
        "edx-GetObject-reset",
        (s3("GetObject", "edx-course-data/*", RESET), s3("GetObject", "course-data/*", RESET)),
    ),
    Fault(
        "mirror",
        "secrets-GetSecretValue-throttled",
        (
            {
                "service": "secretsmanager",
                "operation": "GetSecretValue",
                "resource": "{edx_secret}",
                # Only the Mirror function's reads (Plan reads the same secret first): armed
                # from the start, not when the run enters MirrorFiles, which a batch's one
                # invocation may already have passed when a poll sees the state.
                "function": "*FunctionsMirror*",
                **THROTTLED,
            },
        ),
    ),
    Fault(
        "mirror",
        "vault-ListObjectsV2-SlowDown",
        (s3("ListObjectsV2", "{bucket}", S3_SLOW_DOWN),),
    ),
    Fault(
        "mirror",
        "raw-PutObject-InternalError",
        (s3("PutObject", "{bucket}/raw/*", S3_INTERNAL),),
    ),
    Fault(
        "mirror",
        "raw-GetObject-InternalError",  # expand: the zip's central directory, ranged GETs
        (s3("GetObject", "{bucket}/raw/*", S3_INTERNAL),),
        # every raw/ GET fails, the decrypt step's too: the event log's unit row is left
    ),
    Fault("mirror", "manifest-UpdateItem-throttled", (dynamodb("UpdateItem"),)),
    Fault(
        "mirror",
        "manifest-GetItem-throttled",  # read when a retried item finds its row already done
        (
            {**s3("PutObject", "{bucket}/_work/*/results/mirror/*", S3_INTERNAL), "times": 1},
            dynamodb("GetItem"),
        ),
    ),
    Fault(
        "mirror",
        "work-PutObject-InternalError",
        (s3("PutObject", "{bucket}/_work/*/results/mirror/*", S3_INTERNAL),),
    ),
    Fault(
        "mirror",
        "lambda-Invoke-throttled",
        (invoke("Mirror"),),
    ),
    Fault(
        "mirror",
        "raw-CreateMultipartUpload-InternalError",
        (s3("CreateMultipartUpload", "{bucket}/raw/*", S3_INTERNAL),),
        large=True,
    ),
    Fault(
        "mirror",
        "raw-UploadPart-SlowDown",
        (s3("UploadPart", "{bucket}/raw/*", S3_SLOW_DOWN),),
        large=True,
    ),
    Fault(
        "mirror",
        "raw-CompleteMultipartUpload-InternalError",
        (s3("CompleteMultipartUpload", "{bucket}/raw/*", S3_INTERNAL),),
        large=True,
    ),
    # ------------------------------------------------------------------ CollectUnits
    Fault(
        "collect",
        "vault-ListObjectsV2-SlowDown",
        (s3("ListObjectsV2", "{bucket}", S3_SLOW_DOWN),),
        trigger=COLLECT_LISTED,
    ),
    Fault(
        "collect",
        "work-GetObject-InternalError",
        (s3("GetObject", "{bucket}/_work/*/units/*", S3_INTERNAL),),
    ),
    Fault(
        "collect",
        "work-PutObject-InternalError",
        (s3("PutObject", "{bucket}/_work/*/decrypt-items.json", S3_INTERNAL),),
    ),
    Fault(
        "collect",
        "lambda-Invoke-throttled",
        (invoke("Collect"),),
    ),
    # ------------------------------------------------------------------ DecryptFiles
    Fault(
        "decrypt",
        "raw-GetObject-InternalError",
        (s3("GetObject", "{bucket}/raw/*", S3_INTERNAL),),
        trigger=DECRYPT_NEXT,
    ),
    Fault(
        "decrypt",
        "raw-GetObject-reset",
        (s3("GetObject", "{bucket}/raw/*", RESET),),
        trigger=DECRYPT_NEXT,
    ),
    Fault(
        "decrypt",
        "publish-PutObject-SlowDown",
        (
            s3("PutObject", "{bucket}/events/*", S3_SLOW_DOWN),
            s3("PutObject", "{bucket}/database/*", S3_SLOW_DOWN),
        ),
    ),
    Fault(
        "decrypt",
        "manifest-UpdateItem-throttled",
        (dynamodb("UpdateItem"),),
        trigger=DECRYPT_NEXT,
    ),
    Fault(
        "decrypt",
        "work-PutObject-InternalError",
        (s3("PutObject", "{bucket}/_work/*/results/decrypt/*", S3_INTERNAL),),
    ),
    Fault(
        "decrypt",
        "lambda-Invoke-throttled",
        (invoke("Decrypt"),),
    ),
    Fault(
        "decrypt",
        "publish-CreateMultipartUpload-InternalError",
        (s3("CreateMultipartUpload", "{bucket}/events/*", S3_INTERNAL),),
        large=True,
    ),
    Fault(
        "decrypt",
        "publish-UploadPart-SlowDown",
        (s3("UploadPart", "{bucket}/events/*", S3_SLOW_DOWN),),
        large=True,
    ),
    Fault(
        "decrypt",
        "publish-CompleteMultipartUpload-InternalError",
        (s3("CompleteMultipartUpload", "{bucket}/events/*", S3_INTERNAL),),
        large=True,
    ),
    # ------------------------------------------------------------------ SplitEventLogs
    # Only the split reads the published org-level log, and only it writes course files.
    Fault(
        "split",
        "log-GetObject-reset",
        (s3("GetObject", "{bucket}/events/*", RESET),),
    ),
    Fault(
        "split",
        "publish-PutObject-SlowDown",
        (s3("PutObject", "{bucket}/events-by-course/*", S3_SLOW_DOWN),),
    ),
    # ------------------------------------------------------------------ Report
    Fault(
        "report",
        "secrets-DescribeSecret-throttled",
        (
            {
                "service": "secretsmanager",
                "operation": "DescribeSecret",
                "resource": "{key_secret}",
                **THROTTLED,
            },
        ),
        trigger=REPORT_STARTED,
    ),
    Fault(
        "report",
        "work-GetObject-InternalError",
        (s3("GetObject", "{bucket}/_work/*/results/*", S3_INTERNAL),),
    ),
    Fault(
        "report",
        "vault-ListObjectsV2-SlowDown",
        (s3("ListObjectsV2", "{bucket}", S3_SLOW_DOWN),),
        trigger=REPORT_STARTED,
    ),
    Fault("report", "manifest-Query-throttled", (dynamodb("Query"),)),
    Fault(
        "report",
        "manifest-UpdateItem-throttled",
        (dynamodb("UpdateItem"),),
        trigger=REPORT_STARTED,
    ),
    Fault(
        "report",
        "reports-PutObject-InternalError",
        (s3("PutObject", "{bucket}/reports/*", S3_INTERNAL),),
    ),
    Fault(
        "report",
        "sns-Publish-InternalError",
        ({"service": "sns", "operation": "Publish", "resource": "{topic}", **S3_INTERNAL},),
    ),
    Fault(
        "report",
        "lambda-Invoke-throttled",
        (invoke("Report"),),
    ),
    # ------------------------------------------------------------------ Step Functions' own S3
    Fault(
        "mirror-map",
        "ItemReader-GetObject-InternalError",
        (s3("GetObject", "{bucket}/_work/*/mirror-items.json", S3_INTERNAL),),
    ),
    Fault(
        "decrypt-map",
        "ResultWriter-PutObject-InternalError",
        (s3("PutObject", "{bucket}/_work/*/map-runs/DecryptFiles/*", S3_INTERNAL),),
    ),
)

KINDS: Final = ("transient", "persistent")

# Persistent cases that take the same path as another case (the same step's item or task
# runs out of retries the same way, then the next run heals it the same way), skipped unless
# EDX_VAULT_FULL_FAULT_MATRIX=1 (`make test-faults`) so `make test` stays within its budget.
# Their transient cases always run: those prove each call's own retry.
FULL_MATRIX: Final = os.environ.get("EDX_VAULT_FULL_FAULT_MATRIX") == "1"
PERSISTENT_COVERED_BY: Final = {
    "plan-secrets-GetSecretValue-throttled": "plan-manifest-BatchGetItem-throttled",
    "plan-work-PutObject-InternalError": "plan-manifest-BatchGetItem-throttled",
    "plan-lambda-Invoke-throttled": "report-lambda-Invoke-throttled",
    "mirror-edx-GetObject-SlowDown": "mirror-edx-GetObject-reset",
    "mirror-raw-PutObject-InternalError": "mirror-raw-UploadPart-SlowDown",
    "mirror-raw-CreateMultipartUpload-InternalError": "mirror-raw-UploadPart-SlowDown",
    "mirror-raw-CompleteMultipartUpload-InternalError": "mirror-raw-UploadPart-SlowDown",
    "mirror-manifest-GetItem-throttled": "mirror-manifest-UpdateItem-throttled",
    "decrypt-raw-GetObject-InternalError": "decrypt-raw-GetObject-reset",
    "decrypt-publish-CreateMultipartUpload-InternalError": (
        "decrypt-publish-CompleteMultipartUpload-InternalError"
    ),
    "decrypt-publish-UploadPart-SlowDown": "decrypt-publish-CompleteMultipartUpload-InternalError",
    "decrypt-lambda-Invoke-throttled": "mirror-lambda-Invoke-throttled",
    "split-log-GetObject-reset": "split-publish-PutObject-SlowDown",
    "collect-lambda-Invoke-throttled": "report-lambda-Invoke-throttled",
    "collect-work-PutObject-InternalError": "collect-work-GetObject-InternalError",
    "report-secrets-DescribeSecret-throttled": "report-manifest-Query-throttled",
    "report-manifest-UpdateItem-throttled": "report-manifest-Query-throttled",
    # A step's task that runs out of retries on its own scratch or listing call fails the
    # same way as on the call kept for it.
    "mirror-raw-GetObject-InternalError": "mirror-raw-UploadPart-SlowDown",
    "mirror-work-PutObject-InternalError": "mirror-raw-UploadPart-SlowDown",
    "mirror-vault-ListObjectsV2-SlowDown": "mirror-raw-UploadPart-SlowDown",
    "decrypt-work-PutObject-InternalError": "decrypt-publish-CompleteMultipartUpload-InternalError",
    "decrypt-publish-PutObject-SlowDown": "decrypt-publish-CompleteMultipartUpload-InternalError",
    "collect-vault-ListObjectsV2-SlowDown": "collect-work-GetObject-InternalError",
    "report-work-GetObject-InternalError": "report-manifest-Query-throttled",
    "report-vault-ListObjectsV2-SlowDown": "report-manifest-Query-throttled",
    # One claim path for both steps that claim rows, one Lambda-throttle path, one task that
    # runs out of retries on its read of the mirrored copy.
    "decrypt-manifest-UpdateItem-throttled": "mirror-manifest-UpdateItem-throttled",
    "mirror-lambda-Invoke-throttled": "report-lambda-Invoke-throttled",
    "decrypt-raw-GetObject-reset": "decrypt-publish-CompleteMultipartUpload-InternalError",
}


# Transient cases that heal by the very path another case's fault takes: the same step's task
# fails with a TransientError before it has written anything, and Step Functions retries it (or,
# for a throttled Invoke, the task's Retry on Lambda's own errors). Each runs in `make test-faults`;
# a transient fault that leaves something behind (an open multipart upload, a claimed row, a
# report written but not sent) keeps its own case in `make test`.
TRANSIENT_COVERED_BY: Final = {
    "plan-secrets-GetSecretValue-throttled": "plan-manifest-BatchGetItem-throttled",
    "plan-work-PutObject-InternalError": "plan-manifest-BatchGetItem-throttled",
    "mirror-edx-GetObject-SlowDown": "mirror-edx-GetObject-reset",
    "decrypt-raw-GetObject-InternalError": "decrypt-raw-GetObject-reset",
    "collect-vault-ListObjectsV2-SlowDown": "collect-work-GetObject-InternalError",
    "report-secrets-DescribeSecret-throttled": "report-work-GetObject-InternalError",
    "report-vault-ListObjectsV2-SlowDown": "report-work-GetObject-InternalError",
    "report-manifest-Query-throttled": "report-work-GetObject-InternalError",
    # A single-part put, or a multipart upload refused at its start, leaves nothing open: the
    # retry is the plain path; the uploads refused mid-way and at their completion (an open
    # upload to abort) keep their cases.
    "mirror-raw-PutObject-InternalError": "mirror-raw-UploadPart-SlowDown",
    "mirror-raw-CreateMultipartUpload-InternalError": "mirror-raw-UploadPart-SlowDown",
    "decrypt-publish-PutObject-SlowDown": "decrypt-publish-UploadPart-SlowDown",
    "decrypt-publish-CreateMultipartUpload-InternalError": "decrypt-publish-UploadPart-SlowDown",
    # A result file refused after the copy: the retried item finds its row done, the path the
    # GetItem case drives (its precondition is this very fault); a listing before the copy.
    "mirror-work-PutObject-InternalError": "mirror-manifest-GetItem-throttled",
    "mirror-vault-ListObjectsV2-SlowDown": "mirror-edx-GetObject-reset",
    # One claim path for both steps that claim rows; one Collect write path.
    "decrypt-manifest-UpdateItem-throttled": "mirror-manifest-UpdateItem-throttled",
    "collect-work-PutObject-InternalError": "collect-work-GetObject-InternalError",
    # Every task's Retry on Lambda's throttling is the same (stacks/sync_state_machine.py, and
    # tests/infra/test_pipeline_stack.py checks each task has it): one Map item, one plain task.
    "plan-lambda-Invoke-throttled": "report-lambda-Invoke-throttled",
    "collect-lambda-Invoke-throttled": "report-lambda-Invoke-throttled",
    "decrypt-lambda-Invoke-throttled": "mirror-lambda-Invoke-throttled",
}


# Persistent cases `make test` runs: one per way a fault outlasts its retries (an item on an edX
# read, an item on a publish with its upload open, a Map's own S3 write, a split, the Report's
# alert); a secret that cannot be read fails its item as the edX read does. The other persistent
# cases run in `make test-faults` (EDX_VAULT_FULL_FAULT_MATRIX=1): they heal the same way, the
# next run taking the item up, and `make test` must stay within its budget.
PERSISTENT_IN_MAKE_TEST: Final = frozenset(
    {
        "mirror-edx-GetObject-reset",
        "decrypt-publish-CompleteMultipartUpload-InternalError",
        "decrypt-map-ResultWriter-PutObject-InternalError",
        "split-publish-PutObject-SlowDown",
        "report-sns-Publish-InternalError",
    }
)


def _params() -> list[Any]:
    params = []
    for fault in FAULTS:
        for kind in KINDS:
            marks = []
            if kind in fault.xfail:
                marks.append(pytest.mark.xfail(strict=True, reason=fault.xfail[kind]))
            covered_by = PERSISTENT_COVERED_BY.get(f"{fault.step}-{fault.call}")
            case = f"{fault.step}-{fault.call}"
            transient_covered_by = TRANSIENT_COVERED_BY.get(case)
            if kind == "transient" and transient_covered_by and not FULL_MATRIX:
                reason = (
                    f"same path as {transient_covered_by}-transient; EDX_VAULT_FULL_FAULT_MATRIX=1"
                )
                marks.append(pytest.mark.skip(reason=reason))
            elif kind == "persistent" and covered_by and not FULL_MATRIX:
                reason = f"same path as {covered_by}-persistent; EDX_VAULT_FULL_FAULT_MATRIX=1"
                marks.append(pytest.mark.skip(reason=reason))
            elif kind == "persistent" and case not in PERSISTENT_IN_MAKE_TEST and not FULL_MATRIX:
                reason = "runs in make test-faults (EDX_VAULT_FULL_FAULT_MATRIX=1)"
                marks.append(pytest.mark.skip(reason=reason))
            params.append(
                pytest.param(fault, kind, id=f"{fault.step}-{fault.call}-{kind}", marks=marks)
            )
    return params


@pytest.fixture(autouse=True)
def _one_case(vault: FaultVault, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Poll the run often (`sync --wait` polls every 2 s, about a case's whole run); at the
    end, pass or fail, clear the faults and take the case's files away from edX."""
    monkeypatch.setattr(sync_command, "POLL_INTERVAL_SECONDS", 0.1)
    yield
    vault.end_case()


def _fault_fired(fault: Fault, outcome: SyncOutcome) -> list[str]:
    """The case's fault hit at least one call (of any of its rules; preconditions aside)."""
    if not outcome.armed:
        return ["the fault was never armed: the run ended before its state or trigger"]
    hits = [
        rule["fired"]
        for template, rule in zip(fault.rules, outcome.fired, strict=True)
        if "times" not in template
    ]
    if not any(hits):
        return [f"the fault never fired: {fault.call}"]
    return []


def _healed(
    vault: FaultVault, package: CasePackage, outcome: SyncOutcome, *, same_run: bool
) -> list[str]:
    """What is wrong with a run that should have published every file of the case."""
    problems = []
    report = outcome.report
    if outcome.exit_code != 0 or outcome.execution_status != "SUCCEEDED":
        problems.append(f"exit {outcome.exit_code}, execution {outcome.execution_status}")
    if report is None:
        problems.append("no report")
    elif report["status"] != "succeeded" or report["failures"]:
        problems.append(f"report {report['status']} with {len(report['failures'])} failures")
    elif same_run:
        # Every unit of the case is accounted for: published by this run, or by an earlier
        # attempt of it (a retried item whose row was already done); every event log split.
        published = published_count(report)
        if published + report["skipped"] != len(package.published_units):
            problems.append(
                f"report counts {published} published + {report['skipped']} skipped, "
                f"expected {len(package.published_units)} units"
            )
        split = report["course_split"]["logs"]
        if split != len(event_logs(package.units)):
            problems.append(f"report counts {split} logs split by course")
        if report["planned"] != len(package.objects):
            problems.append(f"report planned {report['planned']}, seeded {len(package.objects)}")
    if report is not None and report["status"] == "succeeded":
        # Every object of the case (the only files at edX) is published or up to date.
        accounting = report.get("accounting") or {}
        done = accounting.get("published", 0) + accounting.get("up_to_date", 0)
        if accounting.get("listed") != len(package.objects) or done != len(package.objects):
            problems.append(f"accounting {accounting}, seeded {len(package.objects)} objects")
    problems.extend(vault.unpublished(package))
    return problems


def _honest(vault: FaultVault, package: CasePackage, outcome: SyncOutcome) -> list[str]:
    """A run that left files unpublished (or a log not split) must not say it succeeded, and
    must name them."""
    versions = vault.versions()
    unpublished = [
        unit
        for unit in package.published_units
        if any(
            problem.startswith(("not published", "wrong bytes"))
            for problem in vault.unpublished_unit(unit, versions)
        )
    ] + [log for log in event_logs(package.units) if vault.unsplit(log)]
    if not unpublished:
        return []
    problems = []
    report = outcome.report
    if outcome.exit_code == 0:
        problems.append(f"exit 0 with {len(unpublished)} files unpublished")
    if report is not None:
        if report["status"] == "succeeded":
            problems.append(f"report succeeded with {len(unpublished)} files unpublished")
        named = {failure["source_key"] for failure in report["failures"]}
        problems.extend(
            f"unpublished and not named by the report: {unit.source_key} {unit.member_name}"
            for unit in unpublished
            if unit.source_key not in named
        )
    return problems


@pytest.mark.parametrize(("fault", "kind"), _params())
def test_the_sync_heals(vault: FaultVault, fault: Fault, kind: str) -> None:
    # Given a fresh package at edX and a fault on one call of the sync
    package = vault.new_large_event_log() if fault.large else vault.new_package()
    rules = fault.rules_for(kind, vault.rule_names())
    # When the admin syncs
    first = vault.sync(rules, arm_at=fault.arm_at, trigger=fault.trigger_for(vault.rule_names()))
    problems = _fault_fired(fault, first)
    if kind == "transient":
        # Then the same run heals
        problems += _healed(vault, package, first, same_run=True)
        outcomes = [first]
    else:
        # Then the run does not claim success for what it did not publish ...
        problems += _honest(vault, package, first)
        # ... and once the fault is gone, the next run heals
        second = vault.sync()
        problems += [f"next run: {p}" for p in _healed(vault, package, second, same_run=False)]
        outcomes = [first, second]
    # And nothing is left half done
    problems += vault.leftovers(package)
    details = "\n".join(f"run {n}: {outcome.describe()}" for n, outcome in enumerate(outcomes, 1))
    where = f"handlers' tracebacks: {vault.log_file}"
    assert not problems, "\n".join([*problems, details, where])
