"""Cron expressions and next runs: examples for the grammar and Vixie semantics, and
properties checked against a brute-force minute-by-minute search.

The expressions are read by the `CronRules` port's implementation (cronsim behind
`adapters_out/cron.py`, ADR 0022); `CronSchedule.parse` and `parse_cron` name it here as
the tests have always named the parser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.adapters_out.cron import CronsimRule, CronsimRules
from partner_ingest.domain.model.cron import CronExpressionError, InvalidScheduleError
from partner_ingest.domain.model.errors import IngestError
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.domain.use_cases.schedule_runs import next_run as next_run_by
from partner_ingest.ports.cron import CronRules

RULES: CronRules = CronsimRules()


class CronSchedule:
    """The parser under test, under the name these tests have always used."""

    parse = staticmethod(CronsimRules().parse)


parse_cron = CronsimRules().parse


def next_run(schedule: Schedule, after: datetime) -> datetime:
    return next_run_by(schedule, after, RULES)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def runs(expression: str, start: str, count: int) -> list[str]:
    schedule = parse_cron(expression)
    moment, found = at(start), []
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.strftime("%Y-%m-%d %H:%M %a"))
    return found


# --- the grammar -------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "field", "values"),
    [
        ("* * * * *", "minutes", tuple(range(60))),
        ("5 * * * *", "minutes", (5,)),
        ("1,5,59 * * * *", "minutes", (1, 5, 59)),
        ("10-15 * * * *", "minutes", (10, 11, 12, 13, 14, 15)),
        ("*/15 * * * *", "minutes", (0, 15, 30, 45)),
        ("10-30/10 * * * *", "minutes", (10, 20, 30)),
        ("0-5,*/20,58 * * * *", "minutes", (0, 1, 2, 3, 4, 5, 20, 40, 58)),
        ("0 */6 * * *", "hours", (0, 6, 12, 18)),
        ("0 0 1,15 * *", "days", (1, 15)),
        ("0 0 * JAN,jul,Dec *", "months", (1, 7, 12)),
        ("0 0 * mar-may *", "months", (3, 4, 5)),
        ("0 0 * */3 *", "months", (1, 4, 7, 10)),
        ("0 0 * * MON-FRI", "weekdays", (1, 2, 3, 4, 5)),
        ("0 0 * * 7", "weekdays", (0,)),
        ("0 0 * * 0,7", "weekdays", (0,)),
        ("0 0 * * 5-7", "weekdays", (0, 5, 6)),
        ("0 0 * * sun,Sat", "weekdays", (0, 6)),
        ("0 0 * * *", "weekdays", (0, 1, 2, 3, 4, 5, 6)),
    ],
)
def test_fields_parse_to_their_values(expression: str, field: str, values: tuple[int, ...]) -> None:
    assert getattr(CronSchedule.parse(expression), field) == values


@pytest.mark.parametrize(
    ("macro", "expression"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@ANNUALLY", "0 0 1 1 *"),
    ],
)
def test_macros_stand_for_their_expressions(macro: str, expression: str) -> None:
    macro_schedule, plain = CronSchedule.parse(macro), CronSchedule.parse(expression)
    assert (macro_schedule.minutes, macro_schedule.hours, macro_schedule.days) == (
        plain.minutes,
        plain.hours,
        plain.days,
    )
    assert (macro_schedule.months, macro_schedule.weekdays) == (plain.months, plain.weekdays)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "expected five fields"),
        ("* * * *", "got 4"),
        ("* * * * * *", "got 6"),
        ("@reboot", "got 1"),
        ("60 * * * *", "60 is outside the minute field's 0-59"),
        ("* 24 * * *", "outside the hour field"),
        ("* * 0 * *", "outside the day-of-month field's 1-31"),
        ("* * 32 * *", "outside the day-of-month field"),
        ("* * * 13 *", "outside the month field"),
        ("* * * * 8", "outside the day-of-week field's 0-7"),
        ("* * * FOO *", "'FOO' in the month field is not a number or a name (JAN"),
        ("* * * * MONDAY", "not a number or a name (SUN"),
        ("x * * * *", "'x' in the minute field is not a number"),
        ("-1 * * * *", "not a number"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "step '0' in the minute field is not a positive number"),
        ("*/x * * * *", "not a positive number"),
        ("*/ * * * *", "not a positive number"),
        ("5/15 * * * *", "a step needs a range or *: write 5-59/15"),
        ("1,,2 * * * *", "empty list item"),
        ("1, * * * *", "empty list item"),
        ("* * * * MON/2", "a step needs a range"),
        ("0 0 31 2 *", "never occurs in the listed months"),
        ("0 0 30,31 2 *", "never occurs"),
        ("0 0 31 APR,JUN,SEP,NOV *", "never occurs"),
        ("٣ * * * *", "not a number"),
        # cronsim reads these (Quartz and Debian extensions); the grammar admins were given does not.
        ("0 0 L * *", "'L' in the day-of-month field is not a number"),
        ("0 0 LW * *", "'LW' in the day-of-month field is not a number"),
        ("0 0 * * 5L", "'5L' in the day-of-week field is not a number or a name (SUN"),
        ("0 0 * * MON#2", "'MON#2' in the day-of-week field is not a number or a name"),
        ("0 0 0 * * *", "got 6"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(CronExpressionError, match="invalid cron expression") as caught:
        CronSchedule.parse(expression)
    assert message in str(caught.value)
    assert caught.value.expression == expression


def test_cron_errors_are_value_errors_and_ingest_errors() -> None:
    assert issubclass(CronExpressionError, InvalidScheduleError)
    assert issubclass(InvalidScheduleError, ValueError)
    assert issubclass(InvalidScheduleError, IngestError)
    with pytest.raises(ValueError, match="outside") as caught:
        parse_cron("99 * * * *")
    assert getattr(caught.value, "code", None) == "invalid_cron"


def test_feb_29_alone_is_valid_and_waits_for_a_leap_year() -> None:
    assert runs("0 0 29 2 *", "2097-03-01T00:00", 2) == ["2104-02-29 00:00 Fri", "2108-02-29 00:00 Wed"]


# --- next_after: examples ----------------------------------------------------


def test_every_quarter_hour_in_office_hours() -> None:
    assert runs("*/15 9-17 * * MON-FRI", "2026-01-02T17:40", 3) == [  # a Friday
        "2026-01-02 17:45 Fri",
        "2026-01-05 09:00 Mon",
        "2026-01-05 09:15 Mon",
    ]


def test_next_after_is_strictly_after_even_on_a_matching_minute() -> None:
    schedule = parse_cron("30 * * * *")
    assert schedule.next_after(at("2026-03-01T10:30")) == at("2026-03-01T11:30")
    assert schedule.next_after(at("2026-03-01T10:29:59.999999")) == at("2026-03-01T10:30")
    assert schedule.next_after(at("2026-03-01T10:30:00.000001")) == at("2026-03-01T11:30")


def test_rolls_over_days_months_and_years() -> None:
    assert runs("59 23 31 12 *", "2026-12-31T23:59", 1) == ["2027-12-31 23:59 Fri"]
    assert runs("0 0 1 * *", "2026-01-31T12:00", 2) == ["2026-02-01 00:00 Sun", "2026-03-01 00:00 Sun"]
    assert runs("0 12 31 * *", "2026-04-01T00:00", 2) == ["2026-05-31 12:00 Sun", "2026-07-31 12:00 Fri"]


def test_both_day_fields_restricted_means_either() -> None:
    # The 13th of the month OR any Friday (Vixie cron), in February 2026.
    assert runs("0 0 13 * FRI", "2026-02-01T00:00", 5) == [
        "2026-02-06 00:00 Fri",
        "2026-02-13 00:00 Fri",
        "2026-02-20 00:00 Fri",
        "2026-02-27 00:00 Fri",
        "2026-03-06 00:00 Fri",
    ]
    assert runs("0 0 1 * MON", "2026-05-31T00:00", 3) == [
        "2026-06-01 00:00 Mon",
        "2026-06-08 00:00 Mon",
        "2026-06-15 00:00 Mon",
    ]
    assert runs("0 0 2 * MON", "2026-05-31T00:00", 3) == [
        "2026-06-01 00:00 Mon",
        "2026-06-02 00:00 Tue",
        "2026-06-08 00:00 Mon",
    ]


def test_a_star_day_field_means_both() -> None:
    assert runs("0 0 * * FRI", "2026-02-01T00:00", 2) == ["2026-02-06 00:00 Fri", "2026-02-13 00:00 Fri"]
    assert runs("0 0 13 * *", "2026-02-01T00:00", 2) == ["2026-02-13 00:00 Fri", "2026-03-13 00:00 Fri"]
    # Vixie quirk: */1 starts with '*', so the day-of-month does not widen the match to "either".
    assert runs("0 0 */1 * FRI", "2026-02-01T00:00", 2) == ["2026-02-06 00:00 Fri", "2026-02-13 00:00 Fri"]
    assert not parse_cron("0 0 */1 * FRI").either_day
    assert parse_cron("0 0 1-31 * FRI").either_day


def test_sunday_is_0_and_7() -> None:
    assert runs("0 6 * * 7", "2026-01-01T00:00", 1) == runs("0 6 * * 0", "2026-01-01T00:00", 1)
    assert runs("0 6 * * 7", "2026-01-01T00:00", 1) == ["2026-01-04 06:00 Sun"]


def test_aware_moments_in_other_zones_are_taken_in_utc() -> None:
    plus_five = timezone(timedelta(hours=5))
    moment = datetime(2026, 1, 1, 10, 0, tzinfo=plus_five)  # 05:00 UTC
    result = parse_cron("0 6 * * *").next_after(moment)
    assert result == at("2026-01-01T06:00")
    assert result.tzinfo is UTC
    assert parse_cron("0 5 * * *").matches(moment)


def test_a_local_dst_change_moves_no_run_as_schedules_are_utc() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: Berlin's clocks jump from 02:00 to 03:00, so 02:30 local never happens;
    # in UTC, 02:30 happens as on every day.
    spring = parse_cron("30 2 * * *").next_after(datetime(2026, 3, 29, 1, 0, tzinfo=berlin))
    assert spring == at("2026-03-29T02:30") and spring.tzinfo is UTC
    # 2026-10-25: 02:30 local happens twice; 01:30 UTC once a day.
    autumn = parse_cron("30 1 * * *")
    first = autumn.next_after(datetime(2026, 10, 24, 12, 0, tzinfo=berlin))
    assert [first, autumn.next_after(first)] == [at("2026-10-25T01:30"), at("2026-10-26T01:30")]


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("* * * * *").next_after(datetime(2026, 1, 1))


def test_parse_cron_remembers() -> None:
    assert parse_cron("*/5 * * * *") is parse_cron("*/5 * * * *")


# --- next_after: properties --------------------------------------------------


def _part(low: int, high: int, names: tuple[str, ...]) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    span = st.tuples(number, number).map(sorted)
    step = st.integers(1, high - low + 1)
    choices = [
        number.map(str),
        span.map(lambda pair: f"{pair[0]}-{pair[1]}"),
        step.map(lambda n: f"*/{n}"),
        st.tuples(span, step).map(lambda t: f"{t[0][0]}-{t[0][1]}/{t[1]}"),
    ]
    if names:
        choices.append(st.sampled_from(names).map(lambda n: n if n[0] != "S" else n.lower()))
    return st.one_of(choices)


def _field(low: int, high: int, names: tuple[str, ...] = (), star_weight: int = 1) -> st.SearchStrategy[str]:
    listed = st.lists(_part(low, high, names), min_size=1, max_size=3).map(",".join)
    return st.one_of([st.just("*")] * star_weight + [listed])


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@st.composite
def cron_schedules(draw: st.DrawFn, dense: bool = False) -> CronsimRule:
    """Valid expressions; `dense` ones match often (every day or so) to keep brute force short."""
    weight = 4 if dense else 1
    fields = [
        draw(_field(0, 59)),
        draw(_field(0, 23)),
        draw(_field(1, 31, star_weight=weight)),
        draw(_field(1, 12, MONTHS, star_weight=weight)),
        draw(_field(0, 7, DAYS)),
    ]
    expression = " ".join(fields)
    try:
        return CronSchedule.parse(expression)
    except CronExpressionError as error:
        if "never occurs" not in str(error):  # the only expected failure: e.g. the 31st of February
            raise
        return CronSchedule.parse(" ".join([*fields[:2], "*", *fields[3:]]))


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))

WINDOW_MINUTES = 3 * 24 * 60


def brute_force(schedule: CronsimRule, moment: datetime, minutes: int) -> datetime | None:
    """The first matching minute after `moment`, looking at every minute of the window."""
    candidate = moment.replace(second=0, microsecond=0)
    for _ in range(minutes):
        candidate += timedelta(minutes=1)
        if schedule.matches(candidate):
            return candidate
    return None


@given(cron_schedules(), moments)
def test_next_after_is_a_later_matching_whole_minute(schedule: CronsimRule, moment: datetime) -> None:
    following = schedule.next_after(moment)
    assert following > moment
    assert following.tzinfo is UTC
    assert following.second == following.microsecond == 0
    assert schedule.matches(following)


@given(cron_schedules(), moments)
def test_next_after_is_strictly_increasing(schedule: CronsimRule, moment: datetime) -> None:
    first = schedule.next_after(moment)
    second = schedule.next_after(first)
    assert first < second
    # ... and nothing matches in between: asking from any moment before `first` finds `first`.
    assert schedule.next_after(first - timedelta(seconds=1)) == first


@given(cron_schedules(dense=True), moments)
def test_no_matching_minute_is_skipped(schedule: CronsimRule, moment: datetime) -> None:
    expected = brute_force(schedule, moment, WINDOW_MINUTES)
    found = schedule.next_after(moment)
    if expected is None:
        assert found > moment + timedelta(minutes=WINDOW_MINUTES)
    else:
        assert found == expected


@given(st.sampled_from(["* * * * *", "*/7 * * * *", "0 */5 * * *", "15 10 * * MON,THU"]), moments)
def test_frequent_expressions_agree_with_brute_force_on_every_run(expression: str, moment: datetime) -> None:
    schedule = parse_cron(expression)
    current = moment
    for _ in range(5):
        expected = brute_force(schedule, current, 8 * 24 * 60)
        assert expected is not None
        current = schedule.next_after(current)
        assert current == expected


# --- next_run ----------------------------------------------------------------


def schedule(**fields: object) -> Schedule:
    defaults: dict[str, object] = {"id": "sch_1", "partner_id": "acme", "next_run_at": at("2026-01-01T00:00")}
    return Schedule(**(defaults | fields))  # type: ignore[arg-type]


def test_interval_schedules_keep_their_cadence() -> None:
    every_hour = schedule(interval_seconds=3600)
    assert next_run(every_hour, at("2026-01-01T00:00")) == at("2026-01-01T01:00")
    assert next_run(every_hour, at("2026-01-01T00:00:07")) == at(
        "2026-01-01T01:00"
    )  # a late run does not drift
    assert next_run(every_hour, at("2026-01-01T00:59:59")) == at("2026-01-01T01:00")


def test_interval_schedules_skip_missed_runs_instead_of_bursting() -> None:
    every_hour = schedule(interval_seconds=3600)
    assert next_run(every_hour, at("2026-01-03T10:30")) == at("2026-01-03T11:00")


def test_an_interval_schedule_not_yet_due_keeps_its_time() -> None:
    assert next_run(schedule(interval_seconds=60), at("2025-12-31T23:00")) == at("2026-01-01T00:00")


@given(st.integers(1, 10 * 86400), st.floats(0, 400 * 86400))
def test_interval_next_run_is_after_and_on_the_cadence(interval: int, offset: float) -> None:
    sched = schedule(interval_seconds=interval)
    after = sched.next_run_at + timedelta(seconds=offset)
    result = next_run(sched, after)
    assert after < result <= after + timedelta(seconds=interval)
    assert (result - sched.next_run_at) % timedelta(seconds=interval) == timedelta(0)


def test_cron_schedules_use_the_expression() -> None:
    nightly = schedule(cron="30 2 * * *")
    assert next_run(nightly, at("2026-01-01T02:30")) == at("2026-01-02T02:30")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "neither a cron expression nor an interval"),
        ({"cron": "* * * * *", "interval_seconds": 60}, "both"),
        ({"interval_seconds": 0}, "non-positive interval"),
        ({"interval_seconds": -5}, "non-positive interval"),
        ({"cron": "61 * * * *"}, "invalid cron expression"),
    ],
)
def test_unusable_schedules_are_invalid_schedule_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidScheduleError, match=message):
        next_run(schedule(**fields), at("2026-01-01T00:00"))


def test_next_run_refuses_naive_moments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(schedule(interval_seconds=60), datetime(2026, 1, 1))
