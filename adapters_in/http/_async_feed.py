"""`POST /partner/ingest` as a job: the feed is stored durably and answered 202 at once.

A partner asks for it with `Prefer: respond-async` (RFC 7240) or `?mode=async`
(for clients that cannot set headers; `?mode=sync` forces the synchronous path
whatever Prefer says). Feeds larger than `max_sync_bytes` are accepted only
this way.

Up to the body, the request is read exactly as the synchronous one (see
_feed.py: key, format, version and policy checked before a byte is read). Then:

1. the body is read as a stream with the same reader (`body.read_body`: gzip
   inflated in bounded steps), capped at `max_body_bytes` after decompression
   (413 `body_too_large`), spooled and hashed;
2. `SubmitFeedJob` stores the job and its body and commits (for SQLite a fully
   synchronous commit) before anything is answered;
3. the answer is 202 with `Location: <mount prefix>/partner/jobs/{id}` and the
   job. A repeated `Idempotency-Key` with the same request is answered with what
   the first request got: the job submitted under it (not stored twice), or the
   report of the feed processed at once under it; with a different request, 422
   `idempotency_key_reused`. Identical content is stored, and its job reports the
   earlier import without applying it again (the ingest recognizes the fingerprint).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from partner_ingest.domain.model.api_keys import Principal
from partner_ingest.domain.model.report import IngestReport

from ._context import context, request_header, request_info
from ._report import report_response
from ._submission import feed_submission
from .body import check_declared_length, read_body
from .errors import BadRequest
from .job_views import job_json
from .params import query_text
from .views import JsonResponse

if TYPE_CHECKING:
    from ._feed import FeedHeaders

__all__ = ["MODES", "job_location", "submit_feed_job", "wants_async"]

MODES: Final = ("sync", "async")
_RESPOND_ASYNC: Final = "respond-async"


def _prefers_async(request: Request) -> bool:
    # Prefer: respond-async, wait=10 ; several Prefer fields may be sent.
    if request_header(request, "prefer") is None:
        return False  # (nearly every feed) without building the request's `Headers`
    for value in request.headers.getlist("prefer"):
        for preference in value.split(","):
            token = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if token == _RESPOND_ASYNC:
                return True
    return False


def wants_async(request: Request) -> bool:
    """Does this feed request ask to be processed as a job? 400 for an unknown `mode`."""
    mode = query_text(request, "mode", max_length=16)
    if mode is not None:
        if mode not in MODES:
            raise BadRequest(
                "parameter mode: must be sync or async",
                code="invalid_parameter",
                details={"parameter": "mode", "allowed": list(MODES)},
            )
        return mode == "async"
    return _prefers_async(request)


def job_location(request: Request, job_id: str) -> str:
    """The partner's URL of a job, under the app's mount prefix."""
    return f"{request.scope.get('root_path', '')}/partner/jobs/{job_id}"


async def submit_feed_job(request: Request, principal: Principal, headers: FeedHeaders) -> Response:
    """Steps 1-3 of the module docstring; one `SubmitFeedJob` call."""
    ctx = context(request)
    limit = ctx.app.settings.max_body_bytes
    check_declared_length(request, limit)
    info = request_info(request)
    async with await read_body(request, limit=limit) as body:
        submission = feed_submission(request, principal, headers, body)
        job = await run_in_threadpool(
            ctx.app.submit_job, submission, body_bytes=body.size, content_hash=body.sha256
        )
    if isinstance(job, IngestReport):  # the key was first used for a feed processed at once
        return report_response(request, job)
    info.fields.update(job_id=job.id, job_status=str(job.status))
    location = job_location(request, job.id)
    answer_headers = ctx.app.lifecycle.headers(job.version, ctx.app.clock.now)
    answer_headers["Location"] = location
    # When to look again: a queued job is claimed within a worker's poll (at least a second).
    answer_headers["Retry-After"] = str(max(1, math.ceil(ctx.app.settings.worker_poll_seconds)))
    if _prefers_async(request):
        answer_headers["Preference-Applied"] = _RESPOND_ASYNC
    return JsonResponse(job_json(job, location=location), status_code=202, headers=answer_headers)
