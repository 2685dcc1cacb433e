"""De-identifying event lines: the envelope, the payload rules, URLs, and odd input.

The proof over the whole identifier corpus is test_deidentify_corpus.py; here each rule's
behaviour on one line, and the lines that must be dropped rather than passed through.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from edx_vault.devtools.synthetic.course_events import every_kind_corpus, skewed_org_day
from edx_vault.engine.deidentify_events import EventDeidentifier, transform_pieces
from edx_vault.engine.pseudonyms import Pseudonymizer
from edx_vault.package.deidentified_fields import EMAIL_TOKEN, ENVELOPE, REDACTED_SEGMENT

KEY = b"k" * 32
PSEUDONYMS = Pseudonymizer(KEY)


def _line(**fields: Any) -> bytes:
    return (json.dumps(fields) + "\n").encode()


def _run(line: bytes) -> dict[str, Any]:
    out = EventDeidentifier(PSEUDONYMS)(line)
    assert out is not None and out.endswith(b"\n")
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def _paths(record: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for key, value in record.items():
        if isinstance(value, dict):
            paths |= _paths(value, f"{prefix}{key}.")
        else:
            paths.add(f"{prefix}{key}")
    return paths


def test_unknown_event_type_keeps_only_the_envelope() -> None:
    # Given an event type no rule knows, with a payload and every common field
    line = _line(
        username="ada",
        event_type="edx.never.seen",
        ip="192.0.2.1",
        agent="Mozilla",
        host="courses.edx.org",
        referer="https://courses.edx.org/x",
        accept_language="en",
        event={"anything": "at all", "nested": {"deep": 1}},
        context={"course_id": "c", "user_id": 7, "client": {"ip": "192.0.2.1"}, "extra": 1},
        time="2025-03-05T00:00:00+00:00",
    )
    # When it is de-identified
    record = EventDeidentifier(PSEUDONYMS)
    out = json.loads(record(line) or b"")
    # Then every field left is an envelope field, and the payload is gone
    assert _paths(out) <= {rule.path for rule in ENVELOPE}
    assert _paths(out) == {"username", "event_type", "context.course_id", "context.user_id", "time"}
    assert record.counts.unknown_types == 1


def test_identifiers_become_pseudonyms_of_their_kind() -> None:
    # Given an event with a username, a session and an integer user id
    out = _run(_line(username="Ada_1", session="abc", context={"user_id": 1017}, event_type="x"))
    # Then each is its pseudonym, in its own space, and the username ignores case
    assert out["username"] == PSEUDONYMS.username("ada_1")
    assert out["session"] == PSEUDONYMS.pseudonym("session", "abc")
    assert out["context"]["user_id"] == PSEUDONYMS.user_id("1017")
    # And an anonymous event (empty username) stays visibly anonymous
    assert _run(_line(username="", event_type="x"))["username"] == ""


def test_urls_lose_query_fragment_credentials_and_user_segments() -> None:
    # Given URLs with an email in the query, a user page, the learner's own name in a path
    line = _line(
        username="ada_lovelace",
        event_type="edx.ui.lms.link_clicked",
        page="https://courses.edx.org/courses/course-v1:X+Y+Z/about?e=a%40example.edu#frag",
        context={"path": "/api/user/v1/accounts/ada_lovelace/image"},
        event=json.dumps(
            {
                "current_url": "https://ADA_LOVELACE:pw@example.org/notes/Ada_Lovelace/x",
                "target_url": "https://example.org/share/ada.l%40example.edu",
            }
        ),
    )
    out = _run(line)
    payload = json.loads(out["event"])
    # Then queries, fragments and credentials are gone, and user segments replaced
    assert out["page"] == "https://courses.edx.org/courses/course-v1:X+Y+Z/about"
    assert out["context"]["path"] == f"/api/user/v1/accounts/{REDACTED_SEGMENT}/image"
    pseudonym = PSEUDONYMS.username("ada_lovelace")
    assert payload["current_url"] == f"https://example.org/notes/{pseudonym}/x"
    assert payload["target_url"] == f"https://example.org/share/{REDACTED_SEGMENT}"


def test_implicit_event_type_paths_lose_user_ids_and_the_get_post_payload() -> None:
    # Given an implicit event: named after a URL naming another learner's id, with GET/POST
    out = _run(
        _line(
            event_type="/courses/course-v1:X+Y+Z/discussion/forum/users/1017",
            event={"GET": {"email": ["a@example.edu"]}, "POST": {}},
        )
    )
    # Then the id segment is replaced and nothing of the payload is left
    assert (
        out["event_type"] == f"/courses/course-v1:X+Y+Z/discussion/forum/users/{REDACTED_SEGMENT}"
    )
    assert "event" not in out


def test_kept_strings_lose_emails_and_the_events_usernames() -> None:
    # Given kept strings that happen to hold an email and the learner's username
    out = _run(
        _line(
            username="ngozi_9",
            event_type="edx.ui.lms.outline.selected",
            event={"target_name": "Notes by NGOZI_9 for x@example.org", "widget_placement": "1"},
        )
    )
    # Then the email is a token and the username its pseudonym; the rest is as it was
    assert out["event"]["target_name"] == (
        f"Notes by {PSEUDONYMS.username('ngozi_9')} for {EMAIL_TOKEN}"
    )
    assert out["event"]["widget_placement"] == "1"


def test_objects_under_a_kept_leaf_and_wrong_types_are_dropped() -> None:
    # Given a kept leaf holding an object, a list of objects, and a pseudonymized boolean
    out = _run(
        _line(
            event_type="play_video",
            event={"id": {"smuggled": "x@example.org"}, "code": [{"a": 1}], "currentTime": 5},
            context={"user_id": True},
        )
    )
    # Then only the scalar survives
    assert out["event"] == {"currentTime": 5}
    assert "user_id" not in out.get("context", {})


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b'{"username": "zo\xeb"}\n',
        b"[1, 2]\n",
        b'"a string"\n',
        b"\n",
        b'{"username": "ada", "event_type": "x"',
        b"[" * 100_000 + b"]" * 100_000 + b"\n",
    ],
    ids=["text", "not-utf8", "array", "string", "empty", "truncated", "deep"],
)
def test_odd_lines_are_dropped_and_counted_never_passed(line: bytes) -> None:
    # Given a line that is not a UTF-8 JSON object
    transform = EventDeidentifier(PSEUDONYMS)
    # Then it is dropped, counted, and nothing is raised
    assert transform(line) is None
    assert (transform.counts.lines, transform.counts.dropped, transform.counts.written) == (1, 1, 0)


def test_an_unencodable_kept_value_drops_the_line() -> None:
    # Given a lone surrogate in a kept field (valid JSON, not encodable as UTF-8)
    transform = EventDeidentifier(PSEUDONYMS)
    # Then the line is dropped rather than raising
    assert transform(b'{"event_type": "x", "time": "\\ud800"}\n') is None
    assert transform.counts.by_reason == {"unexpected-shape": 1}


def test_split_pieces_drop_long_lines_whole() -> None:
    # Given the split's pieces: a line, a line in two pieces, a line
    ok = _line(event_type="x", username="a")
    pieces = [
        (ok, True),
        (b'{"event_type": "x", "ip": "192.0.2', False),
        (b'.1"}\n', True),
        (ok, True),
    ]
    transform = EventDeidentifier(PSEUDONYMS)
    # When transformed
    out = list(transform_pieces(pieces, transform))
    # Then the long line is dropped whole, and counted
    assert len(out) == 2
    assert (transform.counts.lines, transform.counts.dropped) == (3, 1)
    assert transform.counts.by_reason == {"too-long": 1}


def test_generated_logs_are_de_identified_without_losing_lines() -> None:
    # Given the split's corpus of every kind of line and a generated org-day
    corpus = every_kind_corpus(long_line_bytes=1000)
    day = list(skewed_org_day(courses=5, lines=2000, seed=1))
    transform = EventDeidentifier(PSEUDONYMS)
    # When every line is de-identified
    written = [transform(entry.line) for entry in (*corpus, *day)]
    # Then only the lines that are not events are dropped, and no ip or agent survives
    not_events = sum(entry.partition == "_unparsed" for entry in corpus)
    assert transform.counts.dropped == not_events
    assert transform.counts.written == len(corpus) + len(day) - not_events
    text = b"".join(line for line in written if line is not None)
    assert b'"ip"' not in text and b'"agent"' not in text and b"198.51.100." not in text
