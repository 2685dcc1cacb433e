"""De-identifying tracking-log events, one line at a time, by the reviewed allowlist.

:class:`EventDeidentifier` turns one event line (bytes) into its de-identified line, or ``None``
when the line is dropped; it never raises on what it reads. Only the fields
:mod:`edx_vault.package.deidentified_fields` lists survive, treated as that module says; a line
that is not a UTF-8 JSON object is dropped and counted, never passed through. Memory is one
line: it fits the split's streaming pass (:func:`transform_pieces` takes
:func:`edx_vault.engine.course_split.log_lines`'s pieces) and any other line stream.

The output is JSON with the input's key order; a browser event's ``event`` stays a JSON
*string* (of the kept payload), a server event's an object, so readers of the original tier
read the de-identified one the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, cast
from urllib.parse import unquote

from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.package.deidentified_fields import (
    EMAIL_TOKEN,
    ENVELOPE,
    EVENT_RULES,
    PSEUDONYM_TREATMENTS,
    REDACTED_SEGMENT,
    USER_PATH_PARENTS,
    FieldRule,
    PseudonymKind,
)

# Event members that hold a username even where they are dropped: their values are scrubbed
# from kept strings too (edX's RDX "replacement" does the same for the event's own user).
_USERNAME_PATHS: Final = (
    ("username",),
    ("context", "username"),
    ("event", "username"),
    ("event", "user"),
    ("event", "student"),
    ("event", "instructor"),
    ("event", "target_username"),
)
# An email address, raw or with its @ percent-encoded (as it appears inside URLs). Bounded
# repeats (RFC 5321's 64-character local part and 63-character labels) keep the search linear
# on a long value a learner crafted, where unbounded ones could backtrack quadratically.
_EMAIL: Final = re.compile(
    r"[\w.%+'-]{1,64}(?:@|%40)[\w-]{1,63}(?:\.[\w-]{1,63}){0,16}\.[A-Za-z]{2,24}"
)
# /api/user/v1/...: a version after a user-route word names no one.
_API_VERSION: Final = re.compile(r"v\d+(?:\.\d+)?")
_DECODER: Final = json.JSONDecoder()
_DROP: Final = object()
_PLAN_CACHE_LIMIT: Final = 65_536
_NUMBERS: Final = (int, float, bool)

# A plan is a tree of the kept paths: each key leads to a deeper plan or to a rule for the leaf.
Plan = dict[str, "Plan | FieldRule"]


@dataclass
class TransformCounts:
    """What a line transform did, for the step's result and the run report.

    Attributes
    ----------
    lines
        Lines read.
    written
        Lines written (de-identified).
    dropped
        Lines dropped whole: not UTF-8, not JSON, not an object, too long, or a table row whose
        cells do not match the header.
    unknown_types
        Events written with the envelope only, their type having no payload rule.
    """

    lines: int = 0
    written: int = 0
    dropped: int = 0
    unknown_types: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        """Count one dropped line."""
        self.dropped += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


class LineTransform(Protocol):
    """One line in (bytes, with or without its ``\\n``), its replacement or ``None`` out."""

    counts: TransformCounts

    def __call__(self, line: bytes) -> bytes | None: ...


def transform_pieces(
    pieces: Iterable[tuple[bytes, bool]], transform: LineTransform
) -> Iterator[bytes]:
    """Apply ``transform`` to ``(piece, ends_line)`` pieces, as
    :func:`~edx_vault.engine.course_split.log_lines` yields them.

    A line that comes in several pieces (longer than the split parses) is dropped whole and
    counted: its fields cannot be checked against the allowlist without holding it.
    """
    in_long_line = False
    for piece, ends_line in pieces:
        if in_long_line or not ends_line:
            if ends_line:
                transform.counts.lines += 1
                transform.counts.drop("too-long")
            in_long_line = not ends_line
            continue
        result = transform(piece)
        if result is not None:
            yield result


class EventDeidentifier:
    """The de-identifying transform of event lines, under one pseudonym key.

    Parameters
    ----------
    pseudonyms
        The pseudonyms of the vault's key.
    """

    def __init__(self, pseudonyms: Pseudonymizer) -> None:
        self._pseudonyms = pseudonyms
        self.counts = TransformCounts()
        self._plans: dict[tuple[int, ...], Plan] = {}
        self._plans_by_type: dict[str, tuple[Plan, bool]] = {}

    def __call__(self, line: bytes) -> bytes | None:
        """The de-identified line (ending ``\\n``), or ``None`` if the line is dropped."""
        self.counts.lines += 1
        try:
            event = _DECODER.decode(line.decode().rstrip("\r\n"))
        except (ValueError, RecursionError):  # not UTF-8 or not JSON: never passed through
            self.counts.drop("not-json")
            return None
        if not isinstance(event, dict):
            self.counts.drop("not-an-object")
            return None
        try:
            kept = self._deidentify(event)
            text = json.dumps(kept, ensure_ascii=False)
            result = text.encode() + b"\n"
        # Any shape the rules did not foresee (a lone surrogate that cannot be encoded, a value
        # deeper than the encoder's stack): the line is dropped, the stream goes on.
        except Exception:
            self.counts.drop("unexpected-shape")
            return None
        self.counts.written += 1
        return result

    def _deidentify(self, event: dict[str, Any]) -> dict[str, Any]:
        event_type = event.get("event_type")
        plan, known = self._plan_of(event_type if isinstance(event_type, str) else "")
        if not known:
            self.counts.unknown_types += 1
        # Browser events carry the payload as a JSON string: parsed once, here. A string that
        # is no object (problem_check's query string of raw answers) keeps nothing.
        payload: Any = event.get("event")
        payload_is_text = isinstance(payload, str)
        if isinstance(payload, str):
            try:
                payload = json.loads(payload) if payload.startswith("{") else None
            except (ValueError, RecursionError):
                payload = None
        scrub = _Scrubber(self._pseudonyms, _usernames(event, payload))
        kept = _apply(plan, event, scrub, skip="event")
        payload_plan = plan.get("event")
        if isinstance(payload_plan, dict) and isinstance(payload, dict):
            kept_payload = _apply(payload_plan, payload, scrub)
            if kept_payload:
                kept["event"] = (
                    json.dumps(kept_payload, ensure_ascii=False)
                    if payload_is_text
                    else kept_payload
                )
                # Keep the input's key order: "event" goes back where it was.
                kept = {key: kept[key] for key in event if key in kept}
        return kept

    def _plan_of(self, event_type: str) -> tuple[Plan, bool]:
        """The plan for an event type, and whether a payload rule knows it (remembered)."""
        found = self._plans_by_type.get(event_type)
        if found is None:
            matched = tuple(
                index
                for index, rule in enumerate(EVENT_RULES)
                if _any_match(rule.patterns, event_type)
            )
            plan = self._plans.get(matched)
            if plan is None:
                rules = [*ENVELOPE, *(r for index in matched for r in EVENT_RULES[index].fields)]
                plan = self._plans[matched] = _plan(rules)
            # Implicit events are named after URLs, so types are unbounded: forget now and then.
            if len(self._plans_by_type) >= _PLAN_CACHE_LIMIT:
                self._plans_by_type.clear()
            found = self._plans_by_type[event_type] = (plan, bool(matched))
        return found


def _any_match(patterns: tuple[str, ...], event_type: str) -> bool:
    return any(
        event_type.startswith(pattern[:-1]) if pattern.endswith("*") else event_type == pattern
        for pattern in patterns
    )


def _plan(rules: Iterable[FieldRule]) -> Plan:
    plan: Plan = {}
    for rule in rules:
        *parents, leaf = rule.path.split(".")
        node = plan
        for part in parents:
            child = node.setdefault(part, {})
            if isinstance(child, FieldRule):  # a leaf and a parent at once: keep the leaf
                break
            node = child
        else:
            node[leaf] = rule
    return plan


def _usernames(event: Mapping[str, Any], payload: Any) -> frozenset[str]:
    found = set()
    for path in _USERNAME_PATHS:
        value: Any = payload if path[0] == "event" else event.get(path[0])
        for part in path[1:]:
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value.strip():
            found.add(value.strip().casefold())
    return frozenset(found)


def _apply(
    plan: Plan, value: Mapping[str, Any], scrub: _Scrubber, *, skip: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    wildcard = plan.get("*")
    for key, item in value.items():
        node = plan.get(key, wildcard)
        if node is None or key == skip:
            continue
        if node.__class__ is FieldRule:
            if node.treatment == "keep":
                # The common case inline (a call per field is most of the transform's time).
                if item.__class__ is str:
                    out[key] = scrub.text(item)
                    continue
                if item is None or item.__class__ in _NUMBERS:
                    out[key] = item
                    continue
            kept = scrub.treat(node, item)
            if kept is not _DROP:
                out[key] = kept
        elif isinstance(item, dict) and isinstance(node, dict):
            kept_nested = _apply(node, item, scrub)
            if kept_nested:
                out[key] = kept_nested
    return out


class _Scrubber:
    """Applies a rule's treatment to one value, knowing the event's usernames."""

    def __init__(self, pseudonyms: Pseudonymizer, usernames: frozenset[str]) -> None:
        self._pseudonyms = pseudonyms
        self._usernames = usernames

    def treat(self, rule: FieldRule, value: Any) -> Any:
        treatment = rule.treatment
        if treatment in PSEUDONYM_TREATMENTS:
            if value is None or value == "":
                return value  # an anonymous event stays anonymous, and says so
            if isinstance(value, bool) or not isinstance(value, str | int):
                return _DROP
            kind = cast("PseudonymKind", treatment)
            return self._pseudonyms.pseudonym(kind, str(value))
        if treatment == "url":
            if value is None:
                return None
            return self.url(value) if isinstance(value, str) else _DROP
        if isinstance(value, list):
            if all(_is_scalar(item) for item in value):
                return [self.text(item) if isinstance(item, str) else item for item in value]
            return _DROP
        if _is_scalar(value):
            return self.text(value) if isinstance(value, str) else value
        return _DROP  # an object under a kept leaf: only listed leaves pass

    def text(self, value: str) -> str:
        """A kept string, with email addresses and the event's usernames replaced."""
        if "@" in value or "%40" in value:
            value = _EMAIL.sub(EMAIL_TOKEN, value)
        folded = value.casefold() if self._usernames else ""
        for username in self._usernames:
            if username in folded:
                pattern = re.compile(rf"(?<![\w.-]){re.escape(username)}(?![\w.-])", re.I)
                value = pattern.sub(self._pseudonyms.username(username), value)
        return value

    def url(self, value: str) -> str:
        """A URL or path without query, fragment or credentials, its user segments replaced."""
        for mark in ("?", "#"):
            value = value.split(mark, 1)[0]
        if "/" not in value and "@" not in value and "%" not in value:
            # A name, not a path (play_video): only the event's username could be in it.
            return (
                self._pseudonyms.username(value) if value.casefold() in self._usernames else value
            )
        prefix, path = "", value
        if "://" in value:
            scheme, rest = value.split("://", 1)
            host, slash, path = rest.partition("/")
            prefix = f"{scheme}://{host.rsplit('@', 1)[-1]}{slash}"
        segments = path.split("/")
        cleaned = []
        for index, segment in enumerate(segments):
            decoded = unquote(segment)
            parent = segments[index - 1].casefold() if index else ""
            names_user = parent in USER_PATH_PARENTS and not _API_VERSION.fullmatch(segment)
            if "@" in decoded or (segment and names_user):
                cleaned.append(REDACTED_SEGMENT)
            elif any(part.casefold() in self._usernames for part in decoded.split(",")):
                cleaned.append(
                    ",".join(
                        self._pseudonyms.username(part)
                        if part.casefold() in self._usernames
                        else part
                        for part in decoded.split(",")
                    )
                )
            else:
                cleaned.append(segment)
        return prefix + "/".join(cleaned)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
