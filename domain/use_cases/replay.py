"""Use case: an admin re-runs the rejected items of an import, after a contract change (ADR 0033).

The items are the raw ones the diagnostics kept, each read back exactly as the
import's format had parsed it (`ReplayedFormat`), and sent through `IngestFeed`
as a new import of the same partner: an item the contract now accepts lands and
resolves its diagnostics like any fixed item a partner sends. Items a later
import resolved already are left out (replaying them would write back the old
version over the fix), and so are items whose raw form was cut to its bound.
The replay is audited in the same unit of work as its import.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import IO, Any, BinaryIO, Final

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import ConflictError, MalformedFeedError, NotFoundError
from partner_ingest.domain.model.policy import FeedLimits
from partner_ingest.domain.model.product import Product
from partner_ingest.domain.model.report import ErrorCode, IngestReport, Location
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.formats import FeedFormat, RawItem
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .feed_terms import FeedSubmission, Ingested
from .ingest_feed import IngestFeed

__all__ = ["NothingToReplay", "ReplayImport", "ReplayResult", "ReplayedFormat"]

_PAGE: Final = 1000


class NothingToReplay(ConflictError):
    """The import has no rejected item left to re-run (none kept, all resolved, or all cut)."""

    code = "nothing_to_replay"

    def __init__(self, import_id: str, resolved: int, truncated: int) -> None:
        super().__init__(
            f"import {import_id!r} has no rejected item to replay ({resolved} resolved by later imports, "
            f"{truncated} kept only in part)"
        )
        self.import_id = import_id
        self.resolved = resolved
        self.truncated = truncated

    @property
    def details(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "resolved": self.resolved, "truncated": self.truncated}


@attrs.frozen
class ReplayedFormat:
    """A `FeedFormat` reading kept raw items (one JSON text per line) as `original` parsed them:
    same name, version and textual flag, so the validator treats every value alike."""

    original: FeedFormat

    @property
    def name(self) -> str:
        return self.original.name

    @property
    def version(self) -> int:
        return self.original.version

    @property
    def media_types(self) -> tuple[str, ...]:
        return self.original.media_types

    @property
    def textual(self) -> bool:
        return self.original.textual

    def parse(self, stream: BinaryIO, limits: FeedLimits) -> Iterator[RawItem]:
        """Each line's item, its line number the marker."""
        for line, text in enumerate(stream, start=1):
            try:
                yield json.loads(text, parse_float=Decimal), line
            except ValueError as error:  # pragma: no cover - the lines are written by ReplayImport
                raise MalformedFeedError(ErrorCode.MALFORMED, f"replayed item {line}: {error}") from None

    def locate(self, index: int, marker: object, field: str) -> Location:
        """The line of the item in the replay (the original's location is in its own diagnostics)."""
        return Location(pointer=f"/{field.replace('.', '/')}" if field else None, line=int(str(marker)))

    def render(self, products: Iterable[Product]) -> bytes:
        return self.original.render(products)


@attrs.frozen
class ReplayResult:
    """What a replay did: the new import's report, and what it left out."""

    replayed_from: str
    replayed: int
    skipped_resolved: int
    skipped_truncated: int
    report: IngestReport


class ReplayImport:
    """Re-run an import's open rejected items through the contract as it is now."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        ingest: IngestFeed,
        clock: Clock,
        *,
        buffer: Callable[[], IO[bytes]] = io.BytesIO,
    ) -> None:
        """`buffer` holds the items between reading them and ingesting them (a temporary
        file for large imports: the composition root passes one)."""
        self._uow = uow
        self._ingest = ingest
        self._clock = clock
        self._buffer = buffer

    def __call__(
        self, import_id: str, *, actor: str, client: str | None = None, version: int | None = None
    ) -> ReplayResult:
        """Replay the import's open rejected items under `version` (default: the import's);
        NotFoundError for an unknown import, NothingToReplay when none is left."""
        with self._uow(read_only=True) as uow:
            entry = uow.imports.get(import_id)
        if entry is None:
            raise NotFoundError("feed", import_id)
        with self._buffer() as body:
            replayed, resolved, truncated = self._write_items(import_id, body)
            if not replayed:
                raise NothingToReplay(import_id, resolved, truncated)
            body.seek(0)
            counts = {"replayed": replayed, "skipped_resolved": resolved, "skipped_truncated": truncated}
            report = self._ingest(
                FeedSubmission(
                    partner_id=entry.partner_id,
                    body=body,  # type: ignore[arg-type]  # IO[bytes] is the BinaryIO the use case reads
                    format=entry.format,
                    version=version if version is not None else entry.version,
                    client=client,
                    source="replay",
                    replay_of=import_id,
                ),
                steps=[_Audited(self._clock, actor, client, import_id, counts)],
            )
        return ReplayResult(import_id, replayed, resolved, truncated, report)

    def _write_items(self, import_id: str, body: IO[bytes]) -> tuple[int, int, int]:
        """Write each open, whole rejected item once, as a JSON line; (written, resolved, cut)."""
        written = resolved = cut = 0
        last_index: int | None = None
        after = 0
        while True:
            with self._uow(read_only=True) as uow:
                page = uow.diagnostics.page(import_id, after_seq=after, limit=_PAGE)
            for d in page:
                if d.error.index == last_index:
                    continue  # another error of the same item
                last_index = d.error.index
                if d.resolved_by is not None:
                    resolved += 1
                elif d.raw_truncated or d.raw is None:
                    cut += 1
                else:
                    body.write(d.raw.encode("utf-8") + b"\n")
                    written += 1
            if len(page) < _PAGE:
                return written, resolved, cut
            after = page[-1].seq


@attrs.frozen
class _Audited:
    """The ingest step that audits a replay with its import."""

    clock: Clock
    actor: str
    client: str | None
    import_id: str
    counts: dict[str, int]

    def __call__(self, uow: UnitOfWork, ingested: Ingested) -> None:
        report = ingested.report
        uow.audit.append(
            AuditEntry(
                at=self.clock.now(),
                action=AuditAction.IMPORT_REPLAYED,
                outcome=Outcome.SUCCESS,
                actor=self.actor,
                partner_id=report.partner_id,
                client=self.client,
                details={
                    "feed_id": self.import_id,
                    "replay_feed_id": report.feed_id,
                    "status": str(report.status),
                    "repeat": ingested.repeat,
                    **self.counts,
                },
            )
        )
