"""SNS topics with a topic policy: may each alarm, rule and role publish?"""

from __future__ import annotations

import copy
from typing import Any

from tests.local.deploy_rules.rule_templates import (
    ACCOUNT,
    REGION,
    alarm,
    messages,
    resource,
    violations,
)

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
