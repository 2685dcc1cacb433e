"""Validation of EventBridge Scheduler expressions (``cron(...)`` and ``rate(...)``).

EventBridge only rejects a bad expression at deploy time, after CloudFormation has started; we
check it at synth time so the admin learns about it before anything changes in the account.
The grammar is AWS's six-field cron (minutes hours day-of-month month day-of-week year), see
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_FIX = (
    "write it as cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 6 ? * SUN *)"
)


class ScheduleExpressionError(ValueError):
    """An expression EventBridge Scheduler would reject."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    extra: str = ""  # characters allowed besides digits , - * /
    names_start_at: int = 1


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, extra="?LW"),
    _Field("month", 1, 12, names=_MONTHS),
    _Field("day-of-week", 1, 7, names=_WEEKDAYS, extra="?L#"),
    _Field("year", 1970, 2199),
)


def validate_schedule_expression(expression: str) -> None:
    """Raise :class:`ScheduleExpressionError` unless ``expression`` is a valid recurring schedule."""
    rate = _RATE.fullmatch(expression)
    if rate:
        if int(rate.group(1)) < 1:
            raise ScheduleExpressionError(f"{expression!r}: a rate must be at least 1")
        if (int(rate.group(1)) == 1) != (not rate.group(2).endswith("s")):
            raise ScheduleExpressionError(
                f"{expression!r}: use a singular unit for 1 and a plural one otherwise, "
                "e.g. rate(1 day) or rate(7 days)"
            )
        return
    cron = _CRON.fullmatch(expression)
    if not cron:
        raise ScheduleExpressionError(f"{expression!r} is not a schedule expression. Fix: {_FIX}")
    fields = cron.group(1).split()
    if len(fields) != len(_FIELDS):
        raise ScheduleExpressionError(
            f"{expression!r} has {len(fields)} fields, not 6. Fix: {_FIX}"
        )
    for spec, value in zip(_FIELDS, fields, strict=True):
        _validate_field(expression, spec, value)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'. Fix: {_FIX}"
        )


def _validate_field(expression: str, spec: _Field, value: str) -> None:
    def fail(reason: str) -> ScheduleExpressionError:
        return ScheduleExpressionError(
            f"{expression!r}: {spec.name} field {value!r} {reason}. Fix: {_FIX}"
        )

    if value in ("*", "?"):
        if value == "?" and "?" not in spec.extra:
            raise fail("cannot be '?' (only day-of-month and day-of-week can)")
        return
    for part in value.split(","):
        if "L" in spec.extra and part in ("L", "LW"):
            continue
        if "#" in spec.extra and "#" in part:
            weekday, _, nth = part.partition("#")
            _number(spec, weekday, fail)
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise fail("uses '#' with an occurrence outside 1-5")
            continue
        if "W" in spec.extra and part.endswith("W"):
            _number(spec, part[:-1], fail)
            continue
        if "L" in spec.extra and part.endswith("L") and spec.name == "day-of-week":
            _number(spec, part[:-1], fail)
            continue
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise fail("has a step that is not a positive number")
        if base == "*":
            continue
        low, _, high = base.partition("-")
        first = _number(spec, low, fail)
        if high and _number(spec, high, fail) < first:
            raise fail("has a range that runs backwards")


def _number(spec: _Field, token: str, fail: Callable[[str], ScheduleExpressionError]) -> int:
    upper = token.upper()
    if spec.names and upper in spec.names:
        return spec.names.index(upper) + spec.names_start_at
    if not token.isdigit():
        raise fail(f"has {token!r}, which is not a number" + _names_hint(spec))
    number = int(token)
    if not spec.low <= number <= spec.high:
        raise fail(f"has {number}, outside {spec.low}-{spec.high}")
    return number


def _names_hint(spec: _Field) -> str:
    return f" or one of {', '.join(spec.names)}" if spec.names else ""
