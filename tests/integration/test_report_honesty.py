"""The Report step does not claim more than it did: the alert it could not send, the report it
could not write.

- A summary that SNS refuses is recorded in the report (``alert``) before the error fails the
  step, so ``reports/{run}.json`` never says a run succeeded with no sign its alert was lost.
- A report that cannot be written leaves the run's sources unsettled: the next run plans them
  again, and its report accounts for them, instead of finding them up to date.
- A results file another release wrote (one object rather than a batch's list, a field this
  release does not know, no ``stage``) is read, not reported as missing; a results file the
  pipeline could not have written fails the step, naming the file, instead of being skipped.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edx_vault.pipeline.manifest_rows import ClaimOutcome, object_row
from edx_vault.pipeline.run_accounting import NOT_PROCESSED_REASON
from edx_vault.pipeline.run_files import MalformedRunFileError, RunFiles
from edx_vault.pipeline.run_report import check_run, report_key
from edx_vault.pipeline.steps.report import finish_run
from tests.integration.conftest import Aws, Vault
from tests.integration.run_leftovers import (
    FINISHED,
    RUN,
    Source,
    context_for,
    fail_reads_of,
    leave_run,
    service_error,
    sources,
)

pytestmark = pytest.mark.integration


def finish(aws: Aws, vault: Vault, *, topic_arn: str) -> dict[str, Any]:
    secrets = aws.client("secretsmanager")
    secret = secrets.create_secret(Name=f"{vault.table_name}/key", SecretString="x")
    return finish_run(
        context_for(vault),
        secrets,
        aws.client("sns"),
        run_id=RUN,
        finished=FINISHED,
        topic_arn=topic_arn,
        key_secret_arn=secret["ARN"],
    )


def stored_report(vault: Vault) -> dict[str, Any]:
    body = vault.s3.get_object(Bucket=vault.target.bucket, Key=report_key(RUN))["Body"]
    report: dict[str, Any] = json.loads(body.read())
    return report


def test_a_summary_sns_refuses_is_recorded_in_the_report_and_fails_the_step(
    aws: Aws, vault: Vault
) -> None:
    # Given a finished run, and an alerts topic whose Publish fails every time (500)
    leave_run(vault, sources(vault))
    sns = aws.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    error = service_error("InternalError", 500, "Publish")
    refused = fail_reads_of(sns, "provide-client-params.sns.Publish", lambda _: True, error)
    secrets = aws.client("secretsmanager")
    secret = secrets.create_secret(Name=f"{vault.table_name}/key", SecretString="x")
    # When the Report step runs
    with pytest.raises(ClientError) as raised:
        finish_run(
            context_for(vault),
            secrets,
            sns,
            run_id=RUN,
            finished=FINISHED,
            topic_arn=topic,
            key_secret_arn=secret["ARN"],
        )
    # Then the step fails with SNS's own error (the state machine retries it, the execution
    # fails if it never succeeds)
    assert raised.value is error
    assert refused
    # And the written report says the summary was not sent, and why
    assert stored_report(vault)["alert"] == {"sent": False, "error": "InternalError"}


def test_a_summary_sent_is_recorded_in_the_report(aws: Aws, vault: Vault) -> None:
    # Given a finished run and a working alerts topic
    leave_run(vault, sources(vault))
    topic = aws.client("sns").create_topic(Name="alerts")["TopicArn"]
    # When the Report step runs
    report = finish(aws, vault, topic_arn=topic)
    # Then the report, as returned and as written, says the summary was sent
    assert report["alert"] == {"sent": True, "error": None}
    assert stored_report(vault)["alert"] == {"sent": True, "error": None}


def test_a_report_that_cannot_be_written_leaves_the_sources_unsettled(
    aws: Aws, vault: Vault
) -> None:
    # Given a finished run whose report S3 refuses to store (500, every time)
    planned = sources(vault)
    leave_run(vault, planned)
    error = service_error("InternalError", 500, "PutObject")
    refused = fail_reads_of(
        vault.s3,
        "provide-client-params.s3.PutObject",
        lambda params: params["Key"] == report_key(RUN),
        error,
    )
    # When the Report step runs, then it fails with S3's error
    with pytest.raises(ClientError) as raised:
        finish(aws, vault, topic_arn="")
    assert raised.value is error
    assert refused
    # And no source is settled: the next run plans them again and reports them, rather than
    # finding up to date the files whose publication no report recorded
    for source in planned:
        row = vault.manifest.get(object_row(source.bucket, source.key)) or {}
        assert not row.get("units_settled"), source


def test_a_report_written_settles_the_sources(aws: Aws, vault: Vault) -> None:
    # Given a finished run
    planned = sources(vault)
    leave_run(vault, planned)
    # When the Report step runs and its report is written
    finish(aws, vault, topic_arn="")
    # Then the sources whose units finished are settled
    for source in planned:
        row = vault.manifest.get(object_row(source.bucket, source.key)) or {}
        finished = source.mirror == "done" and source.decrypt != "lost"
        assert bool(row.get("units_settled")) is finished, source


def results_files(files: RunFiles, stage: str) -> list[str]:
    return sorted(files.existing_keys("results", stage))


def report_of(files: RunFiles, vault: Vault) -> dict[str, Any]:
    return check_run(files, vault.manifest, finished=FINISHED, key_expiry=None).report


def test_results_files_another_release_wrote_report_as_this_releases_do(vault: Vault) -> None:
    # Given a finished run and the report its results files make
    files = leave_run(vault, sources(vault))
    expected = report_of(files, vault)
    # When every result carries a field this release does not know, the mirror results in one
    # batch's list and the decrypt results each a single object (as before batches)
    mirror_files = results_files(files, "mirror")
    batch = [files.get_json(key) | {"attempts": 2} for key in mirror_files]
    for key in mirror_files:
        vault.s3.delete_object(Bucket=files.bucket, Key=key)
    files.put_json(files.batch_result_key("mirror", "from-another-release"), batch)
    for key in results_files(files, "decrypt"):
        files.put_json(key, files.get_json(key) | {"attempts": 2})
    # Then the report is the same: every result read, none called missing
    assert report_of(files, vault) == expected
    assert expected["files"]["events"]["count"] > 0


def test_a_result_without_a_stage_takes_its_folders(vault: Vault) -> None:
    # Given a run one of whose units has the "skipped: busy" result an older release wrote
    # (no stage, no reason): another run held the unit
    planned = sources(vault)
    files = leave_run(vault, planned)
    held = next(s for s in planned if s.mirror == "done" and s.decrypt == "done")
    older = {"status": "skipped", "source_key": held.key, "member": None, "why": ClaimOutcome.BUSY}
    files.put_json(files.result_key("decrypt", held.key, None), older)
    # When the report is built
    report = report_of(files, vault)
    # Then the unit is a failure of its folder's stage: this run did not publish it
    assert {
        "source_key": held.key,
        "member": None,
        "stage": "decrypt",
        "code": "held-by-another-run",
        "reason": NOT_PROCESSED_REASON,
    } in report["failures"]


@pytest.mark.parametrize(
    ("malformed", "field"),
    [
        ({"status": "finished", "stage": "decrypt"}, "status"),
        ({"status": "done", "stage": "decrypt", "source_key": None}, "source_key"),
        ({"status": "failed", "stage": "decrypt", "reason": "?"}, "code"),
        ({"status": "done", "stage": "decrypt", "bytes": "many"}, "bytes"),
    ],
)
def test_a_results_file_the_pipeline_could_not_have_written_fails_the_step_naming_it(
    aws: Aws, vault: Vault, malformed: dict[str, Any], field: str
) -> None:
    # Given a run one of whose results files holds a result that does not validate
    planned = sources(vault)
    files = leave_run(vault, planned)
    source: Source = next(s for s in planned if s.mirror == "done" and s.decrypt == "done")
    key = files.result_key("decrypt", source.key, None)
    files.put_json(key, [{"source_key": source.key} | malformed])
    # When the Report step runs
    # Then it fails, naming the file, the entry and the field, and writes no report: the item
    # is neither dropped nor called lost
    with pytest.raises(MalformedRunFileError) as raised:
        finish(aws, vault, topic_arn="")
    assert raised.value.key == key
    assert f"run file {key}, entry 0" in str(raised.value)
    assert field in str(raised.value)
    listed = vault.s3.list_objects_v2(Bucket=vault.target.bucket, Prefix=report_key(RUN))
    assert "Contents" not in listed
