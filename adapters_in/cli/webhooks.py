"""`partner-ingest webhooks show|deliveries|test|enable`: a partner's completion webhook from the
command line (ADR 0034), through the same use cases as `/admin/partners/{id}/webhook`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._choices import MAX_DELIVERY_PAGE
from ._output import print_json

if TYPE_CHECKING:
    from partner_ingest.adapters_in.application import Application
    from partner_ingest.adapters_in.settings import Settings

__all__ = ["register"]

ACTOR = "system"
"""The audit trail's actor for an operator at the command line (as for every CLI admin command)."""


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the `webhooks` group."""
    webhooks = commands.add_parser(
        "webhooks",
        help="a partner's completion webhook: its state, its delivery log, a test event, enabling it",
    ).add_subparsers(title="webhooks commands", metavar="COMMAND", required=True)
    show = webhooks.add_parser(
        "show",
        help="the partner's webhook URL, whether it is enabled (or why it was disabled) and its failure run",
    )
    show.add_argument("partner_id", metavar="PARTNER", help="the partner's id")
    show.add_argument("--json", action="store_true", help="print the webhook as JSON (never its secret)")
    show.set_defaults(command=run_show)
    deliveries = webhooks.add_parser(
        "deliveries", help="the partner's delivery log, newest first, as JSON lines"
    )
    deliveries.add_argument("partner_id", metavar="PARTNER", help="the partner's id")
    deliveries.add_argument(
        "--limit",
        type=int,
        default=20,
        help=f"how many deliveries to print, newest first (1-{MAX_DELIVERY_PAGE}; default 20)",
    )
    deliveries.set_defaults(command=run_deliveries)
    test = webhooks.add_parser(
        "test", help="queue a webhook.test event for the partner's webhook (a worker delivers it)"
    )
    test.add_argument("partner_id", metavar="PARTNER", help="the partner's id")
    test.set_defaults(command=run_test)
    enable = webhooks.add_parser(
        "enable",
        help="enable again a webhook disabled after a run of failed deliveries (its URL checked again), audited",
    )
    enable.add_argument("partner_id", metavar="PARTNER", help="the partner's id")
    enable.set_defaults(command=run_enable)


def _build() -> tuple[Settings, Application]:
    """The settings and the application, imported when a command runs, not when the parser is
    built (ADR 0042)."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    settings = Settings.from_env()
    return settings, bootstrap.build(settings)


def run_show(args: argparse.Namespace) -> int:
    """Print the webhook: readable lines, or JSON."""
    from partner_ingest.adapters_in.json_forms import webhook_json

    settings, app = _build()
    try:
        hook = app.webhooks.get(args.partner_id)
    finally:
        app.close()
    if args.json:
        print_json({"partner_id": hook.partner_id, **webhook_json(hook)})
        return 0
    print(f"partner: {hook.partner_id}")
    print(f"url: {hook.url}")
    if hook.enabled:
        print("state: enabled")
    else:
        since = "" if hook.disabled_at is None else f" since {hook.disabled_at.isoformat()}"
        print(f"state: disabled{since}: {hook.disabled_reason or 'no reason recorded'}")
    limit = settings.webhook_disable_after_failures
    print(f"failure run: {hook.failures} failed attempt(s) in a row (disabled at {limit})")
    if hook.previous_secret is not None and hook.previous_until is not None:
        print(f"previous secret signs until: {hook.previous_until.isoformat()}")
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    """Print the delivery log, one JSON object a line."""
    import json

    from partner_ingest.adapters_in.json_forms import delivery_json, json_default

    _, app = _build()
    try:
        found = app.webhooks.deliveries(args.partner_id, limit=args.limit)
    finally:
        app.close()
    for delivery in found:
        print(json.dumps(delivery_json(delivery), default=json_default))
    return 0


def run_test(args: argparse.Namespace) -> int:
    """Queue a test event; its delivery id."""
    _, app = _build()
    try:
        delivery = app.webhooks.send_test(args.partner_id, actor=ACTOR)
    finally:
        app.close()
    print(f"{delivery.id}: {delivery.event} queued for {args.partner_id} (a worker delivers it)")
    return 0


def run_enable(args: argparse.Namespace) -> int:
    """Enable the webhook again; say whether it was disabled."""
    _, app = _build()
    try:
        before = app.webhooks.get(args.partner_id)
        hook = app.webhooks.enable(args.partner_id, actor=ACTOR)
    finally:
        app.close()
    if before.enabled:
        print(f"{hook.partner_id}: the webhook is enabled already ({hook.url})")
    else:
        print(f"{hook.partner_id}: the webhook is enabled again ({hook.url}); its failure run starts at 0")
    return 0
