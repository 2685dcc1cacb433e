"""Doctor's checks 6 and 7: someone will hear the alarms, and syncs run on their own.

Both read the pipeline stack's outputs, or, for a stack an older version deployed without them,
its resources: the alerts topic's subscriptions (confirmed, and the configured email among
them) and the EventBridge Scheduler schedule (there, enabled, the configured expression).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from edx_vault.cli.checks import Check, Verdict
from edx_vault.cli.doctor.facts import Doctor
from edx_vault.cli.errors import aws_error_code

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

_PENDING: Final = "PendingConfirmation"
_EMAIL_PROTOCOLS: Final = ("email", "email-json")


def _pending(sns: SNSClient, subscription: dict[str, Any]) -> bool:
    arn = str(subscription.get("SubscriptionArn", ""))
    # ListSubscriptionsByTopic names an unconfirmed subscription "PendingConfirmation"
    # instead of an ARN; one returned by ARN may still say so in its attributes.
    if arn == _PENDING:
        return True
    if not arn.startswith("arn:"):
        return False
    try:
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    except ClientError:
        return False  # listed with an ARN: as confirmed as the list can say
    return str(attributes.get(_PENDING, "false")).lower() == "true"


def _who(subscription: dict[str, Any]) -> str:
    protocol = str(subscription.get("Protocol", "?"))
    endpoint = str(subscription.get("Endpoint", ""))
    return f"{protocol} {endpoint}" if protocol in _EMAIL_PROTOCOLS else protocol


def _pipeline_resource(doctor: Doctor, resource_type: str) -> tuple[str, str | None]:
    """The pipeline stack, and its resource of this type: as exported, else as it holds it."""
    deployment = doctor.found_deployment()
    pipeline = deployment.require_pipeline()
    exported = {
        "AWS::SNS::Topic": pipeline.alerts_topic_arn,
        "AWS::Scheduler::Schedule": pipeline.schedule_name,
    }[resource_type]
    stack = deployment.pipeline_stack
    return stack, exported or doctor.stack_resource(stack, resource_type)


def alerts_subscription(doctor: Doctor, verdict: Verdict) -> Check:
    """Check 6: someone confirmed a subscription to the alerts topic."""
    stack, topic = _pipeline_resource(doctor, "AWS::SNS::Topic")
    if topic is None:
        return verdict(
            "WARN",
            f"{stack} exports no alerts topic and holds none",
            fix=doctor.deploy_fix(stack),
        )
    sns = doctor.context.sns()
    subscriptions: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        subscriptions.extend(page.get("Subscriptions", []))  # type: ignore[arg-type]
    topic_name = topic.rsplit(":", 1)[-1]
    subscribe = (
        f"aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint "
        "you@your.edu"
    )
    if not subscriptions:
        return verdict(
            "WARN",
            f"nobody is subscribed to the alerts topic {topic_name}: alarms reach no one",
            fix=f"set [alerts] email in {doctor.context.config_path} and deploy, or {subscribe}",
        )
    pending = [s for s in subscriptions if _pending(sns, s)]
    confirmed = [s for s in subscriptions if s not in pending]
    pending_emails = [s for s in pending if s.get("Protocol") in _EMAIL_PROTOCOLS]
    if pending_emails:
        emails = ", ".join(str(s.get("Endpoint", "?")) for s in pending_emails)
        return verdict(
            "WARN",
            f"the email subscription of {emails} to {topic_name} is pending: confirm the "
            f"email ({len(confirmed)} confirmed subscription(s))",
            fix=(
                "open the 'AWS Notification - Subscription Confirmation' email sent to "
                f"{emails} and click 'Confirm subscription' (check spam); to have it sent "
                f"again: aws sns subscribe --topic-arn {topic} --protocol email "
                f"--notification-endpoint {pending_emails[0].get('Endpoint', 'ADDRESS')!s}"
            ),
        )
    if not confirmed:
        return verdict(
            "WARN",
            f"no subscription to {topic_name} is confirmed yet: "
            + ", ".join(_who(s) for s in pending),
            fix=f"confirm it, or {subscribe}",
        )
    configured = doctor.config.alerts.email
    endpoints = {str(s.get("Endpoint", "")).lower() for s in subscriptions}
    if configured and configured.lower() not in endpoints:
        return verdict(
            "WARN",
            f"{configured} ([alerts] email) is not subscribed to {topic_name}; "
            + ", ".join(_who(s) for s in confirmed)
            + " is",
            fix=doctor.deploy_fix(stack),
        )
    return verdict(
        "PASS",
        f"{len(confirmed)} confirmed subscription(s) to {topic_name}: "
        + ", ".join(_who(s) for s in confirmed),
    )


def schedule(doctor: Doctor, verdict: Verdict) -> Check:
    """Check 7: the schedule exists, is enabled, and is the configured one."""
    stack, schedule_name = _pipeline_resource(doctor, "AWS::Scheduler::Schedule")
    if schedule_name is None:
        return verdict(
            "WARN",
            f"{stack} exports no schedule and holds none: syncs run only when started by hand",
            fix=doctor.deploy_fix(stack),
        )
    try:
        found = doctor.context.scheduler().get_schedule(Name=schedule_name)
    except ClientError as error:
        if aws_error_code(error) != "ResourceNotFoundException":
            raise
        return verdict(
            "FAIL",
            f"the schedule {schedule_name} does not exist: no sync runs on its own",
            fix=doctor.deploy_fix(stack),
        )
    state = found.get("State", "?")
    expression = found.get("ScheduleExpression", "?")
    timezone = found.get("ScheduleExpressionTimezone", "UTC")
    shown = f"{schedule_name} {state}: {expression} ({timezone})"
    if state != "ENABLED":
        return verdict(
            "FAIL",
            f"{shown}: no sync runs on its own",
            fix=(
                "enable it in the EventBridge Scheduler console (Schedules, "
                f"{schedule_name}, Enable), or `aws scheduler update-schedule --name "
                f"{schedule_name} --state ENABLED` with its current expression, target and "
                "flexible time window"
            ),
        )
    wanted = doctor.config.schedule
    if (expression, timezone) != (wanted.expression, wanted.timezone):
        return verdict(
            "WARN",
            f"{shown}; the configuration says {wanted.expression} ({wanted.timezone})",
            fix=doctor.deploy_fix(stack),
        )
    return verdict("PASS", shown)
