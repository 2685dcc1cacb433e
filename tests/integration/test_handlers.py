"""The five Lambda handlers, run in-process in the state machine's order against moto.

This checks the handlers' wiring (settings from the environment, edX credentials and the
pipeline key from Secrets Manager, work lists and results in S3, the report and its email)
without Step Functions; the embedded AWS tests run the same handlers from the real state machine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError

from edx_vault.devtools.synthetic.generate import generate_package
from edx_vault.devtools.synthetic.spec import demo_package_spec
from edx_vault.devtools.synthetic.upload import upload_package
from edx_vault.engine.errors import TransientError
from edx_vault.pipeline import lambda_runtime, lambda_secrets
from edx_vault.pipeline.key_metadata import EXPIRES_TAG, key_tags
from edx_vault.pipeline.manifest import Manifest
from edx_vault.pipeline.manifest_rows import ClaimOutcome, RowKey, object_row, unit_row
from edx_vault.pipeline.steps import decrypt as decrypt_step
from edx_vault.settings import pipeline_settings
from edx_vault.settings.secret_formats import (
    EdxCredentials,
    PipelineKey,
    PipelineKeyring,
    PipelinePassphrase,
    serialise_edx_credentials,
    serialise_passphrase,
    serialise_pipeline_keyring,
)
from tests.integration import conftest
from tests.integration.conftest import Aws, Vault

# Tests about the whole demo package ask for it; the others run conftest.SMALL_PACKAGE.
WHOLE_PACKAGE: Final = {"whole_package": True}

CONTEXT = SimpleNamespace(
    function_name="test",
    memory_limit_in_mb=1024,
    aws_request_id="req",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:test",
)


def end_sandbox() -> None:
    """What Lambda's end of a sandbox does to module state (the keyring's agent stopped)."""
    lambda_secrets.end_sandbox()
    lambda_runtime.end_sandbox()


def handler(module: str) -> ModuleType:
    return importlib.import_module(f"lambdas.{module}")


@pytest.fixture
def deployed(
    aws: Aws,
    vault: Vault,
    pipeline_key: conftest.PipelineKey,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """The vault's resources, its secrets filled in, and the handlers' environment set.

    Parametrized indirectly with :class:`PackageSpec` overrides (e.g. ``failed_member=False``
    for a package in which every file is good, so a run that succeeds means something) over
    :data:`tests.integration.conftest.SMALL_PACKAGE`, or with ``whole_package`` for the demo package itself.
    """
    overrides = dict(getattr(request, "param", {}))
    if not overrides.pop("whole_package", False):
        overrides = {**conftest.SMALL_PACKAGE, **overrides}
    secrets = aws.client("secretsmanager")
    credentials = secrets.create_secret(
        Name=f"{vault.table_name}/edx-credentials",
        SecretString=serialise_edx_credentials(
            EdxCredentials(
                user_name="edx-partner-mitx",
                access_key_id="AKIA" + "A" * 16,
                secret_access_key="s" * 40,
                imported_at=dt.datetime.now(dt.UTC),
            )
        ),
    )["ARN"]
    armored = str(
        pipeline_key.gpg.export_keys(
            pipeline_key.fingerprint, secret=True, passphrase=pipeline_key.passphrase
        )
    )
    expires = dt.date.today() + dt.timedelta(days=20)
    keyring = PipelineKeyring(
        primary=pipeline_key.fingerprint,
        keys=(
            PipelineKey(
                fingerprint=pipeline_key.fingerprint,
                armored_private_key=armored,
                user_id="pipeline@example.edu",
                created=dt.date.today(),
                expires=expires,
            ),
        ),
    )
    key_secret = secrets.create_secret(
        Name=f"{vault.table_name}/key",
        SecretString=serialise_pipeline_keyring(keyring),
        Tags=key_tags(pipeline_key.fingerprint, expires),
    )["ARN"]
    passphrase = secrets.create_secret(
        Name=f"{vault.table_name}/passphrase",
        SecretString=serialise_passphrase(PipelinePassphrase(passphrase=pipeline_key.passphrase)),
    )["ARN"]
    topic = aws.client("sns").create_topic(Name=vault.table_name)["TopicArn"]
    environment = {
        pipeline_settings.DATA_BUCKET: vault.target.bucket,
        pipeline_settings.DATA_KEY_ARN: vault.target.kms_key_arn,
        pipeline_settings.MANIFEST_TABLE: vault.table_name,
        pipeline_settings.EDX_CREDENTIALS_SECRET_ARN: credentials,
        pipeline_settings.PIPELINE_KEY_SECRET_ARN: key_secret,
        pipeline_settings.PIPELINE_PASSPHRASE_SECRET_ARN: passphrase,
        pipeline_settings.ALERTS_TOPIC_ARN: topic,
        pipeline_settings.ORG_GROUPS: json.dumps([["mitx"], ["harvardx"], ["delftx"]]),
        pipeline_settings.SITES: json.dumps(["edx", "edge"]),
        pipeline_settings.CATEGORIES: json.dumps(["events", "database", "email-opt-in"]),
        pipeline_settings.BACKFILL_FROM: "2024-01-06",
        pipeline_settings.EVENT_BUCKET: vault.event_bucket,
        pipeline_settings.DATABASE_BUCKET: vault.database_bucket,
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "EdxVault",
        "POWERTOOLS_SERVICE_NAME": "edx-vault",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    end_sandbox()
    spec = dataclasses.replace(
        demo_package_spec(seed=3),
        event_bucket=vault.event_bucket,
        database_bucket=vault.database_bucket,
        **overrides,
    )
    package = generate_package(spec, [pipeline_key.public_key], tmp_path / "package")
    upload_package(package, vault.s3)
    yield {"package": package, "topic": topic, "aws": aws, "key_expires": expires}
    end_sandbox()  # no gpg-agent outlives the test


# The state machine's Retry on TransientError (stacks/sync_state_machine.py): the first attempt
# and up to five retries, one after another.
MAX_ATTEMPTS = 6


def invoke_item(module: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """One Distributed Map iteration: retried on TransientError, as the state machine does.

    Returns ``None`` when every attempt failed: the Map's Catch then leaves no result file.
    """
    for _ in range(MAX_ATTEMPTS):
        try:
            result: dict[str, Any] = handler(module).handler({"item": item}, CONTEXT)
        except TransientError:
            continue
        return result
    return None


def run_like_the_state_machine(run_id: str, *, retry_failed: bool = False) -> dict[str, Any]:
    started = dt.datetime(2024, 1, 8, 6, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    plan = handler("plan").handler(
        {"execution_name": run_id, "start_time": started, "input": {"retry_failed": retry_failed}},
        CONTEXT,
    )
    settings = lambda_runtime.settings()
    s3 = lambda_runtime.run_context().vault_s3
    for item in json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["mirror_items_key"])["Body"].read()
    ):
        invoke_item("mirror", item)
    handler("collect").handler({"run_id": run_id}, CONTEXT)
    for unit in json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["decrypt_items_key"])["Body"].read()
    ):
        invoke_item("decrypt", unit)
    handler("collect").handler({"run_id": run_id, "work_list": "split"}, CONTEXT)
    for logs in json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["split_items_key"])["Body"].read()
    ):
        invoke_item("split", logs)
    verdict: dict[str, Any] = handler("report").handler({"run_id": run_id}, CONTEXT)
    return verdict


def stored_report(vault: Vault, run_id: str) -> dict[str, Any]:
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=f"reports/{run_id}.json")["Body"]
    report: dict[str, Any] = json.loads(body.read())
    return report


def subscribe_a_queue(deployed: dict[str, Any]) -> None:
    """Subscribe an SQS queue to the alerts topic, so a test can read the emails' text."""
    aws: Aws = deployed["aws"]
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=deployed["topic"].rsplit(":", 1)[1])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=deployed["topic"], Protocol="sqs", Endpoint=queue_arn)
    deployed["queue_url"] = queue_url


def emails(deployed: dict[str, Any]) -> list[dict[str, Any]]:
    """The notifications published to the topic since :func:`subscribe_a_queue`."""
    sqs = deployed["aws"].client("sqs")
    received = sqs.receive_message(QueueUrl=deployed["queue_url"], MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@pytest.mark.parametrize("deployed", [WHOLE_PACKAGE], indirect=True)
def test_a_run_through_the_handlers_publishes_the_package_and_reports(
    vault: Vault, deployed: dict[str, Any], pipeline_key: conftest.PipelineKey
) -> None:
    package = deployed["package"]
    subscribe_a_queue(deployed)
    # When the handlers run in the state machine's order
    verdict = run_like_the_state_machine("run-1")
    # Then every data unit is published, the failed export is the only failure
    failed_exports = [u for u in package.units if u.failed]
    assert verdict == {
        "run_id": "run-1",
        "status": "failed",
        "failed": len(failed_exports),
        "published": len(package.published_units),
    }
    report = json.loads(
        vault.s3.get_object(Bucket=vault.target.bucket, Key="reports/run-1.json")["Body"].read()
    )
    assert [f["code"] for f in report["failures"]] == ["edx-export-failed"]
    decrypted = {k: v for k, v in report["files"].items() if k != "events-by-course"}
    assert sum(c["count"] for c in decrypted.values()) == len(package.published_units)
    # And every event log was split by course: its course files counted apart
    event_logs = report["files"]["events"]["count"]
    assert report["course_split"]["logs"] == event_logs > 0
    assert report["files"]["events-by-course"]["count"] == report["course_split"]["course_files"]
    assert report["course_split"]["course_files"] >= event_logs
    # And every object edX listed is accounted for exactly once: the zip with the failed export
    # is failed, every other object published
    zips_with_failures = {u.source_key for u in failed_exports}
    assert report["accounting"] == {
        "listed": len(package.objects),
        "published": len(package.objects) - len(zips_with_failures),
        "up_to_date": 0,
        "failed": len(zips_with_failures),
        "deferred": {"failed-before": 0, "unknown-name": 0},
        "unaccounted": 0,
    }
    assert set(report["files"]) >= {"events", "database", "ora", "forums", "email-opt-in"}
    # And the key expiry comes from the secret's tags, counted from when Report ran (the key
    # was tagged to expire 20 days after the fixture's today), with a warning in the email
    finished = dt.datetime.fromisoformat(report["finished"]).date()
    expires: dt.date = deployed["key_expires"]
    assert report["key_expiry"] == {
        "fingerprint": pipeline_key.fingerprint,
        "expires": expires.isoformat(),
        "days_left": (expires - finished).days,
        "problem": None,
    }
    assert report["key_expiry"]["days_left"] in (19, 20)  # 19 only across a midnight
    [email] = emails(deployed)
    assert email["Subject"] == "edx-vault sync failed: run-1"
    assert (
        f"WARNING: the pipeline key expires in {(expires - finished).days} days"
        in (email["Message"])
    )
    assert report["estimated_cost_usd"] > 0
    for unit in package.published_units:
        assert unit.output_key is not None
        vault.s3.head_object(Bucket=vault.target.bucket, Key=unit.output_key)


def test_a_second_run_plans_nothing(vault: Vault, deployed: dict[str, Any]) -> None:
    run_like_the_state_machine("run-1")
    verdict = run_like_the_state_machine("run-2")
    report = json.loads(
        vault.s3.get_object(Bucket=vault.target.bucket, Key="reports/run-2.json")["Body"].read()
    )
    assert verdict["status"] == "succeeded"
    assert report["planned"] == 0
    assert report["up_to_date"] == len(deployed["package"].objects)


@pytest.mark.parametrize("deployed", [WHOLE_PACKAGE], indirect=True)
def test_a_lost_item_is_a_failure_in_the_report(vault: Vault, deployed: dict[str, Any]) -> None:
    # Given a run where one decrypt task (a batch of units) died without writing its results
    # (Lambda crashed)
    run_id = "run-lost"
    started = dt.datetime(2024, 1, 8, tzinfo=dt.UTC).isoformat()
    plan = handler("plan").handler(
        {"execution_name": run_id, "start_time": started, "input": {}}, CONTEXT
    )
    settings = lambda_runtime.settings()
    s3 = lambda_runtime.run_context().vault_s3
    for item in json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["mirror_items_key"])["Body"].read()
    ):
        handler("mirror").handler({"item": item}, CONTEXT)
    handler("collect").handler({"run_id": run_id}, CONTEXT)
    batches = json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["decrypt_items_key"])["Body"].read()
    )
    assert len(batches) > 1
    for batch in batches[1:]:
        handler("decrypt").handler({"item": batch}, CONTEXT)
    # When the report runs / Then each unit of the lost batch, and only those, is reported as a
    # failure with no result
    verdict = handler("report").handler({"run_id": run_id}, CONTEXT)
    report = json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=f"reports/{run_id}.json")["Body"].read()
    )
    lost = [f for f in report["failures"] if f["code"] == "no-result"]
    assert verdict["status"] == "failed"
    assert [(f["source_key"], f["member"]) for f in lost] == [
        (unit["source_key"], unit["member"]) for unit in batches[0]["items"]
    ]


def test_rejected_edx_credentials_fail_the_plan_with_a_clear_error(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given edX's S3 refusing the stored keys (this shared moto server accepts any key, so
    # the refusal is stubbed on the client made with edX's keys)
    from botocore.stub import Stubber

    from edx_vault.engine.errors import EdxCredentialsRejectedError

    made_with_edx_keys = lambda_secrets.edx_s3

    def refusing_edx_s3(run_id: str) -> Any:
        client = made_with_edx_keys(run_id)
        stubber = Stubber(client)
        stubber.add_client_error(
            "list_objects_v2", service_error_code="InvalidAccessKeyId", http_status_code=403
        )
        stubber.activate()
        return client

    monkeypatch.setattr(lambda_secrets, "edx_s3", refusing_edx_s3)
    # When the plan runs / Then it says edX rejected the credentials, and what to do
    with pytest.raises(EdxCredentialsRejectedError, match="import-credentials"):
        handler("plan").handler(
            {"execution_name": "r", "start_time": "2024-01-08T00:00:00Z", "input": {}}, CONTEXT
        )


def test_our_own_access_denied_is_not_blamed_on_edx(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a refusal of a call made with the vault's own role, not with edX's keys
    from botocore.exceptions import ClientError

    from edx_vault.engine.errors import EdxCredentialsRejectedError
    from edx_vault.pipeline import planner

    def refuse(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    monkeypatch.setattr(planner, "list_sources", refuse)
    # When the plan runs / Then the AccessDenied is reported as it is, not as edX's rejection
    with pytest.raises(ClientError, match="AccessDenied") as raised:
        handler("plan").handler(
            {"execution_name": "r", "start_time": "2024-01-08T00:00:00Z", "input": {}}, CONTEXT
        )
    assert not isinstance(raised.value, EdxCredentialsRejectedError)


def throttled(operation: str) -> ClientError:
    """What boto3 raises for a throttled call (the handlers turn it into a TransientError)."""
    return ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, operation)


def assert_every_unit_published(vault: Vault, package: Any) -> None:
    for unit in package.published_units:
        assert unit.output_key is not None
        vault.s3.head_object(Bucket=vault.target.bucket, Key=unit.output_key)


def assert_no_row_left_in_progress(vault: Vault) -> None:
    stuck = [(r["pk"], r["sk"]) for r in vault.manifest.scan() if r["status"] == "in_progress"]
    assert stuck == []


@pytest.mark.parametrize("deployed", [{"failed_member": False}], indirect=True)
def test_items_retried_in_the_same_run_after_a_transient_error_are_published(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a package in which every file is good
    package = deployed["package"]
    zip_key = next(o.key for o in package.objects if o.key.endswith(".zip"))
    event_log = next(u for u in package.published_units if u.member_name is None)
    # And a mirror whose manifest update is throttled once, after the zip was copied to raw/
    # (its object row is claimed and stays in_progress under this run)
    real_complete = Manifest.complete
    throttled_rows: set[str] = set()

    def complete_throttled_once(self: Manifest, row: RowKey, **kwargs: Any) -> None:
        if row.pk.endswith(zip_key) and row.sk == "object" and row.pk not in throttled_rows:
            throttled_rows.add(row.pk)
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}},
                "UpdateItem",
            )
        real_complete(self, row, **kwargs)

    # And a decrypt whose ranged read of the ciphertext is throttled once, after its claim
    real_decrypt = decrypt_step.decrypt_unit
    throttled_units: set[str] = set()

    def decrypt_throttled_once(*args: Any, unit: Any, **kwargs: Any) -> Any:
        if unit.source_key == event_log.source_key and unit.source_key not in throttled_units:
            throttled_units.add(unit.source_key)
            raise throttled("GetObject")
        return real_decrypt(*args, unit=unit, **kwargs)

    monkeypatch.setattr(Manifest, "complete", complete_throttled_once)
    monkeypatch.setattr(decrypt_step, "decrypt_unit", decrypt_throttled_once)
    # When the handlers run as the state machine runs them (retrying the TransientError)
    verdict = run_like_the_state_machine("run-retried")
    # Then both faults happened, and each retry finished its own item in the same run
    assert throttled_rows and throttled_units
    assert verdict == {
        "run_id": "run-retried",
        "status": "succeeded",
        "failed": 0,
        "published": len(package.published_units),
    }
    assert_every_unit_published(vault, package)
    report = stored_report(vault, "run-retried")
    assert report["failures"] == []
    # And no row is left locked for the lease
    assert_no_row_left_in_progress(vault)


@pytest.mark.parametrize("deployed", [{"failed_member": False}], indirect=True)
def test_items_another_live_run_holds_fail_this_run_with_a_clear_code(
    vault: Vault, deployed: dict[str, Any]
) -> None:
    # Given a package in which every file is good
    package = deployed["package"]
    zip_object = next(o for o in package.objects if o.key.endswith(".zip"))
    event_log = next(u for u in package.published_units if u.member_name is None)

    def etag(bucket: str, key: str) -> str:
        return str(vault.s3.head_object(Bucket=bucket, Key=key)["ETag"])

    # And another run, still live, holding the zip's object row and one event log's unit
    vault.manifest.claim(
        object_row(zip_object.bucket, zip_object.key),
        version=etag(zip_object.bucket, zip_object.key),
        run_id="run-other",
    )
    vault.manifest.claim(
        unit_row(event_log.source_bucket, event_log.source_key, None),
        version=etag(event_log.source_bucket, event_log.source_key),
        run_id="run-other",
    )
    # When this run reaches them
    verdict = run_like_the_state_machine("run-this")
    # Then it does not say it succeeded: both are failures naming the run that holds them
    assert verdict["status"] == "failed"
    report = stored_report(vault, "run-this")
    held = {(f["stage"], f["source_key"], f["code"]) for f in report["failures"]}
    assert held == {
        ("mirror", zip_object.key, "held-by-another-run"),
        ("decrypt", event_log.source_key, "held-by-another-run"),
    }
    assert all("run-other" in f["reason"] for f in report["failures"])
    # And everything else was published
    zip_units = [u for u in package.published_units if u.source_key == zip_object.key]
    assert verdict["published"] == len(package.published_units) - len(zip_units) - 1


@pytest.fixture
def sync_state_machine(deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The sync state machine the handlers ask whether a run has ended, and its client."""
    stepfunctions = deployed["aws"].client("stepfunctions")
    arn = stepfunctions.create_state_machine(
        name=f"sync-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(
            {"StartAt": "Plan", "States": {"Plan": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/edx-vault/pipeline/sync",
    )["stateMachineArn"]
    monkeypatch.setenv(pipeline_settings.SYNC_STATE_MACHINE_ARN, arn)
    for cached in (lambda_runtime.settings, lambda_runtime.run_context):
        cached.cache_clear()
    yield stepfunctions, arn
    for cached in (lambda_runtime.settings, lambda_runtime.run_context):
        cached.cache_clear()


def hold_zip_and_event_log(vault: Vault, package: Any, run_id: str) -> tuple[Any, Any]:
    """``run_id`` claims the zip's object row and one event log's unit row."""
    zip_object = next(o for o in package.objects if o.key.endswith(".zip"))
    event_log = next(u for u in package.published_units if u.member_name is None)
    for row, bucket, key in (
        (object_row(zip_object.bucket, zip_object.key), zip_object.bucket, zip_object.key),
        (
            unit_row(event_log.source_bucket, event_log.source_key, None),
            event_log.source_bucket,
            event_log.source_key,
        ),
    ):
        etag = str(vault.s3.head_object(Bucket=bucket, Key=key)["ETag"])
        assert vault.manifest.claim(row, version=etag, run_id=run_id) is ClaimOutcome.CLAIMED
    return zip_object, event_log


@pytest.mark.parametrize("deployed", [{"failed_member": False}], indirect=True)
def test_items_a_run_that_has_ended_still_holds_are_taken_over(
    vault: Vault, deployed: dict[str, Any], sync_state_machine: Any
) -> None:
    # Given a run that failed before its report could release what it held (here: stopped),
    # within the lease, holding the zip's object row and one event log's unit
    stepfunctions, arn = sync_state_machine
    ended = stepfunctions.start_execution(stateMachineArn=arn, name="run-ended")["executionArn"]
    stepfunctions.stop_execution(executionArn=ended)
    hold_zip_and_event_log(vault, deployed["package"], "run-ended")
    # When the next run reaches them
    verdict = run_like_the_state_machine("run-this")
    # Then it takes them over and publishes everything, as if nobody had held them
    assert verdict["status"] == "succeeded", stored_report(vault, "run-this")["failures"]
    assert_every_unit_published(vault, deployed["package"])
    assert_no_row_left_in_progress(vault)


@pytest.mark.parametrize("deployed", [{"failed_member": False}], indirect=True)
def test_items_a_running_run_holds_are_left_to_it(
    vault: Vault, deployed: dict[str, Any], sync_state_machine: Any
) -> None:
    # Given a run Step Functions says is still running, holding two rows
    stepfunctions, arn = sync_state_machine
    stepfunctions.start_execution(stateMachineArn=arn, name="run-live")
    zip_object, event_log = hold_zip_and_event_log(vault, deployed["package"], "run-live")
    # When another run reaches them
    run_like_the_state_machine("run-this")
    # Then it leaves them to that run, and says so
    report = stored_report(vault, "run-this")
    held = {(f["stage"], f["source_key"], f["code"]) for f in report["failures"]}
    assert held == {
        ("mirror", zip_object.key, "held-by-another-run"),
        ("decrypt", event_log.source_key, "held-by-another-run"),
    }


def test_a_malformed_key_expiry_tag_does_not_crash_the_report(
    vault: Vault, deployed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given someone edited the key secret's expiry tag by hand
    secrets = deployed["aws"].client("secretsmanager")
    key_secret = lambda_runtime.settings().pipeline_key_secret_arn
    secrets.tag_resource(SecretId=key_secret, Tags=[{"Key": EXPIRES_TAG, "Value": "next June"}])
    # And a planned run (its items need not run for the report to be written)
    handler("plan").handler(
        {"execution_name": "run-tag", "start_time": "2024-01-08T06:00:00Z", "input": {}}, CONTEXT
    )
    capsys.readouterr()
    # When the Report step runs
    verdict = handler("report").handler({"run_id": "run-tag"}, CONTEXT)
    # Then it writes its report, which says the expiry is unknown and why
    assert verdict["run_id"] == "run-tag"
    expiry = stored_report(vault, "run-tag")["key_expiry"]
    assert (expiry["expires"], expiry["days_left"]) == (None, None)
    assert EXPIRES_TAG in expiry["problem"] and "'next June'" in expiry["problem"]
    # And it emits no PipelineKeyDaysLeft: no number would be true (see lambdas/report.py)
    emitted = capsys.readouterr().out
    assert "PublishedFiles" in emitted
    assert "PipelineKeyDaysLeft" not in emitted


VALID_MIRROR_ITEM = {
    "source_bucket": "edx-course-data",
    "source_key": "mitx/edx/events/2024/mitx-edx-events-2024-01-07.log.gz.gpg",
    "etag": '"abc"',
    "size": 10,
    "last_modified": "2024-01-08T01:00:00Z",
    "kind": "event-log",
    "org": "mitx",
    "run_id": "r",
}
VALID_DECRYPT_ITEM = {
    "source_bucket": "course-data",
    "source_key": "mitx-2024-01-07.zip",
    "etag": '"abc"',
    "raw_key": "raw/course-data/mitx-2024-01-07.zip",
    "raw_size": 10,
    "member": "mitx-2024-01-07/auth_user-prod-analytics.sql.gpg",
    "run_id": "r",
}


def without(document: dict[str, Any], field: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != field}


@pytest.mark.parametrize(
    ("module", "event", "field"),
    [
        ("mirror", {"item": {"items": [without(VALID_MIRROR_ITEM, "etag")]}}, "etag"),
        ("mirror", {"item": {"items": [{**VALID_MIRROR_ITEM, "size": "big"}]}}, "size"),
        ("decrypt", {"item": {"items": [without(VALID_DECRYPT_ITEM, "raw_key")]}}, "raw_key"),
        ("decrypt", {"item": {"items": [{**VALID_DECRYPT_ITEM, "tag": "x"}]}}, "tag"),
        ("plan", {"execution_name": "r", "input": {}}, "start_time"),
        ("collect", {}, "run_id"),
        ("report", {"run_id": None}, "run_id"),
        ("mirror", {"item": {"items": []}}, "items"),
        (
            "decrypt",
            {"item": {"items": [VALID_DECRYPT_ITEM, {**VALID_DECRYPT_ITEM, "run_id": "other"}]}},
            "items",
        ),
    ],
)
def test_a_malformed_event_fails_with_a_validation_error_naming_the_field(
    module: str, event: dict[str, Any], field: str
) -> None:
    from pydantic import ValidationError

    # Given an event the state machine would never send (a field missing, mistyped or unknown)
    # When the handler gets it
    with pytest.raises(ValidationError) as raised:
        handler(module).handler(event, CONTEXT)
    # Then it fails before any work, with pydantic's error naming the field
    assert [error["loc"][-1] for error in raised.value.errors()] == [field]
    assert field in str(raised.value)


def count_secret_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Secrets Manager reads through Powertools, per secret ARN, from now on."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    reads: dict[str, int] = {}
    real_get = SecretsProvider._get

    def counting_get(self: SecretsProvider, name: str, **options: Any) -> str | bytes:
        reads[name] = reads.get(name, 0) + 1
        return real_get(self, name, **options)

    monkeypatch.setattr(SecretsProvider, "_get", counting_get)
    return reads


def test_each_secret_is_read_once_per_sandbox_and_edx_credentials_once_per_run(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given sandboxes that stay warm through a run and into the next (one process here)
    reads = count_secret_reads(monkeypatch)
    # When a whole run goes through the handlers (many batches of Mirror and Decrypt), then
    # a second run
    verdict = run_like_the_state_machine("run-cached-secrets")
    after_first_run = dict(reads)
    run_like_the_state_machine("run-cached-secrets-2")
    # Then the first run read each of the three secrets once, and the second run read edX's
    # credentials again (an import between runs is used) but not the cached keyring
    assert verdict["published"] > 1
    settings = lambda_runtime.settings()
    assert after_first_run == {
        settings.edx_credentials_secret_arn: 1,
        settings.pipeline_key_secret_arn: 1,
        settings.pipeline_passphrase_secret_arn: 1,
    }
    assert reads == {**after_first_run, settings.edx_credentials_secret_arn: 2}


def test_a_malformed_secret_the_admin_fixes_is_read_again_at_the_next_call(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from edx_vault.settings.secret_document import SecretFormatError

    # Given a pipeline key secret that holds something other than the documented JSON
    secrets = deployed["aws"].client("secretsmanager")
    key_secret = lambda_runtime.settings().pipeline_key_secret_arn
    good = secrets.get_secret_value(SecretId=key_secret)["SecretString"]
    secrets.put_secret_value(SecretId=key_secret, SecretString="not json")
    reads = count_secret_reads(monkeypatch)
    with pytest.raises(SecretFormatError, match="pipeline key"):
        lambda_secrets.keyring().gpg()
    # When the admin stores the key again, and the same warm sandbox is called
    secrets.put_secret_value(SecretId=key_secret, SecretString=good)
    gpg, _ = lambda_secrets.keyring().gpg()
    # Then it read the secret again (the bad value was not kept) and imported the key
    assert reads[key_secret] == 2
    assert gpg.list_keys(secret=True)


def test_credentials_edx_rejected_are_read_again_at_the_next_call(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.stub import Stubber

    from edx_vault.engine.errors import EdxCredentialsRejectedError

    # Given edX's S3 refusing the cached credentials once
    reads = count_secret_reads(monkeypatch)
    refused = lambda_secrets.edx_s3("run-1")
    stubber = Stubber(refused)
    stubber.add_client_error(
        "list_objects_v2", service_error_code="InvalidAccessKeyId", http_status_code=403
    )
    stubber.activate()
    with pytest.raises(EdxCredentialsRejectedError):
        refused.list_objects_v2(Bucket=vault.event_bucket)
    # When the next call of the same run asks for edX's client (the next batch, after an import)
    renewed = lambda_secrets.edx_s3("run-1")
    # Then the secret was read again, and a new client made from it; then kept for the run
    assert renewed is not refused
    assert reads == {lambda_runtime.settings().edx_credentials_secret_arn: 2}
    assert lambda_secrets.edx_s3("run-1") is renewed


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ThrottlingException", "TransientError"), ("ResourceNotFoundException", "SecretNotSetError")],
)
def test_a_secret_read_error_reaches_the_handler_as_secrets_manager_said_it(
    vault: Vault,
    deployed: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    expected: str,
) -> None:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    # Given Secrets Manager answering the edX credentials' read with an error
    def failing_get(self: SecretsProvider, name: str, **options: Any) -> str:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetSecretValue")

    monkeypatch.setattr(SecretsProvider, "_get", failing_get)
    # When the plan runs
    with pytest.raises(Exception) as raised:
        handler("plan").handler(
            {"execution_name": "r", "start_time": "2024-01-08T00:00:00Z", "input": {}}, CONTEXT
        )
    # Then the error is Secrets Manager's (a throttle is retried), not Powertools' wrapper
    assert type(raised.value).__name__ == expected
