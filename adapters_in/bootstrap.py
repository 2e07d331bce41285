"""The composition root: settings in, a wired application out.

The only module of `adapters_in` allowed to import outbound adapters. Every
entry point (HTTP app, worker, scheduler, CLI) gets its wiring from here; an
embedding service can instead build the use cases from its own adapters.
"""

from __future__ import annotations

from typing import BinaryIO

import attrs

from partner_ingest.adapters_out.memory import FakeClock, InMemoryStore, SequentialIds
from partner_ingest.adapters_out.system import SystemClock, UuidIds
from partner_ingest.domain.model.policy import FeedLimits, Mode, ValidationPolicy
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.domain.use_cases import DescribeContract, IngestFeed, ValidateFeed
from partner_ingest.plugins import load_formats
from partner_ingest.ports import AuditLog, Clock, FormatRegistry, IdSource, UnitOfWorkFactory

__all__ = ["Application", "in_memory", "validate_against_contract", "wire"]


@attrs.frozen
class Application:
    """Ports and use cases, wired. Entry points hold one of these and nothing global."""

    uow: UnitOfWorkFactory
    audit: AuditLog
    formats: FormatRegistry
    clock: Clock
    ids: IdSource
    limits: FeedLimits
    ingest: IngestFeed
    describe_contract: DescribeContract
    validate: ValidateFeed


def wire(
    uow: UnitOfWorkFactory,
    audit: AuditLog,
    *,
    formats: FormatRegistry | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    limits: FeedLimits | None = None,
) -> Application:
    """Build the use cases over the given ports (defaults: built-in formats, system clock)."""
    formats = formats if formats is not None else load_formats()
    clock = clock if clock is not None else SystemClock()
    ids = ids if ids is not None else UuidIds()
    limits = limits or FeedLimits()
    return Application(
        uow=uow,
        audit=audit,
        formats=formats,
        clock=clock,
        ids=ids,
        limits=limits,
        ingest=IngestFeed(uow, formats, clock, ids, limits=limits),
        describe_contract=DescribeContract(formats),
        validate=ValidateFeed(formats, limits=limits),
    )


def in_memory(*, formats: FormatRegistry | None = None) -> tuple[Application, InMemoryStore, FakeClock]:
    """An application on the in-memory store with a fake clock and sequential ids (T1)."""
    store = InMemoryStore()
    clock = FakeClock()
    app = wire(store.unit_of_work, store.audit_log, formats=formats, clock=clock, ids=SequentialIds())
    return app, store, clock


def validate_against_contract(
    document: bytes | BinaryIO,
    *,
    format: str | None = None,  # noqa: A002 - the partner's word for it
    media_type: str | None = None,
    version: int = 1,
    mode: Mode | str = Mode.STRICT,
    formats: FormatRegistry | None = None,
) -> IngestReport:
    """Check a feed against the published contract, with no database (I1).

    The report is the one the server would give, with every valid item counted
    as created.
    """
    validate = ValidateFeed(formats if formats is not None else load_formats())
    return validate(
        document, format=format, media_type=media_type, version=version, policy=ValidationPolicy(mode=Mode(mode))
    )
