"""Ports: the Protocols the core needs from the world, and the pluggy hookspecs.

Adapters implement these; the use cases take them as constructor arguments.
"""

from .clock import Clock, IdSource
from .credentials import CredentialVault
from .cron import CronRule, CronRules
from .fetcher import FeedFetcher, FetchOutcome, FetchRequest, FetchResult
from .formats import FeedFormat, FormatRegistrar, FormatRegistry, RawItem
from .parsing import FeedParsing
from .rate_limit import FailurePolicy, RateDecision, RateLimiter
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
    StoredBodies,
    UpsertCounts,
)
from .unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "ApiKeyRepository",
    "ChangeFeed",
    "AuditLog",
    "CircuitRepository",
    "Clock",
    "CredentialVault",
    "CronRule",
    "CronRules",
    "FailurePolicy",
    "FeedFetcher",
    "FeedFormat",
    "FeedImportLedger",
    "FeedParsing",
    "FeedSkuRegister",
    "HeldFeedRepository",
    "FetchOutcome",
    "FetchRequest",
    "FetchResult",
    "FormatRegistrar",
    "FormatRegistry",
    "IdSource",
    "IdempotencyKeyRepository",
    "JobRepository",
    "PartnerRepository",
    "ProductRepository",
    "RateDecision",
    "RateLimiter",
    "RawItem",
    "ScheduleRepository",
    "StoredBodies",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UpsertCounts",
]
