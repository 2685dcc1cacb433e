"""A condition-aware evaluator of IAM policies: the judge of what a researcher grant allows.

moto ignores ``Condition`` blocks, and the grants' promises (until the expiry, only listing
below granted folders, decrypting only through S3, researchers never in ``raw/``) live in
conditions, so the tests and ``edx-vault grants check`` evaluate the synthesized policies here.

It follows AWS's documented evaluation logic for a principal and a resource **in the same
account**:

1. An explicit ``Deny`` in any applicable statement (identity policy, resource policy) wins.
2. Otherwise the request needs an ``Allow``: for S3, in the identity policy or a bucket policy
   statement naming the principal itself; for KMS, the key policy must allow the principal
   itself, or allow the account (delegating to IAM) *and* the identity policy must allow; for
   a role's trust policy, a statement naming the caller. A resource policy that names the
   account only delegates to IAM.
3. Otherwise: implicit deny.

One exception, S3's own: the account's root user may always get, put and delete a bucket's
policy, "even if the policy explicitly denies the root user" (S3 API Reference,
PutBucketPolicy), so that a policy that locks everyone out can be repaired.

Statements: ``Action``/``NotAction`` (case-insensitive, ``*`` and ``?``), ``Resource``/
``NotResource`` (case-sensitive), ``Principal``/``NotPrincipal`` (``*``, account, ARN,
``Federated``, ``Service``). Conditions: every operator block must hold (AND), every key in a
block must hold (AND); how each operator judges a key is :mod:`edx_vault.access.condition_operators`'s.
Statements are read by :mod:`edx_vault.access.policy_statements`, wildcards matched by
:mod:`edx_vault.access.iam_wildcards`.

Out of scope, and refused rather than guessed (:class:`UnsupportedPolicyError`): policy
variables (``${aws:username}``), IP and binary operators, permission boundaries, SCPs, session
policies, and cross-account access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from edx_vault.access.condition_operators import condition_operator
from edx_vault.access.iam_wildcards import action_matches, matches_glob
from edx_vault.access.policy_statements import Statement, UnsupportedPolicyError

ResourcePolicyKind = Literal["none", "s3", "kms", "trust"]
Outcome = Literal["explicit-deny", "allow", "implicit-deny"]
ContextValue = str | Sequence[str]

_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
# What S3 lets the bucket owner's root user do whatever the bucket policy says.
_ROOT_BUCKET_POLICY_ACTIONS: Final = frozenset(
    {"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"}
)


@dataclass(frozen=True)
class Request:
    """One API request as IAM sees it.

    Attributes
    ----------
    action
        E.g. ``s3:GetObject``.
    resource
        The resource ARN, e.g. ``arn:aws:s3:::bucket/key``.
    principal
        Who is asking: a role's ARN for a session of it (what ``aws:PrincipalArn`` holds), a
        user's ARN, a SAML/OIDC provider's ARN for a federated caller, or a service principal.
    context
        The request's condition keys (``aws:CurrentTime``, ``s3:prefix``...). Keys are
        case-insensitive, as in IAM.
    modelled_keys
        When set, every condition key the caller knows how to supply (lower case; a trailing
        ``*`` covers a family such as ``kms:encryptioncontext:*``). A key outside it in a
        statement that could apply raises :class:`UnsupportedPolicyError` instead of being
        treated as absent: the strict embedded AWS refuses what it cannot judge. ``None``: a
        key the context lacks is absent (the grant checks' behaviour).
    """

    action: str
    resource: str
    principal: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    modelled_keys: frozenset[str] | None = None

    def is_modelled(self, key: str) -> bool:
        """Whether the caller can supply ``key`` (always, without ``modelled_keys``)."""
        if self.modelled_keys is None:
            return True
        wanted = key.lower()
        return wanted in self.modelled_keys or any(
            known.endswith("*") and wanted.startswith(known[:-1]) for known in self.modelled_keys
        )

    def value(self, key: str) -> tuple[str, ...] | None:
        """The context key's values, or ``None`` when the request does not carry it."""
        wanted = key.lower()
        for name, value in self.context.items():
            if name.lower() == wanted:
                return (value,) if isinstance(value, str) else tuple(value)
        return None


@dataclass(frozen=True)
class Decision:
    """The outcome of one request and the statements that decided it.

    Attributes
    ----------
    outcome
        ``allow``, ``explicit-deny`` or ``implicit-deny``.
    deciding
        The matching Deny statements (explicit deny), or the Allow statements that granted it
        (allow); empty for an implicit deny.
    note
        Why, in one line, for people.
    """

    outcome: Outcome
    deciding: tuple[Statement, ...] = ()
    note: str = ""

    @property
    def allowed(self) -> bool:
        """Whether the request is allowed."""
        return self.outcome == "allow"


@dataclass(frozen=True)
class _MustAllowNotes:
    """What a decision says for a resource policy that must allow the request itself."""

    direct: str
    delegated: str
    identity_only: str
    no_allow: str


# Resource policies whose Allow the request needs: either naming the principal itself, or naming
# its account (delegating to IAM) while the identity policy allows too. A trust policy naming the
# caller's account delegates to IAM, so the caller's identity policy must also allow
# sts:AssumeRole.
_RESOURCE_POLICY_MUST_ALLOW: Final[Mapping[ResourcePolicyKind, _MustAllowNotes]] = {
    "kms": _MustAllowNotes(
        direct="the key policy allows the principal",
        delegated="the key policy delegates to IAM and the identity policy allows",
        identity_only="the key policy does not delegate to IAM",
        no_allow="no Allow in the identity policy",
    ),
    "trust": _MustAllowNotes(
        direct="the trust policy allows the caller",
        delegated="the trust policy trusts the account and the identity policy allows",
        identity_only="no trust policy statement allows the caller",
        no_allow="no trust policy statement allows the caller",
    ),
}


def evaluate(
    request: Request,
    *,
    identity: Iterable[Statement] = (),
    resource_policy: Iterable[Statement] = (),
    resource_policy_kind: ResourcePolicyKind = "none",
) -> Decision:
    """Decide one same-account request.

    Parameters
    ----------
    request
        The request.
    identity
        The statements of every identity policy of the principal.
    resource_policy
        The statements of the resource's policy (bucket policy, key policy, trust policy).
    resource_policy_kind
        How its Allows count: ``s3`` (an Allow naming the principal grants, one naming the
        account delegates to IAM), ``kms`` (the key policy must allow, directly or by
        delegating to IAM), ``trust`` (a statement naming the caller grants), ``none``.

    Raises
    ------
    UnsupportedPolicyError
        If a statement that could apply uses a condition operator or feature not modelled.
    """
    if (
        resource_policy_kind == "s3"
        and request.action.lower() in _ROOT_BUCKET_POLICY_ACTIONS
        and request.principal.endswith(":root")
    ):
        return Decision("allow", (), "the account's root user may always manage a bucket policy")
    identity_matches = [s for s in identity if _applies(s, request)]
    resource_matches = [
        (s, level)
        for s in resource_policy
        if (level := _principal_level(s, request.principal)) and _applies(s, request)
    ]
    denies = [s for s in identity_matches if s.effect == "Deny"]
    denies += [s for s, _ in resource_matches if s.effect == "Deny"]
    if denies:
        return Decision("explicit-deny", tuple(denies), "an explicit Deny applies")
    identity_allows = tuple(s for s in identity_matches if s.effect == "Allow")
    direct = tuple(s for s, level in resource_matches if s.effect == "Allow" and level == "self")
    delegating = tuple(
        s for s, level in resource_matches if s.effect == "Allow" and level == "account"
    )
    if resource_policy_kind in _RESOURCE_POLICY_MUST_ALLOW:
        notes = _RESOURCE_POLICY_MUST_ALLOW[resource_policy_kind]
        if direct:
            return Decision("allow", direct, notes.direct)
        if delegating and identity_allows:
            return Decision("allow", delegating + identity_allows, notes.delegated)
        return Decision(
            "implicit-deny", (), notes.identity_only if identity_allows else notes.no_allow
        )
    if identity_allows:
        return Decision("allow", identity_allows, "the identity policy allows")
    if resource_policy_kind == "s3" and direct:
        return Decision("allow", direct, "the bucket policy allows the principal")
    return Decision("implicit-deny", (), "no Allow in the identity policy")


def _applies(statement: Statement, request: Request) -> bool:
    """Whether the statement covers the request's action and resource, and its conditions hold
    (the principal is checked separately)."""
    if statement.actions is not None:
        action_matched = any(action_matches(p, request.action) for p in statement.actions)
    else:
        action_matched = not any(
            action_matches(p, request.action) for p in statement.not_actions or ()
        )
    if not action_matched:
        return False
    if statement.resources is not None:
        if not any(matches_glob(p, request.resource) for p in statement.resources):
            return False
    elif statement.not_resources is not None and any(
        matches_glob(p, request.resource) for p in statement.not_resources
    ):
        return False
    return all(
        _condition_holds(operator, key, values, request)
        for operator, block in statement.conditions.items()
        for key, values in block.items()
    )


def _condition_holds(
    operator: str, key: str, policy_values: tuple[str, ...], request: Request
) -> bool:
    parsed = condition_operator(operator)
    if not request.is_modelled(key):
        raise UnsupportedPolicyError(f"condition key {key!r} is not modelled")
    return parsed.holds(policy_values, request.value(key))


def _principal_level(statement: Statement, principal: str) -> Literal["self", "account", ""]:
    """How a resource-policy statement's principal matches the caller: ``self`` (by its own
    ARN, or ``*``), ``account`` (by its account: delegation to IAM for Allows), or not."""
    if statement.not_principals is not None:
        return "" if _principal_in(statement.not_principals, principal) else "self"
    if statement.principals is None:
        raise UnsupportedPolicyError(f"{statement.label}: a resource policy needs a Principal")
    return _principal_in(statement.principals, principal)


def _principal_in(
    principals: Mapping[str, tuple[str, ...]], principal: str
) -> Literal["self", "account", ""]:
    if "*" in principals:
        return "self"
    for value in principals.get("AWS", ()):
        if value == "*":
            return "self"
        if value == principal:
            return "self"
        account = _account_of(value)
        names_account = account and (value == account or value.endswith(":root"))
        if names_account and _account_of(principal) == account:
            return "account"
    for kind in ("Federated", "Service", "CanonicalUser"):
        if principal in principals.get(kind, ()):
            return "self"
    return ""


def _account_of(arn_or_account: str) -> str:
    if _ACCOUNT_ID.fullmatch(arn_or_account):
        return arn_or_account
    parts = arn_or_account.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""
