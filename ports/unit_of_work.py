"""The unit of work: the repositories of one transaction, committed or rolled back as one."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar

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

__all__ = ["UnitOfWork", "UnitOfWorkFactory", "WriteQueue"]


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


S_contra = TypeVar("S_contra", contravariant=True)

Done = Callable[[object, BaseException | None], None]
"""Told a call's result and None, or None and its error, once it may be answered."""


class IngestQueue(Protocol[S_contra]):
    """Where a feed answered while its sender waits is ingested (ADR 0043, 0047): the store's
    writer thread in this process, or an ingest process. The caller does not know which."""

    def submit(self, submission: S_contra, done: Done) -> None:
        """Ingest `submission`; `done(report, None)` or `done(None, error)` is called, on a thread
        of the queue's, once the answer may be given (the writes it kept durable)."""
        ...

    def after_submitted(self, done: Done) -> None:
        """`done(None, None)` once no submission made so far reads its body any more (a
        cancelled request may then close it)."""
        ...

    def warm(self, timeout: float) -> None:
        """Get ready for the first submission now, waiting up to `timeout` seconds for it (a
        server calls it before it takes requests)."""
        ...


class WriteQueue(Protocol):
    """One writer that runs submitted calls one after another, their units of work sharing a
    transaction (ADR 0043): what a store offers for many small writes answered while they wait."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work for the call running now (a savepoint of the shared transaction);
        `read_only` ones are the store's own."""
        ...

    def submit(self, work: Callable[[], object], done: Done) -> None:
        """Run `work()` on the writer; `done(result, None)` or `done(None, error)` is called on
        the writer's thread once the result may be answered (the writes it kept durable)."""
        ...
