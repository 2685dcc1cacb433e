"""The IAM side of a researcher grant: its role's name, how its principal is trusted, its tags,
and its read patterns packed into managed policies that fit IAM's limits.

:class:`~stacks.researcher_role.ResearcherRole` builds the role and its policy documents from
these; ``edx-vault grants`` and ``doctor`` find the roles by the same names and tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from edx_vault.access.readable_slices import ReadableSlice
from edx_vault.settings.resource_names import resource_prefix

# A researcher's session lasts at most this long; the AWS CLI and boto3 renew it by themselves.
MAX_SESSION_HOURS: Final = 1
# IAM's limits: a role name, one customer-managed policy (characters without whitespace), and
# managed policies attached to one role (the default quota).
ROLE_NAME_MAX_LENGTH: Final = 64
MANAGED_POLICY_MAX_CHARS: Final = 6144
MANAGED_POLICIES_PER_ROLE: Final = 10
# Of those, the one holding the role's SQL access (edx_vault.access.query_statements).
QUERY_POLICIES_PER_ROLE: Final = 1
# Tags on every researcher role, so an audit can tell which approval a role serves.
GRANT_TAG: Final = "edx-vault:grant"
EXPIRES_TAG: Final = "edx-vault:expires"
IDENTIFIABLE_TAG: Final = "edx-vault:identifiable"
# Where the access stack's CloudFormation outputs put each role's ARN.
ROLE_ARN_OUTPUT_PREFIX: Final = "ResearcherRoleArn"
ACCESS_STACK_SUFFIX: Final = "Access"
# The SAML audience AWS's sign-in endpoint puts in assertions (and the AWS CLI's SAML tools).
SAML_AUDIENCE: Final = "https://signin.aws.amazon.com/saml"

PrincipalKind = Literal["iam", "saml", "oidc"]

# Budget per managed policy: IAM's limit less room for the statements' fixed parts and for
# tokens (the key ARN) whose length is only known at deploy time.
_POLICY_BUDGET: Final = MANAGED_POLICY_MAX_CHARS - 1100
# The longest partition's bucket ARN prefix: the bucket's own name is added to it.
_BUCKET_ARN_PREFIX_ESTIMATE: Final = len("arn:aws-us-gov:s3:::")


def principal_kind(principal: str) -> PrincipalKind:
    """Whether a (validated) principal ARN is an IAM user or role, a SAML or an OIDC provider."""
    resource = principal.split(":", 5)[5]
    if resource.startswith("saml-provider/"):
        return "saml"
    if resource.startswith("oidc-provider/"):
        return "oidc"
    return "iam"


def is_iam_role(principal: str) -> bool:
    """Whether a (validated) IAM principal ARN names a role, rather than a user."""
    return principal.split(":", 5)[5].startswith("role/")


def role_name_for(stack_prefix: str, researcher: str) -> str:
    """The researcher role's name: unique per deployment, since role names are per account."""
    return f"{resource_prefix(stack_prefix)}-{researcher}"


def construct_name(researcher: str) -> str:
    """The researcher's name in CamelCase, for construct ids and output names."""
    return "".join(part.capitalize() for part in researcher.split("-") if part)


def role_output_name(researcher: str) -> str:
    """The access stack's output holding a researcher role's ARN (outputs are alphanumeric)."""
    return ROLE_ARN_OUTPUT_PREFIX + construct_name(researcher)


@dataclass(frozen=True)
class PolicyChunk:
    """What one customer-managed policy of a researcher role allows."""

    key_patterns: tuple[str, ...]
    prefix_patterns: tuple[str, ...]


def pack_policies(slices: Sequence[ReadableSlice], *, bucket_name: str) -> tuple[PolicyChunk, ...]:
    """Pack the slices' patterns into as few managed policies as fit IAM's size limit, in order.

    ``bucket_name`` is the data bucket's (fixed) name, which every key pattern's ARN spells: a
    dated grant has a listing pattern per date prefix as well as a key pattern, so sizing the
    ARNs by the real name rather than S3's longest keeps grants that fit from being refused.
    More than :data:`MANAGED_POLICIES_PER_ROLE` chunks do not fit one role: the caller refuses
    such a grant.
    """
    bucket_arn = _BUCKET_ARN_PREFIX_ESTIMATE + len(bucket_name)
    entries = [("key", p) for p in dict.fromkeys(p for s in slices for p in s.key_patterns)]
    entries += [("prefix", p) for p in dict.fromkeys(p for s in slices for p in s.prefix_patterns)]
    chunks: list[PolicyChunk] = []
    keys: list[str] = []
    prefixes: list[str] = []
    used = 0
    for kind, pattern in entries:
        # A key pattern is a quoted bucket ARN, '/', the pattern and a comma; a prefix pattern
        # is a quoted condition value and a comma.
        size = len(pattern) + 3 + (bucket_arn + 1 if kind == "key" else 0)
        if used + size > _POLICY_BUDGET and (keys or prefixes):
            chunks.append(PolicyChunk(tuple(keys), tuple(prefixes)))
            keys, prefixes, used = [], [], 0
        (keys if kind == "key" else prefixes).append(pattern)
        used += size
    if keys or prefixes:
        chunks.append(PolicyChunk(tuple(keys), tuple(prefixes)))
    return tuple(chunks)
