"""Which course an event belongs to: each spelling of a course id, the order of the rules, and
the lines that name no course or are no event at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest

from edx_vault.devtools.synthetic.course_events import (
    CorpusLine,
    every_kind_corpus,
    skewed_org_day,
)
from edx_vault.package.bucket_layout import NO_COURSE, UNPARSED
from edx_vault.package.course_ids import (
    MAX_ENTITY_LENGTH,
    course_entity,
    course_in_text,
    course_of_line,
)
from edx_vault.package.output_keys import course_event_log_output_key

DAY = dt.date(2025, 3, 5)
NEW = "course-v1:MITx+6.002x+2012_Fall"
OLD = "MITx/6.002x/2012_Fall"
CCX = "ccx-v1:MITx+6.002x+2012_Fall+ccx@7"
COURSE = "MITx-6.002x-2012_Fall"
CCX_COURSE = "MITx-6.002x-2012_Fall-ccx-7"
# Courses of other orgs, for the rules' order: each rule names a different one.
IN_CONTEXT = ("course-v1:AaX+A1+2024", "AaX-A1-2024")
IN_EVENT_TYPE = ("course-v1:BbX+B2+2024", "BbX-B2-2024")
IN_PAGE = ("course-v1:CcX+C3+2024", "CcX-C3-2024")
IN_PAYLOAD = ("course-v1:DdX+D4+2024", "DdX-D4-2024")


@pytest.mark.parametrize(
    ("course_id", "entity"),
    [
        (NEW, COURSE),
        (OLD, COURSE),
        (CCX, CCX_COURSE),
        ("course-v1:MITx+6.00.1x~a-b+2T2024", "MITx-6.00.1x~a-b-2T2024"),
        ("course-v1:ÉcoleX+Mécanique+2024", "_coleX-M_canique-2024"),
        ("ÉcoleX/Mécanique/2024", "_coleX-M_canique-2024"),
        # A CCX suffix belongs to ccx-v1 keys only, and a ccx-v1 key needs one.
        ("course-v1:MITx+6.002x+2012_Fall+ccx@7", None),
        ("ccx-v1:MITx+6.002x+2012_Fall", None),
        ("ccx-v1:MITx+6.002x+2012_Fall+ccx@x", None),
        ("course-v1:MITx+6.002x", None),
        ("course-v1:MITx+6.002x+2012 Fall", None),
        ("MITx/6.002x", None),
        ("MITx/6.002x/2012_Fall/extra", None),
        ("block-v1:MITx+6.002x+2012_Fall+type@problem+block@p1", None),
        ("not a course", None),
        ("", None),
    ],
)
def test_course_entity_spells_each_course_id_as_the_exports_file_names_do(
    course_id: str, entity: str | None
) -> None:
    # Given a course id in one of edX's spellings, or something that is not one
    # When its entity is asked for, then it is the export's spelling, or None for no course
    assert course_entity(course_id) == entity


def test_an_over_long_entity_is_cut_and_given_the_md5_of_the_whole() -> None:
    # Given two course ids whose entities pass the length bound and differ only at the end
    run = "R" * MAX_ENTITY_LENGTH
    first, second = f"{run}-1", f"{run}-2"
    # When their entities are spelled
    entities = [course_entity(f"course-v1:MITx+Long+{tail}") for tail in (first, second)]
    # Then each is exactly the bound long, starts as the whole, and ends with the whole's md5,
    # so the two stay apart
    for entity, tail in zip(entities, (first, second), strict=True):
        whole = f"MITx-Long-{tail}"
        assert entity is not None
        assert len(entity) == MAX_ENTITY_LENGTH
        digest = hashlib.md5(whole.encode(), usedforsecurity=False).hexdigest()
        assert entity == f"{whole[: MAX_ENTITY_LENGTH - len(digest) - 1]}-{digest}"
    assert entities[0] != entities[1]
    # And an entity of exactly the bound is kept as it is
    exact = "R" * (MAX_ENTITY_LENGTH - len("MITx-Long-"))
    assert course_entity(f"course-v1:MITx+Long+{exact}") == f"MITx-Long-{exact}"


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        (f"/courses/{NEW}/courseware/week_1/", COURSE),
        (f"/courses/{OLD}/courseware/week_1/", COURSE),
        (f"/courses/{OLD}", COURSE),
        (f"https://courses.edx.org/courses/{OLD}?next=1", COURSE),
        (f"/courses/{CCX}/progress", CCX_COURSE),
        # A mismatched CCX is skipped, and the next course id in the text counts.
        (f"/courses/course-v1:MITx+X+1+ccx@7/jump?to=/courses/{NEW}/", COURSE),
        (f"https://x.org/login?next=/courses/{NEW}/courseware", COURSE),
        ("/courses/MITx/6.002x/", None),
        ("/dashboard", None),
        ("problem_check", None),
    ],
)
def test_course_in_text_finds_the_first_course_id_of_a_url_or_event_type(
    text: str, entity: str | None
) -> None:
    assert course_in_text(text) == entity


def _event(**fields: Any) -> bytes:
    """A tracking-log line with an empty context, the given fields set or replaced."""
    record: dict[str, Any] = {
        "username": "ada_1",
        "event_type": "problem_check",
        "event": {},
        "context": {"course_id": "", "user_id": 5},
        "page": None,
    }
    record.update(fields)
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()


def _context(course_id: object) -> dict[str, object]:
    return {"course_id": course_id, "user_id": 5}


@pytest.mark.parametrize(
    ("line", "partition"),
    [
        pytest.param(_event(context=_context(NEW)), COURSE, id="context-new-style"),
        pytest.param(_event(context=_context(OLD)), COURSE, id="context-old-style"),
        pytest.param(_event(context=_context(CCX)), CCX_COURSE, id="context-ccx"),
        pytest.param(
            _event(context=_context("course-v1:ÉcoleX+Ñ1+2024"), username="zoë"),
            "_coleX-_1-2024",
            id="context-non-ascii",
        ),
        pytest.param(_event(event_type=f"/courses/{NEW}/info"), COURSE, id="event-type-new"),
        pytest.param(_event(event_type=f"/courses/{OLD}/info"), COURSE, id="event-type-old"),
        pytest.param(_event(page=f"https://h/courses/{CCX}/x?a=b#c"), CCX_COURSE, id="page"),
        pytest.param(_event(event={"course_id": OLD}), COURSE, id="payload-object"),
        pytest.param(
            _event(event=json.dumps({"course_id": NEW})), COURSE, id="payload-json-string"
        ),
        # Each rule is asked only when the ones before it name no course.
        pytest.param(
            _event(
                context=_context(IN_CONTEXT[0]),
                event_type=f"/courses/{IN_EVENT_TYPE[0]}/",
                page=f"https://h/courses/{IN_PAGE[0]}/",
                event={"course_id": IN_PAYLOAD[0]},
            ),
            IN_CONTEXT[1],
            id="context-first",
        ),
        pytest.param(
            _event(
                event_type=f"/courses/{IN_EVENT_TYPE[0]}/",
                page=f"https://h/courses/{IN_PAGE[0]}/",
                event={"course_id": IN_PAYLOAD[0]},
            ),
            IN_EVENT_TYPE[1],
            id="then-event-type",
        ),
        pytest.param(
            _event(page=f"https://h/courses/{IN_PAGE[0]}/", event={"course_id": IN_PAYLOAD[0]}),
            IN_PAGE[1],
            id="then-page",
        ),
        # A context course that is not a course id falls through to the other rules.
        pytest.param(
            _event(context=_context("garbage"), page=f"https://h/courses/{IN_PAGE[0]}/"),
            IN_PAGE[1],
            id="garbage-context-falls-through",
        ),
        pytest.param(
            _event(context=_context("course-v1:MITx+X+1+ccx@7"), event_type=f"/courses/{OLD}/"),
            COURSE,
            id="mismatched-ccx-context-falls-through",
        ),
        pytest.param(
            _event(context=_context(None), event={"course_id": NEW}), COURSE, id="null-context"
        ),
        pytest.param(
            _event(context="course-v1:AaX+A1+2024", event={"course_id": NEW}),
            COURSE,
            id="context-not-an-object",
        ),
        # Events that name no course.
        pytest.param(_event(event_type="/dashboard"), NO_COURSE, id="dashboard"),
        pytest.param(_event(event_type="edx.user.login", event=None), NO_COURSE, id="login"),
        pytest.param(_event(event={"course_id": "garbage"}), NO_COURSE, id="garbage-payload"),
        pytest.param(_event(event='{"course_id": '), NO_COURSE, id="payload-bad-json-string"),
        pytest.param(
            _event(event=f' {{"course_id": "{NEW}"}}'), NO_COURSE, id="payload-string-not-json"
        ),
        pytest.param(
            _event(event_type="/courses/course-v1:MITx+X+1+ccx@7/"), NO_COURSE, id="bad-ccx"
        ),
        pytest.param(b'{"event_type": 7, "page": [], "context": 3}\n', NO_COURSE, id="odd-types"),
        pytest.param(_event(context=_context(NEW))[:-1] + b"\r\n", COURSE, id="crlf"),
        # Lines that are not JSON objects.
        pytest.param(b"\n", UNPARSED, id="empty"),
        pytest.param(b"  \t\n", UNPARSED, id="blank"),
        pytest.param(_event(context=_context(NEW))[:50], UNPARSED, id="truncated"),
        pytest.param(b'{"context": {"course_id": "\xff"}}\n', UNPARSED, id="invalid-utf8"),
        pytest.param(f'["{NEW}"]\n'.encode(), UNPARSED, id="array"),
        pytest.param(f'"{NEW}"\n'.encode(), UNPARSED, id="string"),
        pytest.param(b"null\n", UNPARSED, id="null"),
        pytest.param(b"3.5\n", UNPARSED, id="number"),
        pytest.param(b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, UNPARSED, id="deep-nesting"),
    ],
)
def test_course_of_line_applies_the_rules_in_order(line: bytes, partition: str) -> None:
    # Given one line of an event log
    # When its course is asked for, then it is the rules' answer, _none or _unparsed
    assert course_of_line(line) == partition


@pytest.mark.parametrize(
    "line", every_kind_corpus(long_line_bytes=2_000), ids=lambda line: str(line.case)
)
def test_every_line_of_the_generated_corpus_goes_where_the_corpus_says(line: CorpusLine) -> None:
    # Given a line of the corpus the engine tests split, with the partition spelled by hand
    # Then the rules agree, and the partition is one an object key can hold
    assert course_of_line(line.line) == line.partition
    assert line.partition in course_event_log_output_key("mitx", "edx", line.partition, DAY)


def test_the_generated_org_day_names_the_partition_the_rules_give_each_line() -> None:
    # Given a generated day of 200 courses in each spelling, with implicit and browser events
    day = list(skewed_org_day(200, 5_000, seed=3))
    # Then the rules file every line where the generator says, every partition is a valid key
    # value, and the day holds courses of each spelling and events of no course
    assert [course_of_line(line.line) for line in day] == [line.partition for line in day]
    partitions = {line.partition for line in day}
    for partition in partitions:
        course_event_log_output_key("mitx", "edx", partition, DAY)
    assert NO_COURSE in partitions
    assert any(partition.endswith("-2013_Spring") for partition in partitions)
    assert any("-ccx-" in partition for partition in partitions)
