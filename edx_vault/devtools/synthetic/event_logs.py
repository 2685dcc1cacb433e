"""Event logs: gzip'd JSON lines of tracking-log events, one file per org, site and day, streamed.

:func:`event_log` yields the ``.log.gz`` bytes until they reach the spec's
``event_log_bytes``, from one event to gigabytes, in flat memory: beyond a pool of distinct
events, lines reuse a random earlier event with a new time.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import zlib
from collections.abc import Iterator, Sequence
from typing import Final

from edx_vault.devtools.synthetic.people import AWKWARD_TEXTS, Learner, learners, rng
from edx_vault.devtools.synthetic.spec import PackageSpec, SyntheticCourse, SyntheticOrg
from edx_vault.settings.types import Site

_AGENTS: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 Version/17.2 Safari/605.1.15",
    "edX/org.edx.mobile (2.26.1; OS Version 14 (Build UQ1A.240105.004))",
    "python-requests/2.31.0",
)
_BROWSER_EVENTS: Final = ("play_video", "pause_video", "seq_goto", "page_close", "problem_show")
_SERVER_EVENTS: Final = (
    "problem_check",
    "edx.course.enrollment.activated",
    "showanswer",
    "edx.forum.thread.created",
)
# Distinct events per file; beyond this, lines reuse a random earlier event with a new time, so
# gigabyte files stream at zlib's speed rather than at json.dumps's.
_EVENT_POOL_SIZE: Final = 4096
_TIME_PLACEHOLDER: Final = "@@time@@"
_MICROSECONDS_PER_DAY: Final = 86_400 * 1_000_000
# About what one event costs once gzip'd: used only to spread a file's events over its day.
_GZIPPED_BYTES_PER_EVENT: Final = 25


def event_log(spec: PackageSpec, org: SyntheticOrg, site: Site, day: dt.date) -> Iterator[bytes]:
    """The ``.log.gz`` bytes of one org's events on one site and day, about the spec's size."""
    return _gzip_to_target(
        _event_lines(spec, org, site, day), spec.event_log_bytes, spec.event_gzip_level
    )


def _event_template(
    draw: random.Random, people: Sequence[Learner], courses: Sequence[SyntheticCourse], host: str
) -> tuple[bytes, bytes]:
    """One tracking-log event, split around its ``time`` value."""
    learner = draw.choice(people)
    course = draw.choice(courses)
    # Some events happen outside any course (the dashboard): course_id is then empty.
    in_course = draw.random() > 0.1
    course_id = course.course_id if in_course else ""
    course_key = course.course_id.split(":", 1)[1]
    roll = draw.random()
    event: object
    if roll < 0.55:
        source = "browser"
        event_type = draw.choice(_BROWSER_EVENTS)
        # Browser events carry their payload as a JSON string, not an object.
        event = json.dumps({"id": f"block-{draw.randrange(10**6)}", "code": "html5"})
        page: str | None = f"https://{host}/courses/{course_id}/courseware/"
    elif roll < 0.9:
        source = "server"
        event_type = draw.choice(_SERVER_EVENTS)
        event = {
            "problem_id": f"block-v1:{course_key}+type@problem+block@p{draw.randrange(50)}",
            "attempts": draw.randrange(1, 4),
            "answers": {"input_1": draw.choice(AWKWARD_TEXTS)},
            "success": draw.choice(("correct", "incorrect")),
        }
        page = None
    else:
        source = "server"
        # Implicit events are named after the URL they served.
        event_type = f"/courses/{course_id}/courseware/" if in_course else "/dashboard"
        event = {"GET": {}, "POST": {}}
        page = None
    record: dict[str, object] = {
        "username": learner.username if draw.random() > 0.05 else "",
        "event_type": event_type,
        "ip": f"203.0.113.{draw.randrange(1, 255)}",
        "agent": draw.choice(_AGENTS),
        "host": host,
        "referer": f"https://{host}/dashboard",
        "accept_language": "en-US,en;q=0.9",
        "event": event,
        "event_source": source,
        "context": {
            "course_id": course_id,
            "org_id": course.org if in_course else "",
            "user_id": learner.user_id,
            "path": event_type if event_type.startswith("/") else "/event",
        },
        "time": _TIME_PLACEHOLDER,
        "page": page,
    }
    before, after = (json.dumps(record) + "\n").split(_TIME_PLACEHOLDER)
    return before.encode(), after.encode()


def _event_lines(spec: PackageSpec, org: SyntheticOrg, site: Site, day: dt.date) -> Iterator[bytes]:
    """Endless tracking-log lines for one org, site and day, in time order within the day."""
    draw_from = rng(spec, "events", org.org_id, site, day)
    people = learners(spec, org)
    courses = [course for course in org.courses if course.site == site]
    host = "courses.edx.org" if site == "edx" else "edge.edx.org"
    expected_events = max(1, spec.event_log_bytes // _GZIPPED_BYTES_PER_EVENT)
    mean_gap = max(2, _MICROSECONDS_PER_DAY // expected_events)
    date_text = day.isoformat().encode()
    pool: list[tuple[bytes, bytes]] = []
    clock = 0
    # random() rather than randrange(): this loop runs millions of times for large files.
    draw = draw_from.random
    while True:
        clock = min(_MICROSECONDS_PER_DAY - 1, clock + 1 + int(draw() * 2 * mean_gap))
        if len(pool) < _EVENT_POOL_SIZE:
            pool.append(_event_template(draw_from, people, courses, host))
            before, after = pool[-1]
        else:
            before, after = pool[int(draw() * _EVENT_POOL_SIZE)]
        seconds, micros = divmod(clock, 1_000_000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        stamp = b"%sT%02d:%02d:%02d.%06d+00:00" % (date_text, hour, minute, second, micros)
        yield before + stamp + after


def _gzip_to_target(lines: Iterator[bytes], target: int, level: int) -> Iterator[bytes]:
    """Gzip lines until the compressed stream reaches about ``target`` bytes (at least one line).

    The gzip header carries no name and a zero mtime, so the bytes depend on the lines only.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    emitted = 0
    # Below a few MB, zlib's internal buffer is a large share of the output: measure it by
    # flushing a copy. Above that, the bytes already emitted are a close enough measure.
    measure_buffered = target < 8 * 1024 * 1024
    batch = 1 if target < 64 * 1024 else 256
    while True:
        out = compressor.compress(b"".join([next(lines) for _ in range(batch)]))
        if out:
            emitted += len(out)
            yield out
        reached = emitted + (len(compressor.copy().flush()) if measure_buffered else 0)
        if reached >= target:
            break
    yield compressor.flush()
