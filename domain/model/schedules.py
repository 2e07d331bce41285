"""Schedules: when the platform pulls a partner's feed from the partner's own URL."""

from __future__ import annotations

from datetime import datetime

import attrs

from .feed_mode import FeedMode

__all__ = ["Schedule"]


def _optional_feed_mode(value: FeedMode | str | None) -> FeedMode | None:
    return None if value is None else FeedMode(value)


@attrs.frozen
class Schedule:
    """A recurring pull of one partner's endpoint: every `interval_seconds`, or by `cron`."""

    id: str
    partner_id: str
    next_run_at: datetime
    interval_seconds: int | None = None
    cron: str | None = None
    """Five-field cron expression (minute hour day month weekday), UTC."""
    enabled: bool = True
    format: str | None = None
    """Feed format of the pulled body; None: the partner's default."""
    version: int | None = None
    last_run_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_content_hash: str | None = None
    last_outcome: str | None = None
    """How the last run went: a fetch outcome (fetched, not_modified, ...), `unchanged`,
    `no_endpoint` or `bad_schedule`; None before the first run."""
    last_error: str | None = None
    """Why the last run did not fetch a feed, in one line; None when it did."""
    last_job_id: str | None = None
    """The job the last run submitted, if it submitted one."""
    feed_mode: FeedMode | None = attrs.field(default=None, converter=_optional_feed_mode)
    """upsert, snapshot or patch for the pulled feeds (ADR 0036); None: the partner's default."""
