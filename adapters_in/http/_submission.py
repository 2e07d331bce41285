"""The one place a feed request becomes a `FeedSubmission`, for an ingest, a dry run or a job.

The sync path (_feed.py) and the job path (_async_feed.py) read the body their own
way (different caps, different answers), but what they hand the use cases is the
same: who sent it, what its headers ask for, the spooled body and its hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from partner_ingest.domain.model.api_keys import Principal
from partner_ingest.domain.use_cases import FeedSubmission

from ._context import request_info
from .body import SpooledBody

if TYPE_CHECKING:
    from ._feed import FeedHeaders

__all__ = ["feed_submission"]


def feed_submission(
    request: Request,
    principal: Principal,
    headers: FeedHeaders,
    body: SpooledBody,
    *,
    dry_run: bool = False,
) -> FeedSubmission:
    """The submission of a pushed feed; a dry run carries no Idempotency-Key (it records nothing)."""
    assert principal.partner_id is not None  # a PARTNER key always names its partner
    info = request_info(request)
    return FeedSubmission(
        partner_id=principal.partner_id,
        body=body.stream,
        media_type=headers.media_type,
        version=headers.version,
        overrides=headers.overrides,
        idempotency_key=None if dry_run else headers.idempotency_key,
        content_hash=body.sha256,
        dry_run=dry_run,
        client=info.client,
        source="push",
        feed_mode=headers.feed_mode,
        partner=info.partner,
    )
