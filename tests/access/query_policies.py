"""The query access matrix's stack and probes: every test grant's researcher role with its query
policy, the query results bucket and its key, synthesized and resolved, and one request of each
kind judged against them (``test_query_access_matrix.py``).

The stack is small and of its own: the lead's stacks wire these constructs together; the
evaluator judges a role's identity policies with the resource's own policy (the results
bucket's, the results key's; Athena workgroups and the Glue catalog have none here).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk

from edx_vault.access.access_check import session_context
from edx_vault.access.grants import compile_grants
from edx_vault.access.policy_evaluator import (
    ContextValue,
    Decision,
    Request,
    ResourcePolicyKind,
    evaluate,
)
from edx_vault.access.policy_statements import Statement, statements_of
from edx_vault.access.query_statements import QueryAccess, workgroup_arn
from edx_vault.access.researcher_roles import GRANT_TAG, construct_name
from edx_vault.access.template_policies import (
    RolePolicies,
    TemplateResolver,
    load_role_policies,
)
from edx_vault.settings.config import parse_config
from edx_vault.settings.resource_names import glue_database_name, query_results_bucket_name
from stacks.query_results import QueryResultsBucket
from stacks.researcher_role import ResearcherRole
from tests.access.grant_config import ACCOUNT, GRANTS_TOML, NOW, REGION, TODAY

STACK = "Query"
RESULTS = query_results_bucket_name("edxvault", ACCOUNT, REGION)
RESULTS_ARN = f"arn:aws:s3:::{RESULTS}"
DATABASE = glue_database_name("EdxVault")
ANN_EXPIRY = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class QueryPolicies:
    """The roles, by researcher, and the results bucket's and key's policies, resolved."""

    roles: Mapping[str, RolePolicies]
    bucket_policy: tuple[Statement, ...]
    key_arn: str
    key_policy: tuple[Statement, ...]


def build_query_policies() -> QueryPolicies:
    """Synthesize every test grant's role with its query policy, the results bucket and key."""
    grants = compile_grants(parse_config(tomllib.loads(GRANTS_TOML)), today=TODAY)
    app = cdk.App()
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    results = QueryResultsBucket(stack, "Results", name=RESULTS, expire_days=30)
    key = cdk.Stack.of(stack).resolve(results.key.key_arn)
    access = QueryAccess("EdxVault", RESULTS, results.key.key_arn)
    data_key = cdk.aws_kms.Key(stack, "DataKey")
    for grant in grants:
        ResearcherRole(
            stack,
            f"Researcher{construct_name(grant.name)}",
            grant=grant,
            bucket_name="edxvault-data-123456789012-us-east-1",
            data_key=data_key,
            query=access,
        )
    template = app.synth().get_stack_by_name(STACK).template
    templates = {STACK: template}
    resolver = TemplateResolver(templates, account=ACCOUNT, region=REGION)
    roles = load_role_policies(templates, account=ACCOUNT, region=REGION)
    bucket_policy = next(
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy"
    )
    key_id = key["Fn::GetAtt"][0]
    key_policy = template["Resources"][key_id]["Properties"]["KeyPolicy"]
    return QueryPolicies(
        roles={role.tags[GRANT_TAG]: role for role in roles.values()},
        bucket_policy=statements_of(resolver.resolve(STACK, bucket_policy), source="bucket"),
        key_arn=resolver.resolve(STACK, key),
        key_policy=statements_of(resolver.resolve(STACK, key_policy), source="key"),
    )


Probe = Callable[[QueryPolicies, RolePolicies], Decision]


def _judge(
    role: RolePolicies,
    action: str,
    resource: str,
    *,
    at: dt.datetime,
    context: Mapping[str, ContextValue | None] | None = None,
    policy: tuple[Statement, ...] = (),
    kind: ResourcePolicyKind = "none",
) -> Decision:
    request = Request(
        action=action,
        resource=resource,
        principal=role.arn,
        context=session_context(role.arn, at, context),
    )
    return evaluate(
        request, identity=role.identity, resource_policy=policy, resource_policy_kind=kind
    )


def workgroup(action: str, name: str, *, at: dt.datetime = NOW) -> Probe:
    """An Athena call on the workgroup ``name``."""
    arn = workgroup_arn("aws", REGION, ACCOUNT, name)
    return lambda _, role: _judge(role, action, arn, at=at)


def athena(action: str, researcher: str, *, at: dt.datetime = NOW) -> Probe:
    """An Athena call on ``researcher``'s workgroup."""
    return workgroup(action, f"edxvault-{researcher}", at=at)


def glue(action: str, resource: str, *, at: dt.datetime = NOW) -> Probe:
    """A Glue call on a catalog resource (its ARN's part after ``...:account:``)."""
    arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:{resource}"
    return lambda _, role: _judge(role, action, arn, at=at)


def results(action: str, key: str | None, *, at: dt.datetime = NOW, **context: Any) -> Probe:
    """An S3 call on the results bucket (``key=None``) or one of its objects."""
    resource = RESULTS_ARN if key is None else f"{RESULTS_ARN}/{key}"
    return lambda p, role: _judge(
        role, action, resource, at=at, context=context, policy=p.bucket_policy, kind="s3"
    )


def results_key(action: str, **context: str | None) -> Probe:
    """A KMS call on the results key, by default as S3 makes it for the results bucket."""
    ctx: dict[str, str | None] = {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": RESULTS_ARN,
        **context,
    }
    return lambda p, role: _judge(
        role, action, p.key_arn, at=NOW, context=ctx, policy=p.key_policy, kind="kms"
    )
