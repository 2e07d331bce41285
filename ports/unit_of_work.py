"""The unit of work: the repositories of one transaction, committed or rolled back as one."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from .diagnostics import DiagnosticRepository
from .repositories import (
    ApiKeyRepository,
    AuditLog,
    ChangeFeed,
    CircuitRepository,
    FeedImportLedger,
    FeedSkuRegister,
    HeldFeedRepository,
    IdempotencyKeyRepository,
    JobRepository,
    PartnerRepository,
    ProductRepository,
    ScheduleRepository,
    WebhookRepository,
    WebSessionRepository,
)

__all__ = ["UnitOfWork", "UnitOfWorkFactory"]


class UnitOfWork(Protocol):
    """Use as a context manager; leaving it without `commit()` rolls everything back.

    A feed's products, its ledger entry and its audit entries are written in one
    unit of work, so a crash leaves either all of them or none.
    """

    @property
    def products(self) -> ProductRepository: ...
    @property
    def feed_skus(self) -> FeedSkuRegister: ...
    @property
    def imports(self) -> FeedImportLedger: ...
    @property
    def held_feeds(self) -> HeldFeedRepository: ...
    @property
    def changes(self) -> ChangeFeed: ...
    @property
    def idempotency_keys(self) -> IdempotencyKeyRepository: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def partners(self) -> PartnerRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def schedules(self) -> ScheduleRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def circuits(self) -> CircuitRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def diagnostics(self) -> DiagnosticRepository: ...
    @property
    def web_sessions(self) -> WebSessionRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make every change of this unit of work durable (it survives a crash, and for the
        real stores a power loss), atomically."""

    def rollback(self) -> None:
        """Discard every change of this unit of work."""


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work. `read_only` ones never block writers (and may not write)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...
