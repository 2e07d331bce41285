"""`partner-ingest imports held|release|discard`: settle the snapshots the mass-delete guard held (ADR 0036)."""

from __future__ import annotations

import argparse
from typing import Any

from ._output import print_json, print_report

__all__ = ["register"]

ACTOR = "system"
"""The audit trail's actor for an operator at the command line (as for every CLI admin command)."""


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the `imports` group."""
    imports = commands.add_parser(
        "imports", help="list, release or discard the snapshots the mass-delete guard held"
    ).add_subparsers(title="imports commands", metavar="COMMAND", required=True)
    held = imports.add_parser("held", help="list the held snapshots, oldest first")
    held.add_argument("--partner", help="one partner's only")
    held.set_defaults(command=run_held)
    release = imports.add_parser("release", help="apply a held snapshot exactly as it was held")
    release.add_argument("feed_id", help="the held import's feed id (`imports held` lists them)")
    release.add_argument("--json", action="store_true", help="print the released import's report as JSON")
    release.set_defaults(command=run_release)
    discard = imports.add_parser("discard", help="forget a held snapshot; nothing of it is applied")
    discard.add_argument("feed_id", help="the held import's feed id (`imports held` lists them)")
    discard.set_defaults(command=run_discard)


def run_held(args: argparse.Namespace) -> int:
    """Print the held imports as JSON lines (feed id, partner, what each would do)."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        for entry in app.held_feeds.held(args.partner):
            print_json(
                {
                    "feed_id": entry.id,
                    "partner_id": entry.partner_id,
                    "completed_at": entry.completed_at.isoformat(),
                    "counts": entry.report.counts.to_json(),
                }
            )
    finally:
        app.close()
    return 0


def run_release(args: argparse.Namespace) -> int:
    """Release one; its report."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        report = app.held_feeds.release(args.feed_id, actor=ACTOR)
    finally:
        app.close()
    print_report(report, as_json=args.json)
    return 0


def run_discard(args: argparse.Namespace) -> int:
    """Discard one."""
    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.settings import Settings

    app = bootstrap.build(Settings.from_env())
    try:
        entry = app.held_feeds.discard(args.feed_id, actor=ACTOR)
    finally:
        app.close()
    print(f"{entry.id}: {entry.status}")
    return 0
