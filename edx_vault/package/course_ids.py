"""Which course an event belongs to, spelled as the course partition of ``events-by-course/``.

edX's daily event log holds every course of an org and site; the split step
(:mod:`edx_vault.engine.course_split`) files each line under one course with
:func:`course_of_line`. The rules, in order:

1. ``context.course_id`` when it is set and is a course id;
2. otherwise the first course id found in ``event_type``, then in ``page`` (browser and
   server events put the course in the URL: ``/courses/course-v1:MITx+6.002x+2012_Fall/...``
   or, before 2015, ``/courses/MITx/6.002x/2012_Fall/...``);
3. otherwise the event's own ``course_id`` (``event`` is an object, or a JSON string holding
   one, as browser events send it);
4. otherwise :data:`~edx_vault.package.bucket_layout.NO_COURSE`. A line that is not a JSON
   object is :data:`~edx_vault.package.bucket_layout.UNPARSED`.

Course ids are the three spellings edX uses: ``course-v1:{org}+{course}+{run}``, the old
``{org}/{course}/{run}``, and CCX keys ``ccx-v1:{org}+{course}+{run}+ccx@{id}``. The partition
value is the course *entity* as edX's exporter spells it in the weekly export's file names
(``MITx-6.002x-2012_Fall``, ``MITx-6.002x-2012_Fall-ccx-7``; characters above ASCII become
``_``), so one course glob in a grant covers a course's tables and its events alike.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from edx_vault.package.bucket_layout import NO_COURSE, NOT_COURSES, UNPARSED

# The characters of one part of a course key (edx-opaque-keys' ALLOWED_ID_CHARS: [\w\-~.:]);
# \w is Unicode, so a part may hold letters beyond ASCII.
_PART: Final = r"[\w.~:-]+"
_NEW_STYLE: Final = re.compile(
    rf"(?P<kind>course-v1|ccx-v1):(?P<org>{_PART.replace(':', '')})\+(?P<course>{_PART})"
    rf"\+(?P<run>[\w.~:-]+?)(?:\+ccx@(?P<ccx>\d+))?(?=$|[^\w.~:-])"
)
_OLD_STYLE: Final = re.compile(rf"^(?P<org>{_PART})/(?P<course>{_PART})/(?P<run>{_PART})$")
# An old-style id inside a URL path: /courses/{org}/{course}/{run}, then the end or a separator.
_OLD_STYLE_IN_URL: Final = re.compile(
    r"/courses/(?P<org>[\w.~-]+)/(?P<course>[\w.~:-]+)/(?P<run>[\w.~:-]+)(?=$|[/?#])"
)
# edX's exporter cuts an over-long entity and appends "-{md5}". Its cut length is not
# documented; course ids are short in practice, and this bound keeps every key well inside
# S3's 1,024 bytes (the value appears twice in a key).
MAX_ENTITY_LENGTH: Final = 200
_DECODER: Final = json.JSONDecoder()


def _entity(org: str, course: str, run: str, ccx: str | None = None) -> str | None:
    entity = "-".join([org, course, run, *(["ccx", ccx] if ccx is not None else [])])
    if not entity.isascii():
        entity = "".join("_" if ord(character) > 127 else character for character in entity)
    if entity in NOT_COURSES:
        return None  # the layout's own values: no course is spelled like them
    if len(entity) > MAX_ENTITY_LENGTH:
        digest = hashlib.md5(entity.encode(), usedforsecurity=False).hexdigest()
        entity = f"{entity[: MAX_ENTITY_LENGTH - 33]}-{digest}"
    return entity


# A log names a few thousand courses at most, each in millions of lines: remember the answers.
@functools.lru_cache(maxsize=8192)
def course_entity(course_id: str) -> str | None:
    """The entity of a course id in any of edX's three spellings; ``None`` if it is none.

    >>> course_entity("course-v1:MITx+6.002x+2012_Fall")
    'MITx-6.002x-2012_Fall'
    >>> course_entity("MITx/6.002x/2012_Fall")
    'MITx-6.002x-2012_Fall'
    >>> course_entity("ccx-v1:MITx+6.002x+2012_Fall+ccx@7")
    'MITx-6.002x-2012_Fall-ccx-7'
    """
    match = _NEW_STYLE.fullmatch(course_id)
    if match is not None:
        if (match["kind"] == "ccx-v1") != (match["ccx"] is not None):
            return None
        return _entity(match["org"], match["course"], match["run"], match["ccx"])
    old = _OLD_STYLE.fullmatch(course_id)
    if old is not None:
        return _entity(old["org"], old["course"], old["run"])
    return None


@functools.lru_cache(maxsize=8192)
def course_in_text(text: str) -> str | None:
    """The entity of the first course id in a URL or event type, if there is one."""
    for match in _NEW_STYLE.finditer(text):
        if (match["kind"] == "ccx-v1") == (match["ccx"] is not None):
            return _entity(match["org"], match["course"], match["run"], match["ccx"])
    old = _OLD_STYLE_IN_URL.search(text)
    if old is not None and ":" not in old["org"]:
        return _entity(old["org"], old["course"], old["run"])
    return None


def course_of_event(event: Mapping[str, Any]) -> str | None:
    """The entity of the course an event belongs to, by the module's rules; ``None`` for none."""
    context = event.get("context")
    if isinstance(context, Mapping):
        course_id = context.get("course_id")
        if isinstance(course_id, str) and course_id:
            entity = course_entity(course_id)
            if entity is not None:
                return entity
    for field in ("event_type", "page"):
        text = event.get(field)
        if isinstance(text, str) and text:
            entity = course_in_text(text)
            if entity is not None:
                return entity
    return _course_of_payload(event.get("event"))


def _course_of_payload(payload: Any) -> str | None:
    if isinstance(payload, str) and payload.startswith("{"):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if isinstance(payload, Mapping):
        course_id = payload.get("course_id")
        if isinstance(course_id, str) and course_id:
            return course_entity(course_id)
    return None


def course_of_line(line: bytes) -> str:
    """The course partition of one line of an event log (its end of line is ignored).

    Returns
    -------
    str
        A course entity, :data:`~edx_vault.package.bucket_layout.NO_COURSE` for an event that
        names no course, or :data:`~edx_vault.package.bucket_layout.UNPARSED` for a line that is
        not a JSON object (invalid UTF-8, truncated, empty, or another JSON value).
    """
    try:
        # The decoder itself, not json.loads: loads would first sniff the bytes for UTF-16 and
        # -32, which a tracking log (UTF-8 JSON lines) never is; a line that is not UTF-8 is
        # not an event. About a tenth of the split's time.
        event = _DECODER.decode(line.decode())
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return UNPARSED
    except RecursionError:  # nesting deeper than the parser's stack: not an event
        return UNPARSED
    if not isinstance(event, dict):
        return UNPARSED
    return course_of_event(event) or NO_COURSE
