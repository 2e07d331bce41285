"""Use cases: what the platform does with feeds. Each takes ports as constructor
arguments and nothing else, so any adapter (or any fake) can drive it.

The names below are imported from their modules when first used (PEP 562), not when the
package is: a process that uses one use case (a CLI command) does not load all of them
(ADR 0039, start-up). `from partner_ingest.domain.use_cases import X` works as before; type
checkers and the import contracts read the imports under TYPE_CHECKING.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_ingest.domain.lazy_names import on_first_access

if TYPE_CHECKING:
    from .access_errors import (
        AccessError,
        ClientBlocked,
        Forbidden,
        KeyRateLimited,
        TooManyRequests,
        Unauthenticated,
    )
    from .authenticate import AccessGuard, AccessLimits, Granted, client_bucket
    from .describe_contract import DescribeContract
    from .feed_terms import FeedSubmission, Ingested, IngestStep, StoredBody, resolve_format
    from .held_feeds import SettleHeldFeeds
    from .ingest_feed import IngestFeed
    from .job_bodies import PurgeJobBodies
    from .jobs import (
        JobBodyPurgedError,
        JobFinishedError,
        JobNotDeadError,
        JobOutcome,
        JobResult,
        ProcessNextJob,
        QueryJobs,
        SubmitFeedJob,
    )
    from .manage_keys import CreatedKey, KeyRequestError, KeyStatus, KeySummary, ManageKeys
    from .pipeline import FeedOutcome, run_feed
    from .read_changes import ChangePage, ReadChanges
    from .validate_feed import ValidateFeed, validate_against_contract

__all__ = [
    "AccessError",
    "AccessGuard",
    "AccessLimits",
    "ClientBlocked",
    "CreatedKey",
    "DescribeContract",
    "FeedOutcome",
    "FeedSubmission",
    "Forbidden",
    "Granted",
    "IngestFeed",
    "SettleHeldFeeds",
    "ChangePage",
    "ReadChanges",
    "IngestStep",
    "Ingested",
    "JobBodyPurgedError",
    "JobFinishedError",
    "JobNotDeadError",
    "JobOutcome",
    "JobResult",
    "KeyRateLimited",
    "KeyRequestError",
    "KeyStatus",
    "KeySummary",
    "ManageKeys",
    "ProcessNextJob",
    "PurgeJobBodies",
    "QueryJobs",
    "StoredBody",
    "SubmitFeedJob",
    "TooManyRequests",
    "Unauthenticated",
    "ValidateFeed",
    "client_bucket",
    "resolve_format",
    "run_feed",
    "validate_against_contract",
]

_MODULE_OF: dict[str, str] = {
    "AccessError": "access_errors",
    "ClientBlocked": "access_errors",
    "Forbidden": "access_errors",
    "KeyRateLimited": "access_errors",
    "TooManyRequests": "access_errors",
    "Unauthenticated": "access_errors",
    "AccessGuard": "authenticate",
    "AccessLimits": "authenticate",
    "Granted": "authenticate",
    "client_bucket": "authenticate",
    "DescribeContract": "describe_contract",
    "SettleHeldFeeds": "held_feeds",
    "FeedSubmission": "feed_terms",
    "Ingested": "feed_terms",
    "IngestFeed": "ingest_feed",
    "IngestStep": "feed_terms",
    "StoredBody": "feed_terms",
    "resolve_format": "feed_terms",
    "PurgeJobBodies": "job_bodies",
    "JobBodyPurgedError": "jobs",
    "JobFinishedError": "jobs",
    "JobNotDeadError": "jobs",
    "JobOutcome": "jobs",
    "JobResult": "jobs",
    "ProcessNextJob": "jobs",
    "QueryJobs": "jobs",
    "SubmitFeedJob": "jobs",
    "CreatedKey": "manage_keys",
    "KeyRequestError": "manage_keys",
    "KeyStatus": "manage_keys",
    "KeySummary": "manage_keys",
    "ManageKeys": "manage_keys",
    "FeedOutcome": "pipeline",
    "run_feed": "pipeline",
    "ChangePage": "read_changes",
    "ReadChanges": "read_changes",
    "ValidateFeed": "validate_feed",
    "validate_against_contract": "validate_feed",
}
"""Each public name and the module of this package that holds it."""


__getattr__ = on_first_access(__name__, _MODULE_OF, globals())
