"""Cron expressions (five fields, UTC, Vixie-cron semantics) and when a schedule runs next.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day
of week (0-7 or SUN-SAT; 0 and 7 are Sunday). Each field is `*`, a number, a range
`a-b`, a step `*/n` or `a-b/n`, or a comma-separated list of those. `@hourly`,
`@daily` (`@midnight`), `@weekly`, `@monthly` and `@yearly` (`@annually`) are accepted too.

The two day fields follow Vixie cron (and cronie): when both are restricted, a day
matches if EITHER matches (`0 9 1 * MON` is the 1st of the month and every Monday);
when either starts with `*`, both must match. Like Vixie cron, a field counts as
unrestricted when it starts with `*`, so `*/2` in the day-of-month field still means AND.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from .errors import InvalidError
from .schedules import Schedule

__all__ = ["CronExpressionError", "CronSchedule", "InvalidScheduleError", "next_run", "parse_cron"]


class InvalidScheduleError(InvalidError, ValueError):
    """A schedule that cannot say when it runs next (bad cron, bad interval, or neither)."""

    code = "invalid_schedule"


class CronExpressionError(InvalidScheduleError):
    """A cron expression that cannot be parsed, or that names no moment at all."""

    code = "invalid_cron"

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid cron expression {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_WEEKDAYS: Final = {
    name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
}
_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# The longest each month can be (February in a leap year): a day-of-month that fits no
# listed month would make the expression match nothing, ever.
_LONGEST_MONTH: Final = {
    1: 31,
    2: 29,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}
# Every calendar date falls on every weekday within one 400-year Gregorian cycle.
_SEARCH_YEARS: Final = 400


@attrs.frozen
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int] = attrs.field(factory=dict)


_FIELDS: Final = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _WEEKDAYS),
)


@attrs.frozen
class CronSchedule:
    """A parsed cron expression; build it with `CronSchedule.parse` (or `parse_cron`)."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    """Days of the month."""
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    """0 = Sunday ... 6 = Saturday."""
    either_day: bool
    """Both day fields restricted: a day matches when either does (Vixie cron)."""

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse five fields (or an @macro); CronExpressionError says what is wrong."""
        text = expression.strip()
        fields = _MACROS.get(text.lower(), text).split()
        if len(fields) != len(_FIELDS):
            raise CronExpressionError(
                expression,
                f"expected five fields (minute hour day-of-month month day-of-week), got {len(fields)}",
            )
        parsed = [
            _parse_field(expression, field_text, field)
            for field_text, field in zip(fields, _FIELDS, strict=True)
        ]
        minutes, hours, days, months, weekdays = (values for values, _ in parsed)
        weekdays = frozenset(day % 7 for day in weekdays)
        either_day = not parsed[2][1] and not parsed[4][1]
        if not either_day and not any(day <= _LONGEST_MONTH[month] for month in months for day in days):
            raise CronExpressionError(expression, "the day-of-month never occurs in the listed months")
        return cls(
            expression=text,
            minutes=tuple(sorted(minutes)),
            hours=tuple(sorted(hours)),
            days=tuple(sorted(days)),
            months=tuple(sorted(months)),
            weekdays=tuple(sorted(weekdays)),
            either_day=either_day,
        )

    def matches(self, moment: datetime) -> bool:
        """Whether the minute holding `moment` (aware; taken in UTC) is one the expression names."""
        at = _utc(moment)
        return (
            at.minute in self.minutes
            and at.hour in self.hours
            and at.month in self.months
            and self._day_matches(at)
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after `moment` (aware in, aware UTC out)."""
        at = _utc(moment).replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        last_year = at.year + _SEARCH_YEARS
        try:
            while at.year <= last_year:
                if at.month not in self.months:
                    at = self._next_month(at)
                elif not self._day_matches(at):
                    at = _next_day(at)
                elif at.hour not in self.hours:
                    later = _following(self.hours, at.hour)
                    at = _next_day(at) if later is None else at.replace(hour=later, minute=0)
                elif at.minute not in self.minutes:
                    later = _following(self.minutes, at.minute)
                    at = (
                        at.replace(minute=0) + timedelta(hours=1)
                        if later is None
                        else at.replace(minute=later)
                    )
                else:
                    return at.replace(tzinfo=UTC)
        except (OverflowError, ValueError):
            raise CronExpressionError(self.expression, "no matching moment before the year 10000") from None
        raise CronExpressionError(self.expression, f"no matching moment within {_SEARCH_YEARS} years")

    def _day_matches(self, at: datetime) -> bool:
        in_month = at.day in self.days
        in_week = at.isoweekday() % 7 in self.weekdays
        return (in_month or in_week) if self.either_day else (in_month and in_week)

    def _next_month(self, at: datetime) -> datetime:
        later = _following(self.months, at.month)
        if later is None:
            return datetime(at.year + 1, self.months[0], 1)
        return datetime(at.year, later, 1)


@functools.lru_cache(maxsize=256)
def parse_cron(expression: str) -> CronSchedule:
    """`CronSchedule.parse`, remembered: schedulers ask about the same few expressions often."""
    return CronSchedule.parse(expression)


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """When `schedule` runs next, strictly after `after` (aware, UTC).

    Interval schedules keep their cadence: runs fall on `next_run_at + k * interval`, so a
    late scheduler neither drifts nor, after downtime, catches up with a burst of runs.
    """
    _utc(after)
    if schedule.cron is not None and schedule.interval_seconds is not None:
        raise InvalidScheduleError(f"schedule {schedule.id} has both a cron expression and an interval")
    if schedule.cron is not None:
        return parse_cron(schedule.cron).next_after(after)
    if schedule.interval_seconds is None:
        raise InvalidScheduleError(f"schedule {schedule.id} has neither a cron expression nor an interval")
    if schedule.interval_seconds <= 0:
        raise InvalidScheduleError(
            f"schedule {schedule.id} has a non-positive interval: {schedule.interval_seconds}s"
        )
    anchor = _utc(schedule.next_run_at)
    if anchor > after:
        return anchor
    step = timedelta(seconds=schedule.interval_seconds)
    return anchor + ((after - anchor) // step + 1) * step


def _parse_field(expression: str, text: str, field: _Field) -> tuple[frozenset[int], bool]:
    """The values a field names, and whether it counts as unrestricted (starts with `*`)."""
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronExpressionError(expression, f"empty list item in the {field.name} field")
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _is_number(step_text) or int(step_text) < 1:
                raise CronExpressionError(
                    expression, f"step {step_text!r} in the {field.name} field is not a positive number"
                )
            step = int(step_text)
        if span == "*":
            low, high = field.low, field.high
        elif "-" in span:
            start, _, end = span.partition("-")
            low, high = _value(expression, start, field), _value(expression, end, field)
            if low > high:
                raise CronExpressionError(
                    expression, f"range {span!r} in the {field.name} field runs backwards"
                )
        elif slash:
            raise CronExpressionError(
                expression,
                f"a step needs a range or *: write {span}-{field.high}/{step_text} in the {field.name} field",
            )
        else:
            low = high = _value(expression, span, field)
        values.update(range(low, high + 1, step))
    return frozenset(values), text.startswith("*")


def _value(expression: str, text: str, field: _Field) -> int:
    if _is_number(text):
        number = int(text)
    elif text.upper() in field.names:
        return field.names[text.upper()]
    else:
        known = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise CronExpressionError(expression, f"{text!r} in the {field.name} field is not a number{known}")
    if not field.low <= number <= field.high:
        raise CronExpressionError(
            expression, f"{number} is outside the {field.name} field's {field.low}-{field.high}"
        )
    return number


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _following(values: tuple[int, ...], current: int) -> int | None:
    """The smallest value above `current`, or None."""
    index = bisect.bisect_right(values, current)
    return values[index] if index < len(values) else None


def _next_day(at: datetime) -> datetime:
    return datetime(at.year, at.month, at.day) + timedelta(days=1)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"cron works on timezone-aware moments, not naive {moment.isoformat()}")
    return moment.astimezone(UTC)
