"""Ports: the Protocols the core needs from the world, and the pluggy hookspecs.

Adapters implement these; the use cases take them as constructor arguments.
"""

from .clock import Clock, IdSource
from .credentials import CredentialVault
from .cron import CronRule, CronRules
from .diagnostics import DiagnosticRepository, RejectionSpool, RejectionSpools
from .fetcher import FeedFetcher, FetchOutcome, FetchRequest, FetchResult
from .formats import FeedFormat, FormatRegistrar, FormatRegistry, RawItem
from .parsing import FeedParsing
from .product_cache import CacheMiss, CacheUnavailable, ProductCache
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
    WebhookRepository,
    WebSessionRepository,
)
from .store import Store
from .unit_of_work import UnitOfWork, UnitOfWorkFactory
from .webhooks import WebhookSender, WebhookSent

__all__ = [
    "ApiKeyRepository",
    "CacheMiss",
    "CacheUnavailable",
    "ChangeFeed",
    "AuditLog",
    "CircuitRepository",
    "Clock",
    "CredentialVault",
    "CronRule",
    "CronRules",
    "DiagnosticRepository",
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
    "ProductCache",
    "ProductRepository",
    "RateDecision",
    "RateLimiter",
    "RawItem",
    "RejectionSpool",
    "RejectionSpools",
    "ScheduleRepository",
    "Store",
    "StoredBodies",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UpsertCounts",
    "WebhookRepository",
    "WebhookSender",
    "WebhookSent",
    "WebSessionRepository",
]
