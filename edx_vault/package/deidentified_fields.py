"""The event-log allowlist of the de-identified tier: every field kept, and why.

One reviewed list. A field of a tracking-log event reaches the de-identified tier only if a rule
below names it, by (event type pattern, JSON path); everything else is dropped, whatever it
holds: ``ip``, ``agent``, ``host``, ``referer``, ``accept_language``, the ``GET``/``POST`` of
implicit events, every ``event`` member not listed, names, emails, answers, free text. A new
event type edX adds keeps only the common envelope (:data:`ENVELOPE`) until a rule is reviewed
for it. :mod:`edx_vault.engine.deidentify_events` applies the rules.

Treatments (:data:`Treatment`):

- ``keep``: a scalar, or a list of scalars, copied as it is. Strings are still scanned: an email
  address becomes ``<<EMAIL>>`` and the event's own username its pseudonym (edX's RDX
  obfuscation does the same, edx-documentation ``en_us/data/source/rdx/rdx_data.rst``,
  "Replacement"). A nested object under a kept path is dropped: only listed leaves pass.
- ``url``: a URL or URL path without its query string, fragment or credentials (query strings
  carry emails, usernames and search text), with any path segment that names a user
  (:data:`USER_PATH_PARENTS`, an ``@``, the event's username) replaced.
- ``username`` / ``user_id`` / ``session``: replaced by the keyed pseudonym of that kind
  (:mod:`edx_vault.engine.pseudonyms`), so a learner joins across files and tables.

Decisions that need saying:

- ``context.user_id`` is **pseudonymized**, not kept. It is edX's ``auth_user.id``: the key of
  every table, and the column course teams see next to the email in the LMS's grade and
  enrollment reports, so anyone with one of those reports re-identifies it at once. edX's own
  de-identified exports (RDX) remap it too. Pseudonymized in the ``i_`` space, it still joins
  every table's ``user_id`` (same key, same space).
- ``problem_check`` from the browser sends ``event`` as the form's query string (the learner's
  raw answers): not an object, so nothing of it is kept. The server's ``problem_check`` is kept
  but for ``answers``, ``submission.*.answer``, ``state`` and ``correct_map.*.msg``: answers to
  text-input problems are free text (learners type names and emails into them). Correctness,
  grades and attempts stay, which is what most problem analyses use.
- ``page`` and ``context.path`` are kept as paths (edX's RDX removes them); they are how
  researchers follow navigation, and the ``url`` treatment removes what names people in them.
- ``session`` is pseudonymized (``s_``): sessionization needs it, edX's own value would link
  back to edX's logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

# The kinds of identifier the pseudonym key maps (edx_vault.engine.pseudonyms).
PseudonymKind = Literal["username", "user_id", "anonymous_user_id", "user_profile_id", "session"]
Treatment = Literal[
    "keep", "url", "username", "user_id", "anonymous_user_id", "user_profile_id", "session"
]
PSEUDONYM_TREATMENTS: Final[frozenset[str]] = frozenset(
    {"username", "user_id", "anonymous_user_id", "user_profile_id", "session"}
)
# What replaces a removed identifier inside a kept string (edX's RDX tokens).
EMAIL_TOKEN: Final = "<<EMAIL>>"  # noqa: S105 (a placeholder, not a password)
# What replaces a URL path segment that names a user.
REDACTED_SEGMENT: Final = "_redacted_"


@dataclass(frozen=True)
class FieldRule:
    """One allowlisted field.

    Attributes
    ----------
    path
        Dotted JSON path from the event's top: ``context.user_id``, ``event.correct_map.*.correctness``
        (``*`` is any key of an object). Paths under ``event`` apply to the payload whether it is
        an object (server events) or a JSON string holding one (browser events).
    treatment
        What happens to the value (see the module's docstring).
    reason
        Why a researcher needs it and why it does not identify.
    """

    path: str
    treatment: Treatment
    reason: str


@dataclass(frozen=True)
class EventRule:
    """The payload fields kept for a family of event types.

    Attributes
    ----------
    patterns
        Event types, exact (``play_video``) or with a trailing ``*`` for a prefix (``edx.video.*``).
    fields
        The payload fields kept for them (paths under ``event.``).
    reason
        What researchers use these events for.
    """

    patterns: tuple[str, ...]
    fields: tuple[FieldRule, ...]
    reason: str


def _keep(path: str, reason: str) -> FieldRule:
    return FieldRule(path, "keep", reason)


# --- the envelope: every event, known or not ----------------------------------------------------

ENVELOPE: Final[tuple[FieldRule, ...]] = (
    FieldRule(
        "event_type",
        "url",
        "what happened; implicit events are named after the URL served, hence the url treatment",
    ),
    FieldRule("name", "url", "the event's name in newer events (equals event_type or refines it)"),
    _keep("time", "when (UTC); every sequence and duration analysis needs it"),
    _keep("event_source", "browser, server or mobile: which client reported it"),
    FieldRule("username", "username", "who, as a pseudonym: joins tables' username columns"),
    FieldRule("session", "session", "one visit, as a pseudonym: for sessionization"),
    FieldRule("page", "url", "the page the browser was on, without query string"),
    _keep("context.course_id", "which course: the partition researchers are granted by"),
    _keep("context.org_id", "which org"),
    FieldRule(
        "context.user_id",
        "user_id",
        "who, as a pseudonym in the tables' user_id space (auth_user.id is re-identifying)",
    ),
    FieldRule("context.path", "url", "the server path that emitted the event, without query"),
    _keep("context.module.usage_key", "the course block the event is about"),
    _keep("context.module.display_name", "the block's title: course content, not learner data"),
    _keep("context.component", "the client component of mobile and browser events"),
)

# --- per event type -----------------------------------------------------------------------------

_VIDEO = EventRule(
    (
        "play_video",
        "pause_video",
        "stop_video",
        "load_video",
        "seek_video",
        "speed_change_video",
        "show_transcript",
        "hide_transcript",
        "video_show_cc_menu",
        "video_hide_cc_menu",
        "edx.video.*",
    ),
    (
        _keep("event.id", "the video block"),
        _keep("event.code", "the video's source (html5, a YouTube id, mobile)"),
        _keep("event.currentTime", "position in seconds"),
        _keep("event.current_time", "position in seconds (speed changes, mobile)"),
        _keep("event.old_time", "seek: from"),
        _keep("event.new_time", "seek: to"),
        _keep("event.type", "seek: how (slide, skip, keyboard)"),
        _keep("event.old_speed", "speed change: from"),
        _keep("event.new_speed", "speed change: to"),
        _keep("event.duration", "the video's length"),
        _keep("event.module_id", "mobile's name for the video block"),
        _keep("event.language", "transcript language chosen"),
    ),
    "video engagement: watching, skipping, speed, transcripts",
)

_PROBLEM_IDS = (
    _keep("event.problem_id", "the problem block"),
    _keep("event.problem", "the problem block (browser events' name for it)"),
    _keep("event.module_id", "the problem block (hint events' name for it)"),
)
_PROBLEM = EventRule(
    (
        "problem_check",
        "problem_check_fail",
        "problem_rescore",
        "problem_rescore_fail",
        "problem_reset",
        "reset_problem",
        "reset_problem_fail",
        "problem_save",
        "save_problem_success",
        "save_problem_fail",
        "problem_show",
        "showanswer",
        "show_answer",
        "problem_graded",
        "edx.problem.hint.*",
        "edx.problem.completed",
    ),
    (
        *_PROBLEM_IDS,
        _keep("event.attempts", "attempt number"),
        _keep("event.grade", "points earned"),
        _keep("event.max_grade", "points possible"),
        _keep("event.success", "correct or incorrect"),
        _keep("event.new_score", "rescore: points after"),
        _keep("event.orig_score", "rescore: points before"),
        _keep("event.new_total", "rescore: total after"),
        _keep("event.orig_total", "rescore: total before"),
        _keep("event.failure", "why a check failed (closed, unreset): a code, not learner text"),
        _keep("event.correct_map.*.correctness", "per input: correct, incorrect, partially"),
        _keep("event.correct_map.*.npoints", "per input: points"),
        _keep("event.correct_map.*.hintmode", "per input: whether a hint was shown"),
        _keep("event.submission.*.correct", "per input: whether it was right"),
        _keep("event.submission.*.response_type", "per input: the problem type"),
        _keep("event.submission.*.input_type", "per input: the widget"),
        _keep("event.submission.*.variant", "per input: randomized variant (a seed)"),
        _keep("event.submission.*.question", "per input: the question text, course content"),
        _keep("event.hint_index", "hint events: which hint"),
        _keep("event.hint_len", "hint events: how many hints there are"),
        _keep("event.trigger_type", "hint events: single or compound"),
    ),
    "problem attempts, correctness and grades; answers are free text and dropped",
)

_NAVIGATION = EventRule(
    ("seq_goto", "seq_next", "seq_prev", "edx.ui.lms.*", "page_close", "edx.bookmark.*"),
    (
        _keep("event.id", "the sequence block"),
        _keep("event.old", "tab left"),
        _keep("event.new", "tab entered"),
        _keep("event.current_tab", "tab left (newer events)"),
        _keep("event.target_tab", "tab entered (newer events)"),
        _keep("event.tab_count", "tabs in the sequence"),
        _keep("event.widget_placement", "which control was used"),
        _keep("event.target_name", "the outline entry chosen: course content"),
        FieldRule("event.current_url", "url", "where the learner was, without query"),
        FieldRule("event.target_url", "url", "where they went, without query"),
        _keep("event.component_type", "bookmarked block's type"),
        _keep("event.component_usage_id", "bookmarked block"),
        _keep("event.bookmark_id", "the bookmark (learner and block, no text)"),
    ),
    "navigation through the course: sequences, outline, links",
)

_ENROLLMENT = EventRule(
    ("edx.course.enrollment.*",),
    (
        _keep("event.course_id", "the course enrolled in"),
        _keep("event.mode", "audit, verified, honor..."),
        FieldRule("event.user_id", "user_id", "the learner, as in context.user_id"),
    ),
    "enrollment, unenrollment, mode changes and upgrades",
)

_GRADES = EventRule(
    ("edx.grades.*",),
    (
        FieldRule("event.user_id", "user_id", "the learner, as in context.user_id"),
        _keep("event.course_id", "the course"),
        _keep("event.block_id", "the subsection graded"),
        _keep("event.problem_id", "the problem graded"),
        _keep("event.course_version", "the course version graded against"),
        _keep("event.percent_grade", "course grade"),
        _keep("event.letter_grade", "course letter grade"),
        _keep("event.grading_policy_hash", "which grading policy"),
        _keep("event.weighted_earned", "problem points"),
        _keep("event.weighted_possible", "problem points possible"),
        _keep("event.weighted_total_earned", "subsection points"),
        _keep("event.weighted_total_possible", "subsection points possible"),
        _keep("event.weighted_graded_earned", "subsection graded points"),
        _keep("event.weighted_graded_possible", "subsection graded points possible"),
        _keep("event.first_attempted", "when the subsection was first tried"),
        _keep("event.subtree_edited_timestamp", "content version"),
        _keep("event.event_transaction_id", "groups the events of one grading action"),
        _keep("event.event_transaction_type", "what triggered the grading"),
    ),
    "grades as they are computed",
)

_CERTIFICATES = EventRule(
    ("edx.certificate.*",),
    (
        FieldRule("event.user_id", "user_id", "the learner, as in context.user_id"),
        _keep("event.course_id", "the course"),
        _keep("event.enrollment_mode", "the mode the certificate is for"),
        _keep("event.generation_mode", "self or batch generation"),
        _keep("event.social_network", "where a certificate was shared"),
        # certificate_id and certificate_url are the verify uuid of a public page showing the
        # learner's full name (edX's RDX removes both): dropped.
    ),
    "certificates earned and shared",
)

_SETTINGS = EventRule(
    ("edx.user.settings.*",),
    (
        FieldRule("event.user_id", "user_id", "the learner, as in context.user_id"),
        _keep("event.setting", "which setting changed (name, email, year_of_birth...)"),
        _keep("event.table", "where it is stored"),
        _keep("event.truncated", "which values were cut"),
        # old and new hold the values themselves: emails, full names. Dropped.
    ),
    "that a profile setting changed, never its values",
)

_FORUMS = EventRule(
    ("edx.forum.*",),
    (
        _keep("event.id", "the thread, response or comment"),
        _keep("event.commentable_id", "the discussion topic"),
        _keep("event.category_id", "the topic category"),
        _keep("event.category_name", "the topic's name: course content"),
        _keep("event.thread_type", "discussion or question"),
        _keep("event.anonymous", "posted anonymously"),
        _keep("event.anonymous_to_peers", "posted anonymously to peers"),
        _keep("event.discussion.id", "the thread a response belongs to"),
        _keep("event.response.id", "the response a comment belongs to"),
        _keep("event.options.followed", "followed on posting"),
        _keep("event.vote_value", "up or down"),
        _keep("event.undo_vote", "a vote withdrawn"),
        _keep("event.user_forums_roles", "forum roles of the actor (Student, Moderator)"),
        _keep("event.user_course_roles", "course roles of the actor (staff, instructor)"),
        _keep("event.team_id", "the team of a team discussion"),
        _keep("event.total_results", "search: results found"),
        _keep("event.page", "search or list: page number"),
        _keep("event.truncated", "the body was cut"),
        # body, title, query, target_username, url: free text and names of others. Dropped.
    ),
    "participation in discussions, without any text",
)

_TEAMS = EventRule(
    ("edx.team.*",),
    (
        _keep("event.team_id", "the team"),
        _keep("event.topic_id", "the team's topic"),
        FieldRule("event.user_id", "user_id", "the member added or removed"),
        _keep("event.add_method", "how a member joined"),
        _keep("event.remove_method", "how a member left"),
        _keep("event.field", "which team field changed, never its values"),
        _keep("event.page_name", "which teams page"),
        _keep("event.number_of_results", "search: results found"),
        _keep("event.truncated", "which values were cut"),
        # old, new, search_text, names: free text. Dropped.
    ),
    "team formation and activity",
)

EVENT_RULES: Final[tuple[EventRule, ...]] = (
    _VIDEO,
    _PROBLEM,
    _NAVIGATION,
    _ENROLLMENT,
    _GRADES,
    _CERTIFICATES,
    _SETTINGS,
    _FORUMS,
    _TEAMS,
)

# A URL path segment right after one of these names a user (a username or a user id), as in
# /u/{username}, /api/user/v1/accounts/{username}, /discussion/forum/users/{user_id}: replaced.
USER_PATH_PARENTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "u": "public profile pages: /u/{username}",
        "user": "user APIs: /api/user/...",
        "users": "discussion user pages: /discussion/forum/users/{user_id}",
        "accounts": "account API: /api/user/v1/accounts/{username}",
        "preferences": "preferences API: /api/user/v1/preferences/{username}",
        "profile_images": "profile images: /api/profile_images/v1/{username}",
        "learner_profile": "older profile pages",
        "enrollment": "enrollment API: /api/enrollment/v1/enrollment/{username},{course_id}",
        "certificates": "certificate API: /api/certificates/v0/certificates/{username}",
        "progress": "a student's progress page seen by staff: /courses/{id}/progress/{user_id}",
        "student": "instructor pages naming a student",
    }
)


def payload_rules(event_type: str) -> tuple[FieldRule, ...]:
    """The payload fields kept for ``event_type`` (none for an unknown or implicit type).

    >>> [rule.path for rule in payload_rules("speed_change_video")][:2]
    ['event.id', 'event.code']
    >>> payload_rules("/courses/course-v1:MITx+6.002x+2012_Fall/courseware/")
    ()
    """
    found: list[FieldRule] = []
    for rule in EVENT_RULES:
        if any(_matches(pattern, event_type) for pattern in rule.patterns):
            found.extend(rule.fields)
    return tuple(found)


def _matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def all_field_rules() -> tuple[tuple[str, FieldRule], ...]:
    """Every rule as ``(pattern, rule)``; ``"*"`` for the envelope (for reviews and tests)."""
    rows = [("*", rule) for rule in ENVELOPE]
    for event_rule in EVENT_RULES:
        rows.extend(
            (pattern, rule) for pattern in event_rule.patterns for rule in event_rule.fields
        )
    return tuple(rows)
