"""Use cases: keep every rejected item of an import, read them back, and let them go after retention.

`KeepDiagnostics` is the ingest step (ADR 0023) that writes a feed's spooled
rejections in the feed's own unit of work, a batch at a time; `ReadDiagnostics`
pages, filters and summarizes them for the partner that sent the feed, and
answers where one SKU stands; `PurgeDiagnostics` deletes those older than the
retention (ADR 0033).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

import attrs

from partner_ingest.domain.model.diagnostics import CodeSummary, Diagnostic, Rejection
from partner_ingest.domain.model.errors import NotFoundError
from partner_ingest.domain.model.feed_import import FeedImport
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .paging import PageRequestError, check_limit
from .retention import PurgePastRetention

if TYPE_CHECKING:
    from .feed_terms import Ingested

__all__ = [
    "MAX_DIAGNOSTICS_PAGE",
    "MAX_SUMMARY_EXAMPLES",
    "DiagnosticsPage",
    "KeepDiagnostics",
    "MemorySpool",
    "PurgeDiagnostics",
    "ReadDiagnostics",
    "SkuStatus",
    "error_code",
]

MAX_DIAGNOSTICS_PAGE: Final = 1000
MAX_SUMMARY_EXAMPLES: Final = 10


class MemorySpool:
    """A spool in a list: the default for embedders and tests (a feed's rejections in memory)."""

    def __init__(self) -> None:
        self._items: list[Rejection] = []

    def add(self, rejections: Sequence[Rejection]) -> None:
        """Append a batch."""
        self._items.extend(rejections)

    def batches(self, size: int) -> Iterator[list[Rejection]]:
        """Every rejection, `size` at a time."""
        for start in range(0, len(self._items), size):
            yield self._items[start : start + size]

    def close(self) -> None:
        """Forget everything."""
        self._items = []


class KeepDiagnostics:
    """The ingest step that keeps every error of every rejected item, with the feed's outcome."""

    def __init__(self, clock: Clock, *, batch_size: int = 1000) -> None:
        self._clock = clock
        self._batch_size = batch_size

    def __call__(self, uow: UnitOfWork, ingested: Ingested) -> None:
        """Write the spooled rejections into `uow`, a batch per statement."""
        spool = ingested.rejections
        report = ingested.report
        if ingested.repeat or spool is None or report.dry_run:
            return
        at = self._clock.now()
        seq = 0
        for batch in spool.batches(self._batch_size):
            uow.diagnostics.add(
                [
                    Diagnostic.of(report.feed_id, report.partner_id, seq + n, rejection, at)
                    for n, rejection in enumerate(batch, start=1)
                ]
            )
            seq += len(batch)


def error_code(text: str) -> ErrorCode:
    """The error code named `text`; an InvalidError listing the codes otherwise."""
    try:
        return ErrorCode(text)
    except ValueError:
        raise PageRequestError(
            f"code must be one of {', '.join(c.value for c in ErrorCode)}, got {text[:40]!r}", field="code"
        ) from None


@attrs.frozen
class DiagnosticsPage:
    """A page of an import's diagnostics and the cursor of the next one."""

    import_id: str
    diagnostics: tuple[Diagnostic, ...]
    next_after: int | None
    """Pass as `after` to read the next page; None on the last page."""


@attrs.frozen
class SkuStatus:
    """Where one SKU stands: the version accepted last, and the errors of the version rejected last."""

    sku: str
    accepted: Product | None
    accepted_import: str | None
    """The import that wrote the accepted version (`Product.feed_id`); for a product stored
    before imports were recorded on products, the import that resolved its last rejection;
    None when neither is known."""
    rejected: tuple[Diagnostic, ...]
    """The errors of the partner's latest import that rejected this SKU (empty when none is kept)."""

    @property
    def rejected_import(self) -> str | None:
        """The import that rejected it last."""
        return self.rejected[0].import_id if self.rejected else None


class ReadDiagnostics:
    """A partner's diagnostics: its own imports only (another partner's answer as unknown)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def page(
        self,
        partner_id: str | None,
        import_id: str,
        *,
        code: ErrorCode | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> DiagnosticsPage:
        """A page of the import's diagnostics in feed order; `partner_id` None for an admin."""
        check_limit(limit, MAX_DIAGNOSTICS_PAGE)
        if after < 0:
            raise PageRequestError(f"after must be 0 or more, got {after}", field="after")
        with self._uow(read_only=True) as uow:
            _owned(uow, partner_id, import_id)
            found = uow.diagnostics.page(import_id, code=code, after_seq=after, limit=limit + 1)
        page = tuple(found[:limit])
        return DiagnosticsPage(import_id, page, page[-1].seq if len(found) > limit else None)

    def all(
        self, partner_id: str | None, import_id: str, *, code: ErrorCode | None = None, batch: int = 1000
    ) -> Iterator[Diagnostic]:
        """Every diagnostic of the import, read a page per unit of work (a download of any size
        in bounded memory). Ownership is checked now, before anything is iterated."""
        first = self.page(partner_id, import_id, code=code, limit=batch)
        return self._rest(first, code, batch)

    def _rest(self, first: DiagnosticsPage, code: ErrorCode | None, batch: int) -> Iterator[Diagnostic]:
        yield from first.diagnostics
        after = first.next_after
        while after is not None:
            with self._uow(read_only=True) as uow:
                found = uow.diagnostics.page(first.import_id, code=code, after_seq=after, limit=batch)
            yield from found
            after = found[-1].seq if len(found) == batch else None

    def summary(self, partner_id: str | None, import_id: str, *, examples: int = 3) -> list[CodeSummary]:
        """The import's diagnostics grouped by code, with the first `examples` of each."""
        check_limit(examples, MAX_SUMMARY_EXAMPLES, field="examples")
        with self._uow(read_only=True) as uow:
            _owned(uow, partner_id, import_id)
            return uow.diagnostics.summary(import_id, examples=examples)

    def open_items(self) -> dict[str, int]:
        """Rejected items no later import resolved yet, per partner (a metric)."""
        with self._uow(read_only=True) as uow:
            return dict(uow.diagnostics.open_items())

    def sku_status(self, partner_id: str, sku: str) -> SkuStatus:
        """The SKU's last accepted version and last rejected one; NotFoundError when neither exists."""
        with self._uow(read_only=True) as uow:
            product = uow.products.get(partner_id, sku)
            rejected = tuple(uow.diagnostics.latest_for_sku(partner_id, sku))
        if product is None and not rejected:
            raise NotFoundError("product", sku)
        accepted_import = None
        if product is not None:
            accepted_import = product.feed_id or (rejected[0].resolved_by if rejected else None)
        return SkuStatus(sku, product, accepted_import, rejected)


def _owned(uow: UnitOfWork, partner_id: str | None, import_id: str) -> FeedImport:
    found = uow.imports.get(import_id)
    if found is None or (partner_id is not None and found.partner_id != partner_id):
        raise NotFoundError("feed", import_id)
    return found


class PurgeDiagnostics(PurgePastRetention):
    """Deletes the diagnostics older than the retention, a bounded batch per unit of work."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, retention_days: int, batch: int = 5000
    ) -> None:
        super().__init__(
            uow,
            clock,
            lambda unit, before, limit: unit.diagnostics.purge(before, limit=limit),
            retention_days=retention_days,
            what="diagnostics",
            batch=batch,
        )
