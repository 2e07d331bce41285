"""Use case: an operator settles the snapshots the mass-delete guard held (ADR 0036).

A held snapshot wrote nothing. Releasing it applies exactly what was held, as
one unit of work at the moment of release: its items as an upsert (each named
product written as the held feed had it), then exactly the SKUs it would have
retired when it was held. The ordering rule that follows from it, for feeds
that arrived while it was held:

- a product a newer feed created is not retired (the held snapshot never saw it);
- a product a newer feed changed, that the held snapshot names, takes the held
  snapshot's values (the release is the newer write);
- a product a newer feed restored, that the held snapshot would retire, is retired.

Discarding forgets it. Both are audited with the operator as the actor, and
each settles a held import once: a second operator gets ConflictError.
"""

from __future__ import annotations

import io

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import ConflictError, NotFoundError
from partner_ingest.domain.model.feed_import import FeedImport, ImportStatus
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.policy import PolicyOverrides
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .feed_terms import FeedSubmission, Ingested
from .ingest_feed import IngestFeed

__all__ = ["SettleHeldFeeds"]


class SettleHeldFeeds:
    """List, release and discard held snapshots."""

    def __init__(self, uow: UnitOfWorkFactory, ingest: IngestFeed, clock: Clock) -> None:
        self._uow = uow
        self._ingest = ingest
        self._clock = clock

    def held(self, partner_id: str | None = None) -> list[FeedImport]:
        """The held imports, oldest first (every partner's, or one partner's)."""
        with self._uow(read_only=True) as uow:
            return uow.imports.held(partner_id)

    def release(self, feed_id: str, *, actor: str, client: str | None = None) -> IngestReport:
        """Apply a held snapshot (see the module docstring); the report of the release, whose
        import is a new one. NotFoundError for an unknown import, ConflictError when it is
        not held (settled already, or never held)."""
        held = self._held(feed_id)
        fingerprint = held.fingerprint
        overrides = (
            PolicyOverrides()
            if fingerprint is None
            else PolicyOverrides(mode=fingerprint.mode, atomic=fingerprint.atomic)
        )
        with self._uow(read_only=True) as uow:
            kept = uow.held_feeds.get(feed_id)
        if kept is None:
            raise ConflictError(f"feed import {feed_id!r} is not held (any more)")

        def audited(uow: UnitOfWork, ingested: Ingested) -> None:
            uow.audit.append(
                AuditEntry(
                    at=self._clock.now(),
                    action=AuditAction.FEED_RELEASED,
                    outcome=Outcome.SUCCESS if ingested.report.applied else Outcome.REJECTED,
                    actor=actor,
                    partner_id=held.partner_id,
                    client=client,
                    details={
                        "feed_id": feed_id,
                        "release_feed_id": ingested.report.feed_id,
                        "retired": ingested.report.counts.retired,
                        "status": str(ingested.report.status),
                    },
                )
            )

        submission = FeedSubmission(
            partner_id=held.partner_id,
            body=io.BytesIO(kept.body),
            format=held.format,
            version=held.version,
            overrides=overrides,
            client=client,
            source="release",
            feed_mode=FeedMode.UPSERT,
            release_of=feed_id,
        )
        return self._ingest(submission, steps=[audited])

    def discard(self, feed_id: str, *, actor: str, client: str | None = None) -> FeedImport:
        """Forget a held snapshot; the import, now discarded."""
        self._held(feed_id)
        with self._uow() as uow:
            if not uow.imports.settle(feed_id, ImportStatus.DISCARDED):
                raise ConflictError(f"feed import {feed_id!r} is not held (any more)")
            uow.held_feeds.remove(feed_id)
            entry = uow.imports.get(feed_id)
            assert entry is not None
            uow.audit.append(
                AuditEntry(
                    at=self._clock.now(),
                    action=AuditAction.FEED_DISCARDED,
                    outcome=Outcome.SUCCESS,
                    actor=actor,
                    partner_id=entry.partner_id,
                    client=client,
                    details={"feed_id": feed_id, "retired": entry.report.counts.retired},
                )
            )
            uow.commit()
        return entry

    def _held(self, feed_id: str) -> FeedImport:
        with self._uow(read_only=True) as uow:
            entry = uow.imports.get(feed_id)
        if entry is None:
            raise NotFoundError("feed import", feed_id)
        if entry.status is not ImportStatus.HELD:
            raise ConflictError(f"feed import {feed_id!r} is {entry.status}, not held")
        return entry
