"""Use cases: what the platform does with feeds. Each takes ports as constructor
arguments and nothing else, so any adapter (or any fake) can drive it."""

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
from .held_feeds import SettleHeldFeeds
from .ingest_feed import FeedSubmission, Ingested, IngestFeed, IngestStep, StoredBody, resolve_format
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
