"""What a storage contract test needs from a store, whichever store it is."""

from __future__ import annotations

from typing import Protocol

from partner_ingest.ports import AuditLog, UnitOfWorkFactory

__all__ = ["StoreUnderTest"]


class StoreUnderTest(Protocol):
    """The two entry points every store offers: units of work, and the standalone audit log."""

    @property
    def unit_of_work(self) -> UnitOfWorkFactory: ...
    @property
    def audit_log(self) -> AuditLog: ...
