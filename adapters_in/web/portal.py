"""The partner portal (/portal): a partner's imports, a feed checked then applied, diagnostics,
products and the contract. Each page asks one or two use cases, exactly as its API twin does,
and acts only as the signed-in session's partner."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from partner_ingest.adapters_in.http._context import context, request_info
from partner_ingest.adapters_in.http.diagnostic_views import csv_lines, jsonl_lines
from partner_ingest.domain.model.errors import InvalidError, NotFoundError, TooLargeError
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.report import IngestReport, ItemError
from partner_ingest.domain.model.web_sessions import WebSession
from partner_ingest.domain.use_cases import FeedSubmission
from partner_ingest.domain.use_cases.read_imports import MAX_NAME_SEARCH
from partner_ingest.domain.use_cases.webhooks import WebhookSetup

from ._pages import page, render, security_headers
from .sessions import PORTAL, Refused, redirect, signed_in, submitted

__all__ = [
    "apply_or_check",
    "check_page",
    "contract_example",
    "contract_page",
    "diagnostics_download",
    "import_page",
    "overview",
    "products_page",
    "sku_status_page",
    "webhook_action",
    "webhook_page",
]

_OCTET: Final = ("", "application/octet-stream")
_DOWNLOADS: Final = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
PRODUCTS_PAGE: Final = 50
WEBHOOK_DELIVERIES: Final = 20
OVERVIEW_IMPORTS: Final = 10
"""The ledger hands whole reports (up to 100 item errors each): ten keep the overview under 50 ms."""


def _partner(session: WebSession) -> str:
    assert session.partner_id is not None  # a partner session always names its partner
    return session.partner_id


def _values(session: WebSession, **values: object) -> dict[str, object]:
    return {"area": "portal", "session": session, "csrf_token": session.csrf_token, **values}


def grouped(errors: tuple[ItemError, ...]) -> list[tuple[str, list[ItemError]]]:
    """A report's item errors by code, most frequent first (how the page shows them)."""
    groups: dict[str, list[ItemError]] = defaultdict(list)
    for error in errors:
        groups[str(error.code)].append(error)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


@page("portal")
async def overview(request: Request) -> Response:
    """The partner's latest imports, with status and counts."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    imports = await run_in_threadpool(
        context(request).app.imports.recent, _partner(session), limit=OVERVIEW_IMPORTS
    )
    return render(request, "portal_overview.html", _values(session, title="Your imports", imports=imports))


async def _feed_mode(request: Request, session: WebSession) -> str:
    """The partner's feed_mode: what the mode choice starts at (and what an API call without
    X-Feed-Mode uses)."""
    view = await run_in_threadpool(context(request).app.partners.get, _partner(session))
    return str(view.feed_mode)


def _chosen_mode(form_value: object) -> FeedMode | None:
    """The mode select's value: one of the feed modes (as X-Feed-Mode takes them)."""
    if not isinstance(form_value, str) or not form_value:
        return None
    mode = next((m for m in FeedMode if str(m) == form_value), None)
    if mode is None:
        raise InvalidError(f"feed mode: one of {', '.join(str(m) for m in FeedMode)}, got {form_value!r}")
    return mode


async def _formats(request: Request) -> list[dict[str, Any]]:
    contract = await run_in_threadpool(context(request).app.describe_contract)
    formats: list[dict[str, Any]] = contract["formats"]
    return formats


@page("portal")
async def check_page(request: Request) -> Response:
    """The upload form: check a file against the contract, or apply it."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    return render(
        request,
        "portal_check.html",
        _values(
            session,
            title="Check a feed",
            formats=await _formats(request),
            feed_modes=[str(m) for m in FeedMode],
            feed_mode=await _feed_mode(request, session),
            report=None,
            groups=[],
        ),
    )


def _choice(form_value: object) -> tuple[str | None, int | None]:
    """The format select's `name:version`, or (None, None) for "from the file"."""
    if not isinstance(form_value, str) or ":" not in form_value:
        return None, None
    name, _, version = form_value.partition(":")
    if not version.isdigit():
        raise InvalidError(f"unknown format choice {form_value!r}")
    return name, int(version)


@page("portal")
async def apply_or_check(request: Request) -> Response:
    """Run the uploaded file as a dry run (check) or for real (apply); show the report by error code."""
    settings = context(request).app.settings
    try:
        session, form = await submitted(request, PORTAL, max_files=1, max_part_size=settings.max_sync_bytes)
    except Refused as refused:
        return refused.response
    try:
        upload = form.get("feed")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidError("choose a feed file to upload")
        if upload.size is not None and upload.size > settings.max_sync_bytes:
            raise TooLargeError(
                f"files over {settings.max_sync_bytes} bytes must be sent through the API as jobs"
            )
        dry_run = form.get("action") != "apply"
        name, version = _choice(form.get("format"))
        feed_mode = _chosen_mode(form.get("feed_mode"))
        media_type = (upload.content_type or "").split(";", 1)[0].strip().lower()
        submission = FeedSubmission(
            partner_id=_partner(session),
            body=upload.file,
            format=name,
            media_type=None if media_type in _OCTET or name else media_type,
            version=version,
            dry_run=dry_run,
            client=request_info(request).client,
            source="push",
            feed_mode=feed_mode,
        )
        report: IngestReport = await run_in_threadpool(context(request).app.ingest, submission)
    finally:
        await form.close()
    return render(
        request,
        "portal_check.html",
        _values(
            session,
            title="Check a feed",
            formats=await _formats(request),
            feed_modes=[str(m) for m in FeedMode],
            feed_mode=str(feed_mode) if feed_mode else await _feed_mode(request, session),
            report=report,
            groups=grouped(report.errors),
            filename=upload.filename,
        ),
        status=200,
    )


@page("portal")
async def import_page(request: Request) -> Response:
    """One import: its report, and its rejected items grouped by code with examples."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    app = context(request).app
    feed_id = request.path_params["feed_id"]
    found = await run_in_threadpool(app.imports.get, _partner(session), feed_id)
    summary = await run_in_threadpool(app.diagnostics.summary, _partner(session), feed_id, examples=3)
    return render(
        request,
        "portal_import.html",
        _values(session, title=f"Import {feed_id}", entry=found, summary=summary),
    )


@page("portal")
async def diagnostics_download(request: Request) -> Response:
    """Every rejected item of an import as JSON Lines or CSV (the API's download, from a session)."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    shape = request.path_params["shape"]
    if shape not in _DOWNLOADS:
        raise NotFoundError("download", shape)
    feed_id = request.path_params["feed_id"]
    every = await run_in_threadpool(context(request).app.diagnostics.all, _partner(session), feed_id)
    lines = csv_lines(every) if shape == "csv" else jsonl_lines(every)
    return StreamingResponse(
        lines,
        media_type=_DOWNLOADS[shape],
        headers={
            **security_headers(request),
            "Content-Disposition": f'attachment; filename="{feed_id}-errors.{shape}"',
        },
    )


async def _by_sku(
    request: Request, partner: str, query: str, after: str | None, *, retired: bool
) -> tuple[list[Any], str | None]:
    """Products whose SKU begins with `query`, in SKU order: the page starts at `query`, and the
    first SKU that does not begin with it ends the search."""
    app = context(request).app
    exact = None
    if query and after is None:
        try:
            exact = await run_in_threadpool(app.products.get, partner, query, retired=retired)
        except NotFoundError:
            exact = None
    found = await run_in_threadpool(
        app.products.page, partner, after_sku=after or query or None, limit=PRODUCTS_PAGE, retired=retired
    )
    products: list[Any] = [p for p in found.products if p.sku.startswith(query)]
    if exact is not None:
        products.insert(0, exact)
    last_matches = bool(found.products) and found.products[-1].sku.startswith(query)
    return products, found.next_after if last_matches else None


@page("portal")
async def products_page(request: Request) -> Response:
    """The partner's products in SKU order, from `q`: a SKU or its beginning (`by=sku`), or a part
    of the name, any ASCII case (`by=name`); with the price in force now. `retired=true`: the
    retired products instead (as `?retired=true` on GET /partner/products), searched by SKU."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    app = context(request).app
    query = (request.query_params.get("q") or "").strip()[:MAX_NAME_SEARCH]
    after = (request.query_params.get("after") or "").strip()[:1024] or None
    by = "name" if request.query_params.get("by") == "name" and query else "sku"
    partner = _partner(session)
    retired = request.query_params.get("retired") == "true"
    if retired and by == "name":
        raise InvalidError("retired products are searched by SKU: name search covers the active ones")
    if by == "name":
        found = await run_in_threadpool(
            app.products.search_names, partner, query, after_sku=after, limit=PRODUCTS_PAGE
        )
        products, more, searched_to = list(found.products), found.next_after, found.searched_to
    else:
        products, more = await _by_sku(request, partner, query, after, retired=retired)
        searched_to = None
    return render(
        request,
        "portal_products.html",
        _values(
            session,
            title="Products",
            products=products,
            query=query,
            by=by,
            retired=retired,
            next_after=more,
            searched_to=searched_to,
            now=app.clock.now(),
        ),
    )


@page("portal")
async def sku_status_page(request: Request) -> Response:
    """Where one SKU stands: the version accepted last, and the errors of the one rejected last."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    sku = (request.query_params.get("sku") or "").strip()
    if not sku or len(sku) > 1024:
        raise InvalidError("sku: the SKU to look up")
    status = await run_in_threadpool(context(request).app.diagnostics.sku_status, _partner(session), sku)
    return render(
        request,
        "portal_sku_status.html",
        _values(session, title=f"SKU {sku}", status=status, now=context(request).app.clock.now()),
    )


async def _webhook_values(
    request: Request, session: WebSession, setup: WebhookSetup | None
) -> dict[str, object]:
    app = context(request).app
    partner = _partner(session)
    try:
        hook = setup.webhook if setup is not None else await run_in_threadpool(app.webhooks.get, partner)
    except NotFoundError:
        hook = None
    deliveries = await run_in_threadpool(app.webhooks.deliveries, partner, limit=WEBHOOK_DELIVERIES)
    return _values(
        session,
        title="Webhook",
        hook=hook,
        secret=None if setup is None else setup.secret,
        deliveries=deliveries,
        now=app.clock.now(),
    )


@page("portal")
async def webhook_page(request: Request) -> Response:
    """The partner's webhook (never its secret), the forms to set, rotate, test or remove it, and
    the delivery log."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    return render(request, "portal_webhook.html", await _webhook_values(request, session, None))


@page("portal")
async def webhook_action(request: Request) -> Response:
    """Set the URL (the first time, the signing secret is shown on this answer only), rotate the
    secret (shown once too), queue a test event, or remove the webhook: the use cases of
    PUT /partner/webhook, /rotate, /test and DELETE, audited the same way."""
    try:
        session, form = await submitted(request, PORTAL)
    except Refused as refused:
        return refused.response
    webhooks = context(request).app.webhooks
    partner, actor, client = _partner(session), session.principal.actor, request_info(request).client
    action = request.path_params["action"]
    if action == "set":
        url = form.get("url")
        text = url.strip() if isinstance(url, str) else ""
        if not text:
            raise InvalidError("url: the http(s) URL events are POSTed to")
        setup = await run_in_threadpool(webhooks.set, partner, text, actor=actor, client=client)
    elif action == "rotate":
        setup = await run_in_threadpool(webhooks.rotate, partner, actor=actor, client=client)
    elif action == "test":
        await run_in_threadpool(webhooks.send_test, partner, actor=actor)
        return redirect(request, "/portal/webhook")
    elif action == "remove":
        await run_in_threadpool(webhooks.remove, partner, actor=actor, client=client)
        return redirect(request, "/portal/webhook")
    else:
        raise NotFoundError("webhook action", action)
    if setup.secret is None:
        return redirect(request, "/portal/webhook")
    return render(request, "portal_webhook.html", await _webhook_values(request, session, setup))


@page("portal")
async def contract_page(request: Request) -> Response:
    """The contract: versions, formats, error codes, and each example to read or download."""
    try:
        session = await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    app = context(request).app
    contract = await run_in_threadpool(app.describe_contract)
    examples = await run_in_threadpool(app.describe_contract.examples)
    return render(
        request,
        "portal_contract.html",
        _values(session, title="The contract", contract=contract, examples=examples),
    )


@page("portal")
async def contract_example(request: Request) -> Response:
    """One example document, as a download."""
    try:
        await signed_in(request, PORTAL)
    except Refused as refused:
        return refused.response
    name = request.path_params["format"]
    version = request.path_params["version"]
    examples = await run_in_threadpool(context(request).app.describe_contract.examples)
    for example in examples:
        if example["format"] == name and example["version"] == version:
            extension = {"text/csv": "csv", "application/xml": "xml"}.get(example["media_type"], "json")
            return Response(
                example["body"].encode("utf-8"),
                media_type=example["media_type"],
                headers={
                    **security_headers(request),
                    "Content-Disposition": f'attachment; filename="example-{name}-v{version}.{extension}"',
                },
            )
    raise NotFoundError("example", f"{name} v{version}")
