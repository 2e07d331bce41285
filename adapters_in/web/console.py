"""The admin console (/console): partners, keys, jobs, schedules, circuits and anomalies, the audit trail.

Every action calls the same use case as its /admin API twin, with the session's
principal as the actor and the request's client address, so the audit trail
records it exactly as the API call would be recorded. A new key's secret is
rendered once, in the answer to the form that created it, and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from partner_ingest.adapters_in.http._context import context, request_info
from partner_ingest.domain.model.api_keys import KeyRole
from partner_ingest.domain.model.audit import AuditAction, AuditQuery
from partner_ingest.domain.model.errors import InvalidError
from partner_ingest.domain.model.jobs import JobStatus
from partner_ingest.domain.model.policy import Mode, ValidationPolicy
from partner_ingest.domain.model.web_sessions import WebSession
from partner_ingest.domain.use_cases.manage_keys import CreatedKey
from partner_ingest.domain.use_cases.manage_partners import UNSET, PartnerChanges

from ._pages import page, render
from .sessions import CONSOLE, Refused, redirect, signed_in, submitted

__all__ = [
    "audit_page",
    "circuits_page",
    "held_action",
    "held_page",
    "contract_usage_page",
    "create_key",
    "create_partner",
    "job_action",
    "jobs_page",
    "key_action",
    "keys_page",
    "overview",
    "partner_page",
    "partners_page",
    "schedule_action",
    "schedules_page",
    "update_partner",
    "webhooks_page",
]

KEY_OVERLAP: Final = timedelta(hours=24)
"""A rotated key's predecessor keeps working this long (the API's default overlap)."""


def _values(session: WebSession, **values: object) -> dict[str, object]:
    return {"area": "console", "session": session, "csrf_token": session.csrf_token, **values}


def _text(form: FormData, name: str, *, max_length: int = 200) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > max_length:
        raise InvalidError(f"{name}: at most {max_length} characters")
    return text


def _whole(form: FormData, name: str) -> int | None:
    text = _text(form, name, max_length=12)
    if not text:
        return None
    if not text.isdigit():
        raise InvalidError(f"{name}: a whole number, got {text!r}")
    return int(text)


def _ratio(form: FormData, name: str) -> float:
    text = _text(form, name, max_length=20) or "1"
    try:
        value = float(text)
    except ValueError:
        raise InvalidError(f"{name}: a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidError(f"{name}: a number from 0 to 1, got {text!r}")
    return value


def _changes(form: FormData, *, creating: bool) -> PartnerChanges:
    """A partner form as the same PartnerChanges the API builds from JSON."""
    mode = _text(form, "mode") or "strict"
    if mode not in (str(m) for m in Mode):
        raise InvalidError(f"mode: strict or lenient, got {mode!r}")
    version = _whole(form, "default_version")
    currency = _text(form, "currency", max_length=3)
    name = _text(form, "name")
    return PartnerChanges(
        name=name if name or creating else UNSET,
        default_format=_text(form, "default_format") or ("json" if creating else UNSET),
        default_version=version if version is not None else (1 if creating else UNSET),
        policy=ValidationPolicy(
            mode=Mode(mode),
            atomic=form.get("atomic") == "on",
            max_error_ratio=_ratio(form, "max_error_ratio"),
        ),
        allow_policy_override=form.get("allow_policy_override") == "on",
        currency=currency.upper() or None,
        rate_limit_per_minute=_whole(form, "rate_limit_per_minute"),
        active=creating or form.get("active") == "on",
    )


def _client(request: Request) -> str:
    return request_info(request).client


@page("console")
async def overview(request: Request) -> Response:
    """The queue at a glance: jobs per status, the oldest waiting, open circuits."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    depth = await run_in_threadpool(app.jobs.queue_depth)
    queued = await run_in_threadpool(app.jobs.page, status=JobStatus.QUEUED, limit=200)
    oldest = min((job.created_at for job in queued.jobs), default=None)
    circuits = await run_in_threadpool(app.fetch_health.circuits)
    anomalies = await run_in_threadpool(app.fetch_health.recent_anomalies)
    return render(
        request,
        "console_overview.html",
        _values(
            session,
            title="Overview",
            depth=depth,
            oldest=oldest,
            now=app.clock.now(),
            circuits=[c for c in circuits if str(c.state) != "closed"],
            anomalies=anomalies,
        ),
    )


@page("console")
async def partners_page(request: Request) -> Response:
    """Every partner, and the form to add one."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    partners = await run_in_threadpool(context(request).app.partners.list_partners)
    return render(request, "console_partners.html", _values(session, title="Partners", partners=partners))


@page("console")
async def create_partner(request: Request) -> Response:
    """Add a partner (audited as partner.created, like POST /admin/partners)."""
    try:
        session, form = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    partner_id = _text(form, "id", max_length=64)
    create = context(request).app.partners.create
    view = await run_in_threadpool(
        create,
        partner_id,
        _changes(form, creating=True),
        actor=session.principal.actor,
        client=_client(request),
    )
    return redirect(request, f"/console/partners/{view.id}")


@page("console")
async def partner_page(request: Request) -> Response:
    """One partner: its policy and defaults (editable) and its keys."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    partner_id = request.path_params["partner_id"]
    view = await run_in_threadpool(app.partners.get, partner_id)
    keys = await run_in_threadpool(app.keys.list_keys, partner_id)
    return render(
        request,
        "console_partner.html",
        _values(session, title=f"Partner {view.id}", partner=view, keys=keys, created=None),
    )


@page("console")
async def update_partner(request: Request) -> Response:
    """Change a partner's policy and defaults (audited like PATCH /admin/partners/{id})."""
    try:
        session, form = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    partner_id = request.path_params["partner_id"]
    update = context(request).app.partners.update
    await run_in_threadpool(
        update,
        partner_id,
        _changes(form, creating=False),
        actor=session.principal.actor,
        client=_client(request),
    )
    return redirect(request, f"/console/partners/{partner_id}")


@page("console")
async def keys_page(request: Request) -> Response:
    """The admin keys, and the form to issue one."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    keys = await run_in_threadpool(context(request).app.keys.list_keys, None)
    return render(request, "console_keys.html", _values(session, title="Admin keys", keys=keys, created=None))


async def _created(request: Request, session: WebSession, created: CreatedKey) -> Response:
    """The one page that shows a key's secret: the answer to the form that made it."""
    app = context(request).app
    partner_id = created.key.partner_id
    keys = await run_in_threadpool(app.keys.list_keys, partner_id)
    if partner_id is None:
        return render(
            request, "console_keys.html", _values(session, title="Admin keys", keys=keys, created=created)
        )
    view = await run_in_threadpool(app.partners.get, partner_id)
    return render(
        request,
        "console_partner.html",
        _values(session, title=f"Partner {view.id}", partner=view, keys=keys, created=created),
    )


@page("console")
async def create_key(request: Request) -> Response:
    """Issue a key: for the partner named in the form, else an admin key (audited as key.created)."""
    try:
        session, form = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    partner_id = _text(form, "partner_id", max_length=64) or None
    created = await run_in_threadpool(
        context(request).app.keys.create,
        KeyRole.PARTNER if partner_id else KeyRole.ADMIN,
        partner_id,
        actor=session.principal.actor,
        client=_client(request),
        label=_text(form, "label"),
    )
    return await _created(request, session, created)


@page("console")
async def key_action(request: Request) -> Response:
    """Revoke or rotate a key (audited like POST /admin/keys/{id}/revoke and /rotate)."""
    try:
        session, _ = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    key_id = request.path_params["key_id"]
    action = request.path_params["action"]
    actor, client = session.principal.actor, _client(request)
    if action == "rotate":
        created = await run_in_threadpool(
            app.keys.rotate, key_id, overlap=KEY_OVERLAP, actor=actor, client=client
        )
        return await _created(request, session, created)
    if action != "revoke":
        raise InvalidError(f"unknown key action {action!r}")
    key = await run_in_threadpool(app.keys.revoke, key_id, actor=actor, client=client)
    return redirect(request, f"/console/partners/{key.partner_id}" if key.partner_id else "/console/keys")


@page("console")
async def jobs_page(request: Request) -> Response:
    """Jobs by status (dead ones first by default), with retry and cancel."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    wanted = request.query_params.get("status", "dead")
    status = next((s for s in JobStatus if str(s) == wanted), None)
    if status is None:
        raise InvalidError(f"status: one of {', '.join(str(s) for s in JobStatus)}")
    found = await run_in_threadpool(app.jobs.page, status=status, limit=100)
    depth = await run_in_threadpool(app.jobs.queue_depth)
    return render(
        request,
        "console_jobs.html",
        _values(
            session,
            title="Jobs",
            jobs=found.jobs,
            status=str(status),
            statuses=[str(s) for s in JobStatus],
            depth=depth,
        ),
    )


@page("console")
async def job_action(request: Request) -> Response:
    """Retry a dead job or cancel a waiting or running one (audited like the API's)."""
    try:
        session, _ = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    job_id = request.path_params["job_id"]
    action = request.path_params["action"]
    actor, client = session.principal.actor, _client(request)
    if action == "retry":
        job = await run_in_threadpool(app.jobs.retry, job_id, actor=actor, client=client)
    elif action == "cancel":
        job = await run_in_threadpool(app.jobs.cancel, job_id, partner_id=None, actor=actor, client=client)
    else:
        raise InvalidError(f"unknown job action {action!r}")
    return redirect(request, f"/console/jobs?status={job.status}")


@page("console")
async def schedules_page(request: Request) -> Response:
    """Pull schedules: next run, the last run's time, outcome and error, paused or not; after a
    run now (`?ran=`), how that run went."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    schedules = await run_in_threadpool(context(request).app.schedules.all)
    ran_id = request.query_params.get("ran")
    ran = next((s for s in schedules if s.id == ran_id), None)
    return render(
        request, "console_schedules.html", _values(session, title="Schedules", schedules=schedules, ran=ran)
    )


@page("console")
async def schedule_action(request: Request) -> Response:
    """Pause or resume a schedule (audited like PATCH /admin/schedules/{id}), or run it now (the
    use case of POST /admin/schedules/{id}/run, audited the same way), then show how it went."""
    try:
        session, _ = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    schedule_id = request.path_params["schedule_id"]
    action = request.path_params["action"]
    actor, client = session.principal.actor, _client(request)
    if action == "run":
        # Redirected (not rendered) so that reloading the answer never pulls the feed again.
        await run_in_threadpool(app.pull_feeds.run_now, schedule_id, actor=actor, client=client)
        return redirect(request, f"/console/schedules?ran={quote(schedule_id)}")
    if action not in ("pause", "resume"):
        raise InvalidError(f"unknown schedule action {action!r}")
    await run_in_threadpool(
        app.schedules.update, schedule_id, actor=actor, enabled=action == "resume", client=client
    )
    return redirect(request, "/console/schedules")


@page("console")
async def held_page(request: Request) -> Response:
    """The snapshots the mass-delete guard held, oldest first, with what each would create, update
    and retire (the use case of GET /admin/imports/held); after a release or discard
    (`?settled=`), how it went."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    held = await run_in_threadpool(app.held_feeds.held, None)
    params = request.query_params
    settled = release = None
    partner = (params.get("partner_id") or "").strip()[:64]
    if partner and params.get("settled"):
        settled = await run_in_threadpool(app.imports.get, partner, params["settled"][:64])
        if params.get("release"):
            release = await run_in_threadpool(app.imports.get, partner, params["release"][:64])
    return render(
        request,
        "console_held.html",
        _values(session, title="Held snapshots", held=held, settled=settled, release=release),
    )


@page("console")
async def held_action(request: Request) -> Response:
    """Release or discard a held snapshot: the use cases of POST /admin/imports/{id}/release and
    /discard, audited the same way (feed.released, feed.discarded, this admin as the actor)."""
    try:
        session, _ = await submitted(request, CONSOLE)
    except Refused as refused:
        return refused.response
    settle = context(request).app.held_feeds
    feed_id = request.path_params["feed_id"]
    action = request.path_params["action"]
    actor, client = session.principal.actor, _client(request)
    # Redirected (not rendered) so that reloading the answer never settles anything again.
    if action == "release":
        report = await run_in_threadpool(settle.release, feed_id, actor=actor, client=client)
        partner = report.partner_id
        after = f"&release={quote(report.feed_id)}"
    elif action == "discard":
        entry = await run_in_threadpool(settle.discard, feed_id, actor=actor, client=client)
        partner, after = entry.partner_id, ""
    else:
        raise InvalidError(f"unknown held snapshot action {action!r}")
    return redirect(
        request, f"/console/imports/held?settled={quote(feed_id)}&partner_id={quote(partner)}{after}"
    )


@page("console")
async def contract_usage_page(request: Request) -> Response:
    """Per contract version: its status now (current, deprecated with its sunset, retired) and the
    partners sending it (the use case of GET /admin/contract/usage)."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    versions = await run_in_threadpool(context(request).app.contract_usage, None)
    return render(
        request, "console_contract.html", _values(session, title="Contract versions", versions=versions)
    )


@page("console")
async def webhooks_page(request: Request) -> Response:
    """Every partner's webhook, disabled ones flagged with why and since when (GET /admin/webhooks)."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    hooks = await run_in_threadpool(context(request).app.webhooks.all)
    hooks.sort(key=lambda h: (h.enabled, h.partner_id))
    return render(request, "console_webhooks.html", _values(session, title="Webhooks", hooks=hooks))


@page("console")
async def circuits_page(request: Request) -> Response:
    """Every feed's circuit breaker, and the fetch anomalies of the trail."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    app = context(request).app
    circuits = await run_in_threadpool(app.fetch_health.circuits)
    anomalies = await run_in_threadpool(
        app.audit_trail, AuditQuery(action=AuditAction.FETCH_ANOMALY, limit=50)
    )
    return render(
        request,
        "console_circuits.html",
        _values(session, title="Circuits and anomalies", circuits=circuits, anomalies=anomalies.entries),
    )


def _moment(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidError(f"{name}: a date and time such as 2026-03-01T12:00, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@page("console")
async def audit_page(request: Request) -> Response:
    """The audit trail, newest first, searched by partner, action and time."""
    try:
        session = await signed_in(request, CONSOLE)
    except Refused as refused:
        return refused.response
    params = request.query_params
    partner = (params.get("partner_id") or "").strip()[:64]
    action_text = (params.get("action") or "").strip()
    action = next((a for a in AuditAction if str(a) == action_text), None)
    if action_text and action is None:
        raise InvalidError(f"action: unknown audit action {action_text!r}")
    since_text, until_text = (params.get("since") or "").strip(), (params.get("until") or "").strip()
    before = (params.get("before_id") or "").strip()
    query = AuditQuery(
        partner_id=partner or None,
        action=action,
        since=_moment(since_text, "since"),
        until=_moment(until_text, "until"),
        limit=50,
        before_id=int(before) if before.isdigit() else None,
    )
    found = await run_in_threadpool(context(request).app.audit_trail, query)
    return render(
        request,
        "console_audit.html",
        _values(
            session,
            title="Audit trail",
            entries=found.entries,
            next_before_id=found.next_before_id,
            actions=[str(a) for a in AuditAction],
            partner_id=partner,
            action=action_text,
            since=since_text,
            until=until_text,
        ),
    )
