"""The resource properties moto's CloudFormation drops or misreads: KMS keys, S3 buckets,
DynamoDB tables and Lambda functions.

Each patch wraps moto's handler for one resource type with :func:`extend_cloudformation_create`
(the one wrapper every patched handler goes through, the state machines' too): properties are
rewritten before moto's handler reads them, or applied afterwards to the resource it created.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

# A resource's template properties, as moto's handlers receive them.
Properties = dict[str, Any]


def extend_cloudformation_create(
    model: type[Any],
    *,
    before: Callable[[Properties], None] | None = None,
    instead: Callable[[str, Properties, str, str], Any] | None = None,
    after: Callable[[Any, Properties, str, str], None] | None = None,
) -> None:
    """Wrap (or, with ``instead``, replace) moto's CloudFormation handler that creates a ``model``.

    ``before(properties)`` may rewrite the template's properties into what moto's handler
    expects; ``instead(resource_name, properties, account_id, region_name)`` creates the
    resource in the handler's place; ``after(resource, properties, account_id, region_name)``
    applies what the handler leaves out to the resource it created.
    """
    original: Callable[..., Any] = model.create_from_cloudformation_json.__func__

    def create(
        cls: type[Any],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        if before is not None:
            before(properties)
        if instead is not None:
            resource = instead(resource_name, properties, account_id, region_name)
        else:
            resource = original(
                cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
        if after is not None:
            after(resource, properties, account_id, region_name)
        return resource

    model.create_from_cloudformation_json = classmethod(create)


def fix_kms_keys_from_cloudformation() -> None:
    """Let moto's CloudFormation create KMS keys with tags and a key policy.

    moto hands CloudFormation's ``Tags`` (``Key``/``Value``) to a tagger that expects KMS's
    ``TagKey``/``TagValue`` (the create raises ``KeyError``), and stores ``KeyPolicy`` as an
    object where the API stores a JSON string (``GetKeyPolicy`` and the policy check on
    ``DescribeKey`` then fail). Both are converted before moto's own handler runs.
    """
    from moto.kms.models import Key

    def as_the_api_takes_them(properties: Properties) -> None:
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])
        ]
        if not isinstance(properties.get("KeyPolicy"), str):
            properties["KeyPolicy"] = json.dumps(properties.get("KeyPolicy", {}))

    extend_cloudformation_create(Key, before=as_the_api_takes_them)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation lifecycle rule in the API's shape, as moto's PutBucketLifecycle reads it."""
    converted: dict[str, Any] = {
        "ID": rule.get("Id", ""),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
    elif "ExpirationDate" in rule:
        converted["Expiration"] = {"Date": rule["ExpirationDate"]}
    elif "ExpiredObjectDeleteMarker" in rule:
        converted["Expiration"] = {"ExpiredObjectDeleteMarker": rule["ExpiredObjectDeleteMarker"]}
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent is None and "NoncurrentVersionExpirationInDays" in rule:
        noncurrent = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if noncurrent is not None:
        converted["NoncurrentVersionExpiration"] = noncurrent
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    transitions = [
        {"StorageClass": item["StorageClass"], "Days": item.get("TransitionInDays")}
        for item in rule.get("Transitions", [])
    ]
    if transitions:
        converted["Transition"] = transitions
    noncurrent_transitions = [
        {"StorageClass": item["StorageClass"], "NoncurrentDays": item.get("TransitionInDays")}
        for item in rule.get("NoncurrentVersionTransitions", [])
    ]
    if noncurrent_transitions:
        converted["NoncurrentVersionTransition"] = noncurrent_transitions
    return converted


def complete_s3_buckets_from_cloudformation() -> None:
    """Keep the S3 bucket properties moto's CloudFormation drops.

    moto's handler applies only BucketEncryption and Tags: the data bucket would not be
    versioned (the engine records and checks object versions), and GetBucketVersioning,
    GetPublicAccessBlock, GetBucketOwnershipControls, GetBucketLifecycleConfiguration and
    GetBucketLogging would all disagree with the template. They are applied to the bucket moto
    created. The logging target is set directly: moto's PutBucketLogging insists the target
    already grants the logging service access, which its bucket policy (a separate resource,
    created later in the stack) only does afterwards. moto never expires objects by lifecycle
    rule and never writes access logs: the configuration is stored, not acted on.
    """
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    def complete(bucket: Any, properties: Properties, account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id][get_partition(region_name)]
        name = bucket.name
        versioning = properties.get("VersioningConfiguration")
        if versioning:
            backend.put_bucket_versioning(name, versioning["Status"])
        if "PublicAccessBlockConfiguration" in properties:
            backend.put_public_access_block(name, properties["PublicAccessBlockConfiguration"])
        for rule in properties.get("OwnershipControls", {}).get("Rules", []):
            backend.put_bucket_ownership_controls(name, ownership=rule["ObjectOwnership"])
        lifecycle = properties.get("LifecycleConfiguration", {}).get("Rules", [])
        if lifecycle:
            backend.put_bucket_lifecycle(name, [_lifecycle_rule(rule) for rule in lifecycle])
        logging_configuration = properties.get("LoggingConfiguration")
        if logging_configuration and "DestinationBucketName" in logging_configuration:
            bucket.logging = {
                "TargetBucket": logging_configuration["DestinationBucketName"],
                "TargetPrefix": logging_configuration.get("LogFilePrefix", ""),
            }

    extend_cloudformation_create(FakeBucket, after=complete)


def complete_dynamodb_tables_from_cloudformation() -> None:
    """Apply a table's PointInTimeRecoverySpecification, which moto's CloudFormation drops."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    def complete(table: Any, properties: Properties, account_id: str, region_name: str) -> None:
        recovery = properties.get("PointInTimeRecoverySpecification", {})
        if recovery.get("PointInTimeRecoveryEnabled"):
            dynamodb_backends[account_id][region_name].update_continuous_backups(
                table.name, {"PointInTimeRecoveryEnabled": True}
            )

    extend_cloudformation_create(Table, after=complete)


# Lambda function properties moto's handler drops: template property -> (the attribute of
# moto's LambdaFunction that holds it, the value it holds given the function and the property).
_FUNCTION_PROPERTIES: Final[Mapping[str, tuple[str, Callable[[Any, Any], Any]]]] = {
    "Layers": ("layers", lambda function, layers: function._get_layers_data(layers)),
    "Architectures": ("architectures", lambda function, value: value),
    "TracingConfig": ("tracing_config", lambda function, value: value),
    "EphemeralStorage": ("ephemeral_storage", lambda function, storage: storage["Size"]),
    "KmsKeyArn": ("kms_key_arn", lambda function, value: value),
}


def complete_lambda_functions_from_cloudformation() -> None:
    """Keep the Lambda function properties moto's CloudFormation drops.

    moto's handler passes on only Code, Handler, Role, Runtime, Description, MemorySize,
    Timeout, VpcConfig, Environment and ReservedConcurrentExecutions: GetFunction would show no
    layers, the default architecture and log group. Layers, Architectures, LoggingConfig
    (the log group invocations are logged to), TracingConfig, EphemeralStorage and KmsKeyArn
    are applied to the function moto created. moto's layer versions also lack a physical id,
    so ``Ref`` to one gave the model object instead of the LayerVersionArn CloudFormation gives.
    """
    from moto.awslambda.models import LambdaFunction, LayerVersion

    LayerVersion.physical_resource_id = property(lambda self: self.arn)  # type: ignore[attr-defined]

    def complete(function: Any, properties: Properties, account_id: str, region_name: str) -> None:
        for name, (attribute, value_of) in _FUNCTION_PROPERTIES.items():
            if name in properties:
                setattr(function, attribute, value_of(function, properties[name]))
        log_group = properties.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            function.logs_group_name = log_group

    extend_cloudformation_create(LambdaFunction, after=complete)
