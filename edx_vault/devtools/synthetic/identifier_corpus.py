"""A proof corpus for the de-identified tier: identifiers planted everywhere edX puts them.

:func:`identifier_corpus` returns event lines and ``.sql`` tables carrying usernames, emails,
full names, IP addresses, user agents, sessions, user ids and certificate links in every place
edX's tracking logs and tables hold them (the common fields, ``context``, settings-change
``old``/``new`` values, certificate events, forum and team payloads, query strings, URL paths,
browser ``problem_check`` query strings, answers, free-text columns, a column edX may add
later), and the list of every identifier it planted. After the transforms of
:mod:`edx_vault.engine.deidentify_events` and :mod:`edx_vault.engine.deidentify_tables` none of
them may appear in any output byte.

Each event also says which of its fields must come out unchanged (:attr:`CorpusEvent.kept`),
written here by hand rather than derived from the allowlist, so a test checks the rules against
an answer of its own.

Identifiers are spelled so that they cannot occur by chance inside a pseudonym (``u_`` and 32
hex digits) or a timestamp: usernames and names hold letters beyond ``a-f``, user ids have
eight digits. Nothing here is learner data: the names are made up, the addresses use the
reserved ``example.edu``/``example.org`` domains and the IPs the documentation ranges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

COURSE_ID: Final = "course-v1:VaultX+DEID101+2025_T1"
ORG: Final = "VaultX"
HOST: Final = "courses.edx.org"
TIME: Final = "2025-03-05T10:11:12.131415+00:00"
VIDEO_BLOCK: Final = "block-v1:VaultX+DEID101+2025_T1+type@video+block@intro"
PROBLEM_BLOCK: Final = "block-v1:VaultX+DEID101+2025_T1+type@problem+block@quiz1"


@dataclass(frozen=True)
class PlantedLearner:
    """One learner's identifiers, as edX would hold them."""

    user_id: int
    username: str
    email: str
    full_name: str
    ip: str
    session: str
    anonymous_user_id: str
    certificate_uuid: str

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every value that identifies the learner, and each part of their name."""
        return (
            str(self.user_id),
            self.username,
            self.email,
            self.full_name,
            *self.full_name.split(),
            self.ip,
            self.session,
            self.anonymous_user_id,
            self.certificate_uuid,
        )


LEARNERS: Final = (
    PlantedLearner(
        user_id=48213977,
        username="wren_okonkwo_77",
        email="wilhelmina.quartermaine@example.edu",
        full_name="Wilhelmina Quartermaine",
        ip="192.0.2.147",
        session="9b2c41d07e5f4a3c8e1d2b6f0a9c7e3d",
        anonymous_user_id="5e0f3b7a1c9d2e8f4a6b0c3d7e1f9a2b",
        certificate_uuid="c0ffee1234567890abcdef0123456789",
    ),
    PlantedLearner(
        user_id=57302648,
        username="Thaddeus.Vornholt",
        email="t.vornholt+mooc@example.org",
        full_name="Thaddeus Vornholt",
        ip="198.51.100.233",
        session="0d4e8a2f6b1c9e7a3d5f0b8c2e4a6f1d",
        anonymous_user_id="7a3c9e1f5b0d2a8c4e6f1b3d9a7c5e0f",
        certificate_uuid="badc0de0987654321fedcba987654321",
    ),
    PlantedLearner(
        user_id=63918254,
        username="zoë_ñúñez",
        email="zoe.nunez@example.edu",
        full_name="Zoë Ñúñez-Quiroga",
        ip="203.0.113.99",
        session="3f1a7c5e9b2d4f6a8c0e1b3d5f7a9c2e",
        anonymous_user_id="2b4d6f8a0c1e3a5c7e9f1b3d5a7c9e0f",
        certificate_uuid="feedface0011223344556677889900aa",
    ),
)
# Not a learner's identifier, but identifying of a device: agents are dropped whole.
AGENT: Final = "Mozilla/5.0 (X11; Linux x86_64) PlantedAgent/9.1 Quokkabrowser/3.3"
# A column edX may add to a SELECT * table some day, holding something identifying.
DRIFT_COLUMN: Final = "phone_number_added_later"
DRIFT_VALUE: Final = "+1-202-555-0147"
FREE_TEXT: Final = "Reach me at the Quokka Lodge, room 12"


@dataclass(frozen=True)
class CorpusEvent:
    """One event line, what it exercises, and the fields that must come out unchanged.

    ``kept`` maps a dotted path (``event.`` paths read inside a JSON-string payload too) to
    its value in the original event.
    """

    case: str
    line: bytes
    kept: Mapping[str, Any]


@dataclass(frozen=True)
class IdentifierCorpus:
    """The events, the tables (table name to its TSV lines, header first) and the identifiers."""

    events: tuple[CorpusEvent, ...]
    tables: Mapping[str, tuple[bytes, ...]]
    identifiers: tuple[str, ...]
    learners: tuple[PlantedLearner, ...] = LEARNERS


def _envelope(
    learner: PlantedLearner,
    event_type: str,
    event: object,
    *,
    source: str = "server",
    page: str | None = None,
    path: str = "/event",
) -> dict[str, Any]:
    """An event with every common field edX writes, identifiers in each."""
    return {
        "username": learner.username,
        "session": learner.session,
        "event_type": event_type,
        "ip": learner.ip,
        "agent": AGENT,
        "host": HOST,
        "referer": f"https://{HOST}/u/{learner.username}?email={learner.email}",
        "accept_language": "en-US,en;q=0.9",
        "event": event,
        "event_source": source,
        "context": {
            "course_id": COURSE_ID,
            "org_id": ORG,
            "user_id": learner.user_id,
            "path": path,
            "username": learner.username,
            "ip": learner.ip,
            "client": {"ip": learner.ip, "device": {"manufacturer": "Quokka", "model": AGENT}},
            "course_user_tags": {"email": learner.email},
        },
        "time": TIME,
        "page": page,
    }


_COMMON_KEPT: Final = {
    "time": TIME,
    "context.course_id": COURSE_ID,
    "context.org_id": ORG,
}


def _events() -> tuple[CorpusEvent, ...]:
    ada, other, accented = LEARNERS
    query_page = (
        f"https://{HOST}/courses/{COURSE_ID}/courseware/week1/?email="
        f"{ada.email.replace('@', '%40')}&name={ada.full_name.replace(' ', '+')}#{ada.username}"
    )
    video = {"id": VIDEO_BLOCK, "code": "html5", "currentTime": 73.2}
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            "browser_video_with_query_page",
            _envelope(ada, "play_video", json.dumps(video), source="browser", page=query_page),
            {
                "event_type": "play_video",
                "event_source": "browser",
                "event.id": VIDEO_BLOCK,
                "event.code": "html5",
                "event.currentTime": 73.2,
            },
        ),
        (
            "seek_video",
            _envelope(
                other,
                "seek_video",
                json.dumps({"id": VIDEO_BLOCK, "old_time": 10, "new_time": 95, "type": "onSlide"}),
                source="browser",
            ),
            {"event.old_time": 10, "event.new_time": 95, "event.type": "onSlide"},
        ),
        (
            "browser_problem_check_query_string",
            _envelope(
                ada,
                "problem_check",
                f"input_quiz1_2_1={ada.email.replace('@', '%40')}&input_quiz1_3_1="
                f"{ada.full_name.replace(' ', '+')}",
                source="browser",
            ),
            {"event_type": "problem_check"},
        ),
        (
            "server_problem_check_answers",
            _envelope(
                ada,
                "problem_check",
                {
                    "problem_id": PROBLEM_BLOCK,
                    "attempts": 2,
                    "grade": 1,
                    "max_grade": 2,
                    "success": "incorrect",
                    "answers": {"quiz1_2_1": f"I am {ada.full_name}, {ada.email}"},
                    "state": {"student_answers": {"quiz1_2_1": ada.username}},
                    "correct_map": {
                        "quiz1_2_1": {
                            "correctness": "incorrect",
                            "npoints": None,
                            "msg": f"{ada.full_name} is not the answer",
                        }
                    },
                    "submission": {
                        "quiz1_2_1": {
                            "answer": ada.full_name,
                            "correct": False,
                            "response_type": "stringresponse",
                            "question": "Who wrote the first program?",
                        }
                    },
                },
            ),
            {
                "event.problem_id": PROBLEM_BLOCK,
                "event.attempts": 2,
                "event.grade": 1,
                "event.success": "incorrect",
                "event.correct_map.quiz1_2_1.correctness": "incorrect",
                "event.submission.quiz1_2_1.correct": False,
                "event.submission.quiz1_2_1.response_type": "stringresponse",
            },
        ),
        (
            "settings_changed_email",
            _envelope(
                ada,
                "edx.user.settings.changed",
                {
                    "setting": "email",
                    "old": ada.email,
                    "new": other.email,
                    "user_id": ada.user_id,
                    "table": "auth_user",
                    "truncated": [],
                },
            ),
            {"event.setting": "email", "event.table": "auth_user", "event.truncated": []},
        ),
        (
            "settings_changed_name",
            _envelope(
                accented,
                "edx.user.settings.changed",
                {
                    "setting": "name",
                    "old": accented.full_name,
                    "new": ada.full_name,
                    "user_id": accented.user_id,
                    "table": "auth_userprofile",
                },
            ),
            {"event.setting": "name"},
        ),
        (
            "certificate_created",
            _envelope(
                ada,
                "edx.certificate.created",
                {
                    "user_id": ada.user_id,
                    "course_id": COURSE_ID,
                    "certificate_id": ada.certificate_uuid,
                    "certificate_url": f"https://{HOST}/certificates/{ada.certificate_uuid}",
                    "enrollment_mode": "verified",
                    "generation_mode": "batch",
                    "name": ada.full_name,
                },
            ),
            {"event.course_id": COURSE_ID, "event.enrollment_mode": "verified"},
        ),
        (
            "forum_thread_created",
            _envelope(
                other,
                "edx.forum.thread.created",
                {
                    "id": "5e8f0a1b2c3d4e5f6a7b8c9d",
                    "commentable_id": "course-intro",
                    "thread_type": "discussion",
                    "title": f"Hello from {other.full_name}",
                    "body": f"Ping @{ada.username} or mail {other.email}",
                    "anonymous": False,
                    "user_forums_roles": ["Student"],
                    "url": f"https://{HOST}/courses/{COURSE_ID}/discussion/forum/users/{other.user_id}",
                    "target_username": ada.username,
                },
            ),
            {
                "event.commentable_id": "course-intro",
                "event.thread_type": "discussion",
                "event.user_forums_roles": ["Student"],
            },
        ),
        (
            "forum_response_voted",
            _envelope(
                ada,
                "edx.forum.response.voted",
                {
                    "id": "6a7b8c9d0e1f2a3b4c5d6e7f",
                    "vote_value": "up",
                    "undo_vote": False,
                    "target_username": other.username,
                },
            ),
            {"event.vote_value": "up", "event.undo_vote": False},
        ),
        (
            "team_learner_added",
            _envelope(
                ada,
                "edx.team.learner_added",
                {
                    "team_id": "study-group-7",
                    "user_id": other.user_id,
                    "add_method": "added_by_another_user",
                    "username": other.username,
                },
            ),
            {"event.team_id": "study-group-7", "event.add_method": "added_by_another_user"},
        ),
        (
            "team_changed_and_searched",
            _envelope(
                accented,
                "edx.team.changed",
                {
                    "team_id": "study-group-7",
                    "field": "name",
                    "old": f"Team of {accented.full_name}",
                    "new": f"{accented.username} and friends",
                    "truncated": [],
                },
            ),
            {"event.field": "name"},
        ),
        (
            "team_searched",
            _envelope(
                ada,
                "edx.team.searched",
                {"search_text": other.username, "topic_id": "t1", "number_of_results": 1},
            ),
            {"event.topic_id": "t1", "event.number_of_results": 1},
        ),
        (
            "enrollment_activated",
            _envelope(
                accented,
                "edx.course.enrollment.activated",
                {"course_id": COURSE_ID, "user_id": accented.user_id, "mode": "audit"},
            ),
            {"event.course_id": COURSE_ID, "event.mode": "audit"},
        ),
        (
            "implicit_profile_page",
            _envelope(
                ada,
                f"/u/{other.username}",
                {"GET": {"email": [other.email]}, "POST": {}},
                path=f"/u/{other.username}",
            ),
            {},
        ),
        (
            "implicit_accounts_api",
            _envelope(
                ada,
                f"/api/user/v1/accounts/{ada.username}",
                {"GET": {}, "POST": {"name": [ada.full_name]}},
                path=f"/api/user/v1/accounts/{ada.username}",
            ),
            {},
        ),
        (
            "implicit_staff_progress_page",
            _envelope(
                other,
                f"/courses/{COURSE_ID}/progress/{ada.user_id}",
                {"GET": {}, "POST": {}},
                path=f"/courses/{COURSE_ID}/progress/{ada.user_id}",
            ),
            {},
        ),
        (
            "link_clicked_external",
            _envelope(
                ada,
                "edx.ui.lms.link_clicked",
                json.dumps(
                    {
                        "current_url": query_page,
                        "target_url": f"https://{ada.username}:pw@mail.example.org/{ada.email}/inbox",
                    }
                ),
                source="browser",
            ),
            {},
        ),
        (
            "unknown_event_type",
            _envelope(
                other,
                "edx.brand_new.event",
                {"learner_email": other.email, "note": FREE_TEXT},
            ),
            {"event_type": "edx.brand_new.event"},
        ),
        (
            "mobile_video",
            {
                **_envelope(
                    accented,
                    "edx.video.played",
                    {"id": VIDEO_BLOCK, "code": "mobile", "currentTime": 3},
                    source="mobile",
                ),
                "agent": f"edX/org.edx.mobile ({accented.username})",
            },
            {"event.code": "mobile", "event.currentTime": 3},
        ),
    ]
    events = []
    for case, record, kept in cases:
        ascii_only = case == "enrollment_activated"  # one line with \u escapes, as edX writes
        line = (json.dumps(record, ensure_ascii=ascii_only) + "\n").encode()
        events.append(CorpusEvent(case, line, {**_COMMON_KEPT, **kept}))
    return tuple(events)


def _tsv(value: object) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _table(columns: str, rows: list[tuple[object, ...]]) -> tuple[bytes, ...]:
    names = columns.split()
    lines = ["\t".join(names)]
    for row in rows:
        if len(row) != len(names):
            raise ValueError(f"a row of {len(row)} cells for {len(names)} columns")
        lines.append("\t".join(_tsv(cell) for cell in row))
    return tuple((line + "\n").encode() for line in lines)


def _tables() -> dict[str, tuple[bytes, ...]]:
    rows = list(enumerate(LEARNERS, start=1))
    first = LEARNERS[0]
    return {
        "auth_user": _table(
            "id username first_name last_name email password is_staff is_active is_superuser "
            f"last_login date_joined {DRIFT_COLUMN}",
            [
                (
                    learner.user_id,
                    learner.username,
                    learner.full_name.split()[0],
                    learner.full_name.split()[-1],
                    learner.email,
                    "pbkdf2_sha256$0$planted",
                    0,
                    1,
                    0,
                    "2025-03-01 09:00:00",
                    "2024-09-01 12:00:00",
                    DRIFT_VALUE,
                )
                for _, learner in rows
            ],
        ),
        "auth_userprofile": _table(
            "id user_id name language location meta courseware gender mailing_address "
            "year_of_birth level_of_education goals country bio city",
            [
                (
                    index,
                    learner.user_id,
                    learner.full_name,
                    "en",
                    "Quokka Lodge",
                    json.dumps({"email": learner.email}),
                    "course.xml",
                    "f",
                    f"{learner.full_name}\n12 Quokka Lane",
                    1990 + index,
                    "b",
                    f"I am {learner.username}\tand I learn",
                    "NZ",
                    FREE_TEXT,
                    "Quokkaville",
                )
                for index, learner in rows
            ],
        ),
        "certificates_generatedcertificate": _table(
            "id user_id download_url grade course_id key distinction status name created_date "
            "modified_date error_reason mode verify_uuid download_uuid",
            [
                (
                    index,
                    learner.user_id,
                    f"https://{HOST}/certificates/{learner.certificate_uuid}",
                    "0.91",
                    COURSE_ID,
                    learner.certificate_uuid,
                    0,
                    "downloadable",
                    learner.full_name,
                    "2025-03-04 10:00:00",
                    "2025-03-04 10:00:00",
                    None,
                    "verified",
                    learner.certificate_uuid,
                    learner.certificate_uuid,
                )
                for index, learner in rows
            ],
        ),
        "courseware_studentmodule": _table(
            "id module_type module_id student_id state grade created modified max_grade done "
            "course_id",
            [
                (
                    index,
                    "problem",
                    PROBLEM_BLOCK,
                    learner.user_id,
                    json.dumps({"student_answers": {"quiz1_2_1": learner.email}}),
                    1,
                    "2025-03-05 10:00:00",
                    "2025-03-05 10:05:00",
                    2,
                    "na",
                    COURSE_ID,
                )
                for index, learner in rows
            ],
        ),
        "student_courseenrollment": _table(
            "id user_id course_id created is_active mode",
            [
                (index, learner.user_id, COURSE_ID, "2025-01-01 00:00:00", 1, "audit")
                for index, learner in rows
            ],
        ),
        "student_anonymoususerid": _table(
            "id user_id anonymous_user_id course_id",
            [
                (index, learner.user_id, learner.anonymous_user_id, COURSE_ID)
                for index, learner in rows
            ],
        ),
        "credit_crediteligibility": _table(
            "id created modified username deadline course_id",
            [
                (index, "2025-03-01", "2025-03-01", learner.username, "2026-01-01", 7)
                for index, learner in rows
            ],
        ),
        "wiki_articlerevision": _table(
            "id revision_number user_message automatic_log ip_address modified created deleted "
            "locked article_id content title user_id",
            [
                (
                    index,
                    1,
                    f"edited by {learner.username}",
                    f"moved by {learner.email}",
                    learner.ip,
                    "2025-03-05",
                    "2025-03-05",
                    0,
                    0,
                    3,
                    f"{learner.full_name} wrote this",
                    f"Notes of {learner.full_name}",
                    learner.user_id,
                )
                for index, learner in rows
            ],
        ),
        "user_id_map": _table(
            "hash_id id username",
            [(learner.session, learner.user_id, learner.username) for _, learner in rows],
        ),
        "submissions_submission": _table(
            "id uuid attempt_number submitted_at created_at raw_answer student_item_id status",
            [(1, first.session, 1, "2025-03-05", "2025-03-05", FREE_TEXT, 1, "A")],
        ),
    }


def identifier_corpus() -> IdentifierCorpus:
    """The corpus: events, tables and every identifier planted in them."""
    identifiers = {identifier for learner in LEARNERS for identifier in learner.identifiers} | {
        AGENT,
        "PlantedAgent",
        "Quokkabrowser",
        DRIFT_VALUE,
        FREE_TEXT,
        "Quokka",
    }
    return IdentifierCorpus(
        events=_events(),
        tables=_tables(),
        identifiers=tuple(sorted(identifiers)),
    )
