"""A feed's report as an HTTP answer, for a feed processed now or a repeat answered with its report."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from partner_ingest.domain.model.report import FeedStatus, IngestReport

from ._context import context, request_info
from .errors import rejected_feed_response
from .views import PlainJsonResponse

__all__ = ["report_response"]


def report_response(request: Request, report: IngestReport, *, dry_run: bool = False) -> Response:
    """A feed's report as the answer: 200, 202 for a snapshot held by the mass-delete guard, or
    422 when nothing was accepted; Content-Location
    names the stored import."""
    ctx = context(request)
    ctx.metrics.observe_report(report)
    request_info(request).fields.update(feed_id=report.feed_id, feed_status=str(report.status))
    # RFC 9745 / RFC 8594: a feed under a deprecated contract version says so in headers too.
    answer_headers = ctx.app.lifecycle.headers(report.version, ctx.app.clock.now)
    if not dry_run:
        answer_headers["Content-Location"] = (
            f"{request.scope.get('root_path', '')}/partner/imports/{report.feed_id}"
        )
    if report.status is FeedStatus.REJECTED:
        return rejected_feed_response(request, report, answer_headers)
    # Held by the mass-delete guard: taken, not applied, until an operator settles it.
    status = 202 if report.status is FeedStatus.HELD else 200
    # A report is plain JSON values (ids, counts, codes, messages): see PlainJsonResponse.
    return PlainJsonResponse(report.to_json(), status_code=status, headers=answer_headers)
