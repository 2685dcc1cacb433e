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

Statements: ``Action``/``NotAction`` (case-insensitive, ``*`` and ``?``), ``Resource``/
``NotResource`` (case-sensitive), ``Principal``/``NotPrincipal`` (``*``, account, ARN,
``Federated``, ``Service``). Conditions: every operator block must hold (AND), every key in a
block must hold (AND), any of a key's values may match (OR; for negated operators, none may).
Operators: ``String*`` (``Equals``, ``NotEquals``, ``EqualsIgnoreCase``, ``NotEqualsIgnoreCase``,
``Like``, ``NotLike``), ``Arn*`` (``Equals``, ``Like``, ``NotEquals``, ``NotLike``), ``Numeric*``,
``Date*``, ``Bool``, ``Null``, each with ``IfExists``, and the ``ForAnyValue:``/``ForAllValues:``
set qualifiers. A key missing from the request makes a positive operator false and a negated
one true (as AWS documents), and ``...IfExists`` true.

Out of scope, and refused rather than guessed (:class:`UnsupportedPolicyError`): policy
variables (``${aws:username}``), IP and binary operators, permission boundaries, SCPs, session
policies, and cross-account access.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]
ResourcePolicyKind = Literal["none", "s3", "kms", "trust"]
Outcome = Literal["explicit-deny", "allow", "implicit-deny"]
ContextValue = str | Sequence[str]

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "ArnNotEquals",
        "ArnNotLike",
        "NumericNotEquals",
        "DateNotEquals",
    }
)


class UnsupportedPolicyError(ValueError):
    """A policy uses something this evaluator does not model: refuse rather than guess."""


@dataclass(frozen=True)
class Statement:
    """One policy statement, normalised: every element a tuple of strings.

    Attributes
    ----------
    effect
        ``Allow`` or ``Deny``.
    actions, not_actions, resources, not_resources
        Exactly one of each pair is set (``resources`` may be empty in trust policies).
    principals, not_principals
        ``{"AWS": (...), "Federated": (...), "Service": (...)}``; ``{"*": ("*",)}`` for
        ``"Principal": "*"``. ``None`` in identity policies.
    conditions
        ``{operator: {key: values}}``.
    sid
        The statement's ``Sid``, if any.
    source
        Which policy it came from (e.g. ``identity:ReadPolicy``, ``bucket``, ``key``).
    """

    effect: Effect
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: Mapping[str, tuple[str, ...]] | None = None
    not_principals: Mapping[str, tuple[str, ...]] | None = None
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    sid: str | None = None
    source: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, source: str = "") -> Statement:
        """Read one statement of a policy document (intrinsics already resolved).

        Raises
        ------
        UnsupportedPolicyError
            For a malformed statement or one using an element this evaluator does not model.
        """
        known = {
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        }
        unknown = set(data) - known
        if unknown:
            raise UnsupportedPolicyError(f"statement has unknown elements {sorted(unknown)}")
        effect = data.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"statement effect {effect!r} is not Allow or Deny")
        if ("Action" in data) == ("NotAction" in data):
            raise UnsupportedPolicyError("a statement needs exactly one of Action and NotAction")
        if "Resource" in data and "NotResource" in data:
            raise UnsupportedPolicyError("a statement cannot have both Resource and NotResource")
        conditions = {
            operator: {
                key: _strings(values, f"condition {operator} {key}")
                for key, values in dict(block).items()
            }
            for operator, block in dict(data.get("Condition", {})).items()
        }
        return cls(
            effect=effect,
            actions=_optional_strings(data, "Action"),
            not_actions=_optional_strings(data, "NotAction"),
            resources=_optional_strings(data, "Resource"),
            not_resources=_optional_strings(data, "NotResource"),
            principals=_principal_element(data.get("Principal")),
            not_principals=_principal_element(data.get("NotPrincipal")),
            conditions=conditions,
            sid=data.get("Sid"),
            source=source,
        )

    @property
    def label(self) -> str:
        """How explanations name the statement: ``source/Sid``."""
        return f"{self.source}/{self.sid or '(no Sid)'}"


def statements_of(document: Mapping[str, Any], *, source: str) -> tuple[Statement, ...]:
    """The statements of a policy document (``{"Version": ..., "Statement": [...]}``)."""
    raw = document.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    return tuple(Statement.from_json(item, source=source) for item in items)


def policy_statements(
    document: str | bytes | Mapping[str, Any], *, source: str
) -> tuple[Statement, ...]:
    """:func:`statements_of` a policy document kept as JSON text (as moto keeps them: ``str``,
    or ``bytes`` for a bucket policy) or decoded.

    The strict embedded AWS reads the policies that bear on every request it judges; each text
    is parsed once (per ``source``), and an edited policy is a new text.
    """
    if isinstance(document, str | bytes):
        return _statements_of_text(document, source)
    return statements_of(document, source=source)


@lru_cache(maxsize=1024)
def _statements_of_text(text: str | bytes, source: str) -> tuple[Statement, ...]:
    return statements_of(json.loads(text), source=source)


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
    if resource_policy_kind == "kms":
        if direct:
            return Decision("allow", direct, "the key policy allows the principal")
        if delegating and identity_allows:
            return Decision(
                "allow",
                delegating + identity_allows,
                "the key policy delegates to IAM and the identity policy allows",
            )
        if identity_allows:
            return Decision("implicit-deny", (), "the key policy does not delegate to IAM")
        return Decision("implicit-deny", (), "no Allow in the identity policy")
    if resource_policy_kind == "trust":
        # A trust policy naming the caller itself grants; one naming the caller's account
        # delegates to IAM, so the caller's identity policy must also allow sts:AssumeRole.
        if direct:
            return Decision("allow", direct, "the trust policy allows the caller")
        if delegating and identity_allows:
            return Decision(
                "allow",
                delegating + identity_allows,
                "the trust policy trusts the account and the identity policy allows",
            )
        return Decision("implicit-deny", (), "no trust policy statement allows the caller")
    if identity_allows:
        return Decision("allow", identity_allows, "the identity policy allows")
    if resource_policy_kind == "s3" and direct:
        return Decision("allow", direct, "the bucket policy allows the principal")
    return Decision("implicit-deny", (), "no Allow in the identity policy")


# --------------------------------------------------------------------------------------------
# Statement matching
# --------------------------------------------------------------------------------------------


def _applies(statement: Statement, request: Request) -> bool:
    """Whether the statement covers the request's action and resource, and its conditions hold
    (the principal is checked separately)."""
    if statement.actions is not None:
        action_matches = any(_action_matches(p, request.action) for p in statement.actions)
    else:
        action_matches = not any(
            _action_matches(p, request.action) for p in statement.not_actions or ()
        )
    if not action_matches:
        return False
    if statement.resources is not None:
        if not any(_glob(p, request.resource) for p in statement.resources):
            return False
    elif statement.not_resources is not None and any(
        _glob(p, request.resource) for p in statement.not_resources
    ):
        return False
    return all(
        _condition_holds(operator, key, values, request)
        for operator, block in statement.conditions.items()
        for key, values in block.items()
    )


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


def _action_matches(pattern: str, action: str) -> bool:
    return _compiled(pattern.lower()).fullmatch(action.lower()) is not None


def _glob(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters (``/`` included), ``?`` one character;
    nothing else is special (unlike fnmatch, ``[`` is a plain character)."""
    if "${" in pattern:
        raise UnsupportedPolicyError(f"policy variables are not supported: {pattern!r}")
    return _compiled(pattern).fullmatch(value) is not None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------


def _condition_holds(
    operator: str, key: str, policy_values: tuple[str, ...], request: Request
) -> bool:
    qualifier, base = _split_qualifier(operator)
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base.removesuffix("IfExists")
    compare = _comparison(base, operator)
    if not request.is_modelled(key):
        raise UnsupportedPolicyError(f"condition key {key!r} is not modelled")
    values = request.value(key)
    if base == "Null":
        wants_absent = _policy_bool(policy_values, operator)
        return (values is None) == wants_absent
    if values is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        return base in _NEGATED and qualifier != "ForAnyValue"
    negated = base in _NEGATED
    positive = _POSITIVE_OF.get(base, base)
    positive_compare = _comparison(positive, operator) if negated else compare

    def matches(value: str) -> bool:
        return any(positive_compare(expected, value) for expected in policy_values)

    if qualifier == "ForAllValues":
        return all(matches(v) != negated for v in values)
    if qualifier == "ForAnyValue":
        return any(matches(v) != negated for v in values)
    if negated:
        return not any(matches(v) for v in values)
    return any(matches(v) for v in values)


def _split_qualifier(operator: str) -> tuple[str, str]:
    for qualifier in ("ForAnyValue", "ForAllValues"):
        if operator.startswith(f"{qualifier}:"):
            return qualifier, operator.split(":", 1)[1]
    return "", operator


_POSITIVE_OF = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
}


def _comparison(base: str, operator: str) -> Any:
    """A function ``(policy value, request value) -> bool`` for a positive operator."""
    comparisons: dict[str, Any] = {
        "StringEquals": lambda expected, actual: expected == actual,
        "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
        "StringLike": _glob,
        "ArnEquals": _arn_like,
        "ArnLike": _arn_like,
        "NumericEquals": lambda e, a: _number(a) == _number(e),
        "NumericLessThan": lambda e, a: _number(a) < _number(e),
        "NumericLessThanEquals": lambda e, a: _number(a) <= _number(e),
        "NumericGreaterThan": lambda e, a: _number(a) > _number(e),
        "NumericGreaterThanEquals": lambda e, a: _number(a) >= _number(e),
        "DateEquals": lambda e, a: _date(a) == _date(e),
        "DateLessThan": lambda e, a: _date(a) < _date(e),
        "DateLessThanEquals": lambda e, a: _date(a) <= _date(e),
        "DateGreaterThan": lambda e, a: _date(a) > _date(e),
        "DateGreaterThanEquals": lambda e, a: _date(a) >= _date(e),
        "Bool": lambda e, a: e.lower() == a.lower(),
        "Null": None,
    }
    if base in _POSITIVE_OF:
        return comparisons[_POSITIVE_OF[base]]
    if base not in comparisons:
        raise UnsupportedPolicyError(f"condition operator {operator!r} is not supported")
    return comparisons[base]


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: the six colon-separated parts are matched one by one (the last may hold ':')."""
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(_glob(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UnsupportedPolicyError(f"{text!r} is not a number") from None


def _date(text: str) -> dt.datetime:
    if re.fullmatch(r"\d+", text):
        return dt.datetime.fromtimestamp(int(text), dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UnsupportedPolicyError(f"{text!r} is not an ISO 8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _policy_bool(values: tuple[str, ...], operator: str) -> bool:
    if len(values) != 1 or values[0].lower() not in ("true", "false"):
        raise UnsupportedPolicyError(f"{operator} takes 'true' or 'false', not {values}")
    return values[0].lower() == "true"


# --------------------------------------------------------------------------------------------
# Reading policy JSON
# --------------------------------------------------------------------------------------------


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    result: list[str] = []
    for item in items:
        if isinstance(item, bool):
            result.append("true" if item else "false")
        elif isinstance(item, int | float):
            result.append(str(item))
        elif isinstance(item, str):
            result.append(item)
        else:
            raise UnsupportedPolicyError(
                f"{what}: {item!r} is not a string (unresolved CloudFormation intrinsic?)"
            )
    return tuple(result)


def _optional_strings(data: Mapping[str, Any], element: str) -> tuple[str, ...] | None:
    return _strings(data[element], element) if element in data else None


def _principal_element(value: Any) -> Mapping[str, tuple[str, ...]] | None:
    if value is None:
        return None
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, Mapping):
        raise UnsupportedPolicyError(f"principal {value!r} is not '*' or a mapping")
    return {kind: _strings(values, f"principal {kind}") for kind, values in value.items()}


def matches_glob(pattern: str, value: str) -> bool:
    """Whether ``value`` matches an IAM wildcard pattern (``*`` and ``?``)."""
    return _glob(pattern, value)
