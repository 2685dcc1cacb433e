"""IAM's wildcard matching: ``*`` any run of characters (``/`` included), ``?`` one character,
nothing else special (unlike fnmatch, ``[`` is a plain character).

Used for a statement's actions (case-insensitive) and resources, and by the ``StringLike`` and
``ArnLike`` condition operators (case-sensitive).
"""

from __future__ import annotations

import re
from functools import cache

from edx_vault.access.policy_statements import UnsupportedPolicyError


def matches_glob(pattern: str, value: str) -> bool:
    """Whether ``value`` matches an IAM wildcard pattern (``*`` and ``?``), case-sensitively.

    Raises
    ------
    UnsupportedPolicyError
        For a pattern holding a policy variable (``${aws:username}``).
    """
    if "${" in pattern:
        raise UnsupportedPolicyError(f"policy variables are not supported: {pattern!r}")
    return _compiled(pattern).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an action (``s3:GetObject``) matches a statement's action pattern, without case."""
    return _compiled(pattern.lower()).fullmatch(action.lower()) is not None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)
