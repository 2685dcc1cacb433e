"""SNS topics with a topic policy: may each publisher of the template publish to its topic?

A topic policy replaces SNS's default one, so every CloudWatch alarm, EventBridge rule and IAM
role of the template that publishes to the topic must be allowed to by the topic's policy (and,
for an encrypted topic, by the key's policy). AWS deploys such a template, but an alarm that
may not publish never notifies anyone, and the embedded AWS does not enforce topic policies
either, so it is judged here, with :mod:`edx_vault.access.policy_evaluator`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from edx_vault.access.policy_evaluator import Decision, Request, evaluate
from edx_vault.access.policy_statements import Statement, UnsupportedPolicyError, statements_of
from edx_vault.access.template_policies import TemplateResolver
from edx_vault.devtools.embedded_aws.deploy.rules.template_values import (
    ALARM_TYPE,
    KEY_TYPE,
    MANAGED_POLICY_TYPE,
    POLICY_TYPE,
    ROLE_TYPE,
    RULE_TYPE,
    TOPIC_POLICY_TYPE,
    TOPIC_TYPE,
    TemplateContext,
)
from edx_vault.devtools.embedded_aws.deploy.rules.violation import Violation

# Who publishes to a topic, as SNS sees it. A topic policy replaces the default one (which let
# the topic owner's account publish), so a service's publications need an Allow naming it:
# AWS Knowledge Center, "Why didn't I receive an SNS notification for my CloudWatch alarm
# trigger?" (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger): the
# alarm history then says "arn:aws:cloudwatch:...:alarm:NAME is not authorized to perform:
# SNS:Publish", and the fix is an Allow for the service principal cloudwatch.amazonaws.com,
# narrowed with aws:SourceArn. An encrypted topic also needs the key policy to let the service
# use the key (kms:Decrypt, kms:GenerateDataKey*): SNS Developer Guide, "Enable compatibility
# between event sources from AWS services and encrypted topics"
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
CLOUDWATCH_PRINCIPAL: Final = "cloudwatch.amazonaws.com"
EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
TOPIC_POLICY_RULE: Final = (
    "a topic policy replaces the default policy, so {publisher} is refused sns:Publish unless "
    "the policy allows it (SNS: '... is not authorized to perform: SNS:Publish')"
)
TOPIC_KEY_RULE: Final = (
    "SNS encrypts with the topic's KMS key on the publisher's behalf, so the key policy must let "
    "{publisher} use it (kms:GenerateDataKey*, kms:Decrypt)"
)


@dataclass(frozen=True)
class _ServicePublisher:
    """A resource type a service publishes for: the service's principal, the resource's ARN,
    and the properties naming the topics (property, value) it publishes to."""

    resource_type: str
    principal: str
    name_property: str
    arn: str  # formatted with partition, region, account and name
    targets: Callable[[Mapping[str, Any]], Iterator[tuple[str, Any]]]


def _alarm_actions(properties: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for where in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        for action in properties.get(where) or []:
            yield where, action


def _rule_targets(properties: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for target in properties.get("Targets") or []:
        yield "Targets", target.get("Arn") if isinstance(target, Mapping) else None


_SERVICE_PUBLISHERS: Final = (
    _ServicePublisher(
        ALARM_TYPE,
        CLOUDWATCH_PRINCIPAL,
        "AlarmName",
        "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}",
        _alarm_actions,
    ),
    _ServicePublisher(
        RULE_TYPE,
        EVENTS_PRINCIPAL,
        "Name",
        "arn:{partition}:events:{region}:{account}:rule/{name}",
        _rule_targets,
    ),
)


@dataclass(frozen=True)
class _Publisher:
    """Something in the template that publishes to a topic of the template."""

    logical_id: str
    resource_type: str
    property: str
    principal: str
    context: Mapping[str, str]
    # A role's own policies; a service principal has none, so the topic's (and key's) policy
    # must name it.
    identity: tuple[Statement, ...] = ()

    def refused(self, value: str, rule: str, decision: Decision) -> Violation:
        """The violation for a publication ``decision`` refuses, by ``rule`` (``{publisher}``
        is the principal), with why the policies refuse it."""
        return Violation(
            self.logical_id,
            self.resource_type,
            self.property,
            value,
            rule.format(publisher=self.principal) + _why_not(decision),
        )


def _topic_ref(value: Any, topics: Mapping[str, Any]) -> str | None:
    if isinstance(value, Mapping) and value.get("Ref") in topics:
        return str(value["Ref"])
    return None


def topic_violations(context: TemplateContext) -> Iterator[Violation]:
    topics = {logical_id: properties for logical_id, _, properties in context.resources(TOPIC_TYPE)}
    policies: dict[str, list[tuple[str, Any]]] = {}
    for logical_id, _, properties in context.resources(TOPIC_POLICY_TYPE):
        for topic in properties.get("Topics") or []:
            topic_id = _topic_ref(topic, topics)
            if topic_id:
                policies.setdefault(topic_id, []).append(
                    (logical_id, properties.get("PolicyDocument"))
                )
    if not policies:
        return  # every topic keeps SNS's default policy: the owner account may publish
    resolver = TemplateResolver(
        {context.stack: context.template},
        account=context.account,
        region=context.region,
        partition=context.partition,
    )
    for topic_id, publisher in _publishers(context, resolver, topics):
        if topic_id not in policies:
            continue
        try:
            yield from _judge_publisher(context, resolver, topics, topic_id, policies, publisher)
        except UnsupportedPolicyError:
            continue  # a policy the evaluator cannot judge: no verdict rather than a guess


def _judge_publisher(
    context: TemplateContext,
    resolver: TemplateResolver,
    topics: Mapping[str, Any],
    topic_id: str,
    policies: Mapping[str, list[tuple[str, Any]]],
    publisher: _Publisher,
) -> Iterator[Violation]:
    topic_arn = str(resolver.resolve(context.stack, {"Ref": topic_id}))
    statements: list[Statement] = []
    for policy_id, document in policies[topic_id]:
        resolved = resolver.resolve(context.stack, document or {})
        statements += statements_of(resolved, source=f"topic policy {policy_id}")
    request = Request(
        action="sns:Publish",
        resource=topic_arn,
        principal=publisher.principal,
        context=publisher.context,
    )
    # Same account: an identity policy's Allow suffices for a role ("s3" semantics); a
    # service principal needs the topic policy's Allow naming it. Deny wins either way.
    decision = evaluate(
        request, identity=publisher.identity, resource_policy=statements, resource_policy_kind="s3"
    )
    if not decision.allowed:
        yield publisher.refused(
            f"topic {topic_id} ({publisher.principal})", TOPIC_POLICY_RULE, decision
        )
        return
    key = topics[topic_id].get("KmsMasterKeyId")
    key_id = _key_logical_id(key, context)
    if key_id is None:
        return  # no key, the AWS-managed key, or a key of another stack
    key_properties = (context.resource(key_id) or {}).get("Properties") or {}
    key_policy = resolver.resolve(context.stack, key_properties.get("KeyPolicy") or {})
    key_statements = statements_of(key_policy, source=f"key policy {key_id}")
    key_arn = str(resolver.resolve(context.stack, {"Fn::GetAtt": [key_id, "Arn"]}))
    key_context = {
        **publisher.context,
        "kms:ViaService": f"sns.{context.region}.amazonaws.com",
        "kms:CallerAccount": context.account,
    }
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        key_request = Request(action, key_arn, publisher.principal, key_context)
        verdict = evaluate(
            key_request,
            identity=publisher.identity,
            resource_policy=key_statements,
            resource_policy_kind="kms",
        )
        if not verdict.allowed:
            value = f"topic {topic_id} encrypted with {key_id} ({publisher.principal}, {action})"
            yield publisher.refused(value, TOPIC_KEY_RULE, verdict)
            return


def _why_not(decision: Decision) -> str:
    if decision.outcome == "explicit-deny":
        return "; denied by " + ", ".join(statement.label for statement in decision.deciding)
    return f"; no statement allows it ({decision.note})"


def _key_logical_id(key: Any, context: TemplateContext) -> str | None:
    if isinstance(key, Mapping):
        target = key.get("Ref")
        get_att = key.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att:
            target = get_att[0]
        elif isinstance(get_att, str):
            target = get_att.split(".", 1)[0]
        if isinstance(target, str) and (context.resource(target) or {}).get("Type") == KEY_TYPE:
            return target
    return None


def _publishers(
    context: TemplateContext, resolver: TemplateResolver, topics: Mapping[str, Any]
) -> Iterator[tuple[str, _Publisher]]:
    """(topic logical id, publisher) for every alarm action, rule target and IAM role of the
    template that publishes to one of its topics."""
    secure = {"aws:SecureTransport": "true"}
    source_account = {"aws:SourceAccount": context.account, "aws:SourceOwner": context.account}
    for service in _SERVICE_PUBLISHERS:
        for logical_id, kind, properties in context.resources(service.resource_type):
            name = context.literal(properties.get(service.name_property)) or (
                f"{context.stack}-{logical_id}-GENERATED"
            )
            arn = service.arn.format(
                partition=context.partition,
                region=context.region,
                account=context.account,
                name=name,
            )
            for where, value in service.targets(properties):
                topic_id = _topic_ref(value, topics)
                if topic_id:
                    publisher_context = {**secure, **source_account, "aws:SourceArn": arn}
                    yield (
                        topic_id,
                        _Publisher(logical_id, kind, where, service.principal, publisher_context),
                    )
    yield from _role_publishers(context, resolver, topics, secure)


def _role_publishers(
    context: TemplateContext,
    resolver: TemplateResolver,
    topics: Mapping[str, Any],
    secure: Mapping[str, str],
) -> Iterator[tuple[str, _Publisher]]:
    """Roles of the template whose own policies allow them to publish to a topic of it."""
    for role_id, identity in _role_policies(context, resolver).items():
        try:
            role_arn = str(resolver.resolve(context.stack, {"Fn::GetAtt": [role_id, "Arn"]}))
        except UnsupportedPolicyError:
            continue
        for topic_id in topics:
            topic_arn = str(resolver.resolve(context.stack, {"Ref": topic_id}))
            request = Request("sns:Publish", topic_arn, role_arn, dict(secure))
            try:
                allowed = evaluate(request, identity=identity).allowed
            except UnsupportedPolicyError:
                continue
            if allowed:
                yield (
                    topic_id,
                    _Publisher(
                        role_id,
                        ROLE_TYPE,
                        "Policies",
                        role_arn,
                        {
                            **secure,
                            "aws:PrincipalArn": role_arn,
                            "aws:PrincipalAccount": context.account,
                        },
                        identity=identity,
                    ),
                )


def _role_policies(
    context: TemplateContext, resolver: TemplateResolver
) -> dict[str, tuple[Statement, ...]]:
    """Each role of the template -> the statements of its inline and attached policies."""
    found: dict[str, list[Statement]] = {
        logical_id: [] for logical_id, _, _ in context.resources(ROLE_TYPE)
    }

    def add(roles: Sequence[Any], document: Any, source: str) -> None:
        raw = (document or {}).get("Statement", []) if isinstance(document, Mapping) else []
        statements: list[Statement] = []
        # Statement by statement: one naming another stack's export (a table, a secret) cannot
        # be resolved here and cannot be about this template's topics either.
        for item in raw if isinstance(raw, list) else [raw]:
            try:
                resolved = resolver.resolve(context.stack, item)
                statements.append(Statement.from_json(resolved, source=source))
            except UnsupportedPolicyError:
                continue
        for role in roles:
            role_id = role.get("Ref") if isinstance(role, Mapping) else None
            if role_id in found:
                found[role_id] += statements

    for logical_id, _, properties in context.resources(ROLE_TYPE):
        for policy in properties.get("Policies") or []:
            if isinstance(policy, Mapping):
                add([{"Ref": logical_id}], policy.get("PolicyDocument"), f"inline {logical_id}")
    for logical_id, _, properties in context.resources(POLICY_TYPE, MANAGED_POLICY_TYPE):
        add(properties.get("Roles") or [], properties.get("PolicyDocument"), logical_id)
    return {role_id: tuple(statements) for role_id, statements in found.items()}
