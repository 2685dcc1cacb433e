"""The event allowlist, reviewed as data: every entry has a reason, nothing identifying is kept."""

from __future__ import annotations

from edx_vault.package.deidentified_fields import (
    ENVELOPE,
    EVENT_RULES,
    PSEUDONYM_TREATMENTS,
    all_field_rules,
    payload_rules,
)

# Fields that hold identifiers or free text wherever they appear: never kept as they are.
_NEVER_KEPT_LEAVES = {
    "ip",
    "agent",
    "host",
    "referer",
    "accept_language",
    "username",
    "user",
    "student",
    "instructor",
    "target_username",
    "email",
    "name",
    "old",
    "new",
    "body",
    "title",
    "answers",
    "answer",
    "state",
    "msg",
    "query",
    "search_text",
    "url",
    "certificate_url",
    "certificate_id",
    "GET",
    "POST",
    "client",
    "session",
    "user_id",
}


# (pattern, path) kept on purpose although the leaf's name says otherwise: navigation events'
# old and new are tab numbers, not settings values.
_NAVIGATION = ("seq_goto", "seq_next", "seq_prev", "edx.ui.lms.*", "page_close", "edx.bookmark.*")
_REVIEWED_EXCEPTIONS = {
    (pattern, path) for pattern in _NAVIGATION for path in ("event.old", "event.new")
}


def test_every_rule_has_a_reason_and_a_well_formed_path() -> None:
    for pattern, rule in all_field_rules():
        assert rule.reason.strip(), rule.path
        assert all(part for part in rule.path.split(".")), rule.path
        # payload rules live under event., the envelope is everything else
        assert rule.path.startswith("event.") or pattern == "*", (pattern, rule.path)
    for event_rule in EVENT_RULES:
        assert event_rule.reason.strip()
        assert all(pattern.count("*") <= 1 for pattern in event_rule.patterns)


def test_no_identifying_leaf_is_kept_as_it_is() -> None:
    # Given every (pattern, rule) of the allowlist
    for pattern, rule in all_field_rules():
        leaf = rule.path.rsplit(".", 1)[-1]
        # Then a field named like an identifier is pseudonymized, URL-scrubbed or absent
        exception = (pattern, rule.path) in _REVIEWED_EXCEPTIONS
        if leaf in _NEVER_KEPT_LEAVES and rule.treatment == "keep" and not exception:
            raise AssertionError(f"{pattern} {rule.path} keeps an identifying field")
    # And the few that carry ids are pseudonyms
    pseudonymized = {r.path for _, r in all_field_rules() if r.treatment in PSEUDONYM_TREATMENTS}
    assert {"username", "session", "context.user_id", "event.user_id"} <= pseudonymized


def test_the_envelope_holds_no_network_or_device_field() -> None:
    paths = {rule.path for rule in ENVELOPE}
    assert not paths & {"ip", "agent", "host", "referer", "accept_language", "context.client"}
    assert {"event_type", "time", "context.course_id", "context.user_id"} <= paths


def test_payload_rules_by_event_type() -> None:
    # Exact names, prefixes, and nothing for implicit (URL) or unknown types
    assert "event.new_speed" in {r.path for r in payload_rules("speed_change_video")}
    assert "event.mode" in {r.path for r in payload_rules("edx.course.enrollment.mode_changed")}
    assert payload_rules("/courses/course-v1:X+Y+Z/courseware/") == ()
    assert payload_rules("edx.never.seen") == ()
    # a prefix matches only its family
    assert payload_rules("edx.videos_are_not_videos") == ()
