"""AWS's deploy-time rules: each rule refuses a template AWS would refuse, and only that.

Each rule has a pair of tests on the same small template: the compliant value passes, and one
value changed is refused with the rule's message. The templates are plain dictionaries (no
server, no synth), except the tests at the end, which synthesize the vault app.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from edx_vault.devtools.embedded_aws.deploy import (
    DeployError,
    StackArtifact,
    create_stack,
    deploy_assembly,
    read_assembly,
)
from edx_vault.devtools.embedded_aws.deploy_rules import (
    LAMBDA_UNZIPPED_MAX_BYTES,
    NO_RESOURCES,
    Violation,
    template_violations,
)
from stacks.vault_app import build_vault_app
from tests.local.conftest import RunningAws

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "Rules-Test"


def violations(template: dict[str, Any], assembly_dir: Path | None = None) -> list[Violation]:
    return template_violations(
        template, stack_name=STACK, account=ACCOUNT, region=REGION, assembly_dir=assembly_dir
    )


def messages(template: dict[str, Any], assembly_dir: Path | None = None) -> list[str]:
    return [str(v) for v in violations(template, assembly_dir)]


def resource(kind: str, **properties: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": properties}


def one(kind: str, **properties: Any) -> dict[str, Any]:
    """A template with one resource, logical id ``Thing``."""
    return {"Resources": {"Thing": resource(kind, **properties)}}


# --- the template itself ----------------------------------------------------------------------


def test_a_template_with_a_resource_passes() -> None:
    # Given a template with one resource / When checked / Then nothing is refused
    assert violations(one("AWS::SNS::Topic")) == []


@pytest.mark.parametrize("template", [{}, {"Resources": {}}, {"Outputs": {"A": {"Value": "1"}}}])
def test_a_template_without_resources_is_refused(template: dict[str, Any]) -> None:
    # Given a template whose Resources is missing or empty (outputs alone do not count)
    # When checked
    [violation] = violations(template)
    # Then CloudFormation's own message is given
    assert violation.rule == NO_RESOURCES
    assert "At least one Resources member must be defined" in str(violation)


# --- CloudWatch alarms ------------------------------------------------------------------------


def alarm(**changes: Any) -> dict[str, Any]:
    properties = {
        "MetricName": "PublishedFiles",
        "Namespace": "EdxVault",
        "Statistic": "Sum",
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "Period": 86400,
        "EvaluationPeriods": 7,
        **changes,
    }
    return {"Resources": {"NoNewData": resource("AWS::CloudWatch::Alarm", **properties)}}


def test_an_alarm_looking_back_seven_days_passes() -> None:
    # Given 7 periods of one day (604,800 s) / Then it is accepted
    assert violations(alarm()) == []


def test_an_alarm_looking_back_more_than_seven_days_is_refused() -> None:
    # Given 9 periods of one day (777,600 s), as the NoNewData alarm had
    # When checked
    [problem] = messages(alarm(EvaluationPeriods=9))
    # Then PutMetricAlarm's rule is named with the alarm, the values and the limit
    assert problem.startswith("NoNewData (AWS::CloudWatch::Alarm) Period = 86400")
    assert "EvaluationPeriods 9 = 777,600 s" in problem
    assert "can't be more than 604,800 seconds" in problem


def test_a_short_period_alarm_looking_back_one_day_passes() -> None:
    # Given 288 periods of five minutes (86,400 s) / Then it is accepted
    assert violations(alarm(Period=300, EvaluationPeriods=288)) == []


def test_a_short_period_alarm_looking_back_more_than_one_day_is_refused() -> None:
    # Given 289 periods of five minutes: under seven days, but over the one-day limit for
    # periods under an hour
    [problem] = messages(alarm(Period=300, EvaluationPeriods=289))
    # Then the short-period rule is named
    assert "period of less than one hour" in problem
    assert "one day (86,400 seconds)" in problem


@pytest.mark.parametrize("period", [10, 20, 30, 60, 3600])
def test_valid_periods_pass(period: int) -> None:
    # Given a period of 10, 20, 30 or a multiple of 60 / Then it is accepted
    assert violations(alarm(Period=period, EvaluationPeriods=1)) == []


@pytest.mark.parametrize("period", [45, 90, 0])
def test_other_periods_are_refused(period: int) -> None:
    # Given a period that is neither 10, 20, 30 nor a multiple of 60
    [problem] = messages(alarm(Period=period, EvaluationPeriods=1))
    # Then PutMetricAlarm's list of valid values is given
    assert f"Period = {period}" in problem
    assert "valid values are 10, 20, 30, and any multiple of 60" in problem


def test_the_periods_of_a_metric_math_alarm_are_checked() -> None:
    # Given a metric math alarm whose metric has a one-day period, over 8 evaluation periods
    template = alarm(EvaluationPeriods=8)
    properties = template["Resources"]["NoNewData"]["Properties"]
    for key in ("MetricName", "Namespace", "Statistic", "Period"):
        properties.pop(key)
    stat = {"Metric": {"MetricName": "M", "Namespace": "N"}, "Period": 86400, "Stat": "Sum"}
    properties["Metrics"] = [{"Id": "m1", "MetricStat": stat}]
    # When checked / Then the window rule names the metric's period
    [problem] = messages(template)
    assert "Metrics[0].MetricStat.Period = 86400 x EvaluationPeriods 8" in problem


def test_datapoints_to_alarm_up_to_the_evaluation_periods_passes() -> None:
    # Given 3 of 3 / Then it is accepted
    assert violations(alarm(EvaluationPeriods=3, DatapointsToAlarm=3)) == []


def test_more_datapoints_to_alarm_than_evaluation_periods_is_refused() -> None:
    # Given 4 of 3
    [problem] = messages(alarm(EvaluationPeriods=3, DatapointsToAlarm=4))
    # Then the M out of N rule is named
    assert "DatapointsToAlarm = 4 (EvaluationPeriods 3)" in problem
    assert "cannot exceed EvaluationPeriods" in problem


# --- S3 bucket names --------------------------------------------------------------------------


def bucket(name: Any) -> dict[str, Any]:
    return {"Resources": {"Data": resource("AWS::S3::Bucket", BucketName=name)}}


def joined(prefix: str) -> dict[str, Any]:
    """``{prefix}-data-{account}-{region}``, spelled as CDK synthesizes it."""
    return {
        "Fn::Join": [
            "",
            [f"{prefix}-data-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}],
        ]
    }


def test_a_bucket_name_built_from_account_and_region_within_63_characters_passes() -> None:
    # Given edxvault-data-123456789012-us-east-1 (35 characters) / Then it is accepted
    assert violations(bucket(joined("edxvault"))) == []


def test_a_bucket_name_over_63_characters_is_refused() -> None:
    # Given the longest stack prefix (32) with the account and a long region: 65 characters
    template = bucket(joined("a" * 32))
    # When checked for that region
    found = template_violations(
        template, stack_name=STACK, account=ACCOUNT, region="ap-southeast-4", assembly_dir=None
    )
    # Then the resolved name and S3's length rule are named
    [problem] = [str(v) for v in found]
    assert f"BucketName = '{'a' * 32}-data-123456789012-ap-southeast-4'" in problem
    assert "between 3 (min) and 63 (max) characters long (this one has 65)" in problem


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("EdxVault-data", "only of lowercase letters, numbers, periods (.), and hyphens (-)"),
        ("-data", "must begin and end with a letter or number"),
        ("my..data", "two adjacent periods"),
        ("192.168.5.4", "formatted as an IP address"),
        ("xn--data", "must not start with the prefix xn--"),
        ("data-s3alias", "must not end with the suffix -s3alias"),
    ],
)
def test_bucket_names_s3_refuses_are_refused(name: str, fragment: str) -> None:
    # Given a literal name breaking one naming rule / Then that rule is named
    assert any(fragment in problem for problem in messages(bucket(name)))


def test_a_bucket_name_known_only_at_deployment_is_not_judged() -> None:
    # Given a name imported from another stack / Then no guess is made
    assert violations(bucket({"Fn::ImportValue": "Other:Name"})) == []


# --- IAM names and paths ----------------------------------------------------------------------


def role(**properties: Any) -> dict[str, Any]:
    properties.setdefault("AssumeRolePolicyDocument", {"Statement": []})
    return {"Resources": {"Reader": resource("AWS::IAM::Role", **properties)}}


def test_a_role_name_of_64_characters_and_a_slashed_path_pass() -> None:
    # Given the longest allowed name and a path starting and ending with '/'
    template = role(RoleName="r" * 64, Path="/edx-vault/researcher/")
    # Then it is accepted
    assert violations(template) == []


def test_a_role_name_of_65_characters_is_refused() -> None:
    # Given one character over IAM's limit / When checked / Then the limit is named
    [problem] = messages(role(RoleName="r" * 65))
    assert "RoleName" in problem
    assert "IAM: role names are 1 to 64 characters (this one has 65)" in problem


def test_a_role_name_with_a_space_is_refused() -> None:
    # Given a name with a character IAM does not allow / Then the allowed characters are named
    [problem] = messages(role(RoleName="jane doe"))
    assert "role names must be alphanumeric" in problem


@pytest.mark.parametrize("path", ["edx-vault/", "/edx-vault", "/" + "p" * 511 + "/"])
def test_a_path_without_its_slashes_or_too_long_is_refused(path: str) -> None:
    # Given a path missing a slash, or of 513 characters / Then the Path is refused
    problems = messages(role(Path=path))
    assert problems
    assert all("Path" in problem for problem in problems)


def test_managed_and_inline_policy_names_up_to_128_characters_pass() -> None:
    # Given inline (in the role and standalone) and managed policy names of 128 characters
    template = role(Policies=[{"PolicyName": "p" * 128, "PolicyDocument": {}}])
    template["Resources"]["Managed"] = resource(
        "AWS::IAM::ManagedPolicy", ManagedPolicyName="m" * 128, PolicyDocument={}
    )
    template["Resources"]["Inline"] = resource(
        "AWS::IAM::Policy", PolicyName="i" * 128, PolicyDocument={}, Roles=[{"Ref": "Reader"}]
    )
    # Then they are accepted
    assert violations(template) == []


def test_managed_and_inline_policy_names_over_128_characters_are_refused() -> None:
    # Given the same names, one of 129 characters, one of 129 and one with a '/'
    template = role(Policies=[{"PolicyName": "p" * 129, "PolicyDocument": {}}])
    template["Resources"]["Managed"] = resource(
        "AWS::IAM::ManagedPolicy", ManagedPolicyName="m" * 129, PolicyDocument={}
    )
    template["Resources"]["Inline"] = resource(
        "AWS::IAM::Policy", PolicyName="i/j", PolicyDocument={}, Roles=[{"Ref": "Reader"}]
    )
    # When checked / Then each is named
    problems = messages(template)
    assert any(p.startswith("Reader (AWS::IAM::Role) Policies[0].PolicyName") for p in problems)
    assert any("managed policy names are 1 to 128 characters" in p for p in problems)
    assert any(p.startswith("Inline (AWS::IAM::Policy) PolicyName = 'i/j'") for p in problems)


# --- Lambda functions -------------------------------------------------------------------------


def function(**changes: Any) -> dict[str, Any]:
    properties = {
        "Handler": "plan.handler",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Code": {"S3Bucket": "assets", "S3Key": "code.zip"},
        "MemorySize": 1024,
        "Timeout": 900,
        **changes,
    }
    return {"Resources": {"Plan": resource("AWS::Lambda::Function", **properties)}}


@pytest.mark.parametrize(("memory", "timeout"), [(128, 1), (10240, 900)])
def test_memory_and_timeout_within_lambdas_limits_pass(memory: int, timeout: int) -> None:
    # Given the smallest and largest allowed values / Then they are accepted
    assert violations(function(MemorySize=memory, Timeout=timeout)) == []


def test_memory_over_10240_mb_is_refused() -> None:
    # Given 1 MB over the limit / Then the limit is named
    [problem] = messages(function(MemorySize=10241))
    assert "MemorySize = 10241" in problem
    assert "128 MB to 10,240 MB" in problem


def test_a_timeout_over_900_seconds_is_refused() -> None:
    # Given one second over 15 minutes / Then the limit is named
    [problem] = messages(function(Timeout=901))
    assert "Timeout = 901" in problem
    assert "1 to 900 seconds (15 minutes)" in problem


def variables(total_bytes: int) -> dict[str, str]:
    """Variables measuring exactly ``total_bytes`` as Lambda measures them (compact JSON)."""
    overhead = len('{"A":""}')
    return {"A": "x" * (total_bytes - overhead)}


def test_environment_variables_of_4_kb_pass() -> None:
    # Given variables measuring 4,096 bytes as JSON / Then they are accepted
    assert violations(function(Environment={"Variables": variables(4096)})) == []


def test_environment_variables_over_4_kb_are_refused() -> None:
    # Given one byte more / Then the measured size and the limit are named
    [problem] = messages(function(Environment={"Variables": variables(4097)}))
    assert "Environment.Variables = at least 4,097 bytes as JSON" in problem
    assert "at most 4 KB (4,096 bytes)" in problem


def test_five_layers_pass_and_six_are_refused() -> None:
    # Given five layers / Then they are accepted
    layers = [f"arn:aws:lambda:us-east-1:123456789012:layer:l{n}:1" for n in range(6)]
    assert violations(function(Layers=layers[:5])) == []
    # Given six / Then the limit is named
    [problem] = messages(function(Layers=layers))
    assert "Layers = 6 layers" in problem
    assert "at most 5 layers" in problem


def assembly_with_code(tmp_path: Path, code_bytes: int, layer_bytes: int) -> Path:
    """An assembly holding a function's code and a layer as asset directories (sparse files),
    the code found through the asset manifest, the layer through aws:asset:path."""
    for name, size in (("asset.code", code_bytes), ("asset.layer", layer_bytes)):
        (tmp_path / name).mkdir()
        with (tmp_path / name / "payload.bin").open("wb") as payload:
            payload.truncate(size)
    manifest = {
        "files": {
            "code": {
                "source": {"path": "asset.code", "packaging": "zip"},
                "destinations": {"d": {"bucketName": "assets", "objectKey": "code.zip"}},
            }
        }
    }
    (tmp_path / f"{STACK}.assets.json").write_text(json.dumps(manifest))
    return tmp_path


def function_with_layer() -> dict[str, Any]:
    template = function(Layers=[{"Ref": "Gpg"}])
    template["Resources"]["Gpg"] = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {"Content": {"S3Bucket": "assets", "S3Key": "layer.zip"}},
        "Metadata": {"aws:asset:path": "asset.layer"},
    }
    return template


def test_code_and_layers_of_250_mb_unzipped_pass(tmp_path: Path) -> None:
    # Given code and a layer adding up to exactly 262,144,000 bytes
    assembly = assembly_with_code(tmp_path, 1000, LAMBDA_UNZIPPED_MAX_BYTES - 1000)
    # Then it is accepted
    assert violations(function_with_layer(), assembly) == []


def test_code_and_layers_over_250_mb_unzipped_are_refused(tmp_path: Path) -> None:
    # Given one byte more
    assembly = assembly_with_code(tmp_path, 1001, LAMBDA_UNZIPPED_MAX_BYTES - 1000)
    # Then the sum and the limit are named
    [problem] = messages(function_with_layer(), assembly)
    assert "Code + Layers = 262,144,001 bytes unzipped" in problem
    assert "at most 250 MB (262,144,000 bytes) unzipped, including layers" in problem


# --- SNS topics: who may publish --------------------------------------------------------------

TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:Alerts"
TLS_ONLY = {
    "Sid": "AllowPublishThroughSSLOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": {"Ref": "Alerts"},
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALLOW_ALARMS = {
    "Sid": "AllowCloudWatchAlarms",
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": {"Ref": "Alerts"},
    "Condition": {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:aws:cloudwatch:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":alarm:*",
                    ],
                ]
            }
        },
    },
}


def alerting(*statements: dict[str, Any], with_policy: bool = True) -> dict[str, Any]:
    """A topic, an alarm notifying it, and (optionally) a topic policy with ``statements``."""
    template = alarm(EvaluationPeriods=1, AlarmActions=[{"Ref": "Alerts"}])
    template["Resources"]["Alerts"] = resource("AWS::SNS::Topic", TopicName="Alerts")
    if with_policy:
        template["Resources"]["AlertsPolicy"] = resource(
            "AWS::SNS::TopicPolicy",
            Topics=[{"Ref": "Alerts"}],
            PolicyDocument={"Version": "2012-10-17", "Statement": list(statements)},
        )
    return template


def test_a_topic_without_a_topic_policy_keeps_the_default_and_passes() -> None:
    # Given no topic policy: SNS's default lets the owner account's alarms publish
    assert violations(alerting(with_policy=False)) == []


def test_a_topic_policy_allowing_cloudwatch_for_the_accounts_alarms_passes() -> None:
    # Given the TLS-only deny and an Allow for cloudwatch.amazonaws.com on this account's alarms
    # Then the alarm may publish
    assert violations(alerting(TLS_ONLY, ALLOW_ALARMS)) == []


def test_a_topic_policy_that_only_denies_is_refused_for_the_alarm() -> None:
    # Given the TLS-only deny alone (what enforce_ssl=True synthesizes)
    # When checked
    [problem] = messages(alerting(TLS_ONLY))
    # Then the alarm, the topic and the service are named
    assert problem.startswith("NoNewData (AWS::CloudWatch::Alarm) AlarmActions = topic Alerts")
    assert "(cloudwatch.amazonaws.com)" in problem
    assert "a topic policy replaces the default policy" in problem


def test_an_allow_for_another_accounts_alarms_does_not_count() -> None:
    # Given an Allow whose aws:SourceAccount is another account
    other = copy.deepcopy(ALLOW_ALARMS)
    other["Condition"]["StringEquals"]["aws:SourceAccount"] = "999999999999"
    # Then this account's alarm is still refused
    assert messages(alerting(TLS_ONLY, other))


def test_an_explicit_deny_wins_over_the_allow() -> None:
    # Given the Allow and a Deny of the same publications
    deny = {**ALLOW_ALARMS, "Sid": "NoAlarms", "Effect": "Deny", "Condition": {}}
    # Then the Deny is named
    [problem] = messages(alerting(TLS_ONLY, ALLOW_ALARMS, deny))
    assert "denied by topic policy AlertsPolicy/NoAlarms" in problem


def encrypted(template: dict[str, Any], *key_statements: dict[str, Any]) -> dict[str, Any]:
    template["Resources"]["Alerts"]["Properties"]["KmsMasterKeyId"] = {"Fn::GetAtt": ["Key", "Arn"]}
    account_root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    template["Resources"]["Key"] = resource(
        "AWS::KMS::Key", KeyPolicy={"Statement": [account_root, *key_statements]}
    )
    return template


CLOUDWATCH_USES_KEY = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
}


def test_an_encrypted_topic_whose_key_lets_cloudwatch_use_it_passes() -> None:
    # Given a key policy naming cloudwatch.amazonaws.com for kms:Decrypt and GenerateDataKey*
    assert violations(encrypted(alerting(TLS_ONLY, ALLOW_ALARMS), CLOUDWATCH_USES_KEY)) == []


def test_an_encrypted_topic_whose_key_does_not_name_cloudwatch_is_refused() -> None:
    # Given a key policy that only trusts the account (IAM): a service has no IAM policy
    [problem] = messages(encrypted(alerting(TLS_ONLY, ALLOW_ALARMS)))
    # Then the key and the action are named
    assert "encrypted with Key (cloudwatch.amazonaws.com, kms:GenerateDataKey)" in problem
    assert "the key policy must let cloudwatch.amazonaws.com use it" in problem


def publishing_role(template: dict[str, Any]) -> dict[str, Any]:
    """A role of the template whose own policy allows it to publish to the topic."""
    template["Resources"]["Reporter"] = resource(
        "AWS::IAM::Role", AssumeRolePolicyDocument={"Statement": []}, Path="/edx-vault/"
    )
    template["Resources"]["ReporterPolicy"] = resource(
        "AWS::IAM::Policy",
        PolicyName="ReporterPolicy",
        Roles=[{"Ref": "Reporter"}],
        PolicyDocument={
            "Statement": [
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Alerts"}}
            ]
        },
    )
    return template


def test_a_role_of_the_account_allowed_by_its_own_policy_may_publish() -> None:
    # Given a topic policy that names only CloudWatch: a same-account role needs no more
    # Then the role may publish
    assert violations(publishing_role(alerting(TLS_ONLY, ALLOW_ALARMS))) == []


def test_a_role_denied_by_the_topic_policy_is_refused() -> None:
    # Given a topic policy that denies every publisher but CloudWatch
    deny = {
        "Sid": "OnlyAlarms",
        "Effect": "Deny",
        "NotPrincipal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": {"Ref": "Alerts"},
    }
    # Then the role is refused, naming the Deny
    [problem] = messages(publishing_role(alerting(TLS_ONLY, ALLOW_ALARMS, deny)))
    assert problem.startswith("Reporter (AWS::IAM::Role) Policies = topic Alerts")
    assert "denied by topic policy AlertsPolicy/OnlyAlarms" in problem


# --- state machine definitions ----------------------------------------------------------------


def state_machine(next_state: str) -> dict[str, Any]:
    definition = {
        "StartAt": "First",
        "States": {"First": {"Type": "Pass", "Next": next_state}, "Done": {"Type": "Succeed"}},
    }
    return one(
        "AWS::StepFunctions::StateMachine",
        RoleArn="arn:aws:iam::123456789012:role/sfn",
        DefinitionString=json.dumps(definition),
    )


def test_a_valid_definition_passes() -> None:
    # (asl_validation is its own module, with its own tests; these check the rule's wiring)
    pytest.importorskip("edx_vault.devtools.embedded_aws.asl_validation")
    # Given a definition whose every transition names a state / Then it is accepted
    assert violations(state_machine("Done")) == []


def test_a_definition_naming_a_missing_state_is_refused() -> None:
    pytest.importorskip("edx_vault.devtools.embedded_aws.asl_validation")
    # Given a Pass state whose Next names no state
    problems = messages(state_machine("Nowhere"))
    # Then asl-validator's finding is given as Step Functions' refusal
    assert (
        "Thing (AWS::StepFunctions::StateMachine) DefinitionString = MISSING_TRANSITION_TARGET: "
        "Step Functions: CreateStateMachine refuses an invalid definition (InvalidDefinition); "
        "asl-validator: Missing 'StartAt'|'Next'|'Default' target: Nowhere"
    ) in problems


# --- deploy_assembly refuses before creating anything -----------------------------------------


def test_deploy_refuses_every_violation_of_every_stack_before_creating_anything(
    tmp_path: Path,
) -> None:
    # Given an assembly of two stacks, one with an empty template and one with a bad alarm
    templates = {"Rules-Empty": {"Resources": {}}, "Rules-Alarm": alarm(EvaluationPeriods=9)}
    artifacts: dict[str, Any] = {}
    for name, template in templates.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{ACCOUNT}/{REGION}",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    # When it is deployed to an endpoint where nothing listens
    with pytest.raises(DeployError) as raised:
        deploy_assembly(tmp_path, endpoint="http://127.0.0.1:9", scratch=tmp_path / "scratch")
    # Then both stacks' violations are listed, and no request was made (none could succeed)
    message = str(raised.value)
    assert "nothing was deployed" in message
    assert "Rules-Empty: template Resources = {}: Template format error" in message
    assert "Rules-Alarm: NoNewData (AWS::CloudWatch::Alarm) Period = 86400" in message


# --- the vault app ----------------------------------------------------------------------------

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.toml"
TODAY = dt.date(2026, 1, 15)


def example_config(**replacements: str) -> str:
    """config/example.toml with whole lines replaced (``{"old line": "new line"}``)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def without_researchers(text: str) -> str:
    """The configuration with every [[researchers]] entry (and its comments) removed."""
    return text[: text.index("# Researchers:")]


def app_violations(config_text: str, tmp_path: Path) -> dict[str, list[str]]:
    """Each synthesized stack's violations, for a configuration (templates only, no layers)."""
    config = tmp_path / "vault.toml"
    config.write_text(config_text, encoding="utf-8")
    vault = build_vault_app(
        context={"config": str(config)},
        outdir=str(tmp_path / "cdk.out"),
        nag=False,
        bundle_assets=False,
        today=TODAY,
    )
    deployment = vault.config.deployment
    return {
        stack.stack_name: [
            str(v)
            for v in template_violations(
                stack.template,
                stack_name=stack.stack_name,
                account=deployment.account,
                region=deployment.region,
            )
        ]
        for stack in vault.app.synth().stacks
    }


@pytest.mark.parametrize("days", [1, 9, 90])
def test_the_no_new_data_alarm_is_accepted_for_any_configured_number_of_days(
    days: int, tmp_path: Path
) -> None:
    # Given the example configuration with no_new_data_alarm_days anywhere in its range
    text = example_config(**{"no_new_data_alarm_days = 9": f"no_new_data_alarm_days = {days}"})
    # When the app is synthesized and its templates checked
    found = app_violations(text, tmp_path)
    # Then PutMetricAlarm would accept every alarm, and every alarm may notify the topic
    assert found == {"EdxVault-Storage": [], "EdxVault-Pipeline": [], "EdxVault-Access": []}


def test_a_configuration_without_researchers_passes_every_rule(tmp_path: Path) -> None:
    # Given the example configuration with no [[researchers]] (version reporting is off)
    text = without_researchers(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    # When the app is synthesized and its templates checked
    found = app_violations(text, tmp_path)
    # Then CloudFormation would accept every stack, the Access stack included
    assert found == {"EdxVault-Storage": [], "EdxVault-Pipeline": [], "EdxVault-Access": []}


@pytest.mark.integration
def test_an_access_stack_without_grants_deploys_on_the_embedded_aws(
    fixture_aws: RunningAws, tmp_path: Path
) -> None:
    # Given the Access stack of a configuration without researchers
    text = without_researchers(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert app_violations(text, tmp_path)["EdxVault-Access"] == []
    stack = StackArtifact(
        name="NoGrants-Access",
        template=tmp_path / "cdk.out" / "EdxVault-Access.template.json",
        account=ACCOUNT,
        region=REGION,
        dependencies=(),
        termination_protection=False,
    )
    # When CloudFormation creates it
    outputs = create_stack(stack, endpoint=fixture_aws.state.endpoint)
    # Then it is created (moto's CloudFormation keeps the placeholder as a null resource) and
    # holds no role
    assert outputs == {}
    resources = fixture_aws.client("cloudformation").describe_stack_resources(
        StackName="NoGrants-Access"
    )["StackResources"]
    assert [r["ResourceStatus"] for r in resources] == ["CREATE_COMPLETE"]


@pytest.mark.slow
def test_the_example_vault_app_passes_every_rule(vault_assembly: Path) -> None:
    # Given the vault app for the example configuration, synthesized as `local up` does (with
    # its Lambda layers, so code sizes are measured)
    assembly = read_assembly(vault_assembly)
    # When each stack is checked
    found = {
        stack.name: [
            str(v)
            for v in template_violations(
                stack.template_document(),
                stack_name=stack.name,
                account=stack.account,
                region=stack.region,
                assembly_dir=vault_assembly,
            )
        ]
        for stack in assembly.stacks
    }
    # Then no rule is broken
    assert found == {"EdxVault-Storage": [], "EdxVault-Pipeline": [], "EdxVault-Access": []}
