"""The domain model: canonical products, the contract's rules, validation and reports.

Pure: the standard library and attrs only; no I/O, no clock, no adapters.
"""

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
