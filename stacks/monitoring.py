"""The alerts topic and the alarms that publish to it."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from edx_vault.pipeline.key_metadata import KEY_EXPIRY_WARNING_DAYS
from edx_vault.pipeline.new_data import DAYS_SINCE_NEW_DATA_METRIC
from edx_vault.settings.pipeline_settings import (
    METRICS_NAMESPACE,
    UNEXPECTED_READERS_METRIC,
    UNPARSED_LINES_METRIC,
)


class OperationsKey(Construct):
    """The pipeline's own KMS key, for its log groups and its alerts topic.

    Neither holds learner data (logs carry file names and counts), but both are encrypted at
    rest under a key this stack controls. CloudWatch alarms cannot publish to a topic under the
    AWS-managed SNS key, and CloudWatch Logs needs a key policy naming its service.

    Attributes
    ----------
    key
        The key.
    """

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Key",
            description="edx-vault: encrypts the pipeline's logs and alerts topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        stack = Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )


class AlertsTopic(Construct):
    """One SNS topic for run summaries and alarms, encrypted, TLS-only, optional email.

    ``enforce_ssl`` gives the topic a topic policy, and a topic policy replaces SNS's default
    one (which let the owner account's services publish). So the policy also allows CloudWatch
    alarm actions, as AWS recommends for alarms notifying a topic with its own policy: the
    service principal ``cloudwatch.amazonaws.com``, ``sns:Publish``, only for this account's
    alarms (``aws:SourceAccount`` and ``aws:SourceArn``, against the confused deputy). Without
    it no alarm would ever reach anyone. The Report function's role needs nothing here: a role
    of the topic's own account is allowed by its identity policy, and the TLS deny does not
    apply to it. The key side is :class:`OperationsKey`, which lets CloudWatch use the key.

    Attributes
    ----------
    topic
        The topic.
    """

    def __init__(self, scope: Construct, id_: str, *, email: str | None, key: kms.IKey) -> None:
        super().__init__(scope, id_)
        self.topic = sns.Topic(
            self, "Topic", display_name="edx-vault alerts", master_key=key, enforce_ssl=True
        )
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}"
                            ":alarm:*"
                        )
                    },
                },
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class SyncAlarms(Construct):
    """Failed executions, failed items, no new data, key expiring, edX credentials rejected."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        topic: sns.ITopic,
        state_machine: sfn.IStateMachine,
        no_new_data_days: int,
    ) -> None:
        super().__init__(scope, id_)
        action = actions.SnsAction(topic)

        def metric(name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": "edx-vault"},
                statistic=statistic,
                period=period,
            )

        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        below = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        quiet = cloudwatch.TreatMissingData.NOT_BREACHING
        # NoNewData: "nothing published for N days", N from the config (1-90). A CloudWatch
        # alarm looks back at most seven days (PutMetricAlarm: Period x EvaluationPeriods <=
        # 604,800 s), so a sum of PublishedFiles over N one-day periods is refused for N > 7
        # (the stack rolled back), and over seven days it would also miss weekly runs by
        # minutes. Instead the Report step counts the days since a run last published
        # something (DaysSinceNewData, kept across runs, see edx_vault.pipeline.run_report) and the
        # alarm compares each run's count with N: one one-day period, whatever N is. Between
        # runs there is no data point and the alarm keeps the last run's verdict (IGNORE).
        # It is judged when a run reports: a schedule that stops running is not seen here.
        # (id, description, metric, threshold, periods, comparison, missing data)
        specs: list[
            tuple[
                str,
                str,
                cloudwatch.IMetric,
                int,
                int,
                cloudwatch.ComparisonOperator,
                cloudwatch.TreatMissingData,
            ]
        ] = [
            (
                "ExecutionsFailed",
                "A sync execution failed (see the run report in reports/)",
                state_machine.metric_failed(period=Duration.hours(1), statistic="Sum"),
                1,
                1,
                at_least,
                quiet,
            ),
            (
                "ItemsFailed",
                "Files failed to mirror, decrypt, split by course or copy to the de-identified tier in "
                "the last run",
                metric("FailedItems", "Sum", Duration.hours(1)),
                1,
                1,
                at_least,
                quiet,
            ),
            (
                "NoNewData",
                f"No new file was published for {no_new_data_days} days or more: edX may have "
                "stopped exporting (expired key? retired credentials?)",
                metric(DAYS_SINCE_NEW_DATA_METRIC, "Maximum", Duration.days(1)),
                no_new_data_days,
                1,
                at_least,
                cloudwatch.TreatMissingData.IGNORE,
            ),
            (
                "PipelineKeyExpiring",
                f"The pipeline's OpenPGP key expires within {KEY_EXPIRY_WARNING_DAYS} days; "
                "edX stops exporting to expired keys. Run edx-vault keygen --rotate",
                metric("PipelineKeyDaysLeft", "Minimum", Duration.days(1)),
                KEY_EXPIRY_WARNING_DAYS,
                1,
                below,
                quiet,
            ),
            (
                "UnparsedEventLines",
                "Event log lines that are not JSON events were filed under course=_unparsed in "
                "the last run: no course-limited researcher sees them (the run report's "
                "course_split says how many; docs/operations.md says what to check)",
                metric(UNPARSED_LINES_METRIC, "Sum", Duration.hours(1)),
                1,
                1,
                at_least,
                quiet,
            ),
            (
                "UnexpectedReaders",
                "The week's read audit found a principal outside the vault (not a researcher, "
                "pipeline or admin role) that read or wrote the data bucket: check the audit in "
                "reports/ and report a possible incident to edX within 24 hours "
                "(docs/governance.md)",
                metric(UNEXPECTED_READERS_METRIC, "Maximum", Duration.hours(1)),
                1,
                1,
                at_least,
                quiet,
            ),
            (
                "EdxCredentialsRejected",
                "edX's S3 rejected the stored credentials; import the new credentials.csv.gpg",
                metric("EdxCredentialsRejected", "Maximum", Duration.hours(1)),
                1,
                1,
                at_least,
                quiet,
            ),
        ]
        alarms = [
            cloudwatch.Alarm(
                self,
                alarm_id,
                alarm_description=description,
                metric=alarm_metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=comparison,
                treat_missing_data=missing,
            )
            for alarm_id, description, alarm_metric, threshold, periods, comparison, missing in specs
        ]
        for alarm in alarms:
            alarm.add_alarm_action(action)
        self.alarms = alarms
