"""Reading a feed request, shared by `POST /partner/ingest` and the dry run `POST /partner/validate`.

The order matters and is the same for both:

1. authenticate (a partner key) before anything else, so an anonymous caller
   learns nothing and spends nothing;
2. read the headers (format from Content-Type, `X-Feed-Version`, the policy
   overrides, `Idempotency-Key`) and refuse what cannot work (415, 400) before a
   byte of the body is read (whether the partner may override its policy is the
   use case's to say, from the partner it reads anyway);
3. a feed sent as a job (`Prefer: respond-async`, `?mode=async`; not for the dry
   run) branches off to _async_feed.py here; otherwise read the body, capped at
   `max_sync_bytes` (413: send it as a job), spooled and hashed;
4. run `IngestFeed` (for real, or with `dry_run=True`) and answer its report:
   200, or 422 when nothing was accepted (an atomic feed with one bad item, a
   malformed document, every item invalid), then with the `error` and
   `details` of every error answer beside the report's fields (errors.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import attrs
from starlette.requests import Request
from starlette.responses import Response

from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.errors import UnknownFormatError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.policy import PolicyOverrides

if TYPE_CHECKING:
    from partner_ingest.domain.model.report import IngestReport

from ._async_feed import submit_feed_job, wants_async
from ._context import HttpContext, context, request_header
from ._report import report_response
from ._submission import feed_submission
from .auth import authorize
from .body import check_declared_length, read_body
from .errors import BodyTooLarge, FeedTooLargeForSync, UnsupportedMediaType
from .params import header_bool, header_feed_mode, header_int, header_mode, header_token

__all__ = ["FeedHeaders", "answer_feed", "feed_headers"]

_DEFAULT_FORMAT_TYPES = ("", "application/octet-stream")


@attrs.frozen
class FeedHeaders:
    """What the headers of a feed request ask for."""

    media_type: str | None
    """None: no Content-Type (or application/octet-stream), so the partner's default format."""
    version: int | None
    overrides: PolicyOverrides
    idempotency_key: str | None
    feed_mode: FeedMode | None = None
    """X-Feed-Mode; None: the partner's default."""


def feed_headers(request: Request, ctx: HttpContext) -> FeedHeaders:
    """The feed headers, checked against the registered formats (415, 400) before any body is read."""
    formats = ctx.app.formats
    media_type: str | None = (request_header(request, "content-type") or "").split(";", 1)[0].strip().lower()
    version = header_int(request, "X-Feed-Version")
    if media_type in _DEFAULT_FORMAT_TYPES:
        media_type = None
    else:
        try:
            name = formats.name_for_media_type(media_type or "")
        except UnknownFormatError:
            raise UnsupportedMediaType(
                f"no feed format for Content-Type {media_type!r}",
                details={"requested": media_type, "supported": list(formats.media_types())},
            ) from None
        if version is not None:
            formats.get(
                name, version
            )  # UnknownVersionError (400, with the available versions) now, not after the upload
    return FeedHeaders(
        media_type=media_type,
        version=version,
        overrides=PolicyOverrides(
            mode=header_mode(request, "X-Validation-Mode"), atomic=header_bool(request, "X-Atomic")
        ),
        idempotency_key=header_token(request, "Idempotency-Key"),
        feed_mode=header_feed_mode(request),
    )


async def answer_feed(request: Request, *, dry_run: bool) -> Response:
    """The whole exchange (see the module docstring); one `IngestFeed` call."""
    ctx = context(request)
    settings = ctx.app.settings
    principal = await authorize(request, KeyRole.PARTNER)
    headers = feed_headers(request, ctx)
    if not dry_run and wants_async(request):
        # A job: read up to max_body_bytes, store it, answer 202 (see _async_feed.py).
        return await submit_feed_job(request, principal, headers)
    check_declared_length(request, settings.max_body_bytes)
    try:
        body = await read_body(request, limit=settings.max_sync_bytes)
    except BodyTooLarge:
        raise FeedTooLargeForSync(
            f"feeds over {settings.max_sync_bytes} bytes are not processed while you wait: "
            "send it as a job (add the header `Prefer: respond-async`)",
            details={"max_sync_bytes": settings.max_sync_bytes, "max_body_bytes": settings.max_body_bytes},
        ) from None
    async with body:
        submission = feed_submission(request, principal, headers, body, dry_run=dry_run)
        # Sync feeds commit in groups where the store offers it (ADR 0039): in its writer
        # thread (ADR 0043), or in an ingest process's (ADR 0047).
        queue = ctx.app.sync_ingest
        if queue is not None:
            report = cast("IngestReport", await ctx.writer_calls.run(queue, submission))
        else:
            report = await ctx.request_threads.run(ctx.app.ingest_now or ctx.app.ingest, submission)
    return report_response(request, report, dry_run=dry_run)
