"""`partner_schedules`: when to pull each partner's feed, claimed by one scheduler at a time.

The guard is a claim row: `claim_due` locks the due schedules with FOR UPDATE
SKIP LOCKED and pushes their next run to `hold_until` in the same statement.
A second scheduler running the same query at the same moment skips the rows
the first has locked; once the first commits, the rows are no longer due
(READ COMMITTED rechecks a locked row against the WHERE clause on its newest
version), so each due schedule is acted on by exactly one scheduler until the
caller sets its real next run, as the port describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.schedules import Schedule

from ._codec import storable_text
from ._errors import conflicts
from .connection import Connection

__all__ = ["PostgresScheduleRepository"]

_FIELDS: Final = (
    "id",
    "partner_id",
    "next_run_at",
    "interval_seconds",
    "cron",
    "enabled",
    "format",
    "version",
    "last_run_at",
    "etag",
    "last_modified",
    "last_content_hash",
    "last_outcome",
    "last_error",
    "last_job_id",
    "feed_mode",
)
_COLUMNS: Final = ", ".join(_FIELDS)

_CLAIM: Final = (
    f"WITH due AS (SELECT {_COLUMNS} FROM partner_schedules WHERE enabled AND next_run_at <= %s"
    " ORDER BY next_run_at, id LIMIT %s FOR UPDATE SKIP LOCKED),"
    " held AS (UPDATE partner_schedules AS s SET next_run_at = %s FROM due WHERE s.id = due.id)"
    f" SELECT {_COLUMNS} FROM due ORDER BY next_run_at, id"
)
# `due` returns the rows as they were before `held` pushes them (one snapshot for the whole
# statement): the port hands the caller each schedule as it stood when claimed.


def _schedule(row: Sequence[Any]) -> Schedule:
    return Schedule(
        id=row[0],
        partner_id=row[1],
        next_run_at=row[2],
        interval_seconds=row[3],
        cron=row[4],
        enabled=row[5],
        format=row[6],
        version=row[7],
        last_run_at=row[8],
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
        s.next_run_at,
        s.interval_seconds,
        s.cron,
        s.enabled,
        s.format,
        s.version,
        s.last_run_at,
        s.etag,
        s.last_modified,
        s.last_content_hash,
        s.last_outcome,
        None if s.last_error is None else storable_text(s.last_error),
        s.last_job_id,
        None if s.feed_mode is None else str(s.feed_mode),
    )


class PostgresScheduleRepository:
    """Schedules of one connection's current transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, schedule: Schedule) -> None:
        """Store a new schedule."""
        with conflicts(self._conn, f"schedule {schedule.id!r}"):
            self._conn.execute(
                f"INSERT INTO partner_schedules ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(_FIELDS))})",
                _values(schedule),
            )

    def get(self, schedule_id: str) -> Schedule | None:
        """One schedule, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM partner_schedules WHERE id = %s", (schedule_id,)
        ).fetchone()
        return None if row is None else _schedule(row)

    def update(self, schedule: Schedule) -> None:
        """Replace a stored schedule."""
        with conflicts(self._conn, f"schedule {schedule.id!r}"):
            cursor = self._conn.execute(
                f"UPDATE partner_schedules SET {', '.join(f'{c} = %s' for c in _FIELDS[1:])} WHERE id = %s",
                (*_values(schedule)[1:], schedule.id),
            )
        if cursor.rowcount == 0:
            raise NotFoundError("schedule", schedule.id)

    def delete(self, schedule_id: str) -> bool:
        """Remove; False when unknown."""
        return self._conn.execute("DELETE FROM partner_schedules WHERE id = %s", (schedule_id,)).rowcount > 0

    def all(self, partner_id: str | None = None) -> list[Schedule]:
        """Schedules by id."""
        if partner_id is None:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM partner_schedules ORDER BY id")
        else:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM partner_schedules WHERE partner_id = %s ORDER BY id", (partner_id,)
            )
        return [_schedule(row) for row in rows]

    def claim_due(self, now: datetime, hold_until: datetime, limit: int) -> list[Schedule]:
        """Due schedules as they were, each pushed to `hold_until`; rows another scheduler holds are skipped."""
        rows = self._conn.execute(_CLAIM, (now, limit, hold_until)).fetchall()
        return [_schedule(row) for row in rows]
