"""Ports: the Protocols the core needs from the world, and the pluggy hookspecs.

Adapters implement these; the use cases take them as constructor arguments.

The names below are imported from their modules when first used (PEP 562), not when the
package is: a module that needs one port does not load every other (ADR 0042).
`from partner_ingest.ports import X` works as before; type checkers and the import contracts
read the imports under TYPE_CHECKING.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_ingest.domain.lazy_names import on_first_access

if TYPE_CHECKING:
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
    from .unit_of_work import IngestQueue, UnitOfWork, UnitOfWorkFactory, WriteQueue
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
    "WriteQueue",
    "IngestQueue",
    "UpsertCounts",
    "WebhookRepository",
    "WebhookSender",
    "WebhookSent",
    "WebSessionRepository",
]

_MODULE_OF: dict[str, str] = {
    "Clock": "clock",
    "IdSource": "clock",
    "CredentialVault": "credentials",
    "CronRule": "cron",
    "CronRules": "cron",
    "DiagnosticRepository": "diagnostics",
    "RejectionSpool": "diagnostics",
    "RejectionSpools": "diagnostics",
    "FeedFetcher": "fetcher",
    "FetchOutcome": "fetcher",
    "FetchRequest": "fetcher",
    "FetchResult": "fetcher",
    "FeedFormat": "formats",
    "FormatRegistrar": "formats",
    "FormatRegistry": "formats",
    "RawItem": "formats",
    "FeedParsing": "parsing",
    "CacheMiss": "product_cache",
    "CacheUnavailable": "product_cache",
    "ProductCache": "product_cache",
    "FailurePolicy": "rate_limit",
    "RateDecision": "rate_limit",
    "RateLimiter": "rate_limit",
    "ApiKeyRepository": "repositories",
    "AuditLog": "repositories",
    "ChangeFeed": "repositories",
    "CircuitRepository": "repositories",
    "FeedImportLedger": "repositories",
    "FeedSkuRegister": "repositories",
    "HeldFeedRepository": "repositories",
    "IdempotencyKeyRepository": "repositories",
    "JobRepository": "repositories",
    "PartnerRepository": "repositories",
    "ProductRepository": "repositories",
    "ScheduleRepository": "repositories",
    "StoredBodies": "repositories",
    "UpsertCounts": "repositories",
    "WebhookRepository": "repositories",
    "WebSessionRepository": "repositories",
    "Store": "store",
    "UnitOfWork": "unit_of_work",
    "UnitOfWorkFactory": "unit_of_work",
    "WriteQueue": "unit_of_work",
    "IngestQueue": "unit_of_work",
    "WebhookSender": "webhooks",
    "WebhookSent": "webhooks",
}
"""Each public name and the module of this package that holds it."""


__getattr__ = on_first_access(__name__, _MODULE_OF, globals())
