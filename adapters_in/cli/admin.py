"""Operator commands: `partners add|list|show|update` and `keys create|list|revoke|rotate`.

They run the same use cases as the admin HTTP routes, directly on the store the
settings name, and are audited as `system`. Credentials are never taken from
the command line (where `ps` and shell history would show them): pass them as
JSON on standard input with `--credentials-stdin`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from partner_ingest.domain.model.feed_mode import FeedMode

from ._choices import VALIDATION_MODES
from ._output import print_json

if TYPE_CHECKING:
    import attrs

    from partner_ingest.adapters_in.application import Application
    from partner_ingest.domain.use_cases.manage_keys import CreatedKey, KeySummary
    from partner_ingest.domain.use_cases.manage_partners import PartnerChanges, PartnerView

__all__ = ["register"]

ACTOR = "system"
_JSON = "print JSON instead of text"


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add `partners` and `keys`."""
    partners = commands.add_parser("partners", help="add, list, show and update partners").add_subparsers(
        title="partner commands", metavar="ACTION", required=True
    )
    add = partners.add_parser("add", help="add a partner")
    add.add_argument("partner_id", help="the new partner's id (letters, digits, - and _)")
    add.add_argument("--name", required=True, help="the partner's display name")
    _partner_options(add)
    add.set_defaults(command=run_partner_add)
    update = partners.add_parser("update", help="change a partner (only the options given)")
    update.add_argument("partner_id", help="the partner to change")
    update.add_argument("--name", help="a new display name")
    _partner_options(update)
    update.set_defaults(command=run_partner_update)
    listing = partners.add_parser("list", help="list partners")
    listing.add_argument("--json", action="store_true", help=_JSON)
    listing.set_defaults(command=run_partner_list)
    show = partners.add_parser("show", help="show a partner (credentials masked)")
    show.add_argument("partner_id", help="the partner to show")
    show.add_argument("--json", action="store_true", help=_JSON)
    show.set_defaults(command=run_partner_show)

    keys = commands.add_parser("keys", help="create, list, revoke and rotate API keys").add_subparsers(
        title="key commands", metavar="ACTION", required=True
    )
    create = keys.add_parser("create", help="issue a key; it is printed this once")
    _owner(create)
    create.add_argument("--label", default="", help="a note saying what the key is for")
    create.add_argument("--expires-days", type=float, help="the key stops working after this many days")
    create.add_argument("--json", action="store_true", help=_JSON)
    create.set_defaults(command=run_key_create)
    key_list = keys.add_parser("list", help="list keys (masked)")
    _owner(key_list)
    key_list.add_argument("--json", action="store_true", help=_JSON)
    key_list.set_defaults(command=run_key_list)
    revoke = keys.add_parser("revoke", help="stop a key now")
    revoke.add_argument("key_id", help="the public id of the key (pcik_... or pcia_..., before the secret)")
    revoke.set_defaults(command=run_key_revoke)
    rotate = keys.add_parser("rotate", help="issue a replacement; the old key works for --overlap-hours more")
    rotate.add_argument("key_id", help="the public id of the key to replace")
    rotate.add_argument(
        "--overlap-hours", type=float, default=24.0, help="how long the old key keeps working (default: 24)"
    )
    rotate.add_argument("--json", action="store_true", help=_JSON)
    rotate.set_defaults(command=run_key_rotate)


def _partner_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--default-format", help="json, jsonl, csv, xml, gmc-xml, gmc-tsv, shopify-csv")
    parser.add_argument("--default-version", type=int, help="contract version of feeds that name none")
    parser.add_argument("--mode", choices=list(VALIDATION_MODES), help="validation mode")
    parser.add_argument(
        "--atomic", action=argparse.BooleanOptionalAction, help="one bad item rejects the feed"
    )
    parser.add_argument(
        "--max-error-ratio", type=float, help="share of invalid items (0..1) above which a feed is rejected"
    )
    parser.add_argument(
        "--allow-policy-override",
        action=argparse.BooleanOptionalAction,
        help="may a feed ask for another mode or atomic flag (X-Validation-Mode, X-Atomic)",
    )
    parser.add_argument(
        "--currency", help="ISO 4217 code for feeds that carry no currency (shopify-csv), or `none`"
    )
    parser.add_argument("--rate-limit", help="requests per minute per key, or `default`")
    parser.add_argument("--endpoint", help="URL to pull feeds from, or `none`")
    parser.add_argument(
        "--credentials-stdin",
        action="store_true",
        help='read {"endpoint_auth": ..., "endpoint_headers": {...}} as JSON from standard input',
    )
    parser.add_argument(
        "--active",
        action=argparse.BooleanOptionalAction,
        help="an inactive partner's keys and feeds are refused",
    )
    parser.add_argument(
        "--feed-mode", choices=[str(m) for m in FeedMode], help="mode of feeds that name none (upsert)"
    )
    parser.add_argument("--json", action="store_true", help=_JSON)


def _owner(parser: argparse.ArgumentParser) -> None:
    owner = parser.add_mutually_exclusive_group(required=True)
    owner.add_argument("--partner", help="a partner's keys")
    owner.add_argument("--admin", action="store_true", help="admin keys")


@contextmanager
def _application() -> Iterator[Application]:
    # The store, settings and use cases are imported by the command that runs, not by the
    # parser every command builds (ADR 0042).
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        yield app
    finally:
        app.close()


def _plain(value: attrs.AttrsInstance) -> dict[str, Any]:
    from datetime import datetime

    import attrs

    def serialize(inst: object, field: object, item: object) -> object:
        return item.isoformat() if isinstance(item, datetime) else item

    return attrs.asdict(value, value_serializer=serialize)


def _changes(args: argparse.Namespace, current: Callable[[], PartnerView] | None) -> PartnerChanges:
    import attrs

    from partner_ingest.domain.model.policy import Mode, ValidationPolicy
    from partner_ingest.domain.use_cases.manage_partners import PartnerChanges, PartnerRequestError

    values: dict[str, Any] = {}
    for option in (
        "name",
        "default_format",
        "default_version",
        "allow_policy_override",
        "active",
        "feed_mode",
    ):
        if getattr(args, option) is not None:
            values[option] = getattr(args, option)
    if args.rate_limit is not None:
        values["rate_limit_per_minute"] = None if args.rate_limit == "default" else _whole(args.rate_limit)
    if args.currency is not None:
        values["currency"] = None if args.currency.lower() == "none" else args.currency
    if args.endpoint is not None:
        values["endpoint"] = None if args.endpoint.lower() == "none" else args.endpoint
    if args.mode is not None or args.atomic is not None or args.max_error_ratio is not None:
        policy = current().policy if current is not None else ValidationPolicy()
        mode = Mode(args.mode) if args.mode is not None else policy.mode
        atomic = args.atomic if args.atomic is not None else policy.atomic
        ratio = args.max_error_ratio if args.max_error_ratio is not None else policy.max_error_ratio
        try:
            values["policy"] = attrs.evolve(policy, mode=mode, atomic=atomic, max_error_ratio=ratio)
        except ValueError as error:
            raise PartnerRequestError({"max_error_ratio": str(error)}) from None
    if args.credentials_stdin:
        values.update(_credentials(sys.stdin.read()))
    return PartnerChanges(**values)


def _whole(text: str) -> int:
    from partner_ingest.domain.use_cases.manage_partners import PartnerRequestError

    if not text.isdigit():
        raise PartnerRequestError({"rate_limit_per_minute": "a whole number, or `default`"})
    return int(text)


def _credentials(text: str) -> dict[str, Any]:
    import json

    from partner_ingest.domain.use_cases.manage_partners import UNSET, PartnerRequestError

    try:
        data = json.loads(text)
    except ValueError:
        raise PartnerRequestError({"credentials": "standard input is not a JSON object"}) from None
    if not isinstance(data, dict) or set(data) - {"endpoint_auth", "endpoint_headers"}:
        raise PartnerRequestError(
            {"credentials": 'expected {"endpoint_auth": ..., "endpoint_headers": {...}}'}
        )
    headers = data.get("endpoint_headers", UNSET)
    if headers is not UNSET and not (
        isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())
    ):
        raise PartnerRequestError({"endpoint_headers": "an object of strings"})
    auth = data.get("endpoint_auth", UNSET)
    if auth is not UNSET and auth is not None and not isinstance(auth, str):
        raise PartnerRequestError({"endpoint_auth": "a string or null"})
    return {k: v for k, v in (("endpoint_auth", auth), ("endpoint_headers", headers)) if v is not UNSET}


def _print_partner(view: PartnerView, as_json: bool) -> None:
    if as_json:
        print_json(_plain(view))
        return
    policy = view.policy
    print(
        f"{view.id}  {view.name!r}  {'active' if view.active else 'inactive'}  "
        f"default {view.default_format} v{view.default_version}  policy {policy.mode}"
        f"{', atomic' if policy.atomic else ''}{', override allowed' if view.allow_policy_override else ''}  "
        f"rate {view.rate_limit_per_minute or 'default'}/min"
        + (f"  currency {view.currency}" if view.currency else "")
        + (f"  endpoint {view.endpoint}" if view.endpoint else "")
        + ("  credentials ****" if view.endpoint_auth_set or view.endpoint_header_names else "")
    )


def run_partner_add(args: argparse.Namespace) -> int:
    """Add a partner."""
    with _application() as app:
        view = app.partners.create(args.partner_id, _changes(args, None), actor=ACTOR)
    _print_partner(view, args.json)
    return 0


def run_partner_update(args: argparse.Namespace) -> int:
    """Change a partner."""
    with _application() as app:
        changes = _changes(args, lambda: app.partners.get(args.partner_id))
        view = app.partners.update(args.partner_id, changes, actor=ACTOR)
    _print_partner(view, args.json)
    return 0


def run_partner_list(args: argparse.Namespace) -> int:
    """List partners."""
    with _application() as app:
        views = app.partners.list_partners()
    if args.json:
        print_json([_plain(v) for v in views])
    for view in [] if args.json else views:
        _print_partner(view, False)
    return 0


def run_partner_show(args: argparse.Namespace) -> int:
    """Show a partner."""
    with _application() as app:
        view = app.partners.get(args.partner_id)
    _print_partner(view, args.json)
    return 0


def _print_key(key: KeySummary) -> None:
    owner = key.partner_id or "admin"
    print(f"{key.masked}  {owner}  {key.status}  {key.label!r}  created {key.created_at:%Y-%m-%d %H:%M}Z")


def _print_created(created: CreatedKey, as_json: bool) -> None:
    if as_json:
        print_json({"api_key": created.plaintext, **_plain(created.key)})
        return
    print(created.plaintext)
    print(
        f"(key {created.key.id} for {created.key.partner_id or 'admin'}: shown this once; store it now)",
        file=sys.stderr,
    )


def run_key_create(args: argparse.Namespace) -> int:
    """Issue a key."""
    from datetime import timedelta

    from partner_ingest.domain.model.api_keys import KeyRole  # its hashing loads OpenSSL: not at start

    with _application() as app:
        expires = None if args.expires_days is None else app.clock.now() + timedelta(days=args.expires_days)
        role = KeyRole.ADMIN if args.admin else KeyRole.PARTNER
        created = app.keys.create(role, args.partner, actor=ACTOR, label=args.label, expires_at=expires)
    _print_created(created, args.json)
    return 0


def run_key_list(args: argparse.Namespace) -> int:
    """List keys."""
    with _application() as app:
        keys = app.keys.list_keys(None if args.admin else args.partner)
    if args.json:
        print_json([_plain(k) for k in keys])
    for key in [] if args.json else keys:
        _print_key(key)
    return 0


def run_key_revoke(args: argparse.Namespace) -> int:
    """Revoke a key."""
    with _application() as app:
        key = app.keys.revoke(args.key_id, actor=ACTOR)
    _print_key(key)
    return 0


def run_key_rotate(args: argparse.Namespace) -> int:
    """Rotate a key."""
    from datetime import timedelta

    with _application() as app:
        created = app.keys.rotate(args.key_id, overlap=timedelta(hours=args.overlap_hours), actor=ACTOR)
    _print_created(created, args.json)
    return 0
