"""The condition-aware evaluator itself, on small hand-written policies: each rule both ways.

The condition operators have their own tests: ``test_condition_operators.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from edx_vault.access.policy_evaluator import Request, evaluate
from edx_vault.access.policy_statements import Statement, UnsupportedPolicyError, statements_of
from tests.access.policy_documents import OBJECT, ROLE, allow, deny, identity, outcome

# --- evaluation logic ---------------------------------------------------------------------


def test_nothing_allowed_is_an_implicit_deny() -> None:
    assert outcome() == "implicit-deny"
    assert outcome(allow(Action="s3:PutObject")) == "implicit-deny"


def test_an_allow_allows_and_an_explicit_deny_beats_it() -> None:
    assert outcome(allow()) == "allow"
    assert outcome(allow(), deny()) == "explicit-deny"
    assert outcome(deny(), allow()) == "explicit-deny"


def test_a_deny_whose_condition_fails_does_not_apply() -> None:
    assert (
        outcome(
            allow(),
            deny(Condition={"Bool": {"aws:SecureTransport": "false"}}),
            **{"aws:SecureTransport": "true"},
        )
        == "allow"
    )


def test_the_decision_names_the_deciding_statements() -> None:
    request = Request("s3:GetObject", OBJECT, ROLE)
    decision = evaluate(request, identity=identity(allow(Sid="A"), deny(Sid="D"), allow(Sid="B")))
    assert [s.sid for s in decision.deciding] == ["D"]
    decision = evaluate(request, identity=identity(allow(Sid="A"), allow(Sid="B")))
    assert [s.sid for s in decision.deciding] == ["A", "B"]
    assert decision.deciding[0].label == "identity/A"


# --- actions and resources ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:GetObject", "s3:GetObject", "allow"),
        ("s3:getobject", "S3:GETOBJECT", "allow"),  # actions are case-insensitive
        ("s3:Get*", "s3:GetObjectVersion", "allow"),
        ("s3:Get?bject", "s3:GetObject", "allow"),
        ("s3:Get?bject", "s3:GetObjject", "implicit-deny"),
        ("s3:GetObject", "s3:GetObjectVersion", "implicit-deny"),
        ("*", "kms:Decrypt", "allow"),
        ("s3:*", "kms:Decrypt", "implicit-deny"),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: str) -> None:
    assert outcome(allow(Action=pattern), action=action) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("arn:aws:s3:::bucket/events/*", "allow"),
        ("arn:aws:s3:::bucket/events/org=mitx/*/date=2025*", "allow"),  # '*' spans '/'
        ("arn:aws:s3:::bucket/events/org=mitx/site=ed?/*", "allow"),
        ("arn:aws:s3:::bucket/events/org=MITX/*", "implicit-deny"),  # resources are case-sensitive
        ("arn:aws:s3:::bucket/events/org=mitx/site=edge/*", "implicit-deny"),
        ("arn:aws:s3:::bucket/events/org=[m]itx/*", "implicit-deny"),  # '[' is not special
        ("arn:aws:s3:::bucket/events", "implicit-deny"),
    ],
)
def test_resource_wildcards(pattern: str, expected: str) -> None:
    assert outcome(allow(Resource=pattern)) == expected


def test_not_action_covers_every_other_action() -> None:
    statement = deny(Action=None, NotAction=["s3:GetObject", "s3:ListBucket"])
    del statement["Action"]
    assert outcome(allow(Action="s3:*"), statement, action="s3:PutObject") == "explicit-deny"
    assert outcome(allow(Action="s3:*"), statement, action="s3:GetObject") == "allow"


def test_not_resource_covers_every_other_resource() -> None:
    statement = deny(Resource=None, NotResource="arn:aws:s3:::bucket/events/*")
    del statement["Resource"]
    assert outcome(allow(), statement) == "allow"
    assert outcome(allow(), statement, resource="arn:aws:s3:::bucket/raw/x") == "explicit-deny"


# --- principals and resource policies -------------------------------------------------------


def resource_policy(*statements: dict[str, Any]) -> tuple[Statement, ...]:
    return statements_of({"Statement": list(statements)}, source="resource")


def test_a_resource_policy_deny_for_everyone_applies_to_the_role() -> None:
    request = Request("s3:GetObject", OBJECT, ROLE)
    decision = evaluate(
        request,
        identity=identity(allow()),
        resource_policy=resource_policy(deny(Principal={"AWS": "*"})),
        resource_policy_kind="s3",
    )
    assert decision.outcome == "explicit-deny"
    assert decision.deciding[0].source == "resource"


def test_a_resource_policy_deny_for_another_principal_does_not_apply() -> None:
    request = Request("s3:GetObject", OBJECT, ROLE)
    other = deny(Principal={"AWS": "arn:aws:iam::111122223333:role/other"})
    decision = evaluate(
        request,
        identity=identity(allow()),
        resource_policy=resource_policy(other),
        resource_policy_kind="s3",
    )
    assert decision.outcome == "allow"


def test_not_principal_applies_to_everyone_else() -> None:
    statement = deny(NotPrincipal={"AWS": ROLE})
    policy = resource_policy(statement)
    assert evaluate(
        Request("s3:GetObject", OBJECT, ROLE),
        identity=identity(allow()),
        resource_policy=policy,
        resource_policy_kind="s3",
    ).allowed
    other = "arn:aws:iam::111122223333:role/other"
    assert (
        evaluate(
            Request("s3:GetObject", OBJECT, other),
            identity=identity(allow()),
            resource_policy=policy,
            resource_policy_kind="s3",
        ).outcome
        == "explicit-deny"
    )


def test_a_bucket_policy_allow_naming_the_role_grants_but_naming_the_account_delegates() -> None:
    request = Request("s3:GetObject", OBJECT, ROLE)
    direct = resource_policy(allow(Principal={"AWS": ROLE}))
    account = resource_policy(allow(Principal={"AWS": "arn:aws:iam::111122223333:root"}))
    assert evaluate(request, resource_policy=direct, resource_policy_kind="s3").allowed
    assert not evaluate(request, resource_policy=account, resource_policy_kind="s3").allowed


def test_kms_needs_the_key_policy_to_allow_or_delegate() -> None:
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    request = Request("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k", ROLE)
    delegating = resource_policy(
        {**decrypt, "Action": "kms:*", "Principal": {"AWS": "111122223333"}}
    )
    other_account = resource_policy(
        {**decrypt, "Principal": {"AWS": "arn:aws:iam::999999999999:root"}}
    )
    direct = resource_policy({**decrypt, "Principal": {"AWS": ROLE}})
    own = identity(decrypt)

    def kms(policy: tuple[Statement, ...], statements: tuple[Statement, ...] = ()) -> str:
        return evaluate(
            request, identity=statements, resource_policy=policy, resource_policy_kind="kms"
        ).outcome

    assert kms(delegating, own) == "allow"
    assert kms(delegating) == "implicit-deny"  # delegation alone grants nothing
    assert kms(other_account, own) == "implicit-deny"  # another account's root is not ours
    assert kms(direct) == "allow"
    assert kms((), own) == "implicit-deny"  # no key policy statement: IAM cannot grant


def test_trust_policies_match_the_caller_and_its_conditions() -> None:
    trust = resource_policy(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/idp"},
            "Condition": {"StringEquals": {"idp:sub": "alice"}},
        }
    )

    def assume(caller: str, **context: str) -> str:
        request = Request("sts:AssumeRoleWithWebIdentity", ROLE, caller, context)
        return evaluate(request, resource_policy=trust, resource_policy_kind="trust").outcome

    assert assume("arn:aws:iam::1:oidc-provider/idp", **{"idp:sub": "alice"}) == "allow"
    assert assume("arn:aws:iam::1:oidc-provider/idp", **{"idp:sub": "bob"}) == "implicit-deny"
    assert assume("arn:aws:iam::1:oidc-provider/other", **{"idp:sub": "alice"}) == "implicit-deny"


# --- refusing what it does not model --------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        allow(Resource="arn:aws:s3:::bucket/${aws:username}/*"),
    ],
)
def test_unsupported_features_are_refused_not_guessed(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicyError):
        outcome(statement, **{"aws:SourceIp": "10.1.1.1"})


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Maybe", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Resource": "*"},
        {"Effect": "Allow", "Action": "a", "NotAction": "b", "Resource": "*"},
        {"Effect": "Allow", "Action": "a", "Resource": {"Fn::GetAtt": ["X", "Arn"]}},
        {"Effect": "Allow", "Action": "a", "Resource": "*", "Extra": 1},
    ],
)
def test_malformed_statements_are_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicyError):
        statements_of({"Statement": [statement]}, source="identity")


def test_a_resource_policy_statement_without_a_principal_is_refused() -> None:
    with pytest.raises(UnsupportedPolicyError, match="needs a Principal"):
        evaluate(
            Request("s3:GetObject", OBJECT, ROLE),
            resource_policy=resource_policy(allow()),
            resource_policy_kind="s3",
        )
