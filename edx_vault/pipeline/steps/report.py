"""Report step: check every item's result, write ``reports/{run_id}.json``, settle, notify."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from edx_vault.engine.errors import aws_error_code
from edx_vault.package.access_log_readers import KnownPrincipals
from edx_vault.package.identifying_data import identifying_key
from edx_vault.pipeline.context import RunContext
from edx_vault.pipeline.cost_model import estimate_deidentify_cost_usd
from edx_vault.pipeline.deidentify_report import deidentified_report
from edx_vault.pipeline.key_metadata import key_expiry_from_tags
from edx_vault.pipeline.new_data import NEW_DATA_STATE_KEY, new_data_since
from edx_vault.pipeline.read_audit import audit_report_key, audit_summary, weekly_window
from edx_vault.pipeline.run_report import check_run, published_count, report_key, summary_text
from edx_vault.pipeline.steps.catalog import catalog_report

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient


def _new_data_state(context: RunContext) -> dict[str, Any] | None:
    """The state the previous run left, or ``None`` before the first run.

    Listed before it is read: without ``s3:ListBucket`` on the key, S3 answers a missing object
    with AccessDenied rather than NoSuchKey, and the Report role may list ``_work/`` only.
    """
    bucket = context.settings.data_bucket
    listing = context.vault_s3.list_objects_v2(Bucket=bucket, Prefix=NEW_DATA_STATE_KEY)
    if not any(entry["Key"] == NEW_DATA_STATE_KEY for entry in listing.get("Contents", [])):
        return None
    body = context.vault_s3.get_object(Bucket=bucket, Key=NEW_DATA_STATE_KEY)["Body"].read()
    state: dict[str, Any] = json.loads(body)
    return state


def finish_run(
    context: RunContext,
    secretsmanager: SecretsManagerClient,
    sns: SNSClient,
    *,
    run_id: str,
    finished: dt.datetime,
    topic_arn: str,
    key_secret_arn: str,
) -> dict[str, Any]:
    """Write the run report to ``reports/{run_id}.json``, settle the sources, send the summary.

    The report also carries the UpdateCatalog step's result (``catalog``), whose conflicts and
    errors are failures of the run (:func:`~edx_vault.pipeline.steps.catalog.catalog_report`).
    A deployment with the step names the Glue database in the settings: its result must then
    be there. Likewise the de-identify step's (``deidentified``,
    :func:`~edx_vault.pipeline.deidentify_report.deidentified_report`), whose failed or lost
    copies fail the run; a deployment with it names the pseudonym key in the settings.

    The report also says when a run last published something (``new_data``), carried from run
    to run in :data:`~edx_vault.pipeline.new_data.NEW_DATA_STATE_KEY`, for the NoNewData alarm.

    Order matters for honesty:

    - the sources are settled only once the report is written: a report that cannot be written
      fails the step with its sources unsettled, so the next run plans them again and its report
      accounts for them (as ``skipped``: already published) instead of finding them up to date;
    - the report says whether its summary reached the topic (``alert``): written first as not
      sent, rewritten once Publish answers; when Publish fails, the report says so (with the
      error's code) before the error fails the step (the state machine retries it on a
      TransientError, and the execution fails if it never succeeds).
    """
    tags = secretsmanager.describe_secret(SecretId=key_secret_arn).get("Tags", [])
    files = context.files(run_id)
    checked = check_run(
        files,
        context.manifest,
        finished=finished,
        key_expiry=key_expiry_from_tags(tags),  # type: ignore[arg-type]
    )
    report = checked.report
    catalog, catalog_failures = catalog_report(files, expected=bool(context.settings.glue_database))
    report["catalog"] = catalog
    if catalog_failures:
        report["failures"].extend(catalog_failures)
        report["status"] = "failed"
    # The de-identify step's: a copy it could not make fails the run, naming the file. A
    # deployment with the step gives its functions the pseudonym key's ARN.
    deidentified, deidentify_failures = deidentified_report(
        files, expected=bool(context.settings.pseudonym_key_secret_arn)
    )
    if deidentified is not None:
        report["deidentified"] = deidentified
        report["estimated_cost_usd"] = round(
            report["estimated_cost_usd"]
            + estimate_deidentify_cost_usd(
                copies=sum(deidentified.get(name, 0) for name in ("written", "failed", "skipped")),
                original_bytes=deidentified.get("original_bytes", 0),
            ),
            4,
        )
    if deidentify_failures:
        report["failures"].extend(deidentify_failures)
        report["status"] = "failed"
    state = _new_data_state(context)
    last = dt.datetime.fromisoformat(state["last"]) if state else None
    since, days = new_data_since(last, published=published_count(report), finished=finished)
    report["new_data"] = {"last": since.isoformat(), "days_since": days}
    report["alert"] = {"sent": False, "error": None if topic_arn else "no-topic"}
    files.put_json(NEW_DATA_STATE_KEY, {"last": since.isoformat()})
    files.put_json(report_key(run_id), report)
    checked.settle(context.manifest)
    audit = weekly_audit(context, run_id=run_id, finished=finished)
    if audit is not None:
        report["audit"] = audit
        files.put_json(report_key(run_id), report)
    if not topic_arn:
        return report
    try:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"edx-vault sync {report['status']}: {run_id}"[:100],
            Message=summary_text(report),
        )
    except Exception as error:
        report["alert"] = {"sent": False, "error": _error_code(error)}
        files.put_json(report_key(run_id), report)
        raise
    report["alert"] = {"sent": True, "error": None}
    files.put_json(report_key(run_id), report)
    return report


def weekly_audit(
    context: RunContext, *, run_id: str, finished: dt.datetime
) -> dict[str, Any] | None:
    """Write the read audit of the week before the run (``reports/{run_id}-audit.json``) and say
    where it is and how many unexpected readers it found; ``None`` when the deployment gives no
    access logs to read (the function then has no environment for it).

    After the report and the settling: an audit that cannot be read (a throttled listing) fails
    the step, which the state machine retries, without the run's own work being at stake.
    """
    settings = context.settings
    if not (settings.access_logs_bucket and settings.audit_principals):
        return None
    since, until = weekly_window(finished)
    summary = audit_summary(
        context.vault_s3,
        logs_bucket=settings.access_logs_bucket,
        prefix=settings.access_log_prefix,
        since=since,
        until=until,
        principals=KnownPrincipals.from_json(settings.audit_principals),
        identifying=identifying_key,
    )
    key = audit_report_key(run_id)
    context.files(run_id).put_json(key, summary)
    return {
        "key": key,
        "since": summary["since"],
        "until": summary["until"],
        "records": summary["records"],
        "unexpected_reader_count": summary["unexpected_reader_count"],
        "unexpected_readers": summary["unexpected_readers"],
    }


def _error_code(error: Exception) -> str:
    """An AWS error's code (``InternalError``), or the exception's type for anything else."""
    return aws_error_code(error) or type(error).__name__
