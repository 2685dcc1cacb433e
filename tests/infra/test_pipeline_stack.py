"""PipelineStack: the state machine's shape, least privilege per function, schedule, alarms."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from edx_vault.access.access_check import check_bucket_action, check_key, check_list
from edx_vault.access.policy_evaluator import Request, evaluate
from edx_vault.access.template_policies import (
    RolePolicies,
    VaultPolicies,
    load_vault_policies,
    read_assembly_templates,
)
from edx_vault.package import bucket_layout
from edx_vault.package.table_catalog import declared_sql_table_names
from edx_vault.pipeline import cost_model
from edx_vault.settings.iam_paths import PIPELINE_ROLE_PATH
from edx_vault.settings.resource_names import (
    PIPELINE_ROLE_STEPS,
    glue_database_name,
    pipeline_role_name,
)
from stacks.sync_state_machine import MAP_IO_ERRORS, TRANSIENT_ERRORS
from stacks.vault_app import VaultApp, build_vault_app

FUNCTIONS = ("Plan", "Mirror", "Collect", "Decrypt", "Split", "Deidentify", "Catalog", "Report")
MAP_STATES = ("MirrorFiles", "DecryptFiles", "SplitEventLogs", "DeidentifyFiles")


@pytest.fixture(scope="module")
def vault() -> VaultApp:
    return build_vault_app(nag=False, bundle_assets=False)


@pytest.fixture(scope="module")
def template(vault: VaultApp) -> Template:
    return Template.from_stack(vault.pipeline)


def definition_of(template: Template) -> dict[str, Any]:
    """The state machine's ASL, with the Fn::Join tokens replaced by placeholders."""
    [machine] = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def role_statements(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Every IAM statement of every role policy, by the function (or role) it belongs to."""
    statements: dict[str, list[dict[str, Any]]] = {}
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        owner = next((name for name in FUNCTIONS if f"Functions{name}" in logical_id), logical_id)
        statements.setdefault(owner, []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def secret_readers(template: Template) -> dict[str, set[str]]:
    """Which owners may read (GetSecretValue) which storage secret."""
    readers: dict[str, set[str]] = {}
    for owner, statements in role_statements(template).items():
        for statement in statements:
            if "secretsmanager:GetSecretValue" in actions_of(statement):
                for resource in resources_of(statement):
                    secret = next(
                        name
                        for name in (
                            "EdxCredentials",
                            "PipelineKey",
                            "PipelinePassphrase",
                            "PseudonymKey",
                        )
                        if f"Secrets{name}" in json.dumps(resource)
                    )
                    readers.setdefault(secret, set()).add(owner)
    return readers


def assert_each_secret_read_only_by_its_step(template: Template) -> None:
    assert secret_readers(template) == {
        "EdxCredentials": {"Plan", "Mirror"},
        "PipelineKey": {"Decrypt"},
        "PipelinePassphrase": {"Decrypt"},
        "PseudonymKey": {"Deidentify"},
    }


def test_state_machine_runs_plan_maps_collect_report_then_a_verdict(template: Template) -> None:
    # Given the synthesized definition / Then the states run in this order
    definition = definition_of(template)
    states = definition["States"]
    order, state = [], definition["StartAt"]
    while "Next" in states[state]:
        order.append(state)
        state = states[state]["Next"]
    order.append(state)
    assert order == [
        "Plan",
        "MirrorFiles",
        "CollectUnits",
        "DecryptFiles",
        "CollectSplits",
        "SplitEventLogs",
        "PlanDeidentified",
        "DeidentifyFiles",
        "UpdateCatalog",
        "Report",
        "AnyItemFailed",
    ]
    verdict = states["AnyItemFailed"]
    assert verdict["Choices"][0]["Variable"] == "$.report.failed"
    assert states[verdict["Choices"][0]["Next"]]["Type"] == "Fail"
    assert states[verdict["Default"]]["Type"] == "Succeed"
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineType": "STANDARD"}
    )


@pytest.mark.parametrize("map_state", MAP_STATES)
def test_maps_are_distributed_over_an_s3_work_list(template: Template, map_state: str) -> None:
    state = definition_of(template)["States"][map_state]
    processor = state["ItemProcessor"]
    assert processor["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert state["ItemReader"]["Resource"] == "arn:TOKEN:states:::s3:getObject"  # partition
    assert state["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert state["MaxConcurrency"] == 8  # schedule.max_concurrency in the example config
    # A failing task is caught inside the iteration, so the Map runs every item
    task = processor["States"][processor["StartAt"]]
    assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert processor["States"][task["Catch"][0]["Next"]]["Type"] == "Pass"


@pytest.mark.parametrize("map_state", MAP_STATES)
def test_maps_write_their_results_to_the_runs_work_prefix(
    vault: VaultApp, template: Template, map_state: str
) -> None:
    # Given the synthesized definition
    definition = definition_of(template)
    state = definition["States"][map_state]
    # Then the children's outputs go to the data bucket, under _work/{run id}/ (the run id is
    # the execution's name: Plan is given it as its execution_name)
    assert state["ResultWriter"] == {
        "Resource": "arn:TOKEN:states:::s3:putObject",
        "Parameters": {
            "Bucket": vault.storage.data.bucket_name,
            "Prefix.$": (
                f"States.Format('{bucket_layout.WORK_PREFIX}{{}}/map-runs/{map_state}', "
                "$$.Execution.Name)"
            ),
        },
    }
    plan_parameters = definition["States"]["Plan"]["Parameters"]
    assert plan_parameters["execution_name.$"] == "$$.Execution.Name"
    # And the Map's result (the manifest's address) is not kept either
    assert state["ResultPath"] is None


def _state_machine_statements(template: Template) -> list[dict[str, Any]]:
    [owner] = [name for name in role_statements(template) if name.startswith("SyncRole")]
    return role_statements(template)[owner]


def test_the_state_machine_reads_and_writes_only_under_work(
    vault: VaultApp, template: Template
) -> None:
    # Given the state machine role's statements
    statements = _state_machine_statements(template)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in actions_of(s))]
    # Then it writes (the ResultWriters do) only objects under _work/, not CDK's bucket/*
    writes = [s for s in s3_statements if "s3:PutObject" in actions_of(s)]
    assert writes == [
        {
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
            "Resource": (
                f"arn:aws:s3:::{vault.storage.data.bucket_name}/{bucket_layout.WORK_PREFIX}*"
            ),
        }
    ]
    # And that is its only S3 grant: the ItemReaders' read of the work lists is under _work/
    # too (merged into it), not CDK's bucket/*, which would read published learner data
    assert s3_statements == writes


def test_the_state_machine_encrypts_results_with_the_data_key_only_through_s3(
    vault: VaultApp, template: Template
) -> None:
    # Given the state machine role's statements
    statements = _state_machine_statements(template)
    bucket = f"arn:aws:s3:::{vault.storage.data.bucket_name}"
    # Then it may have KMS generate data keys only for S3's writes to the data bucket (the
    # bucket's default encryption is the data key; with an S3 Bucket Key the encryption
    # context is the bucket's ARN)
    [generate] = [s for s in statements if "kms:GenerateDataKey" in actions_of(s)]
    assert generate == {
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "arn:aws:kms:us-east-1:123456789012:key/*",
        "Condition": {
            "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
            "ArnLike": {
                "kms:EncryptionContext:aws:s3:arn": [
                    bucket,
                    f"{bucket}/{bucket_layout.WORK_PREFIX}*",
                ]
            },
        },
    }
    # And its other KMS grant is still Decrypt (for the ItemReader) on the data key itself
    others = [
        s
        for s in statements
        if s is not generate and any(a.startswith("kms:") for a in actions_of(s))
    ]
    assert [actions_of(s) for s in others] == [["kms:Decrypt"]]
    assert "DataKey" in json.dumps(others[0]["Resource"])


@pytest.fixture(scope="module")
def synthesized_policies(tmp_path_factory: pytest.TempPathFactory) -> VaultPolicies:
    """The app's policies, resolved from its synthesized templates for the evaluator."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    built = build_vault_app(outdir=str(outdir), nag=False, bundle_assets=False)
    built.app.synth()
    return load_vault_policies(
        read_assembly_templates(Path(outdir)),
        storage_stack=built.storage.stack_name,
        account=built.pipeline.account,
        region=built.pipeline.region,
    )


def _state_machine_role(policies: VaultPolicies) -> RolePolicies:
    [role] = [role for arn, role in policies.roles.items() if arn.endswith("-pipeline-sync")]
    return role


RESULT_FILE = f"{bucket_layout.WORK_PREFIX}run-1/map-runs/MirrorFiles/0f3c/SUCCEEDED_0.json"
AT = dt.datetime(2026, 1, 4, 6, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("key", "headers", "allowed"),
    [
        (RESULT_FILE, {}, True),
        (RESULT_FILE, {"s3:x-amz-server-side-encryption": "AES256"}, False),
        ("events/org=mitx/site=edx/date=2026-01-03/x.log.gz", {}, False),
        ("reports/run-1.json", {}, False),
    ],
    ids=["result-file", "asking-for-sse-s3", "published-data", "reports"],
)
def test_the_result_writers_put_is_allowed_by_role_and_bucket_policy(
    synthesized_policies: VaultPolicies, key: str, headers: dict[str, str], allowed: bool
) -> None:
    # Given the state machine's role, the data bucket's policy, and a put with the headers
    # Step Functions sends (none about encryption) or one asking for another encryption
    role = _state_machine_role(synthesized_policies)
    # When a PutObject is evaluated as AWS would
    decision = check_bucket_action(
        synthesized_policies, role, "s3:PutObject", key=key, at=AT, context=headers
    )
    # Then only the result file without encryption headers (the bucket's default: SSE-KMS with
    # the data key) is written
    assert decision.allowed is allowed, decision


@pytest.mark.parametrize(
    ("context", "allowed"),
    [
        ({}, True),
        ({"kms:ViaService": None}, False),
        ({"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}, False),
        ({"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::another-bucket"}, False),
    ],
    ids=["through-s3-for-the-bucket", "called-directly", "another-service", "another-bucket"],
)
def test_the_result_writers_data_keys_come_only_through_s3_for_the_data_bucket(
    synthesized_policies: VaultPolicies, context: dict[str, str | None], allowed: bool
) -> None:
    # Given the state machine's role and the data key's policy
    role = _state_machine_role(synthesized_policies)
    through_s3 = {
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
        # With an S3 Bucket Key the encryption context is the bucket's ARN
        "kms:EncryptionContext:aws:s3:arn": synthesized_policies.bucket_arn,
    }
    # When S3 (or anything else) asks KMS for a data key as the role
    decision = check_key(
        synthesized_policies,
        role,
        "kms:GenerateDataKey",
        at=AT,
        context={**through_s3, **context},
    )
    # Then only S3, writing to the data bucket, gets one
    assert decision.allowed is allowed, decision


def test_only_transient_errors_are_retried(template: Template) -> None:
    definition = definition_of(template)
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    for state in definition["States"].values():
        if state["Type"] == "Map":
            tasks.extend(
                s for s in state["ItemProcessor"]["States"].values() if s["Type"] == "Task"
            )
    assert len(tasks) == 10
    for task in tasks:
        [retry] = task["Retry"]
        assert retry["ErrorEquals"] == TRANSIENT_ERRORS
        assert retry["BackoffRate"] == 2
        assert retry["MaxAttempts"] <= 5


@pytest.mark.parametrize("map_state", MAP_STATES)
def test_maps_retry_their_own_s3_reads_and_writes(template: Template, map_state: str) -> None:
    # Given the synthesized definition
    state = definition_of(template)["States"][map_state]
    # Then a failed read of the work list or write of the results (S3 throttling or a 500) runs
    # the Map again, with back-off and jitter, a few times; nothing else is retried there (the
    # items' own errors are caught inside each iteration)
    assert state["Retry"] == [
        {
            "ErrorEquals": ["States.ItemReaderFailed", "States.ResultWriterFailed"],
            "IntervalSeconds": 5,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }
    ]
    assert MAP_IO_ERRORS == ["States.ItemReaderFailed", "States.ResultWriterFailed"]
    # And a Map still has no Catch: what is left failing after the retries fails the run
    assert "Catch" not in state


def test_each_secret_is_readable_only_by_the_function_that_needs_it(template: Template) -> None:
    assert_each_secret_read_only_by_its_step(template)


def test_a_grant_to_the_wrong_function_is_caught() -> None:
    # Given the same app where someone also let the Report step read the private key
    careless = build_vault_app(nag=False, bundle_assets=False)
    careless.pipeline.functions.report.add_to_role_policy(
        iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"],
            resources=[careless.storage.secrets.pipeline_key.secret_arn],
        )
    )
    # Then the same check fails
    with pytest.raises(AssertionError):
        assert_each_secret_read_only_by_its_step(Template.from_stack(careless.pipeline))


def test_only_the_split_may_delete_and_none_uses_wildcard_actions(template: Template) -> None:
    deletes: list[tuple[str, str, str]] = []
    for owner, statements in role_statements(template).items():
        for statement in statements:
            for action in actions_of(statement):
                if owner in FUNCTIONS:
                    assert "*" not in action, (owner, action)
                if action.startswith("s3:Delete"):
                    deletes.extend((owner, action, json.dumps(r)) for r in resources_of(statement))
    # The split removes the course files a re-issued log no longer has, and its own spills: by
    # delete marker (s3:DeleteObject), never a version (s3:DeleteObjectVersion), and only there
    # The de-identify step removes copies whose original is gone, under deidentified/ only
    assert {(owner, action) for owner, action, _ in deletes} == {
        ("Split", "s3:DeleteObject"),
        ("Deidentify", "s3:DeleteObject"),
    }
    [deidentify_delete] = [r for owner, _, r in deletes if owner == "Deidentify"]
    assert f"/{bucket_layout.DEIDENTIFIED_PREFIX}*" in deidentify_delete
    deletes = [d for d in deletes if d[0] == "Split"]
    prefixes = {
        prefix
        for _, _, resource in deletes
        for prefix in (
            bucket_layout.EVENTS_BY_COURSE_PREFIX,
            bucket_layout.COURSE_SPLIT_SPILL_PREFIX,
        )
        if f"/{prefix}*" in resource
    }
    assert len(deletes) == 2
    assert prefixes == {
        bucket_layout.EVENTS_BY_COURSE_PREFIX,
        bucket_layout.COURSE_SPLIT_SPILL_PREFIX,
    }


def _object_prefixes(statements: list[dict[str, Any]], action: str) -> set[str]:
    prefixes = set()
    for statement in statements:
        if action in actions_of(statement):
            for resource in resources_of(statement):
                text = json.dumps(resource)
                prefixes.update(
                    p
                    for p in (
                        *bucket_layout.PUBLISHED_PREFIXES,
                        *bucket_layout.PIPELINE_ONLY_PREFIXES,
                    )
                    if f"/{p}*" in text
                )
    return prefixes


def test_steps_write_only_where_they_must(template: Template) -> None:
    statements = role_statements(template)

    def writes(owner: str) -> set[str]:
        return _object_prefixes(statements[owner], "s3:PutObject")

    assert writes("Plan") == {"_work/"}
    assert writes("Mirror") == {"raw/", "_work/"}
    assert writes("Collect") == {"_work/"}
    assert writes("Decrypt") == {"_work/", *bucket_layout.PUBLISHED_PREFIXES} - {
        bucket_layout.EVENTS_BY_COURSE_PREFIX
    }
    assert writes("Split") == {"_work/", bucket_layout.EVENTS_BY_COURSE_PREFIX}
    assert writes("Report") == {"_work/", "reports/"}
    assert writes("Deidentify") == {"_work/"}  # and deidentified/ (not a published prefix)
    assert writes("Catalog") == {"_work/"}  # its result file only: see the catalog tests
    assert "raw/" not in writes("Decrypt")


def test_the_report_reads_only_the_data_buckets_access_logs_for_the_audit(
    template: Template,
) -> None:
    # Given the Report function's statements that name the access-logs bucket
    statements = role_statements(template)["Report"]
    on_logs = [s for s in statements if "AccessLogs" in json.dumps(s["Resource"])]
    # Then it may list only under the data bucket's log prefix and read only those objects
    assert sorted(a for s in on_logs for a in actions_of(s)) == ["s3:GetObject", "s3:ListBucket"]
    [listing] = [s for s in on_logs if actions_of(s) == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "data-bucket/*"}}
    [reading] = [s for s in on_logs if actions_of(s) == ["s3:GetObject"]]
    assert "/data-bucket/*" in json.dumps(reading["Resource"])
    # And it is told where they are and which principals to expect
    [report] = [
        r["Properties"]
        for logical_id, r in template.find_resources("AWS::Lambda::Function").items()
        if logical_id.startswith("FunctionsReport") and "Handler" in r["Properties"]
    ]
    variables = report["Environment"]["Variables"]
    principals = json.loads(variables["EDX_VAULT_AUDIT_PRINCIPALS"])
    assert principals["researcher_roles"] == {
        "edxvault-asmith-irb-2026-201": "asmith-irb-2026-201",
        "edxvault-jdoe-irb-2026-114": "jdoe-irb-2026-114",
    }
    assert variables["EDX_VAULT_ACCESS_LOG_PREFIX"] == "data-bucket/"


def test_the_split_reads_only_the_org_level_logs_and_its_own_work(template: Template) -> None:
    # Given the split function's permissions
    reads = _object_prefixes(role_statements(template)["Split"], "s3:GetObject")
    # Then it reads the decrypted logs and _work/ (its index, its spills), nothing else
    assert reads == {bucket_layout.EVENTS_PREFIX, "_work/"}
    # And it reads no secret: it never sees a key or edX's credentials
    assert "Split" not in {o for readers in secret_readers(template).values() for o in readers}


def test_functions_run_the_layers_runtime_with_tracing(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 8
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == ["x86_64"]
        assert len(properties["Layers"]) == 2
        assert properties["TracingConfig"] == {"Mode": "Active"}


def test_decrypt_runs_on_one_full_vcpu_as_the_cost_model_prices_it(template: Template) -> None:
    # Given the decrypt function (docs/engine.md, "Decrypt speed per dollar", says why this size)
    [decrypt] = [
        function["Properties"]
        for logical_id, function in template.find_resources("AWS::Lambda::Function").items()
        if logical_id.startswith("FunctionsDecrypt") and "Handler" in function["Properties"]
    ]
    # Then it has 1769 MB, one vCPU's worth, and the run report's cost estimate uses the same
    assert decrypt["MemorySize"] == 1769 == cost_model.DECRYPT_MEMORY_MB


def test_the_split_has_the_memory_the_cost_model_prices_and_lambdas_longest_timeout(
    template: Template,
) -> None:
    # Given the split function (sync_functions.py says why this size: one vCPU, one thread)
    [split] = [
        function["Properties"]
        for logical_id, function in template.find_resources("AWS::Lambda::Function").items()
        if logical_id.startswith("FunctionsSplit") and "Handler" in function["Properties"]
    ]
    # Then the report's cost estimate prices the same memory, and a large log has 15 minutes
    assert split["MemorySize"] == 1769 == cost_model.SPLIT_MEMORY_MB
    assert split["Timeout"] == 900
    assert split["Handler"] == "split.handler"


def test_schedule_starts_the_state_machine_on_the_configured_expression(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 6 ? * SUN *)",
            "ScheduleExpressionTimezone": "UTC",
            "Target": Match.object_like(
                {"Arn": {"Ref": Match.string_like_regexp("SyncStateMachine")}}
            ),
        },
    )


def test_seven_alarms_notify_the_encrypted_topic(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    described = sorted(alarm["Properties"]["AlarmDescription"] for alarm in alarms.values())
    assert len(described) == 7
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "UnexpectedReaders", "Threshold": 1}
    )
    assert any("course=_unparsed" in text for text in described)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "UnparsedEventLines", "Threshold": 1, "Statistic": "Sum"},
    )
    assert any("expires within 30 days" in text for text in described)
    assert any("rejected the stored credentials" in text for text in described)
    [topic_id] = template.find_resources("AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "research-data@example.edu"}
    )


def test_every_log_group_is_encrypted_and_kept(template: Template) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 9  # one per function, one for the state machine
    for group in groups.values():
        assert "KmsKeyId" in group["Properties"]
        assert group["DeletionPolicy"] == "Retain"


def test_pipeline_outputs_name_what_the_cli_reads(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {"SyncStateMachineArn", "AlertsTopicArn", "SyncScheduleName"} <= set(outputs)


def test_pipeline_cannot_be_deployed_before_storage(vault: VaultApp) -> None:
    assert vault.storage in vault.pipeline.dependencies
    assert isinstance(vault.pipeline, cdk.Stack)


def test_the_alerts_topic_policy_lets_this_accounts_alarms_publish(template: Template) -> None:
    # Given the topic's policy (enforce_ssl gives the topic one, which replaces SNS's default)
    [topic_id] = template.find_resources("AWS::SNS::Topic")
    [policy] = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    # Then CloudWatch may publish for this account's alarms only, and TLS is still required
    assert {
        "Sid": "AllowCloudWatchAlarmsOfThisAccount",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": {"Ref": topic_id},
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"},
        },
    } in statements
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]


def test_cloudwatch_may_use_the_alerts_topics_key(template: Template) -> None:
    # Given the key the topic is encrypted with
    [topic] = template.find_resources("AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template.find_resources("AWS::KMS::Key")[key_id]
    # Then its policy lets CloudWatch generate data keys and decrypt (SNS encrypts for it)
    [statement] = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert statement["Effect"] == "Allow"
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])


def test_no_new_data_compares_the_days_since_new_data_with_the_configured_days(
    template: Template,
) -> None:
    # Given the example configuration (no_new_data_alarm_days = 9)
    # Then the alarm looks at the latest run's gauge over one day, whatever the number of days
    # (PutMetricAlarm refuses Period x EvaluationPeriods over 7 days), and keeps its verdict
    # between runs
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "DaysSinceNewData",
            "Namespace": "EdxVault",
            "Statistic": "Maximum",
            "Period": 86400,
            "EvaluationPeriods": 1,
            "Threshold": 9,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "ignore",
        },
    )
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        assert properties["Period"] * properties["EvaluationPeriods"] <= 7 * 86400


def test_the_steps_that_claim_rows_may_ask_only_whether_a_sync_run_has_ended(
    vault: VaultApp, template: Template
) -> None:
    # Given the pipeline stack's state machine, named from the stack
    name = f"{vault.pipeline.stack_name}-sync"
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {"StateMachineName": name})
    statements = role_statements(template)
    for function in FUNCTIONS:
        # When we read each function's permissions to describe executions
        describing = [
            s for s in statements[function] if "states:DescribeExecution" in actions_of(s)
        ]
        if function not in ("Mirror", "Decrypt", "Split"):
            # Then only the steps that claim manifest rows have any
            assert describing == [], function
            continue
        # And theirs covers this state machine's executions and nothing else
        [statement] = describing
        assert actions_of(statement) == ["states:DescribeExecution"]
        resource = json.dumps(statement["Resource"])
        assert f":execution:{name}:*" in resource, resource
        # And they are told the state machine's ARN
        [function_resource] = [
            r["Properties"]
            for logical_id, r in template.find_resources("AWS::Lambda::Function").items()
            if logical_id.startswith(f"Functions{function}") and "Handler" in r["Properties"]
        ]
        variables = function_resource["Environment"]["Variables"]
        assert f":stateMachine:{name}" in json.dumps(variables["EDX_VAULT_SYNC_STATE_MACHINE_ARN"])


def test_collect_and_report_have_one_full_vcpu(template: Template) -> None:
    # Given the pipeline's functions
    functions = template.find_resources("AWS::Lambda::Function")
    for step in ("Collect", "Report"):
        # When we read the memory of the run-wide steps that read every item's results
        [memory] = [
            resource["Properties"]["MemorySize"]
            for logical_id, resource in functions.items()
            if logical_id.startswith(f"Functions{step}") and "Handler" in resource["Properties"]
        ]
        # Then each has 1,769 MB, one full vCPU on Lambda (their time is CPU per request)
        assert memory == 1769, step


def test_every_pipeline_role_has_its_steps_fixed_name_under_the_pipeline_path(
    vault: VaultApp, template: Template
) -> None:
    # Given the synthesized pipeline stack
    # When its roles are read
    roles = template.find_resources("AWS::IAM::Role")
    # Then each role the pipeline runs as is named for its step (so the storage stack's
    # policies can name it exactly), under the pipeline path, and no step shares a role
    prefix = vault.config.deployment.stack_prefix
    pipeline_roles = {
        properties["Properties"]["RoleName"]: properties["Properties"]["Path"]
        for properties in roles.values()
        if properties["Properties"].get("Path") == PIPELINE_ROLE_PATH
    }
    assert pipeline_roles == {
        pipeline_role_name(prefix, step): PIPELINE_ROLE_PATH for step in PIPELINE_ROLE_STEPS
    }


# ------------------------------------------------------------------ UpdateCatalog's permissions
GLUE = "arn:aws:glue:us-east-1:123456789012"
DATABASE = glue_database_name("EdxVault")
HEADER_TABLE = "database_auth_userprofile"  # a SELECT * table
ORA_TABLE = "ora_assessment_assessment"


def _catalog_role(policies: VaultPolicies) -> RolePolicies:
    [role] = [role for arn, role in policies.roles.items() if arn.endswith("-pipeline-catalog")]
    return role


def _glue_allowed(role: RolePolicies, action: str, table: str) -> bool:
    """Whether Glue lets the role do ``action`` on ``table``: on every ARN it authorizes the
    call on (the catalog, the database and the table: "Specifying AWS Glue resource ARNs")."""
    resources = (
        f"{GLUE}:catalog",
        f"{GLUE}:database/{DATABASE}",
        f"{GLUE}:table/{DATABASE}/{table}",
    )
    return all(
        evaluate(
            Request(action=action, resource=resource, principal=role.arn, context={}),
            identity=role.identity,
        ).allowed
        for resource in resources
    )


def test_the_catalog_step_runs_after_the_split_and_before_the_report_and_cannot_stop_it(
    template: Template,
) -> None:
    # Given the synthesized definition
    states = definition_of(template)["States"]
    catalog = states["UpdateCatalog"]
    # Then it follows the split, passes on to Report, and a failure after its retries goes to
    # Report as well (which then reports the missing catalog result as a failure)
    assert states["DeidentifyFiles"]["Next"] == "UpdateCatalog"
    assert catalog["Next"] == "Report"
    [catch] = catalog["Catch"]
    assert catch == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.catalog_error",
        "Next": "Report",
    }


@pytest.mark.parametrize("action", ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable"])
@pytest.mark.parametrize(
    ("table", "allowed"),
    [
        (HEADER_TABLE, True),
        (ORA_TABLE, True),
        ("database_auth_user", False),  # declared: CloudFormation's
        ("deid_database_auth_user", True),  # the tier's copy: a header table
        ("deid_database_auth_userprofile", True),
        ("deid_events_by_course", False),  # declared: CloudFormation's
        ("events", False),
        ("email_opt_in", False),
    ],
)
def test_the_catalog_step_keeps_only_the_select_star_tables(
    synthesized_policies: VaultPolicies, action: str, table: str, allowed: bool
) -> None:
    # Given the catalog function's role / When it reads, creates or updates a table
    role = _catalog_role(synthesized_policies)
    decision = _glue_allowed(role, action, table)
    # Then only a database_* or ora_* table that is not a declared one is its to touch
    # (a declared table's GetTable is allowed: reading it changes nothing)
    expected = allowed or (action == "glue:GetTable" and table == "database_auth_user")
    assert decision is expected, (action, table)


def test_every_declared_table_is_denied_to_the_catalog_step(
    synthesized_policies: VaultPolicies,
) -> None:
    # Given the catalog function's role and the storage stack's declared .sql tables
    role = _catalog_role(synthesized_policies)
    for name in declared_sql_table_names():
        for action in ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"):
            # Then an explicit Deny refuses each change, whatever an Allow says
            decision = evaluate(
                Request(
                    action=action,
                    resource=f"{GLUE}:table/{DATABASE}/{name}",
                    principal=role.arn,
                    context={},
                ),
                identity=role.identity,
            )
            assert decision.outcome == "explicit-deny", (name, action)
    # And it may delete no table at all
    assert not _glue_allowed(role, "glue:DeleteTable", HEADER_TABLE)


@pytest.mark.parametrize(
    ("action", "key", "allowed"),
    [
        ("s3:GetObject", "database/auth_userprofile/org=mitx/x.sql", True),
        ("s3:GetObject", "ora/assessment_assessment/org=mitx/x.sql", True),
        ("s3:GetObject", "deidentified/database/auth_user/org=mitx/x.sql", True),
        ("s3:GetObject", "deidentified/events-by-course/org=mitx/x.log.gz", False),
        ("s3:GetObject", "deidentified/course-structure/org=mitx/x.json", False),
        ("s3:PutObject", "deidentified/database/auth_user/org=mitx/x.sql", False),
        ("s3:GetObject", "events/org=mitx/site=edx/date=2026-01-03/x.log.gz", False),
        ("s3:GetObject", "email-opt-in/org=mitx/export_date=2026-01-04/x.csv", False),
        ("s3:GetObject", "raw/course-data/mitx-2026-01-04.zip", False),
        ("s3:PutObject", "_work/run-1/catalog.json", True),
        ("s3:PutObject", "_work/run-1/results/mirror/batch-1.json", False),
        ("s3:PutObject", "database/auth_userprofile/org=mitx/x.sql", False),
        ("s3:DeleteObject", "database/auth_userprofile/org=mitx/x.sql", False),
    ],
)
def test_the_catalog_step_reads_only_sql_tables_and_writes_only_its_result(
    synthesized_policies: VaultPolicies, action: str, key: str, allowed: bool
) -> None:
    # Given the catalog function's role and the data bucket's policy
    role = _catalog_role(synthesized_policies)
    # When it reads or writes an object
    decision = check_bucket_action(synthesized_policies, role, action, key=key, at=AT)
    # Then it reads the .sql tables' files and writes its run's catalog.json, nothing else
    assert decision.allowed is allowed, decision


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("database/auth_userprofile/", True),
        ("ora/", True),
        ("deidentified/database/", True),
        ("deidentified/", False),
        ("deidentified/events-by-course/", False),
        ("events/", False),
        ("", False),
    ],
)
def test_the_catalog_step_lists_only_the_sql_tables_folders(
    synthesized_policies: VaultPolicies, prefix: str, allowed: bool
) -> None:
    role = _catalog_role(synthesized_policies)
    decision = check_list(synthesized_policies, role, prefix or None, at=AT)
    assert decision.allowed is allowed, decision


@pytest.mark.parametrize(
    ("action", "context", "allowed"),
    [
        ("kms:Decrypt", {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, True),
        ("kms:GenerateDataKey", {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, True),
        ("kms:Decrypt", {"kms:ViaService": None}, False),
        ("kms:Encrypt", {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, False),
    ],
)
def test_the_catalog_step_uses_the_data_key_only_through_s3(
    synthesized_policies: VaultPolicies,
    action: str,
    context: dict[str, str | None],
    allowed: bool,
) -> None:
    role = _catalog_role(synthesized_policies)
    decision = check_key(synthesized_policies, role, action, at=AT, context=context)
    assert decision.allowed is allowed, decision


def test_the_catalog_step_is_told_the_database_and_the_projections_scope(
    template: Template,
) -> None:
    # Given the catalog and report functions' environments
    functions = template.find_resources("AWS::Lambda::Function")
    variables = {
        step: resource["Properties"]["Environment"]["Variables"]
        for logical_id, resource in functions.items()
        for step in ("Catalog", "Report")
        if logical_id.startswith(f"Functions{step}") and "Handler" in resource["Properties"]
    }
    # Then both know the research database (the Report then expects the step's result), and
    # the catalog step the orgs and first date the storage stack projects
    assert variables["Catalog"]["EDX_VAULT_GLUE_DATABASE"] == DATABASE
    assert variables["Report"]["EDX_VAULT_GLUE_DATABASE"] == DATABASE
    assert json.loads(variables["Catalog"]["EDX_VAULT_ORG_GROUPS"])
    assert variables["Catalog"]["EDX_VAULT_BACKFILL_FROM"]


def test_every_step_uses_the_data_key_only_through_the_services_it_calls(
    template: Template,
) -> None:
    # Given every role's statements that use the data key (imported from the storage stack)
    data_key_statements = {
        owner: [
            s
            for s in statements
            if any(a.startswith("kms:") for a in actions_of(s))
            and "KeysDataKey" in json.dumps(s["Resource"])
        ]
        for owner, statements in role_statements(template).items()
    }
    via = {
        owner: {
            service
            for s in owned
            for service in (lambda value: value if isinstance(value, list) else [value])(
                s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", "(none)")
            )
        }
        for owner, owned in data_key_statements.items()
        if owned
    }
    # Then no step may call KMS with it directly: only S3, and DynamoDB for the manifest's users
    s3, dynamodb = "s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"
    manifest_users = {"Plan", "Mirror", "Decrypt", "Split", "Report"}
    for name in FUNCTIONS:
        assert via[name] == ({s3, dynamodb} if name in manifest_users else {s3}), name
    [state_machine] = [owner for owner in via if owner.startswith("SyncRole")]
    assert via[state_machine] == {s3}


def test_the_deidentify_step_reads_only_what_it_copies_and_writes_only_the_tier(
    template: Template,
) -> None:
    # Given the de-identify function's statements
    statements = role_statements(template)["Deidentify"]
    text = json.dumps(statements)
    reads = _object_prefixes(statements, "s3:GetObject")
    # Then it reads the course event files, course content and its run files; of database/
    # only the copied tables' folders; never raw/, the org logs or what identifies as a whole
    assert reads == {
        bucket_layout.EVENTS_BY_COURSE_PREFIX,
        bucket_layout.COURSE_STRUCTURE_PREFIX,
        bucket_layout.COURSE_EXPORT_PREFIX,
        "_work/",
    }
    assert "/database/auth_user/*" in text
    for never in ("raw/", "events/", "email-opt-in/", "forums/", "ora/", "database/user_id_map/"):
        assert f"/{never}*" not in text, never
        assert f'"{never}*"' not in text, never  # nor lists it
    # And it writes and removes only under deidentified/ (and its run files under _work/)
    writers = [s for s in statements if {"s3:PutObject", "s3:DeleteObject"} & set(actions_of(s))]
    written = {json.dumps(r) for s in writers for r in resources_of(s)}
    assert all("/deidentified/*" in r or "/_work/*" in r for r in written), written
    assert not any("/deidentified/*" in r for r in written if "_work" in r)
    assert not any(a == "s3:DeleteObjectVersion" for s in statements for a in actions_of(s))
    # And it uses no manifest, and the data key only through S3
    assert not any(a.startswith("dynamodb:") for s in statements for a in actions_of(s))


def test_the_tier_is_rebuilt_after_the_split_and_its_plan_cannot_stop_the_report(
    template: Template,
) -> None:
    # Given the synthesized definition
    states = definition_of(template)["States"]
    plan = states["PlanDeidentified"]
    # Then the plan follows the split, its Map follows it, then the catalog step
    assert states["SplitEventLogs"]["Next"] == "PlanDeidentified"
    assert plan["Next"] == "DeidentifyFiles"
    assert states["DeidentifyFiles"]["Next"] == "UpdateCatalog"
    # And a plan that fails after its retries skips the copies, on to the catalog and report
    [catch] = plan["Catch"]
    assert catch == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.deidentify_error",
        "Next": "UpdateCatalog",
    }
    # And the Map reads the work list the plan returned
    reader = states["DeidentifyFiles"]["ItemReader"]["Parameters"]
    assert reader["Key.$"] == "$.deidentify_plan.items_key"
