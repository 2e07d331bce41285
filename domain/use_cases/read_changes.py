"""Use case: follow the change feed by cursor (ADR 0037), for the admin API, partners and embedders.

A consumer keeps the cursor of the last change it handled and asks for what
follows; it sees every committed change once, in commit order (the stores
guarantee it, PostgreSQL included). With `wait`, an empty answer is held until
a change arrives or the wait is over (long polling), polling the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import attrs

from partner_ingest.domain.model.changes import Change
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

from .paging import check_limit

__all__ = ["MAX_CHANGES_PAGE", "MAX_WAIT_SECONDS", "ChangePage", "ReadChanges"]

MAX_CHANGES_PAGE: Final = 1000
MAX_WAIT_SECONDS: Final = 30.0


@attrs.frozen
class ChangePage:
    """Changes in commit order, and the cursor to ask after next (the last one's, else the one given)."""

    changes: tuple[Change, ...]
    next_after: str | None


class ReadChanges:
    """Pages of the change feed: every partner's (admins, embedders) or one partner's."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        poll_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._poll = poll_seconds
        self._sleep = sleep
        self._monotonic = monotonic

    def __call__(
        self, after: str | None = None, *, limit: int = 100, partner_id: str | None = None, wait: float = 0.0
    ) -> ChangePage:
        """The changes after `after`; with `wait` seconds (at most MAX_WAIT_SECONDS), held until
        there is one. InvalidCursor for a cursor the store never gave."""
        check_limit(limit, MAX_CHANGES_PAGE)
        deadline = self._monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
        while True:
            with self._uow(read_only=True) as uow:
                found = uow.changes.after(after, limit=limit, partner_id=partner_id)
            if found or self._monotonic() >= deadline:
                return ChangePage(tuple(found), found[-1].cursor if found else after)
            self._sleep(self._poll)
