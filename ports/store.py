"""The store port: one database behind the unit of work, as the composition root takes it.

The use cases never see it: they take its `unit_of_work` (a `UnitOfWorkFactory`)
and its `audit_log`. `bootstrap.build(store=...)` takes a whole store so that an
embedder can hand over its own database (or the in-memory one) and keep every
other default.
"""

from __future__ import annotations

from typing import Protocol

from .repositories import AuditLog
from .unit_of_work import UnitOfWork

__all__ = ["Store"]


class Store(Protocol):
    """A database: units of work over it, and the audit log for entries written outside one."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """Open a unit of work (see `UnitOfWorkFactory`)."""
        ...

    @property
    def audit_log(self) -> AuditLog:
        """The append-only audit log, for entries written outside any unit of work."""
        ...
