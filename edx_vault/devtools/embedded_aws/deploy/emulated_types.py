"""The resource types the embedded AWS creates itself, as one table: what each one needs.

moto's CloudFormation has no support for these types (why each is emulated, and what differs
from AWS, is in :mod:`edx_vault.devtools.embedded_aws.resource_support`). For each,
:data:`EMULATIONS` says how to create the resource with the service's moto backend from the
template's (already resolved) properties, returning its physical id (``Ref``) and the attributes
``Fn::GetAtt`` may ask for; how to delete it; and which property names it. The resource then
exists exactly as the service API would have made it.
:mod:`edx_vault.devtools.embedded_aws.deploy.cfn_resources` turns each row into a moto
CloudFormation handler. Loaded by the server process only.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from moto.athena.models import athena_backends
from moto.cloudwatch.models import (
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.glue.exceptions import EntityNotFoundException
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends
from moto.scheduler.models import scheduler_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.utilities.utils import get_partition

from edx_vault.devtools.embedded_aws.resource_support import EMULATED

# A resource's template properties, already resolved by moto's CloudFormation: JSON values handed
# to moto's backends as they are (the backends' hints say str where a template may leave a value
# out, and moto accepts None there).
Properties = Any


@dataclass(frozen=True)
class Resource:
    """One resource being created or deleted: its physical name, type and resolved properties."""

    name: str
    resource_type: str
    properties: Properties
    account_id: str
    region_name: str

    def backend(self, backends: Any) -> Any:
        """The service's moto backend for the resource's account and region."""
        return backends[self.account_id][self.region_name]


@dataclass(frozen=True)
class Created:
    """What creating a resource gives: ``Ref``'s value, and ``Fn::GetAtt``'s attributes."""

    physical_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)


def _nothing_to_delete(resource: Resource) -> None:
    """The default delete: there is nothing to undo."""


@dataclass(frozen=True)
class Emulation:
    """How the embedded AWS makes one resource type.

    Attributes
    ----------
    create
        Creates the resource with the service's moto backend.
    delete
        Deletes what ``create`` made.
    name_property
        The property that names the resource (moto then passes it as the physical name).
    """

    create: Callable[[Resource], Created]
    delete: Callable[[Resource], None] = _nothing_to_delete
    name_property: str = ""


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


def _create_secret(resource: Resource) -> Created:
    """``Ref`` is the ARN, like CloudFormation's."""
    properties = resource.properties
    secret_string = properties.get("SecretString")
    if secret_string is None and "GenerateSecretString" in properties:
        secret_string = _generated_secret(properties["GenerateSecretString"])
    backend = resource.backend(secretsmanager_backends)
    backend.create_secret(
        name=resource.name,
        secret_string=secret_string,
        secret_binary=None,
        description=properties.get("Description"),
        tags=_tags(properties),
        kms_key_id=properties.get("KmsKeyId"),
        client_request_token=None,
        replica_regions=[],
        force_overwrite=False,
    )
    arn = backend.describe_secret(resource.name).arn
    return Created(arn, {"Id": arn})


def _delete_secret(resource: Resource) -> None:
    resource.backend(secretsmanager_backends).delete_secret(
        resource.name, recovery_window_in_days=None, force_delete_without_recovery=True
    )


def _s3(resource: Resource) -> Any:
    return s3_backends[resource.account_id][get_partition(resource.region_name)]


def _put_bucket_policy(resource: Resource) -> Created:
    """Stored, not enforced (see ``moto_patches.access_control.stop_bucket_policy_checks``)."""
    document = json.dumps(resource.properties["PolicyDocument"]).encode()
    _s3(resource).put_bucket_policy(resource.properties["Bucket"], document)
    return Created(resource.name)


def _delete_bucket_policy(resource: Resource) -> None:
    _s3(resource).delete_bucket_policy(resource.properties["Bucket"])


def _create_schedule_group(resource: Resource) -> Created:
    group = resource.backend(scheduler_backends).create_schedule_group(
        name=resource.name, tags=_tags(resource.properties)
    )
    return Created(resource.name, {"Arn": group.arn})


def _create_schedule(resource: Resource) -> Created:
    """moto stores the schedule and never fires it."""
    properties = resource.properties
    schedule = resource.backend(scheduler_backends).create_schedule(
        description=properties.get("Description", ""),
        end_date=properties.get("EndDate"),
        flexible_time_window=properties["FlexibleTimeWindow"],
        group_name=properties.get("GroupName"),
        kms_key_arn=properties.get("KmsKeyArn"),
        name=resource.name,
        schedule_expression=properties["ScheduleExpression"],
        schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),
        start_date=properties.get("StartDate"),
        state=properties.get("State", "ENABLED"),
        target=properties["Target"],
        action_after_completion=None,
    )
    return Created(resource.name, {"Arn": schedule.arn})


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


def _put_metric_alarm(resource: Resource) -> Created:
    properties = resource.properties
    alarm = resource.backend(cloudwatch_backends).put_metric_alarm(
        name=resource.name,
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
    return Created(resource.name, {"Arn": alarm.alarm_arn})


def _subscribe(resource: Resource) -> Created:
    """``Ref`` is the subscription ARN."""
    properties = resource.properties
    backend = resource.backend(sns_backends)
    subscription = backend.subscribe(
        properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
    )
    for name in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
        if name in properties:
            value = properties[name]
            text = json.dumps(value) if isinstance(value, dict) else str(value).lower()
            backend.set_subscription_attributes(subscription.arn, name, text)
    return Created(subscription.arn)


def _set_topic_policies(resource: Resource) -> Created:
    """Each topic's ``Policy`` attribute; not enforced. The topics go with their own stack."""
    backend = resource.backend(sns_backends)
    for topic_arn in resource.properties["Topics"]:
        backend.set_topic_attribute(
            topic_arn, "policy", json.dumps(resource.properties["PolicyDocument"])
        )
    return Created(resource.name)


def _create_glue_database(resource: Resource) -> Created:
    """Created with CreateDatabase from ``DatabaseInput``; ``Ref`` is its name, as on AWS."""
    name = str(resource.properties["DatabaseInput"]["Name"])
    resource.backend(glue_backends).create_database(
        name, dict(resource.properties["DatabaseInput"])
    )
    return Created(name)


def _delete_glue_database(resource: Resource) -> None:
    """``resource.name`` is the physical id: the database's name."""
    resource.backend(glue_backends).delete_database(resource.name)


def _create_glue_table(resource: Resource) -> Created:
    """Created with CreateTable from ``TableInput``; ``Ref`` is the table's name, as on AWS.

    Its ``DependsOn`` orders it after its database, as on AWS; without one, moto's CreateTable
    fails by name, as Glue's does.
    """
    name = str(resource.properties["TableInput"]["Name"])
    resource.backend(glue_backends).create_table(
        str(resource.properties["DatabaseName"]), name, dict(resource.properties["TableInput"])
    )
    return Created(name)


def _delete_glue_table(resource: Resource) -> None:
    """``resource.name`` is the table's name; the database is read from the template.

    moto deletes a stack's resources in no set order, and deleting a database deletes its
    tables (as Glue's DeleteDatabase does), so a table already gone is not an error. The
    template at delete time is unresolved: a ``DatabaseName`` that is not a plain string
    (a ``Ref``) is found by looking for the table.
    """
    backend = resource.backend(glue_backends)
    database = resource.properties.get("DatabaseName")
    if not isinstance(database, str):
        holding = [db for db, found in backend.databases.items() if resource.name in found.tables]
        if not holding:
            return
        database = holding[0]
    try:
        backend.delete_table(database, resource.name)
    except EntityNotFoundException:
        return


def _create_work_group(resource: Resource) -> Created:
    """Created with CreateWorkGroup; ``State`` is kept (moto's own API cannot set it).

    moto stores the configuration (result location, encryption, enforcement, bytes-scanned
    cutoff) and returns it from GetWorkGroup, but enforces none of it.
    """
    properties = resource.properties
    backend = resource.backend(athena_backends)
    backend.create_work_group(
        name=resource.name,
        configuration=dict(properties.get("WorkGroupConfiguration", {})),
        description=properties.get("Description", ""),
        tags=_tags(properties),
    )
    backend.work_groups[resource.name].state = properties.get("State", "ENABLED")
    return Created(resource.name)


EMULATIONS: Final[Mapping[str, Emulation]] = {
    "AWS::SecretsManager::Secret": Emulation(_create_secret, _delete_secret, "Name"),
    "AWS::S3::BucketPolicy": Emulation(_put_bucket_policy, _delete_bucket_policy),
    "AWS::Scheduler::ScheduleGroup": Emulation(
        _create_schedule_group,
        lambda resource: resource.backend(scheduler_backends).delete_schedule_group(resource.name),
        "Name",
    ),
    "AWS::Scheduler::Schedule": Emulation(
        _create_schedule,
        lambda resource: resource.backend(scheduler_backends).delete_schedule(
            resource.properties.get("GroupName"), resource.name
        ),
        "Name",
    ),
    "AWS::CloudWatch::Alarm": Emulation(
        _put_metric_alarm,
        lambda resource: resource.backend(cloudwatch_backends).delete_alarms([resource.name]),
        "AlarmName",
    ),
    "AWS::SNS::Subscription": Emulation(
        _subscribe, lambda resource: resource.backend(sns_backends).unsubscribe(resource.name)
    ),
    "AWS::SNS::TopicPolicy": Emulation(_set_topic_policies),
    "AWS::Glue::Database": Emulation(_create_glue_database, _delete_glue_database),
    "AWS::Glue::Table": Emulation(_create_glue_table, _delete_glue_table),
    "AWS::Athena::WorkGroup": Emulation(
        _create_work_group,
        lambda resource: resource.backend(athena_backends).delete_work_group(resource.name),
        "Name",
    ),
}
assert set(EMULATIONS) == set(EMULATED), "update the table"
