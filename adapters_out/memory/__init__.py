"""In-memory implementations of every port: fast, deterministic, and held to the same
contract test suite as SQLite and PostgreSQL, so embedders can trust them in their tests."""

from .circuits import InMemoryCircuitRepository
from .clock import FakeClock, SequentialIds
from .diagnostics import InMemoryDiagnosticRepository
from .jobs import InMemoryJobRepository
from .repositories import (
    InMemoryApiKeyRepository,
    InMemoryAuditLog,
    InMemoryFeedImportLedger,
    InMemoryFeedSkuRegister,
    InMemoryPartnerRepository,
    InMemoryProductRepository,
    InMemoryScheduleRepository,
)
from .store import InMemoryStore, InMemoryUnitOfWork

__all__ = [
    "FakeClock",
    "InMemoryApiKeyRepository",
    "InMemoryAuditLog",
    "InMemoryCircuitRepository",
    "InMemoryDiagnosticRepository",
    "InMemoryFeedImportLedger",
    "InMemoryFeedSkuRegister",
    "InMemoryJobRepository",
    "InMemoryPartnerRepository",
    "InMemoryProductRepository",
    "InMemoryScheduleRepository",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "SequentialIds",
]
