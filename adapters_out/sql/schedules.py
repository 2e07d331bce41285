"""`partner_schedules`: when to pull each partner's feed (ADR 0040).

`claim_due` here reads then pushes under the writer's lock of the whole database
(SQLite's BEGIN IMMEDIATE); PostgreSQL claims with SKIP LOCKED instead
(`adapters_out/postgres/schedules.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.schedules import Schedule

from .dialect import Dialect
from .repository import SqlRepository

__all__ = ["SCHEDULE_COLUMNS", "ScheduleRow", "SqlScheduleRepository", "schedule"]


class ScheduleRow(NamedTuple):
    """The columns a schedule is read from and written to, in order."""

    id: str
    partner_id: str
    next_run_at: Any
    interval_seconds: int | None
    cron: str | None
    enabled: bool
    format: str | None
    version: int | None
    last_run_at: Any
    etag: str | None
    last_modified: str | None
    last_content_hash: str | None
    last_outcome: str | None
    last_error: str | None
    last_job_id: str | None
    feed_mode: str | None


SCHEDULE_COLUMNS: Final = ", ".join(ScheduleRow._fields)
_PLACEHOLDERS: Final = ", ".join("?" * len(ScheduleRow._fields))
_ASSIGNMENTS: Final = ", ".join(f"{c} = ?" for c in ScheduleRow._fields[1:])


def schedule(row: ScheduleRow, d: Dialect) -> Schedule:
    """The schedule a row holds."""
    return Schedule(
        id=row.id,
        partner_id=row.partner_id,
        next_run_at=d.from_time(row.next_run_at),
        interval_seconds=row.interval_seconds,
        cron=row.cron,
        enabled=bool(row.enabled),
        format=row.format,
        version=row.version,
        last_run_at=d.opt_from_time(row.last_run_at),
        etag=row.etag,
        last_modified=row.last_modified,
        last_content_hash=row.last_content_hash,
        last_outcome=row.last_outcome,
        last_error=row.last_error,
        last_job_id=row.last_job_id,
        feed_mode=row.feed_mode,
    )


def _row(s: Schedule, d: Dialect) -> ScheduleRow:
    return ScheduleRow(
        id=s.id,
        partner_id=s.partner_id,
        next_run_at=d.time(s.next_run_at),
        interval_seconds=s.interval_seconds,
        cron=s.cron,
        enabled=s.enabled,
        format=s.format,
        version=s.version,
        last_run_at=d.opt_time(s.last_run_at),
        etag=s.etag,
        last_modified=s.last_modified,
        last_content_hash=s.last_content_hash,
        last_outcome=s.last_outcome,
        last_error=None if s.last_error is None else d.text(s.last_error),
        last_job_id=s.last_job_id,
        feed_mode=None if s.feed_mode is None else str(s.feed_mode),
    )


class SqlScheduleRepository(SqlRepository):
    """Schedules of one connection's current transaction."""

    __slots__ = ()

    def add(self, schedule: Schedule) -> None:
        """Store a new schedule."""
        with self._d.conflicts(self._conn, f"schedule {schedule.id!r}"):
            self._run(
                f"INSERT INTO partner_schedules ({SCHEDULE_COLUMNS}) VALUES ({_PLACEHOLDERS})",
                _row(schedule, self._d),
            )

    def get(self, schedule_id: str) -> Schedule | None:
        """One schedule, or None."""
        row = self._run(
            f"SELECT {SCHEDULE_COLUMNS} FROM partner_schedules WHERE id = ?", (schedule_id,)
        ).fetchone()
        return None if row is None else schedule(ScheduleRow._make(row), self._d)

    def update(self, schedule: Schedule) -> None:
        """Replace a stored schedule."""
        with self._d.conflicts(self._conn, f"schedule {schedule.id!r}"):
            cursor = self._run(
                f"UPDATE partner_schedules SET {_ASSIGNMENTS} WHERE id = ?",
                (*_row(schedule, self._d)[1:], schedule.id),
            )
        if cursor.rowcount == 0:
            raise NotFoundError("schedule", schedule.id)

    def delete(self, schedule_id: str) -> bool:
        """Remove; False when unknown."""
        return self._run("DELETE FROM partner_schedules WHERE id = ?", (schedule_id,)).rowcount > 0

    def all(self, partner_id: str | None = None) -> list[Schedule]:
        """Schedules by id."""
        where, params = ("", ()) if partner_id is None else (" WHERE partner_id = ?", (partner_id,))
        rows = self._run(f"SELECT {SCHEDULE_COLUMNS} FROM partner_schedules{where} ORDER BY id", params)
        return [schedule(ScheduleRow._make(row), self._d) for row in rows]

    def claim_due(self, now: datetime, hold_until: datetime, limit: int) -> list[Schedule]:
        """Due schedules as they were, each pushed to `hold_until` (the writer holds the database's lock)."""
        # `enabled = TRUE` (not bare `enabled`): SQLite's index (enabled, next_run_at) serves equality.
        rows = self._run(
            f"SELECT {SCHEDULE_COLUMNS} FROM partner_schedules WHERE enabled = TRUE AND next_run_at <= ?"
            " ORDER BY next_run_at, id LIMIT ?",
            (self._d.time(now), limit),
        ).fetchall()
        claimed = [schedule(ScheduleRow._make(row), self._d) for row in rows]
        held = self._d.time(hold_until)
        for s in claimed:
            self._run("UPDATE partner_schedules SET next_run_at = ? WHERE id = ?", (held, s.id))
        return claimed
