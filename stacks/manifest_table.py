"""The manifest: one DynamoDB row per mirrored source object and per zip member."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from edx_vault.pipeline.manifest_schema import PARTITION_KEY, SORT_KEY


class ManifestTable(Construct):
    """The record of what was mirrored, decrypted and published, and of every failure.

    Attributes
    ----------
    table
        On-demand, encrypted with the data key, point-in-time recovery on, deletion protected.
    """

    def __init__(self, scope: Construct, id_: str, *, data_key: kms.IKey) -> None:
        super().__init__(scope, id_)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=data_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
