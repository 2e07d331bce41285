"""`partner_schedules`: when to pull each partner's feed."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from partner_ingest.adapters_out.store_errors import stored_conflict
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.schedules import Schedule

from ._codec import opt_dt, opt_ts
from ._errors import refusal
from .connection import from_timestamp, timestamp

__all__ = ["SqliteScheduleRepository"]

_COLUMNS = (
    "id, partner_id, next_run_at, interval_seconds, cron, enabled, format, version, last_run_at, etag,"
    " last_modified, last_content_hash, last_outcome, last_error, last_job_id, feed_mode"
)


def _schedule(row: Sequence[Any]) -> Schedule:
    return Schedule(
        id=row[0],
        partner_id=row[1],
        next_run_at=from_timestamp(row[2]),
        interval_seconds=row[3],
        cron=row[4],
        enabled=bool(row[5]),
        format=row[6],
        version=row[7],
        last_run_at=opt_dt(row[8]),
        etag=row[9],
        last_modified=row[10],
        last_content_hash=row[11],
        last_outcome=row[12],
        last_error=row[13],
        last_job_id=row[14],
        feed_mode=row[15],
    )


def _values(s: Schedule) -> tuple[Any, ...]:
    return (
        s.id,
        s.partner_id,
        timestamp(s.next_run_at),
        s.interval_seconds,
        s.cron,
        int(s.enabled),
        s.format,
        s.version,
        opt_ts(s.last_run_at),
        s.etag,
        s.last_modified,
        s.last_content_hash,
        s.last_outcome,
        s.last_error,
        s.last_job_id,
        None if s.feed_mode is None else str(s.feed_mode),
    )


class SqliteScheduleRepository:
    """Schedules of one connection's current transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, schedule: Schedule) -> None:
        """Store a new schedule."""
        try:
            self._conn.execute(
                f"INSERT INTO partner_schedules ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                _values(schedule),
            )
        except sqlite3.IntegrityError as error:
            raise stored_conflict(f"schedule {schedule.id!r}", refusal(error), str(error)) from None

    def get(self, schedule_id: str) -> Schedule | None:
        """One schedule, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_schedules WHERE id = ?", (schedule_id,)
        ).fetchone()
        return None if row is None else _schedule(row)

    def update(self, schedule: Schedule) -> None:
        """Replace a stored schedule."""
        columns = [c.strip() for c in _COLUMNS.split(",")][1:]
        cursor = self._conn.execute(
            f"UPDATE partner_schedules SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
            (*_values(schedule)[1:], schedule.id),
        )
        if cursor.rowcount == 0:
            raise NotFoundError("schedule", schedule.id)

    def delete(self, schedule_id: str) -> bool:
        """Remove; False when unknown."""
        return self._conn.execute("DELETE FROM partner_schedules WHERE id = ?", (schedule_id,)).rowcount > 0

    def all(self, partner_id: str | None = None) -> list[Schedule]:
        """Schedules by id."""
        if partner_id is None:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM partner_schedules ORDER BY id")
        else:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM partner_schedules WHERE partner_id = ? ORDER BY id", (partner_id,)
            )
        return [_schedule(row) for row in rows]

    def claim_due(self, now: datetime, hold_until: datetime, limit: int) -> list[Schedule]:
        """Due schedules as they were, each pushed to `hold_until` (the writer holds the lock)."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_schedules WHERE enabled = 1 AND next_run_at <= ?"
            " ORDER BY next_run_at, id LIMIT ?",
            (timestamp(now), limit),
        ).fetchall()
        claimed = [_schedule(row) for row in rows]
        self._conn.executemany(
            "UPDATE partner_schedules SET next_run_at = ? WHERE id = ?",
            [(timestamp(hold_until), s.id) for s in claimed],
        )
        return claimed
