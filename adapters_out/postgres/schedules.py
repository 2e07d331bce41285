"""`partner_schedules` on PostgreSQL: claimed by one scheduler at a time (ADR 0018, ADR 0040).

The guard is a claim row: `claim_due` locks the due schedules with FOR UPDATE
SKIP LOCKED and pushes their next run to `hold_until` in the same statement.
A second scheduler running the same query at the same moment skips the rows
the first has locked; once the first commits, the rows are no longer due
(READ COMMITTED rechecks a locked row against the WHERE clause on its newest
version), so each due schedule is acted on by exactly one scheduler until the
caller sets its real next run, as the port describes. The rest is the shared
repository's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from partner_ingest.adapters_out.sql.schedules import (
    SCHEDULE_COLUMNS,
    ScheduleRow,
    SqlScheduleRepository,
    schedule,
)
from partner_ingest.domain.model.schedules import Schedule

from .connection import Connection
from .dialect import POSTGRES

__all__ = ["PostgresScheduleRepository"]

# `due` returns the rows as they were before `held` pushes them (one snapshot for the whole
# statement): the port hands the caller each schedule as it stood when claimed.
_CLAIM: Final = (
    f"WITH due AS (SELECT {SCHEDULE_COLUMNS} FROM partner_schedules WHERE enabled AND next_run_at <= ?"
    " ORDER BY next_run_at, id LIMIT ? FOR UPDATE SKIP LOCKED),"
    " held AS (UPDATE partner_schedules AS s SET next_run_at = ? FROM due WHERE s.id = due.id)"
    f" SELECT {SCHEDULE_COLUMNS} FROM due ORDER BY next_run_at, id"
)


class PostgresScheduleRepository(SqlScheduleRepository):
    """The shared schedules, claimed with SKIP LOCKED."""

    __slots__ = ()

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, POSTGRES)

    def claim_due(self, now: datetime, hold_until: datetime, limit: int) -> list[Schedule]:
        """Due schedules as they were, each pushed to `hold_until`; rows another scheduler holds are skipped."""
        rows = self._run(_CLAIM, (now, limit, hold_until)).fetchall()
        return [schedule(ScheduleRow._make(row), self._d) for row in rows]
