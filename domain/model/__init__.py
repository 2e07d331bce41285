"""The domain model: canonical products, the contract's rules, validation and reports.

Pure: the standard library and attrs only; no I/O, no clock, no adapters.

The names below are imported from their modules when first used (PEP 562), not when the
package is: a process that needs a few of them (the parser helper, the CLI) does not load
the whole model (ADR 0039, start-up). `from partner_ingest.domain.model import X` works as
before; type checkers and the import contracts read the imports under TYPE_CHECKING.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_ingest.domain.lazy_names import on_first_access

if TYPE_CHECKING:
    from .api_keys import (
        ApiKey,
        IssuedKey,
        KeyRole,
        ParsedKey,
        Principal,
        hash_secret,
        key_prefix,
        masked_key,
        new_api_key,
        parse_api_key,
        secrets_match,
        validate_server_secret,
    )
    from .audit import AuditAction, AuditEntry, AuditQuery, Outcome
    from .chunk import ValidatedChunk
    from .contract import example_product, item_schema, json_schema
    from .errors import (
        ConflictError,
        FeedRejectedError,
        IdempotencyKeyNamesJob,
        IdempotencyKeyReused,
        IdempotencyKeyTaken,
        IngestError,
        MalformedFeedError,
        NotFoundError,
        PolicyOverrideDenied,
        UnavailableError,
        UnknownFormatError,
        UnknownVersionError,
    )
    from .feed_import import FeedImport, ImportStatus
    from .feed_source import FeedContext, FormatMapping, MappedAttribute, UnreadableValue
    from .idempotency import FeedFingerprint, KeyUse
    from .jobs import (
        Backoff,
        BodyRetention,
        Job,
        JobStatus,
        Lease,
        PartnerQueue,
        next_claim,
        next_for_partner,
        retry_delay,
    )
    from .partner import Partner, valid_partner_id
    from .policy import FeedLimits, Mode, PolicyOverrides, ValidationPolicy
    from .product import PRODUCT_COLUMNS, Dimensions, Product, ProductRow
    from .report import (
        ErrorCode,
        FeedError,
        FeedStatus,
        IngestCounts,
        IngestReport,
        ItemError,
        Location,
    )
    from .rules import CONTRACT_VERSION, CONTRACTS, FeedContract, FieldRule, Kind, contract_for
    from .schedules import Schedule
    from .validation import ItemValidator

__all__ = [
    "CONTRACTS",
    "CONTRACT_VERSION",
    "PRODUCT_COLUMNS",
    "ApiKey",
    "IssuedKey",
    "ParsedKey",
    "Principal",
    "AuditAction",
    "AuditEntry",
    "AuditQuery",
    "Backoff",
    "BodyRetention",
    "ConflictError",
    "Dimensions",
    "ErrorCode",
    "FeedContext",
    "FeedContract",
    "FeedError",
    "FeedFingerprint",
    "FeedImport",
    "FeedLimits",
    "FeedRejectedError",
    "FeedStatus",
    "FieldRule",
    "IdempotencyKeyNamesJob",
    "IdempotencyKeyReused",
    "IdempotencyKeyTaken",
    "FormatMapping",
    "ImportStatus",
    "IngestCounts",
    "IngestError",
    "IngestReport",
    "ItemError",
    "ItemValidator",
    "Job",
    "JobStatus",
    "KeyRole",
    "KeyUse",
    "Kind",
    "Lease",
    "Location",
    "MalformedFeedError",
    "MappedAttribute",
    "Mode",
    "NotFoundError",
    "Outcome",
    "Partner",
    "PolicyOverrideDenied",
    "PolicyOverrides",
    "PartnerQueue",
    "Product",
    "ProductRow",
    "Schedule",
    "UnavailableError",
    "UnknownFormatError",
    "UnknownVersionError",
    "UnreadableValue",
    "ValidatedChunk",
    "ValidationPolicy",
    "contract_for",
    "example_product",
    "hash_secret",
    "key_prefix",
    "masked_key",
    "new_api_key",
    "next_claim",
    "next_for_partner",
    "parse_api_key",
    "secrets_match",
    "validate_server_secret",
    "item_schema",
    "json_schema",
    "retry_delay",
    "valid_partner_id",
]

_MODULE_OF: dict[str, str] = {
    "ApiKey": "api_keys",
    "IssuedKey": "api_keys",
    "KeyRole": "api_keys",
    "ParsedKey": "api_keys",
    "Principal": "api_keys",
    "hash_secret": "api_keys",
    "key_prefix": "api_keys",
    "masked_key": "api_keys",
    "new_api_key": "api_keys",
    "parse_api_key": "api_keys",
    "secrets_match": "api_keys",
    "validate_server_secret": "api_keys",
    "AuditAction": "audit",
    "AuditEntry": "audit",
    "AuditQuery": "audit",
    "Outcome": "audit",
    "ValidatedChunk": "chunk",
    "example_product": "contract",
    "item_schema": "contract",
    "json_schema": "contract",
    "ConflictError": "errors",
    "FeedRejectedError": "errors",
    "IdempotencyKeyNamesJob": "errors",
    "IdempotencyKeyReused": "errors",
    "IdempotencyKeyTaken": "errors",
    "IngestError": "errors",
    "MalformedFeedError": "errors",
    "NotFoundError": "errors",
    "PolicyOverrideDenied": "errors",
    "UnavailableError": "errors",
    "UnknownFormatError": "errors",
    "UnknownVersionError": "errors",
    "FeedImport": "feed_import",
    "ImportStatus": "feed_import",
    "FeedContext": "feed_source",
    "FormatMapping": "feed_source",
    "MappedAttribute": "feed_source",
    "UnreadableValue": "feed_source",
    "FeedFingerprint": "idempotency",
    "KeyUse": "idempotency",
    "Backoff": "jobs",
    "BodyRetention": "jobs",
    "Job": "jobs",
    "JobStatus": "jobs",
    "Lease": "jobs",
    "PartnerQueue": "jobs",
    "next_claim": "jobs",
    "next_for_partner": "jobs",
    "retry_delay": "jobs",
    "Partner": "partner",
    "valid_partner_id": "partner",
    "FeedLimits": "policy",
    "Mode": "policy",
    "PolicyOverrides": "policy",
    "ValidationPolicy": "policy",
    "PRODUCT_COLUMNS": "product",
    "Dimensions": "product",
    "Product": "product",
    "ProductRow": "product",
    "ErrorCode": "report",
    "FeedError": "report",
    "FeedStatus": "report",
    "IngestCounts": "report",
    "IngestReport": "report",
    "ItemError": "report",
    "Location": "report",
    "CONTRACT_VERSION": "rules",
    "CONTRACTS": "rules",
    "FeedContract": "rules",
    "FieldRule": "rules",
    "Kind": "rules",
    "contract_for": "rules",
    "Schedule": "schedules",
    "ItemValidator": "validation",
}
"""Each public name and the module of this package that holds it."""


__getattr__ = on_first_access(__name__, _MODULE_OF, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
