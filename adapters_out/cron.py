"""`CronsimRules`: the `CronRules` port on cronsim, the cron evaluator healthchecks.io maintains.

cronsim parses each field into its values and finds the next matching minute with Debian
cron's (Vixie cron's) semantics: when both day fields are restricted a day matches if
EITHER does (`0 9 1 * MON` is the 1st and every Monday), and a field starting with `*`
(`*/2` included) counts as unrestricted. Expressions are evaluated in UTC, so no daylight
saving time quirk applies.

What cronsim does not give, this module adds (ADR 0022):

- the grammar admins were promised, and no more: five fields (minute hour day-of-month
  month day-of-week) or `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`,
  `@yearly` (`@annually`); each field `*`, a number, a name (JAN-DEC, SUN-SAT), a range
  `a-b`, a step `*/n` or `a-b/n`, or a list of those. cronsim also reads seconds, `L`, `W`
  and `#`, and `5/15`; those are refused, as before, so a schedule never depends on them;
- a message that says what is wrong (cronsim says "Bad minute"), checked before cronsim
  reads the expression, with the same words admins have always seen.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

import attrs

from partner_ingest.domain.model.cron import CronExpressionError

__all__ = ["CronsimRule", "CronsimRules"]

_MONTHS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS: Final = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Any moment serves: cronsim's parsed fields do not depend on where it starts.
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)


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
    _Field("month", 1, 12, {name: number for number, name in enumerate(_MONTHS, 1)}),
    _Field("day-of-week", 0, 7, {name: number for number, name in enumerate(_WEEKDAYS)}),
)


@attrs.frozen
class CronsimRule:
    """A valid expression and the values cronsim read from its fields (sorted)."""

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
    five_fields: str = attrs.field(repr=False)
    """The expression with an @macro spelled out, as cronsim reads it."""

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after `moment` (aware in, aware UTC out)."""
        from cronsim import CronSim  # imported on first use: a CLI ingest never evaluates a schedule

        start = _utc(moment)
        try:
            return next(CronSim(self.five_fields, start))
        except StopIteration:  # cronsim looks 50 years ahead; a valid expression matches sooner
            raise CronExpressionError(self.expression, "no matching moment within 50 years") from None
        except (OverflowError, ValueError):
            raise CronExpressionError(self.expression, "no matching moment before the year 10000") from None

    def matches(self, moment: datetime) -> bool:
        """Whether the minute holding `moment` (aware; taken in UTC) is one the expression names."""
        at = _utc(moment)
        in_month, in_week = at.day in self.days, at.isoweekday() % 7 in self.weekdays
        day = (in_month or in_week) if self.either_day else (in_month and in_week)
        return day and at.minute in self.minutes and at.hour in self.hours and at.month in self.months


class CronsimRules:
    """The `CronRules` port: expressions read once and remembered (schedulers ask about the
    same few expressions often)."""

    def parse(self, expression: str) -> CronsimRule:
        """The rule of `expression`; CronExpressionError says what is wrong."""
        return _parse(expression)


@functools.lru_cache(maxsize=256)
def _parse(expression: str) -> CronsimRule:
    text = expression.strip()
    five_fields = _MACROS.get(text.lower(), text)
    fields = five_fields.split()
    if len(fields) != len(_FIELDS):
        raise CronExpressionError(
            expression,
            f"expected five fields (minute hour day-of-month month day-of-week), got {len(fields)}",
        )
    for field_text, field in zip(fields, _FIELDS, strict=True):
        _check_field(expression, field_text, field)
    from cronsim import CronSim, CronSimError  # imported on first use, as in next_after

    try:
        sim = CronSim(five_fields, _EPOCH)
    except CronSimError as error:
        # Every field is well formed (checked above): what is left is a day-of-month that
        # no listed month has (the 30th of February), the one check cronsim makes on its own.
        reason = "the day-of-month never occurs in the listed months"
        raise CronExpressionError(
            expression, reason if "day-of-month" in str(error) else str(error)
        ) from None
    return CronsimRule(
        expression=text,
        minutes=tuple(sorted(sim.minutes)),
        hours=tuple(sorted(sim.hours)),
        days=tuple(sorted(sim.days)),
        months=tuple(sorted(sim.months)),
        weekdays=tuple(sorted({day % 7 for day in sim.weekdays if isinstance(day, int)})),
        either_day=not sim.day_and,
        five_fields=five_fields,
    )


def _check_field(expression: str, text: str, field: _Field) -> None:
    """Refuse what the grammar does not allow in one field, saying what and where."""
    for part in text.split(","):
        if not part:
            raise CronExpressionError(expression, f"empty list item in the {field.name} field")
        span, slash, step = part.partition("/")
        if slash and not (_is_number(step) and int(step) >= 1):
            raise CronExpressionError(
                expression, f"step {step!r} in the {field.name} field is not a positive number"
            )
        if span == "*":
            continue
        if "-" in span:
            start, _, end = span.partition("-")
            if _value(expression, start, field) > _value(expression, end, field):
                raise CronExpressionError(
                    expression, f"range {span!r} in the {field.name} field runs backwards"
                )
        elif slash:
            raise CronExpressionError(
                expression,
                f"a step needs a range or *: write {span}-{field.high}/{step} in the {field.name} field",
            )
        else:
            _value(expression, span, field)


def _value(expression: str, text: str, field: _Field) -> int:
    if text.upper() in field.names:
        return field.names[text.upper()]
    if not _is_number(text):
        known = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise CronExpressionError(expression, f"{text!r} in the {field.name} field is not a number{known}")
    number = int(text)
    if not field.low <= number <= field.high:
        raise CronExpressionError(
            expression, f"{number} is outside the {field.name} field's {field.low}-{field.high}"
        )
    return number


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"cron works on timezone-aware moments, not naive {moment.isoformat()}")
    return moment.astimezone(UTC)
