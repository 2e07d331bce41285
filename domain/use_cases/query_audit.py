"""Use case: read the audit trail, filtered and paged (S1-S4, ADR 0006).

Pages go backwards in time by entry id (`before_id`), never by offset: the trail
only grows, and an offset would shift under a reader while attacks are being
recorded, repeating or skipping entries.
"""

from __future__ import annotations

from typing import Final

import attrs

from partner_ingest.domain.model.audit import AuditEntry, AuditQuery
from partner_ingest.ports.repositories import AuditLog

from .paging import PageRequestError, check_limit

__all__ = ["MAX_AUDIT_PAGE", "AuditPage", "QueryAudit"]

MAX_AUDIT_PAGE: Final = 500


@attrs.frozen
class AuditPage:
    """One page of entries, newest first, and the cursor of the next (older) page."""

    entries: tuple[AuditEntry, ...]
    next_before_id: int | None
    """Pass as `before_id` to read the next page; None on the last page."""


class QueryAudit:
    """Entries matching a query, a page at a time."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def __call__(self, query: AuditQuery) -> AuditPage:
        """One page; PageRequestError for a limit out of bounds, a bad cursor or an empty window."""
        check_limit(query.limit, MAX_AUDIT_PAGE)
        if query.before_id is not None and query.before_id < 1:
            raise PageRequestError("before_id must be a positive entry id", field="before_id")
        if query.since is not None and query.until is not None and query.since >= query.until:
            raise PageRequestError("since must lie before until", field="since")
        # One entry more than asked tells whether there is a next page, without a count.
        found = self._audit.query(attrs.evolve(query, limit=query.limit + 1))
        page = tuple(found[: query.limit])
        more = len(found) > query.limit and page and page[-1].id is not None
        return AuditPage(entries=page, next_before_id=page[-1].id if more else None)
