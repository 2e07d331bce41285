"""When a schedule runs next: interval arithmetic here, cron expressions through the port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from partner_ingest.domain.model.cron import InvalidScheduleError
from partner_ingest.domain.model.schedules import Schedule
from partner_ingest.ports.cron import CronRules

__all__ = ["next_run"]


def next_run(schedule: Schedule, after: datetime, cron: CronRules) -> datetime:
    """When `schedule` runs next, strictly after `after` (aware, UTC).

    Interval schedules keep their cadence: runs fall on `next_run_at + k * interval`, so a
    late scheduler neither drifts nor, after downtime, catches up with a burst of runs.
    """
    _utc(after)
    if schedule.cron is not None and schedule.interval_seconds is not None:
        raise InvalidScheduleError(f"schedule {schedule.id} has both a cron expression and an interval")
    if schedule.cron is not None:
        return cron.parse(schedule.cron).next_after(after)
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


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"schedules work on timezone-aware moments, not naive {moment.isoformat()}")
    return moment.astimezone(UTC)
