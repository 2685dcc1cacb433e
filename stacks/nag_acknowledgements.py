"""Every cdk-nag finding we accept, with the reason, in one place.

A finding is acknowledged on the one construct it is about, never on a whole stack, so that a
new resource with the same problem still fails the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

from stacks.access_stack import AccessStack
from stacks.pipeline_stack import PipelineStack
from stacks.query_results import ACCEPTED_FINDINGS as QUERY_RESULTS_FINDINGS
from stacks.researcher_role import QUERY_WILDCARDS_REASON
from stacks.storage_stack import StorageStack

_NO_REPLICATION = (
    "Replicating learner data to a second bucket (often another region) is an institutional "
    "decision about data residency that edX's terms leave to the partner; the bucket is "
    "versioned and the raw/ mirror is the archive of record. Add replication per deployment."
)
_SECRETS_NOT_ROTATABLE = (
    "No Lambda can rotate these: edX issues the credentials and the pipeline key is registered "
    "with edX by hand. Rotation is `edx-vault import-credentials` and `edx-vault keygen "
    "--rotate`; the key-expiry alarm says when."
)
_PSEUDONYM_KEY_NOT_ROTATED_AUTOMATICALLY = (
    "A new pseudonym key breaks the linkage between de-identified copies made before and after "
    "it and rebuilds the whole tier, so only an admin may rotate it, on purpose: "
    "`edx-vault pseudonym-key rotate --yes-break-linkage`."
)
_ACCESS_LOGS_SSE_S3 = (
    "S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS. "
    "The logs hold request metadata, no learner data."
)
_MANIFEST_PITR_ONLY = (
    "Point-in-time recovery (35 days) covers the manifest, and every row can be rebuilt from "
    "the metadata on the mirrored objects; an AWS Backup plan would add cost and no recovery."
)


def _acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items())
    )


def acknowledge_storage_findings(storage: StorageStack) -> None:
    """Acknowledge the storage stack's accepted findings."""
    _acknowledge(
        storage.data.access_logs_bucket,
        {
            "NIST.800.53.R5-S3DefaultEncryptionKMS": _ACCESS_LOGS_SSE_S3,
            "NIST.800.53.R5-S3BucketReplicationEnabled": _NO_REPLICATION,
        },
    )
    _acknowledge(
        storage.data.bucket, {"NIST.800.53.R5-S3BucketReplicationEnabled": _NO_REPLICATION}
    )
    for secret in (
        storage.secrets.edx_credentials,
        storage.secrets.pipeline_key,
        storage.secrets.pipeline_passphrase,
    ):
        _acknowledge(
            secret,
            {
                "AwsSolutions-SMG4": _SECRETS_NOT_ROTATABLE,
                "NIST.800.53.R5-SecretsManagerRotationEnabled": _SECRETS_NOT_ROTATABLE,
            },
        )
    _acknowledge(
        storage.secrets.pseudonym_key,
        {
            "AwsSolutions-SMG4": _PSEUDONYM_KEY_NOT_ROTATED_AUTOMATICALLY,
            "NIST.800.53.R5-SecretsManagerRotationEnabled": _PSEUDONYM_KEY_NOT_ROTATED_AUTOMATICALLY,
        },
    )
    _acknowledge(
        storage.manifest.table, {"NIST.800.53.R5-DynamoDBInBackupPlan": _MANIFEST_PITR_ONLY}
    )
    _acknowledge(storage.query_results.bucket, dict(QUERY_RESULTS_FINDINGS))


def acknowledge_pipeline_findings(pipeline: PipelineStack) -> None:
    """Acknowledge the pipeline stack's accepted findings."""
    functions = pipeline.functions
    bucket_name = pipeline.storage_bucket_name
    for function in functions.all:
        object_findings = {
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket_name}/{prefix}*]": (
                f"Object access is scoped to the {prefix} prefix, which the {function.node.id} "
                "step reads or writes; object keys below it are only known at run time."
            )
            for prefix in functions.object_prefixes.get(function.node.id, [])
        }
        _acknowledge(
            function.role or function,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": _LAMBDA_BASIC_EXECUTION,
                "AwsSolutions-IAM5[Resource::*]": _XRAY_NEEDS_STAR,
                "NIST.800.53.R5-IAMNoInlinePolicy": _ROLE_PER_FUNCTION,
                f"AwsSolutions-IAM5[Resource::{functions.sync_executions_arn}]": (
                    "DescribeExecution on the sync state machine's executions, whose names "
                    "(run ids) are only known at run time: Mirror and Decrypt ask whether the "
                    "run holding a manifest claim has ended (edx_vault/pipeline/run_liveness.py)."
                ),
                **object_findings,
            },
        )
        _acknowledge(
            function,
            {
                "AwsSolutions-L1": _RUNTIME_PINNED,
                "NIST.800.53.R5-LambdaConcurrency": _CONCURRENCY_FROM_MAP,
                "NIST.800.53.R5-LambdaDLQ": _INVOKED_SYNCHRONOUSLY,
                "NIST.800.53.R5-LambdaInsideVPC": _NO_VPC,
            },
        )
    state_machine = pipeline.sync.state_machine
    stack = Stack.of(state_machine)
    invoke_findings = {
        f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(_cfn(function))}.Arn>:*]": (
            "CDK's LambdaInvoke task allows the function's versions and aliases (ARN:*); "
            "only the unqualified function is invoked."
        )
        for function in functions.all
    }
    _acknowledge(
        state_machine.role,
        {
            **invoke_findings,
            "AwsSolutions-IAM5[Resource::*]": _XRAY_NEEDS_STAR
            + " CloudWatch Logs' log-delivery actions have the same limitation.",
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket_name}/*]": (
                "CDK's S3 ItemReader allows reading any object because the work list's key is "
                "only known at run time; the state machine only reads _work/ lists."
            ),
            "NIST.800.53.R5-IAMNoInlinePolicy": _ROLE_PER_FUNCTION,
        },
    )
    execution = (
        f"arn:aws:states:{stack.region}:{stack.account}:execution:"
        '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"'
        f"{stack.get_logical_id(_cfn(state_machine))}"
        '"}]}]}'
    )
    map_policy = state_machine.node.find_child("DistributedMapPolicy")
    _acknowledge(
        map_policy,
        {
            f"AwsSolutions-IAM5[Resource::{execution}/*:*]": _MAP_CHILDREN,
            f"AwsSolutions-IAM5[Resource::{execution}:*]": _MAP_CHILDREN,
            "NIST.800.53.R5-IAMNoInlinePolicy": _ROLE_PER_FUNCTION,
        },
    )
    _acknowledge(pipeline.schedule.role, {"NIST.800.53.R5-IAMNoInlinePolicy": _ROLE_PER_FUNCTION})


def acknowledge_access_findings(access: AccessStack) -> None:
    """Acknowledge the access stack's accepted findings: the grants' own prefix patterns."""
    for researcher, role in access.roles.items():
        for policy in role.policies:
            resources = sorted(
                {
                    resource
                    for statement in policy.document.to_json().get("Statement", [])
                    if statement.get("Effect") == "Allow"
                    for resource in _as_list(statement.get("Resource", []))
                    if isinstance(resource, str) and "*" in resource
                }
            )
            reason = (
                QUERY_WILDCARDS_REASON
                if policy is role.query_policy
                else (
                    f"Research grant {researcher} reads objects by key pattern: the "
                    "wildcards stand for the partitions and files inside its approved "
                    "orgs, sites, courses, tables and dates (edx_vault/access/grants.py), and "
                    "the data bucket's policy keeps researchers out of raw/, _work/ and "
                    "reports/."
                )
            )
            _acknowledge(
                policy,
                {f"AwsSolutions-IAM5[Resource::{resource}]": reason for resource in resources},
            )


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _cfn(construct: IConstruct) -> CfnElement:
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement)
    return resource


_LAMBDA_BASIC_EXECUTION = (
    "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs."
)
_XRAY_NEEDS_STAR = "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level scope."
_ROLE_PER_FUNCTION = (
    "Each role has its own policy, written for that one function or state machine; a managed "
    "policy would invite reuse by roles that need less."
)
_RUNTIME_PINNED = (
    "Pinned to python3.12, the ABI the runtime layer's wheels are built for "
    "(stacks/lambda_layers.py); move both together."
)
_CONCURRENCY_FROM_MAP = (
    "Concurrency is bounded by the Distributed Maps' MaxConcurrency (schedule.max_concurrency "
    "in the config); reserving concurrency would take it from the account's other functions."
)
_INVOKED_SYNCHRONOUSLY = (
    "Step Functions invokes these functions synchronously and handles failures with Retry, "
    "Catch and the Report step; a dead-letter queue only applies to asynchronous invocations."
)
_NO_VPC = (
    "The functions call AWS APIs and edX's S3 buckets in edX's account; a VPC would add NAT "
    "gateways (cost, another egress path) without narrowing what they can reach."
)
_MAP_CHILDREN = (
    "CDK's Distributed Map policy lets the state machine manage its own child executions, "
    "whose names are generated at run time."
)
