"""Use case: which partners still send each contract version, read from the ledger (ADR 0035).

An operator planning a sunset asks who would be refused: every version with its status
in force, and per partner the imports recorded under it and the last one's time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.rules import CONTRACTS
from partner_ingest.ports.clock import Clock
from partner_ingest.ports.unit_of_work import UnitOfWorkFactory

__all__ = ["ReadContractUsage"]


class ReadContractUsage:
    """Per contract version: its status now and the partners that sent feeds under it."""

    def __init__(self, uow: UnitOfWorkFactory, lifecycle: ContractLifecycle, clock: Clock) -> None:
        self._uow = uow
        self._lifecycle = lifecycle
        self._clock = clock

    def __call__(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Every contract version (and any other version found in the ledger), in order."""
        now = self._clock.now()
        with self._uow(read_only=True) as uow:
            usage = uow.imports.version_usage(since)
        versions = sorted(set(CONTRACTS) | {use.version for use in usage})
        out = []
        for version in versions:
            entry = self._lifecycle.of_version(version)
            partners = [u for u in usage if u.version == version]
            out.append(
                {
                    "version": version,
                    "status": str(entry.status_at(now)),
                    "sunset": None if entry.sunset is None else entry.sunset.isoformat(),
                    "partners": [
                        {
                            "partner_id": u.partner_id,
                            "imports": u.imports,
                            "last_import_at": u.last_at.isoformat(),
                        }
                        for u in partners
                    ],
                    "imports": sum(u.imports for u in partners),
                }
            )
        return out
