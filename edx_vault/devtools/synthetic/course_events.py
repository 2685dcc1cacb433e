"""Event-log lines for testing and benchmarking the split by course (:mod:`edx_vault.engine.course_split`).

:func:`every_kind_corpus` holds one line of each kind the rules of
:mod:`edx_vault.package.course_ids` tell apart; :func:`skewed_org_day` is an org's day as the
split meets it at scale: one course with most of the events and a long tail of small ones,
templated so that millions of lines generate in seconds.

Every line comes with the course partition it belongs to. The partitions are spelled out here
by hand, not computed with :mod:`~edx_vault.package.course_ids`, so a test checks the rules
against an answer of its own. Lines are bytes ending ``\\n``, except where a case says otherwise.
Names, addresses and payloads are made up: never learner data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

from edx_vault.package.bucket_layout import NO_COURSE, UNPARSED

ORG: Final = "MITx"
HOST: Final = "courses.edx.org"


class CorpusLine(NamedTuple):
    """One generated line, the partition the rules file it under, and what it exercises."""

    line: bytes
    partition: str
    case: str


# (course id, its partition), in each spelling edX uses, and a non-ASCII one.
NEW_STYLE: Final = ("course-v1:MITx+6.002x+2012_Fall", "MITx-6.002x-2012_Fall")
OLD_STYLE: Final = ("HarvardX/CS50/2012", "HarvardX-CS50-2012")
CCX: Final = ("ccx-v1:MITx+6.002x+2012_Fall+ccx@7", "MITx-6.002x-2012_Fall-ccx-7")
NON_ASCII: Final = ("course-v1:ÉcoleX+Mécanique_101+2024_T1", "_coleX-M_canique_101-2024_T1")
OTHER: Final = ("course-v1:HarvardX+PH125.1x+1T2024", "HarvardX-PH125.1x-1T2024")
# The course-v1 spelling with a CCX suffix, which is no course id (the suffix needs ccx-v1).
MISMATCHED_CCX: Final = "course-v1:MITx+6.002x+2012_Fall+ccx@7"


def _event(
    *,
    course_id: str = "",
    event_type: str = "problem_check",
    page: str | None = None,
    event: object = None,
    username: str = "ada_1",
    source: str = "server",
) -> dict[str, Any]:
    """A tracking-log event with the fields edX writes, in edX's order."""
    return {
        "username": username,
        "event_type": event_type,
        "ip": "203.0.113.7",
        "agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        "host": HOST,
        "referer": f"https://{HOST}/dashboard",
        "accept_language": "en-US,en;q=0.9",
        "event": {"GET": {}, "POST": {}} if event is None else event,
        "event_source": source,
        "context": {"course_id": course_id, "org_id": "", "user_id": 1017, "path": "/event"},
        "time": "2025-03-05T10:11:12.131415+00:00",
        "page": page,
    }


def _line(record: object, *, ascii_only: bool = False) -> bytes:
    return (json.dumps(record, ensure_ascii=ascii_only) + "\n").encode()


def every_kind_corpus(*, long_line_bytes: int = 1_100_000) -> tuple[CorpusLine, ...]:
    """One line of each kind the course rules cover, each with its partition.

    Parameters
    ----------
    long_line_bytes
        About the length of the one long line (valid JSON): over 1 MB by default.

    Returns
    -------
    tuple[CorpusLine, ...]
        Every line ends ``\\n`` but the last, an event cut short (``truncated_last_line``).
    """
    new_id, new = NEW_STYLE
    old_id, old = OLD_STYLE
    ccx_id, ccx = CCX
    non_ascii_id, non_ascii = NON_ASCII
    other_id, other = OTHER
    browser_payload = json.dumps({"id": "block-v1:MITx+6.002x+2012_Fall+type@video+block@v1"})
    events: list[tuple[str, str, dict[str, Any]]] = [
        ("context_new_style", new, _event(course_id=new_id)),
        ("context_old_style", old, _event(course_id=old_id)),
        ("context_ccx", ccx, _event(course_id=ccx_id)),
        ("context_non_ascii", non_ascii, _event(course_id=non_ascii_id, username="zoë_ñ")),
        (
            "implicit_new_style",
            new,
            _event(event_type=f"/courses/{new_id}/courseware/week_1/lecture_2/"),
        ),
        ("implicit_old_style", old, _event(event_type=f"/courses/{old_id}/courseware/Week_1/")),
        ("implicit_ccx", ccx, _event(event_type=f"/courses/{ccx_id}/courseware/")),
        (
            "page_new_style_with_query",
            new,
            _event(
                event_type="page_close",
                source="browser",
                event=browser_payload,
                page=f"https://{HOST}/courses/{new_id}/courseware/?activate_block_id="
                "block-v1%3AMITx%2B6.002x%2B2012_Fall%2Btype%40vertical&child=first#top",
            ),
        ),
        (
            "page_old_style",
            old,
            _event(event_type="seq_goto", page=f"https://{HOST}/courses/{old_id}/info?utm=x"),
        ),
        (
            "event_object_course_id",
            other,
            _event(event_type="edx.course.enrollment.activated", event={"course_id": other_id}),
        ),
        (
            "event_string_course_id",
            other,
            _event(
                event_type="edx.ui.lms.outline.selected",
                source="browser",
                event=json.dumps({"course_id": other_id, "target_name": "Week 1"}),
            ),
        ),
        ("no_course_dashboard", NO_COURSE, _event(event_type="/dashboard")),
        ("no_course_login", NO_COURSE, _event(event_type="edx.user.login", event={})),
        (
            "garbage_context_falls_through",
            other,
            _event(course_id="not a course", event_type=f"/courses/{other_id}/about"),
        ),
        (
            "mismatched_ccx_context_falls_through",
            old,
            _event(course_id=MISMATCHED_CCX, page=f"https://{HOST}/courses/{old_id}/"),
        ),
        (
            "long_line",
            new,
            _event(course_id=new_id, event={"answers": {"input_1": "x" * long_line_bytes}}),
        ),
    ]
    corpus = [CorpusLine(_line(record), partition, case) for case, partition, record in events]
    corpus.append(
        CorpusLine(
            _line(_event(course_id=non_ascii_id, username="josé"), ascii_only=True),
            non_ascii,
            "non_ascii_escaped",
        )
    )
    cut_event = _line(_event(course_id=new_id))
    unparsed_lines = {
        "invalid_json": cut_event[:40] + b"\n",
        "invalid_utf8": b'{"username": "zo\xeb", "event_type": "\xff\xfe"}\n',
        "empty_line": b"\n",
        "json_array": f'["{new_id}"]\n'.encode(),
        "json_string": b'"course-v1:MITx+6.002x+2012_Fall"\n',
        "json_number": b"42\n",
        "json_null": b"null\n",
    }
    corpus.extend(CorpusLine(line, UNPARSED, case) for case, line in unparsed_lines.items())
    corpus.append(CorpusLine(cut_event[:-30], UNPARSED, "truncated_last_line"))
    return tuple(corpus)


# --- a skewed org-day ------------------------------------------------------------------

_NO_COURSE_SHARE: Final = 0.08
# Distinct event templates per course: the big course and the no-course events get more, so the
# day does not compress much better than a real one; a tail course's few lines need few.
_TEMPLATES_HEAD: Final = 48
_TEMPLATES_TAIL: Final = 8
_USERNAMES: Final = ("ada", "zoë", "josé", "ngozi", "wei", "émile", "priya", "oğuz", "saanvi", "li")
_BROWSER_EVENTS: Final = ("play_video", "pause_video", "seq_goto", "page_close", "problem_show")
_SERVER_EVENTS: Final = ("problem_check", "showanswer", "edx.forum.thread.created")
_NO_COURSE_EVENTS: Final = ("/dashboard", "edx.user.login", "/account/settings", "/login_ajax")
_MICROSECONDS_PER_DAY: Final = 86_400 * 1_000_000
# The holes of a template, in the order json.dumps writes them (the record's key order).
_FIELDS: Final = ("user", "session", "uid", "time")


def skewed_course(index: int) -> tuple[str, str]:
    """The course id and partition of the skewed day's ``index``-th course.

    Most are course-v1; every tenth is spelled the old way and every 25th is a CCX.
    """
    if index % 25 == 24:
        return (
            f"ccx-v1:{ORG}+C{index:04d}x+2025_T1+ccx@{index}",
            f"{ORG}-C{index:04d}x-2025_T1-ccx-{index}",
        )
    if index % 10 == 9:
        return f"{ORG}/C{index:04d}x/2013_Spring", f"{ORG}-C{index:04d}x-2013_Spring"
    return f"course-v1:{ORG}+C{index:04d}x+2025_T1", f"{ORG}-C{index:04d}x-2025_T1"


def skewed_weights(courses: int, head_share: float) -> list[float]:
    """Each course's share of the day's lines: ``head_share`` for the first, and what the
    no-course events leave spread over the others as 1/rank (a long tail)."""
    in_courses = 1 - _NO_COURSE_SHARE
    if not 0 < head_share <= in_courses:
        raise ValueError(f"the big course's share must be in (0, {in_courses}]")
    if courses == 1:
        return [in_courses]
    tail = [1 / rank for rank in range(1, courses)]
    scale = (in_courses - head_share) / sum(tail)
    return [head_share, *(weight * scale for weight in tail)]


def _template(draw: random.Random, course_id: str) -> bytes:
    """One event line with a ``%s`` hole for each value that changes per line (_FIELDS)."""
    roll = draw.random()
    page: str | None = None
    event: object
    context_course = course_id
    if not course_id:
        event_type, event = draw.choice(_NO_COURSE_EVENTS), {}
        source = "server"
    elif roll < 0.55:
        source, event_type = "browser", draw.choice(_BROWSER_EVENTS)
        # Browser events carry their payload as a JSON string, not an object.
        event = json.dumps({"id": f"block-{draw.randrange(10**6)}", "code": "html5"})
        page = f"https://{HOST}/courses/{course_id}/courseware/ch{draw.randrange(12)}/?activate=1"
    elif roll < 0.9:
        source, event_type = "server", draw.choice(_SERVER_EVENTS)
        key = course_id.split(":", 1)[-1].split("+ccx@")[0]
        problem = draw.randrange(50)
        event = {
            # Old-style courses name their blocks i4x://org/course/category/name.
            "problem_id": f"i4x://{key.rsplit('/', 1)[0]}/problem/p{problem}"
            if "/" in key
            else f"block-v1:{key}+type@problem+block@p{problem}",
            "attempts": draw.randrange(1, 4),
            "answers": {"input_1": draw.choice(("42", "naïve café", "a\tb", "x" * 90))},
            "success": draw.choice(("correct", "incorrect")),
        }
    else:
        # Implicit events are named after the URL they served; some leave context empty.
        source, event = "server", {"GET": {"page": [str(draw.randrange(9))]}, "POST": {}}
        event_type = f"/courses/{course_id}/courseware/ch{draw.randrange(12)}/"
        context_course = course_id if draw.random() < 0.5 else ""
    record = {
        "username": "@@user@@",
        "session": "@@session@@",
        "event_type": event_type,
        "ip": f"198.51.100.{draw.randrange(1, 255)}",
        "agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Safari/605.1",
        "host": HOST,
        "referer": page or f"https://{HOST}/dashboard",
        "accept_language": "en-US,en;q=0.9",
        "event": event,
        "event_source": source,
        "context": {"course_id": context_course, "org_id": ORG, "user_id": "@@uid@@"},
        "time": "@@time@@",
        "page": page,
    }
    text = json.dumps(record, ensure_ascii=False).replace("%", "%%")
    for field in _FIELDS:
        text = text.replace(f'"@@{field}@@"', "%s")
    return text.encode() + b"\n"


def skewed_org_day(
    courses: int,
    lines: int,
    seed: int | str = 0,
    *,
    head_share: float = 0.62,
    day: dt.date = dt.date(2025, 3, 5),
) -> Iterator[CorpusLine]:
    """An org's day of events: one course with ``head_share`` of them and a long tail.

    Parameters
    ----------
    courses
        Courses of the day (see :func:`skewed_course` for their ids).
    lines
        Lines to generate, in time order over the day. About 8% name no course.
    seed
        The same seed gives the same lines.
    head_share
        The first course's share of all lines (the no-course events take 8%).
    day
        The date in the events' ``time``.
    """
    if courses < 1 or lines < 0:
        raise ValueError("a day needs at least one course and no negative number of lines")
    # Seeded on purpose: synthetic values must repeat, and nothing here is a secret.
    draw = random.Random(f"skewed/{seed}")  # noqa: S311
    spelled = [skewed_course(index) for index in range(courses)]
    partitions = [partition for _, partition in spelled] + [NO_COURSE]
    weights = [*skewed_weights(courses, head_share), _NO_COURSE_SHARE]
    cumulative = list(itertools.accumulate(weights))
    course_ids = [course_id for course_id, _ in spelled] + [""]
    pools: list[list[bytes]] = [[] for _ in partitions]
    pool_sizes = [_TEMPLATES_HEAD, *[_TEMPLATES_TAIL] * (courses - 1), _TEMPLATES_HEAD]
    # (username, user id, session) of each learner, JSON-encoded; a learner keeps one session.
    learners = [
        (
            json.dumps(f"{name}_{number}", ensure_ascii=False).encode(),
            b"%d" % (1000 + number),
            b'"%032x"' % draw.getrandbits(128),
        )
        for number, name in enumerate(_USERNAMES * 500)
    ]
    mean_gap = max(2, _MICROSECONDS_PER_DAY // max(lines, 1))
    date_text = day.isoformat().encode()
    clock, second_shown, second_text = 0, -1, b""
    random_fraction = draw.random
    # Choosing courses in batches, and formatting the time only when its second changes, is
    # what keeps millions of lines at a few seconds.
    for start in range(0, lines, 65_536):
        batch = min(65_536, lines - start)
        for index in draw.choices(range(len(partitions)), cum_weights=cumulative, k=batch):
            pool, size = pools[index], pool_sizes[index]
            if len(pool) < size:
                pool.append(_template(draw, course_ids[index]))
                template = pool[-1]
            else:
                template = pool[int(random_fraction() * size)]
            clock = min(
                _MICROSECONDS_PER_DAY - 1, clock + 1 + int(random_fraction() * 2 * mean_gap)
            )
            seconds, micros = divmod(clock, 1_000_000)
            if seconds != second_shown:
                minutes, second = divmod(seconds, 60)
                second_text = b'"%sT%02d:%02d:%02d.' % (date_text, *divmod(minutes, 60), second)
                second_shown = seconds
            user, user_id, session = learners[int(random_fraction() * len(learners))]
            time_text = b'%s%06d+00:00"' % (second_text, micros)
            yield CorpusLine(
                template % (user, session, user_id, time_text), partitions[index], "skewed"
            )
