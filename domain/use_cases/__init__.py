"""Use cases: what the platform does with feeds. Each takes ports as constructor
arguments and nothing else, so any adapter (or any fake) can drive it."""

from .describe_contract import DescribeContract
from .ingest_feed import FeedSubmission, IngestFeed, PolicyOverrideDenied, resolve_format
from .pipeline import FeedOutcome, run_feed
from .validate_feed import ValidateFeed

__all__ = [
    "DescribeContract",
    "FeedOutcome",
    "FeedSubmission",
    "IngestFeed",
    "PolicyOverrideDenied",
    "ValidateFeed",
    "resolve_format",
    "run_feed",
]
