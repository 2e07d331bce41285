"""The routes of the pages, the API reference and their static files."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import console, portal
from ._pages import DOCS_CSP, render
from .sessions import CONSOLE, PORTAL, Area, sign_in, sign_in_form, sign_out

__all__ = ["ROUTES"]


def _sign_in_routes(area: Area) -> list[BaseRoute]:
    async def show(request: Request) -> Response:
        return sign_in_form(request, area)

    async def post(request: Request) -> Response:
        return await sign_in(request, area)

    async def leave(request: Request) -> Response:
        return await sign_out(request, area)

    return [
        Route(f"{area.path}/sign-in", show, methods=["GET"], name=f"{area.name}_sign_in_form"),
        Route(f"{area.path}/sign-in", post, methods=["POST"], name=f"{area.name}_sign_in"),
        Route(f"{area.path}/sign-out", leave, methods=["POST"], name=f"{area.name}_sign_out"),
    ]


async def docs(request: Request) -> Response:
    """Swagger UI over /openapi.json, from the assets in the wheel (no CDN, no inline script)."""
    return render(request, "docs.html", {"area": "docs", "title": "API reference"}, csp=DOCS_CSP)


ROUTES: Final[list[BaseRoute]] = [
    *_sign_in_routes(PORTAL),
    Route("/portal", portal.overview, methods=["GET"], name="portal"),
    Route("/portal/check", portal.check_page, methods=["GET"], name="portal_check_form"),
    Route("/portal/check", portal.apply_or_check, methods=["POST"], name="portal_check"),
    Route("/portal/imports/{feed_id}", portal.import_page, methods=["GET"], name="portal_import"),
    Route(
        "/portal/imports/{feed_id}/errors.{shape}",
        portal.diagnostics_download,
        methods=["GET"],
        name="portal_import_errors",
    ),
    Route("/portal/products", portal.products_page, methods=["GET"], name="portal_products"),
    Route("/portal/products/status", portal.sku_status_page, methods=["GET"], name="portal_sku_status"),
    Route("/portal/webhook", portal.webhook_page, methods=["GET"], name="portal_webhook"),
    Route("/portal/webhook/{action}", portal.webhook_action, methods=["POST"], name="portal_webhook_action"),
    Route("/portal/contract", portal.contract_page, methods=["GET"], name="portal_contract"),
    Route(
        "/portal/contract/examples/{format}/{version:int}",
        portal.contract_example,
        methods=["GET"],
        name="portal_contract_example",
    ),
    *_sign_in_routes(CONSOLE),
    Route("/console", console.overview, methods=["GET"], name="console"),
    Route("/console/partners", console.partners_page, methods=["GET"], name="console_partners"),
    Route("/console/partners", console.create_partner, methods=["POST"], name="console_create_partner"),
    Route("/console/partners/{partner_id}", console.partner_page, methods=["GET"], name="console_partner"),
    Route(
        "/console/partners/{partner_id}",
        console.update_partner,
        methods=["POST"],
        name="console_update_partner",
    ),
    Route("/console/keys", console.keys_page, methods=["GET"], name="console_keys"),
    Route("/console/keys", console.create_key, methods=["POST"], name="console_create_key"),
    Route("/console/keys/{key_id}/{action}", console.key_action, methods=["POST"], name="console_key_action"),
    Route("/console/jobs", console.jobs_page, methods=["GET"], name="console_jobs"),
    Route("/console/jobs/{job_id}/{action}", console.job_action, methods=["POST"], name="console_job_action"),
    Route("/console/schedules", console.schedules_page, methods=["GET"], name="console_schedules"),
    Route(
        "/console/schedules/{schedule_id}/{action}",
        console.schedule_action,
        methods=["POST"],
        name="console_schedule_action",
    ),
    Route("/console/imports/held", console.held_page, methods=["GET"], name="console_held"),
    Route(
        "/console/imports/{feed_id}/{action}",
        console.held_action,
        methods=["POST"],
        name="console_held_action",
    ),
    Route("/console/contract", console.contract_usage_page, methods=["GET"], name="console_contract"),
    Route("/console/webhooks", console.webhooks_page, methods=["GET"], name="console_webhooks"),
    Route("/console/circuits", console.circuits_page, methods=["GET"], name="console_circuits"),
    Route("/console/audit", console.audit_page, methods=["GET"], name="console_audit"),
    Route("/docs", docs, methods=["GET"], name="docs"),
    Mount(
        "/static",
        # follow_symlink: a development install links each file into the package (the wheel copies them).
        app=StaticFiles(packages=[("partner_ingest.adapters_in.web", "static")], follow_symlink=True),
        name="static",
    ),
]
