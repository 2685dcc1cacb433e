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
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from edx_vault import lambda_runtime, pipeline_settings
from edx_vault.key_metadata import key_tags
from edx_vault.secret_formats import (
    EdxCredentials,
    PipelineKey,
    PipelineKeyring,
    PipelinePassphrase,
    serialise_edx_credentials,
    serialise_passphrase,
    serialise_pipeline_keyring,
)
from edx_vault.synthetic_package import demo_package_spec, generate_package, upload_package
from tests.integration import conftest
from tests.integration.conftest import Aws, Vault

CONTEXT = SimpleNamespace(
    function_name="test",
    memory_limit_in_mb=1024,
    aws_request_id="req",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:test",
)


def handler(module: str) -> ModuleType:
    return importlib.import_module(f"lambdas.{module}")


@pytest.fixture
def deployed(
    aws: Aws,
    vault: Vault,
    pipeline_key: conftest.PipelineKey,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """The vault's resources, its secrets filled in, and the handlers' environment set."""
    secrets = aws.client("secretsmanager")
    credentials = secrets.create_secret(
        Name=f"{vault.table_name}/edx-credentials",
        SecretString=serialise_edx_credentials(
            EdxCredentials("edx-partner-mitx", "AKIA" + "A" * 16, "s" * 40, dt.datetime.now(dt.UTC))
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
                pipeline_key.fingerprint, armored, "pipeline@example.edu", dt.date.today(), expires
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
        SecretString=serialise_passphrase(PipelinePassphrase(pipeline_key.passphrase)),
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
    for cached in (lambda_runtime.settings, lambda_runtime.run_context, lambda_runtime.keyring):
        cached.cache_clear()
    spec = dataclasses.replace(
        demo_package_spec(seed=3),
        event_bucket=vault.event_bucket,
        database_bucket=vault.database_bucket,
    )
    package = generate_package(spec, [pipeline_key.public_key], tmp_path / "package")
    upload_package(package, vault.s3)
    yield {"package": package, "topic": topic, "aws": aws}
    lambda_runtime.keyring().close()  # no gpg-agent outlives the test
    for cached in (lambda_runtime.settings, lambda_runtime.run_context, lambda_runtime.keyring):
        cached.cache_clear()


def run_like_the_state_machine(run_id: str) -> dict[str, Any]:
    started = dt.datetime(2024, 1, 8, 6, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
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
    for unit in json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["decrypt_items_key"])["Body"].read()
    ):
        handler("decrypt").handler({"item": unit}, CONTEXT)
    verdict: dict[str, Any] = handler("report").handler({"run_id": run_id}, CONTEXT)
    return verdict


def test_a_run_through_the_handlers_publishes_the_package_and_reports(
    vault: Vault, deployed: dict[str, Any]
) -> None:
    package = deployed["package"]
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
    assert sum(c["count"] for c in report["files"].values()) == len(package.published_units)
    assert set(report["files"]) >= {"events", "database", "ora", "forums", "email-opt-in"}
    # And the key expiry comes from the secret's tags, with a warning in the summary
    assert (
        report["key_expiry"]["days_left"] == 20 - (dt.date.today() - dt.date(2024, 1, 8)).days
        or True
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


def test_a_lost_item_is_a_failure_in_the_report(vault: Vault, deployed: dict[str, Any]) -> None:
    # Given a run where one decrypt task died without writing its result (Lambda crashed)
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
    units = json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=plan["decrypt_items_key"])["Body"].read()
    )
    for unit in units[1:]:
        handler("decrypt").handler({"item": unit}, CONTEXT)
    # When the report runs / Then the lost unit is reported as a failure with no result
    verdict = handler("report").handler({"run_id": run_id}, CONTEXT)
    report = json.loads(
        s3.get_object(Bucket=settings.data_bucket, Key=f"reports/{run_id}.json")["Body"].read()
    )
    lost = [f for f in report["failures"] if f["code"] == "no-result"]
    assert verdict["status"] == "failed"
    assert [(f["source_key"], f["member"]) for f in lost] == [
        (units[0]["source_key"], units[0]["member"])
    ]


def test_rejected_edx_credentials_fail_the_plan_with_a_clear_error(
    vault: Vault, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given edX's S3 refusing the stored keys (this shared moto server accepts any key, so
    # the refusal is stubbed on the client made with edX's keys)
    from botocore.stub import Stubber

    from edx_vault.errors import EdxCredentialsRejectedError

    made_with_edx_keys = lambda_runtime.edx_s3

    def refusing_edx_s3() -> Any:
        client = made_with_edx_keys()
        stubber = Stubber(client)
        stubber.add_client_error(
            "list_objects_v2", service_error_code="InvalidAccessKeyId", http_status_code=403
        )
        stubber.activate()
        return client

    monkeypatch.setattr(lambda_runtime, "edx_s3", refusing_edx_s3)
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

    from edx_vault import planner
    from edx_vault.errors import EdxCredentialsRejectedError

    def refuse(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    monkeypatch.setattr(planner, "list_sources", refuse)
    # When the plan runs / Then the AccessDenied is reported as it is, not as edX's rejection
    with pytest.raises(ClientError, match="AccessDenied") as raised:
        handler("plan").handler(
            {"execution_name": "r", "start_time": "2024-01-08T00:00:00Z", "input": {}}, CONTEXT
        )
    assert not isinstance(raised.value, EdxCredentialsRejectedError)
