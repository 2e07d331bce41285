"""Operator commands: `migrate` the database, list the `settings`, rotate `credentials`,
`audit verify` the audit chain, `purge` what retention lets go."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the operator commands."""
    migrate = commands.add_parser("migrate", help="apply database migrations (also done at every start)")
    migrate.set_defaults(command=run_migrate)
    settings = commands.add_parser(
        "settings",
        help="check every PARTNER_INGEST_* setting as serve would, and show each one's value in effect, "
        "where it came from (env, file, generated, default) and what it does",
    )
    settings.set_defaults(command=run_settings)
    purge = commands.add_parser(
        "purge",
        help="delete now the diagnostics, webhook deliveries and job bodies past their retention "
        "(PARTNER_INGEST_DIAGNOSTICS_RETENTION_DAYS, PARTNER_INGEST_WEBHOOK_DELIVERY_RETENTION_DAYS, "
        "PARTNER_INGEST_JOB_BODY_RETENTION_*); workers also do it every PARTNER_INGEST_JOB_BODY_PURGE_SECONDS",
    )
    purge.set_defaults(command=run_purge)
    credentials = commands.add_parser("credentials", help="partner fetch credentials")
    actions = credentials.add_subparsers(title="actions", metavar="ACTION", required=True)
    rotate = actions.add_parser(
        "rotate", help="re-encrypt every stored credential under the newest vault key (after adding a key)"
    )
    rotate.set_defaults(command=run_rotate_credentials)
    audit = commands.add_parser("audit", help="the audit trail")
    audit_actions = audit.add_subparsers(title="actions", metavar="ACTION", required=True)
    verify = audit_actions.add_parser(
        "verify",
        help="walk the audit chain: OK with the count, or the first broken link and exit 1 (ADR 0028)",
    )
    verify.set_defaults(command=run_verify_audit)


def run_migrate(args: argparse.Namespace) -> int:
    """Open the store (which migrates it) and say where it stands."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings, shown_url

    settings = Settings.from_env()
    app = bootstrap.build(settings)
    app.close()
    print(f"database {shown_url(settings.database_url)} is migrated to the newest schema")
    return 0


def run_settings(args: argparse.Namespace) -> int:
    """Every setting in effect, validated as `serve` validates it: its value, source and meaning."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings, shown_settings

    settings = Settings.from_env()
    bootstrap.check_settings(settings)
    for shown in shown_settings(settings, os.environ, secrets_file=bootstrap.secrets_path(settings)):
        print(f"{shown.variable}={shown.value}  ({shown.source})\n    {shown.description}")
    return 0


def run_rotate_credentials(args: argparse.Namespace) -> int:
    """Re-encrypt partner credentials under the newest key of PARTNER_INGEST_VAULT_KEYS."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        count = app.rotate_credentials(actor="system:cli")
    finally:
        app.close()
    print(f"re-encrypted the credentials of {count} partner(s) under the newest key")
    return 0


def run_verify_audit(args: argparse.Namespace) -> int:
    """Recompute every audit entry's hash and follow every link, oldest first."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        verdict = app.verify_audit()
    finally:
        app.close()
    if verdict.first_break is None:
        newest = "" if verdict.last_id is None else f" (newest entry {verdict.last_id})"
        print(f"audit chain OK: {verdict.entries} entries verified{newest}")
        return 0
    print(
        f"audit chain BROKEN at entry {verdict.first_break.entry_id}: {verdict.first_break.problem}"
        f" ({verdict.entries} entries before it verified)",
        file=sys.stderr,
    )
    return 1


def run_purge(args: argparse.Namespace) -> int:
    """Delete the diagnostics, webhook deliveries and job bodies whose retention is over, and say how many."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        diagnostics = app.purge_diagnostics()
        deliveries = app.purge_webhook_deliveries()
        bodies = app.job_bodies()
    finally:
        app.close()
    print(
        f"purged {diagnostics} diagnostic(s), {deliveries} webhook delivery(ies) and {bodies} job body(ies)"
        " past their retention"
    )
    return 0
