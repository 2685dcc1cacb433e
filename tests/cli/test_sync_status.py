"""``edx-vault sync`` and ``status`` against state machines moto really executes.

The pipeline stack here is a stand-in with the real stack's outputs (see
``conftest.deploy_pipeline_stack``): a Pass, Wait or Fail machine is enough to drive the CLI's
start, wait, report and exit-status logic. The run report is put where the Report step writes
it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from edx_vault.cli import context as cli_context
from edx_vault.cli import sync as sync_command
from edx_vault.devtools.synthetic.reports import credentials_csv
from tests.cli.conftest import Cli, DeployedVault, KeyPair, deploy_pipeline_stack, seed_pipeline_key

NOW = dt.datetime(2024, 1, 7, 6, 0, 0, tzinfo=dt.UTC)
RUN_NAME = "manual-20240107T060000Z"
PASS_MACHINE = {"StartAt": "Report", "States": {"Report": {"Type": "Pass", "End": True}}}
SLOW_MACHINE = {
    "StartAt": "Plan",
    "States": {
        "Plan": {"Type": "Wait", "Seconds": 1, "Next": "Report"},
        "Report": {"Type": "Pass", "End": True},
    },
}
FAILING_MACHINE = {
    "StartAt": "Report",
    "States": {"Report": {"Type": "Fail", "Error": "ItemsFailed", "Cause": "2 files failed"}},
}


def report(status: str = "succeeded", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "run_id": RUN_NAME,
        "started": "2024-01-07T06:00:00+00:00",
        "finished": "2024-01-07T06:03:12+00:00",
        "status": status,
        "files": {"events": {"count": 4, "bytes": 16384}, "database": {"count": 22, "bytes": 9000}},
        "failures": [],
        "missing": [{"kind": "events", "org": "examplex", "site": "edge", "period": "2024-01-06"}],
        "unknown": [],
        "key_expiry": {"fingerprint": "AB" * 20, "expires": "2026-01-07", "days_left": 731},
        "duration_seconds": 192.0,
        "estimated_cost_usd": 0.01,
    }
    document.update(overrides)
    return document


def put_report(vault: DeployedVault, document: dict[str, Any], name: str = RUN_NAME) -> None:
    vault.aws.client("s3").put_object(
        Bucket=vault.data_bucket, Key=f"reports/{name}.json", Body=json.dumps(document).encode()
    )


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_context, "utc_now", lambda: NOW)
    monkeypatch.setattr(sync_command, "POLL_INTERVAL_SECONDS", 0.05)


pytestmark = pytest.mark.usefixtures("executing_step_functions", "fixed_clock")


@pytest.fixture
def secrets_stored(vault_stack: DeployedVault) -> None:
    """Every secret a sync needs has a value (what keygen and import-credentials store)."""
    client = vault_stack.aws.client("secretsmanager")
    for arn in (
        vault_stack.credentials_secret,
        vault_stack.key_secret,
        vault_stack.passphrase_secret,
        vault_stack.pseudonym_key_secret,
    ):
        client.put_secret_value(SecretId=arn, SecretString="stored")


@pytest.mark.usefixtures("secrets_stored")
def test_sync_starts_a_named_execution_with_the_retry_flag(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a deployed pipeline
    machine = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    # When the admin starts a sync that retries failed files
    result = cli("sync", "--retry-failed")
    # Then one execution named after the time runs with that flag, and the CLI does not wait
    assert result.exit_code == 0, result.stderr
    sfn = vault_stack.aws.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == RUN_NAME
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"retry_failed": True}
    assert f"Started sync {RUN_NAME}" in result.stdout


@pytest.mark.usefixtures("secrets_stored")
def test_sync_wait_prints_the_report_and_succeeds(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given a pipeline that takes a moment, and the report its Report step writes
    deploy_pipeline_stack(vault_stack, SLOW_MACHINE)
    put_report(vault_stack, report())
    # When the admin syncs and waits
    result = cli("sync", "--wait")
    # Then progress was shown while it ran, and the report's summary at the end
    assert result.exit_code == 0, result.stderr
    assert "running" in result.stderr
    assert f"Sync {RUN_NAME} SUCCEEDED" in result.stdout
    assert "events" in result.stdout and "16.0 KiB" in result.stdout
    assert "expected but missing at edX (1)" in result.stdout
    assert "events examplex edge 2024-01-06" in result.stdout


@pytest.mark.usefixtures("secrets_stored")
def test_sync_wait_exits_1_when_the_execution_fails(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given a run that fails, with a report listing the failures
    deploy_pipeline_stack(vault_stack, FAILING_MACHINE)
    failure = {
        "source_key": "course-data/examplex-2024-01-07.zip",
        "member": "examplex-2024-01-07/ExampleX-CS101-2024-auth_user-prod-analytics.sql.gpg",
        "stage": "decrypt",
        "code": "wrong-recipient",
        "reason": "not encrypted to the pipeline key",
    }
    put_report(vault_stack, report("failed", failures=[failure]))
    # When the admin syncs and waits
    result = cli("sync", "--wait")
    # Then the exit status is 1 and the failure is shown with its reason
    assert result.exit_code == 1
    assert f"Sync {RUN_NAME} FAILED" in result.stdout
    assert "ItemsFailed: 2 files failed" in result.stdout
    assert "[decrypt/wrong-recipient]" in result.stdout
    assert "not encrypted to the pipeline key" in result.stdout


@pytest.mark.usefixtures("secrets_stored")
def test_sync_wait_json_for_scripts(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given a pipeline and its report
    deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    put_report(vault_stack, report())
    # When a script syncs and waits with --json
    result = cli("sync", "--wait", "--json")
    # Then stdout is one JSON document and stderr is quiet
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["status"] == "SUCCEEDED"
    assert document["report"]["files"]["database"]["count"] == 22
    assert result.stderr == ""


@pytest.mark.usefixtures("secrets_stored")
def test_sync_retry_failed_says_what_it_will_retry_before_it_starts(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a manifest with a failed decryption, a failed zip member and a done file
    from edx_vault.settings import stack_outputs

    deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    table = vault_stack.aws.resource("dynamodb").Table(
        vault_stack.outputs[stack_outputs.MANIFEST_TABLE]
    )
    log = "edx-course-data/examplex/edx/events/2024/examplex-edx-events-2024-01-06.log.gz.gpg"
    rows = [
        {"pk": log, "sk": "decrypt", "status": "failed", "error_code": "wrong-recipient"},
        {
            "pk": "course-data/examplex-2024-01-07.zip",
            "sk": "member#examplex-2024-01-07/ExampleX-CS101-2024-auth_user-prod-analytics.sql.gpg",
            "status": "failed",
            "error_code": "bad-passphrase",
        },
        {"pk": "course-data/examplex-2024-01-07.zip", "sk": "object", "status": "done"},
    ]
    for row in rows:
        table.put_item(Item=row)
    # When the admin retries failed files
    result = cli("sync", "--retry-failed")
    # Then, before starting, it lists the two failures (step, code, file) and not the done one
    assert result.exit_code == 0, result.stderr
    assert "Retrying 2 file(s) that failed before:" in result.stdout
    assert f"decrypt  wrong-recipient        s3://{log}" in result.stdout
    assert (
        "bad-passphrase" in result.stdout and "auth_user-prod-analytics.sql.gpg]" in result.stdout
    )
    assert result.stdout.index("Retrying") < result.stdout.index("Started sync")


def test_sync_refuses_to_start_until_credentials_and_key_are_stored(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a deployed pipeline whose secrets are still empty (as the stacks create them),
    # except the pipeline key's passphrase
    machine = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    vault_stack.aws.client("secretsmanager").put_secret_value(
        SecretId=vault_stack.passphrase_secret, SecretString="stored"
    )
    # When the admin starts a sync
    result = cli("sync")
    # Then nothing starts, and the error names each missing secret with the command to run
    assert result.exit_code == 1
    assert "edX's credentials (run `edx-vault import-credentials`)" in result.stderr
    assert "the pipeline's OpenPGP key (run `edx-vault keygen`)" in result.stderr
    assert "passphrase" not in result.stderr
    sfn = vault_stack.aws.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_sync_without_the_pipeline_stack_says_so(cli: Cli, vault_stack: DeployedVault) -> None:
    # Given only the storage stack
    # When a sync is asked for
    result = cli("sync")
    # Then the error names the pipeline stack and how to deploy it
    assert result.exit_code == 1
    assert f"the pipeline stack {vault_stack.prefix}-Pipeline is not deployed" in result.stderr
    assert "npx cdk deploy" in result.stderr


def test_status_json_shows_runs_report_key_expiry_and_credentials(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair
) -> None:
    # Given a finished sync with its report, a key expiring in 10 days, no edX credentials
    machine = deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    put_report(vault_stack, report())
    sfn = vault_stack.aws.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machine, name=RUN_NAME)["executionArn"]
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.05)
    seed_pipeline_key(vault_stack, fast_key, expires=NOW.date() + dt.timedelta(days=10))
    # When a script asks for the status
    result = cli("status", "--json")
    # Then everything is there
    assert result.exit_code == 0, result.stderr
    status = json.loads(result.stdout)
    assert [e["name"] for e in status["executions"]["recent"]] == [RUN_NAME]
    assert status["executions"]["recent"][0]["status"] == "SUCCEEDED"
    assert status["latest_report"]["key"] == f"reports/{RUN_NAME}.json"
    assert status["latest_report"]["report"]["missing"][0]["site"] == "edge"
    [key] = status["pipeline_key"]["keys"]
    assert key["fingerprint"] == fast_key.fingerprint
    assert key["days_left"] == 10
    assert "expires in 10 days" in status["pipeline_key"]["warning"]
    assert status["edx_credentials"]["set"] is False
    assert any("import-credentials" in warning for warning in status["warnings"])
    # and no key material is in it
    assert "PRIVATE KEY" not in result.stdout


def test_status_for_people_after_credentials_are_imported(
    cli: Cli, vault_stack: DeployedVault, fast_key: KeyPair
) -> None:
    # Given the vault with a key, credentials, and two reports (the newer one failed)
    deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    seed_pipeline_key(vault_stack, fast_key)
    assert cli("import-credentials", "-", stdin=credentials_csv()).exit_code == 0
    put_report(vault_stack, report(), name="scheduled-old")
    time.sleep(1.01 - time.time() % 1)  # S3's LastModified has whole seconds
    put_report(
        vault_stack,
        report("failed", run_id="manual-newer", failures=[{"code": "corrupt", "reason": "bad"}]),
        name="manual-newer",
    )
    # When a person asks for the status
    result = cli("status")
    # Then the newest report is summarised, the key listed, the credentials said to be set
    assert result.exit_code == 0, result.stderr
    assert "Latest report (reports/manual-newer.json)" in result.stdout
    assert "run manual-newer: FAILED" in result.stdout
    assert fast_key.fingerprint in result.stdout
    assert "edX credentials: set (last changed" in result.stdout
    assert "Recent syncs\n  none yet" in result.stdout
    assert "WARNING" not in result.stdout


def test_status_shows_where_every_listed_file_went_and_the_deferred_ones(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given a report whose run deferred a file that failed before and an unknown name
    deploy_pipeline_stack(vault_stack, PASS_MACHINE)
    deferred = {
        "key": "course-data/examplex-2024-01-07.zip",
        "member": "examplex-2024-01-07/ExampleX-CS101-2024-auth_user-prod-analytics.sql.gpg",
        "error_code": "wrong-recipient",
    }
    unknown = {"bucket": "edx-course-data", "key": "examplex/odd.txt", "reason": "unknown name"}
    accounting = {
        "listed": 30,
        "published": 26,
        "up_to_date": 2,
        "failed": 0,
        "deferred": {"failed-before": 1, "unknown-name": 1},
        "unaccounted": 0,
    }
    put_report(
        vault_stack,
        report(previously_failed=[deferred], unknown=[unknown], accounting=accounting),
    )
    # When a person asks for the status
    result = cli("status")
    # Then it says where every file edX listed went, and names each deferred file with why
    assert result.exit_code == 0, result.stderr
    assert "edX listed 30 files: 26 published, 2 up to date, 0 failed, 2 deferred" in result.stdout
    assert "deferred: failed before for this version, not retried" in result.stdout
    assert "[wrong-recipient] course-data/examplex-2024-01-07.zip :: examplex-2024-01-07/" in (
        result.stdout
    )
    assert "deferred: unknown files at edX (not mirrored) (1)" in result.stdout
    assert "UNACCOUNTED" not in result.stdout


def test_status_without_a_pipeline_still_reports_the_rest(
    cli: Cli, vault_stack: DeployedVault
) -> None:
    # Given only the storage stack, nothing imported
    # When a person asks for the status
    result = cli("status")
    # Then each missing part says what to do, and the command itself succeeds
    assert result.exit_code == 0, result.stderr
    assert "Recent syncs\n  unavailable: the pipeline stack" in result.stdout
    assert "no pipeline key: run `edx-vault keygen`" in result.stdout
    assert "not imported: run `edx-vault import-credentials`" in result.stdout
