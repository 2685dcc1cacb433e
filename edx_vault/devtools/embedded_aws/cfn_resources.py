"""CloudFormation handlers for the resource types moto's CloudFormation does not support.

Loaded by the server process only. Each class creates its resource with the service's moto
backend from the template's (already resolved) properties, so the resource exists exactly as the
service API would have made it, and moto's CloudFormation keeps working around it: ``Ref`` and
``Fn::GetAtt`` resolve, outputs are filled, DescribeStackResources lists it. Why each type is
emulated is in :mod:`edx_vault.devtools.embedded_aws.resource_support`.

moto finds CloudFormation handlers as the *direct* subclasses of ``CloudFormationModel``, so
every class here names it as a base (shared code comes from a mixin listed first, which also
turns moto's create/delete signatures into the short ``create`` and ``delete`` hooks). Stack updates
are not supported (``local down`` then ``local up`` redeploys from scratch), so no class
implements ``update_from_cloudformation_json``.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any, ClassVar

from moto.cloudformation import parsing as cfn_parsing
from moto.cloudwatch.models import (
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends
from moto.scheduler.models import scheduler_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.utilities.utils import get_partition

from edx_vault.devtools.embedded_aws.resource_support import EMULATED, SKIPPED

# A resource's template properties, already resolved by moto's CloudFormation: JSON values handed
# to moto's backends as they are (the backends' hints say str where a template may leave a value
# out, and moto accepts None there).
Properties = Any


class UnsupportedResourceError(Exception):
    """A resource type that neither moto nor edx-vault can create."""


class _Emulated:
    """What every emulated resource shares: a physical id (for ``Ref``) and named attributes."""

    RESOURCE_TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""

    def __init__(self, physical_resource_id: str, **attributes: str) -> None:
        self.physical_resource_id = physical_resource_id
        self._attributes = attributes

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.RESOURCE_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name not in self._attributes:
            raise UnsupportedResourceError(
                f"{self.RESOURCE_TYPE} has no attribute {attribute_name!r} on the embedded AWS"
            )
        return self._attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    # moto calls these two with its CloudFormationModel signature; each class implements the
    # short hooks below instead.
    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Emulated:
        return cls.create(
            resource_name, cloudformation_json.get("Properties", {}), account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls.delete(
            resource_name, cloudformation_json.get("Properties", {}), account_id, region_name
        )

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> _Emulated:
        """Create the resource from its resolved properties; ``name`` is its physical name."""
        raise NotImplementedError

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        """Delete what :meth:`create` made; by default there is nothing to undo."""


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": tag["Key"], "Value": tag["Value"]} for tag in properties.get("Tags", [])]


def _generated_secret(options: dict[str, Any]) -> str:
    """A value as GenerateSecretString would make it (length, exclusions, template key)."""
    alphabet = string.ascii_letters + string.digits + string.punctuation
    if options.get("ExcludePunctuation"):
        alphabet = string.ascii_letters + string.digits
    excluded = set(options.get("ExcludeCharacters", ""))
    alphabet = "".join(char for char in alphabet if char not in excluded)
    value = "".join(secrets.choice(alphabet) for _ in range(int(options.get("PasswordLength", 32))))
    template = options.get("SecretStringTemplate")
    if template and options.get("GenerateStringKey"):
        document = json.loads(template)
        document[options["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


class EmulatedSecret(_Emulated, CloudFormationModel):
    """``AWS::SecretsManager::Secret``; ``Ref`` is the ARN, like CloudFormation's."""

    RESOURCE_TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedSecret:
        secret_string = properties.get("SecretString")
        if secret_string is None and "GenerateSecretString" in properties:
            secret_string = _generated_secret(properties["GenerateSecretString"])
        backend = secretsmanager_backends[account_id][region_name]
        backend.create_secret(
            name=name,
            secret_string=secret_string,
            secret_binary=None,
            description=properties.get("Description"),
            tags=_tags(properties),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = backend.describe_secret(name).arn
        return cls(arn, Id=arn)

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(
            name, recovery_window_in_days=None, force_delete_without_recovery=True
        )


class EmulatedBucketPolicy(_Emulated, CloudFormationModel):
    """``AWS::S3::BucketPolicy``: stored, not enforced (see :func:`stop_bucket_policy_checks`)."""

    RESOURCE_TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedBucketPolicy:
        bucket = properties["Bucket"]
        s3_backends[account_id][get_partition(region_name)].put_bucket_policy(
            bucket, json.dumps(properties["PolicyDocument"]).encode()
        )
        return cls(name)

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        bucket = properties["Bucket"]
        s3_backends[account_id][get_partition(region_name)].delete_bucket_policy(bucket)


class EmulatedScheduleGroup(_Emulated, CloudFormationModel):
    """``AWS::Scheduler::ScheduleGroup``; ``Ref`` is the name."""

    RESOURCE_TYPE = "AWS::Scheduler::ScheduleGroup"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedScheduleGroup:
        group = scheduler_backends[account_id][region_name].create_schedule_group(
            name=name, tags=_tags(properties)
        )
        return cls(name, Arn=group.arn)

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        scheduler_backends[account_id][region_name].delete_schedule_group(name)


class EmulatedSchedule(_Emulated, CloudFormationModel):
    """``AWS::Scheduler::Schedule``; ``Ref`` is the name. moto stores it and never fires it."""

    RESOURCE_TYPE = "AWS::Scheduler::Schedule"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedSchedule:
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=properties.get("Description", ""),
            end_date=properties.get("EndDate"),
            flexible_time_window=properties["FlexibleTimeWindow"],
            group_name=properties.get("GroupName"),
            kms_key_arn=properties.get("KmsKeyArn"),
            name=name,
            schedule_expression=properties["ScheduleExpression"],
            schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),
            start_date=properties.get("StartDate"),
            state=properties.get("State", "ENABLED"),
            target=properties["Target"],
            action_after_completion=None,
        )
        return cls(name, Arn=schedule.arn)

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        group = properties.get("GroupName")
        scheduler_backends[account_id][region_name].delete_schedule(group, name)


def _metric_data_queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery]:
    """CloudFormation's ``Metrics`` (metric math) as moto's objects, as its PutMetricAlarm does."""
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=stat["Metric"]["MetricName"],
                    namespace=stat["Metric"].get("Namespace"),
                    dimensions=[
                        Dimension(name=dimension["Name"], value=dimension["Value"])
                        for dimension in stat["Metric"].get("Dimensions", [])
                    ],
                ),
                period=str(stat["Period"]),
                stat=stat["Stat"],
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric["Id"],
                label=metric.get("Label", ""),
                period=str(metric.get("Period", "")),
                return_data=str(metric.get("ReturnData", True)).lower(),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class EmulatedAlarm(_Emulated, CloudFormationModel):
    """``AWS::CloudWatch::Alarm``; ``Ref`` is the alarm name."""

    RESOURCE_TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedAlarm:
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"),
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties.get("Period", 60)),
            threshold=float(properties.get("Threshold", 0)),
            statistic=properties.get("Statistic"),
            description=properties.get("AlarmDescription", ""),
            dimensions=properties.get("Dimensions", []),
            alarm_actions=properties.get("AlarmActions", []),
            metric_data_queries=_metric_data_queries(properties.get("Metrics", [])) or None,
            datapoints_to_alarm=properties.get("DatapointsToAlarm"),
            extended_statistic=properties.get("ExtendedStatistic"),
            ok_actions=properties.get("OKActions", []),
            insufficient_data_actions=properties.get("InsufficientDataActions", []),
            unit=properties.get("Unit"),
            actions_enabled=properties.get("ActionsEnabled", True),
            treat_missing_data=properties.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=properties.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=properties.get("ThresholdMetricId"),
        )
        return cls(name, Arn=alarm.alarm_arn)

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([name])


class EmulatedSubscription(_Emulated, CloudFormationModel):
    """``AWS::SNS::Subscription``; ``Ref`` is the subscription ARN."""

    RESOURCE_TYPE = "AWS::SNS::Subscription"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedSubscription:
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(
            properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
        )
        for name in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
            if name in properties:
                value = properties[name]
                text = json.dumps(value) if isinstance(value, dict) else str(value).lower()
                backend.set_subscription_attributes(subscription.arn, name, text)
        return cls(subscription.arn)

    @classmethod
    def delete(cls, name: str, properties: Properties, account_id: str, region_name: str) -> None:
        sns_backends[account_id][region_name].unsubscribe(name)


class EmulatedTopicPolicy(_Emulated, CloudFormationModel):
    """``AWS::SNS::TopicPolicy``: each topic's ``Policy`` attribute; not enforced.

    Deleting it undoes nothing: the topics go with their own stack.
    """

    RESOURCE_TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> EmulatedTopicPolicy:
        backend = sns_backends[account_id][region_name]
        for topic_arn in properties["Topics"]:
            backend.set_topic_attribute(
                topic_arn, "policy", json.dumps(properties["PolicyDocument"])
            )
        return cls(name)


class SkippedResource(_Emulated, CloudFormationModel):
    """Any type in ``resource_support.SKIPPED``: nothing is created."""

    RESOURCE_TYPE = "edx-vault::Local::Skipped"

    @classmethod
    def create(
        cls, name: str, properties: Properties, account_id: str, region_name: str
    ) -> SkippedResource:
        return cls(name)


class UnsupportedResource(_Emulated, CloudFormationModel):
    """Stands in for any type neither moto nor this module knows: its creation fails, by name."""

    RESOURCE_TYPE = "edx-vault::Local::Unsupported"

    @classmethod
    def create_from_cloudformation_json(  # overridden whole: the message names the type
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> UnsupportedResource:
        raise UnsupportedResourceError(
            f"{cloudformation_json['Type']} is supported neither by moto's CloudFormation nor "
            "by the embedded AWS (edx_vault/devtools/embedded_aws/cfn_resources.py)"
        )


EMULATED_MODELS: tuple[type[_Emulated], ...] = (
    EmulatedSecret,
    EmulatedBucketPolicy,
    EmulatedScheduleGroup,
    EmulatedSchedule,
    EmulatedAlarm,
    EmulatedSubscription,
    EmulatedTopicPolicy,
)
assert {model.RESOURCE_TYPE for model in EMULATED_MODELS} == set(EMULATED), "update the table"


def register() -> None:
    """Make moto's CloudFormation use the handlers above, and fail on unknown types by name.

    moto caches its type-to-handler map on first use (``lru_cache``); the caches are cleared so
    the classes defined here are found whenever this runs.
    """
    for cache in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        cache.cache_clear()
    original = cfn_parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> type[CloudFormationModel]:
        if resource_type in SKIPPED:
            return SkippedResource
        found = original(resource_type)
        if found is None and resource_type not in cfn_parsing.NULL_MODELS:
            # moto would warn and leave the resource out, and every Ref to it would resolve to
            # nothing: the stack would report success and be broken.
            return UnsupportedResource
        return found

    cfn_parsing.resource_class_from_type = resource_class_from_type
