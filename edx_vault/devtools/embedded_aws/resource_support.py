"""How the embedded AWS treats each CloudFormation resource type it may meet.

One table, read by the server (which registers a handler per emulated type), by the deployment
(which prints, per stack, every resource that is emulated or skipped) and by
``docs/embedded-aws.md``. A type in none of these tables is created by moto's own CloudFormation;
a type moto does not know and that is not listed here fails the deployment with its name, rather
than being left out silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Treatment = Literal["emulated", "patched", "skipped"]

# moto's CloudFormation has no support for these types: the server creates each one itself, with
# the service's own moto backend, from the template's properties, inside moto's CloudFormation
# (so Ref, Fn::GetAtt, outputs and DescribeStackResources work as for any other resource).
EMULATED: Final[Mapping[str, str]] = {
    "AWS::SecretsManager::Secret": (
        "created with CreateSecret (Name, Description, KmsKeyId, SecretString or "
        "GenerateSecretString, Tags); moto's CloudFormation has no Secrets Manager support"
    ),
    "AWS::S3::BucketPolicy": (
        "stored with PutBucketPolicy, so GetBucketPolicy returns it, but not enforced: moto "
        "applies a bucket policy's Deny statements with their Conditions ignored, so the "
        "TLS-only deny would refuse every request (IAM is not enforced either)"
    ),
    "AWS::Scheduler::Schedule": (
        "created with CreateSchedule; moto never fires a schedule, so run `edx-vault sync`"
    ),
    "AWS::Scheduler::ScheduleGroup": "created with CreateScheduleGroup",
    "AWS::CloudWatch::Alarm": (
        "created with PutMetricAlarm; moto's Step Functions and Lambda publish no metrics, so "
        "alarms never leave INSUFFICIENT_DATA and never notify"
    ),
    "AWS::SNS::Subscription": (
        "created with Subscribe; an email subscription stays pending and nothing is sent"
    ),
    "AWS::SNS::TopicPolicy": "stored as each topic's Policy attribute; not enforced",
    "AWS::Glue::Database": "created with CreateDatabase from DatabaseInput",
    "AWS::Glue::Table": (
        "created with CreateTable from TableInput; stored as given (GetTable returns the "
        "partition projection's properties), no partition is ever added"
    ),
    "AWS::Athena::WorkGroup": (
        "created with CreateWorkGroup (configuration, description, tags) and its State; moto "
        "stores the enforced configuration but enforces none of it, and runs no real query"
    ),
}

# moto creates these, but wrongly without a fix applied in the server.
PATCHED: Final[Mapping[str, str]] = {
    "AWS::KMS::Key": (
        "moto passes CloudFormation's Tags (Key/Value) to a tagger that expects TagKey/TagValue "
        "(the create fails) and keeps KeyPolicy as an object (DescribeKey then fails); both "
        "are converted first"
    ),
    "AWS::S3::Bucket": (
        "moto's CloudFormation applies only BucketEncryption and Tags; VersioningConfiguration, "
        "PublicAccessBlockConfiguration, OwnershipControls, LifecycleConfiguration and "
        "LoggingConfiguration are applied too (stored: moto never expires objects and keeps "
        "SSE-KMS objects' bytes unencrypted; the embedded AWS writes the access logs itself, in "
        "AWS's format, and turns off moto's own, malformed ones: access_logs.py)"
    ),
    "AWS::DynamoDB::Table": (
        "moto's CloudFormation drops PointInTimeRecoverySpecification; it is applied "
        "(recorded, as moto keeps no backups)"
    ),
    "AWS::Lambda::Function": (
        "moto's CloudFormation drops Layers, Architectures, LoggingConfig, TracingConfig, "
        "EphemeralStorage and KmsKeyArn; they are applied to the function it creates. The code "
        "is uploaded and stored, but invocations run the working tree's handler in-process"
    ),
    "AWS::Lambda::LayerVersion": (
        "moto gives no physical id to a layer version, so Ref returned the object instead of "
        "its ARN; Ref now gives the LayerVersionArn. The content is stored, never extracted: "
        "handlers run with this machine's gpg and Python packages"
    ),
    "AWS::StepFunctions::StateMachine": (
        "moto's CloudFormation puts state machines in the backend that does not execute them "
        "and ignores StateMachineType, Definition, DefinitionSubstitutions, LoggingConfiguration "
        "and TracingConfiguration; the server creates the synthesized definition in the "
        "executing backend, with those properties"
    ),
}

# Nothing is created for these.
SKIPPED: Final[Mapping[str, str]] = {
    "AWS::CDK::Metadata": "CDK's version analytics; there is nothing to create",
}


@dataclass(frozen=True)
class ResourceNote:
    """One resource of a template that is not created by moto's CloudFormation as it stands.

    Attributes
    ----------
    stack
        The stack's name.
    logical_id
        The resource's logical id in the template.
    resource_type
        Its CloudFormation type.
    treatment
        ``emulated``, ``patched`` or ``skipped``.
    reason
        What is done instead, and why.
    """

    stack: str
    logical_id: str
    resource_type: str
    treatment: Treatment
    reason: str

    def describe(self) -> str:
        """One line for the deployment's output."""
        return f"{self.stack}/{self.logical_id} ({self.resource_type}): {self.reason}"


_TABLES: Final[tuple[tuple[Treatment, Mapping[str, str]], ...]] = (
    ("emulated", EMULATED),
    ("patched", PATCHED),
    ("skipped", SKIPPED),
)


def treatment_of(resource_type: str) -> tuple[Treatment, str] | None:
    """How the embedded AWS treats a type, or ``None`` when moto creates it as it is."""
    for treatment, table in _TABLES:
        if resource_type in table:
            return treatment, table[resource_type]
    return None


def notes_for_template(stack: str, template: Mapping[str, Any]) -> Iterator[ResourceNote]:
    """The resources of one template that are emulated, patched or skipped, in template order."""
    for logical_id, resource in template.get("Resources", {}).items():
        found = treatment_of(str(resource["Type"]))
        if found is not None:
            treatment, reason = found
            yield ResourceNote(stack, logical_id, str(resource["Type"]), treatment, reason)
