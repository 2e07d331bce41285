"""Feed commands: `ingest` a file into the store, `validate` one as the server would, print an `example`."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.policy import Mode
from partner_ingest.domain.model.report import FeedStatus
from partner_ingest.domain.use_cases import FeedSubmission

from ._output import ProgressReader, print_report

__all__ = ["register"]

_FORMATS_FROM_SUFFIX = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".xml": "xml"}


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the feed commands."""
    ingest = commands.add_parser("ingest", help="ingest a feed file into the store, with a progress bar")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--partner", required=True, help="partner id (must exist)")
    _format_arguments(ingest)
    ingest.add_argument("--dry-run", action="store_true", help="report without writing")
    ingest.add_argument(
        "--feed-mode",
        choices=[str(m) for m in FeedMode],
        help="upsert (default: the partner's), snapshot (absent products are retired) or patch",
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(command=run_ingest)

    validate = commands.add_parser(
        "validate",
        help="validate a feed file against the contract, exactly as the server would (no database)",
    )
    validate.add_argument("file", type=Path, help="the feed file, or - for standard input")
    _format_arguments(validate)
    validate.add_argument("--mode", choices=[str(m) for m in Mode], default=str(Mode.STRICT))
    validate.add_argument(
        "--currency", help="the partner's currency setting, for formats whose feeds carry none (shopify-csv)"
    )
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.set_defaults(command=run_validate)

    example = commands.add_parser("example", help="print an example feed that validates")
    example.add_argument("--format", default="json")
    example.add_argument("--version", type=int, default=2)
    example.set_defaults(command=run_example)


def _format_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        help="json, jsonl, csv, xml, gmc-xml, gmc-tsv, shopify-csv or a plugin's (default: from the file name)",
    )
    parser.add_argument("--version", type=int, help="feed version (default: the partner's, else 1)")


def _format_of(args: argparse.Namespace) -> str | None:
    if args.format:
        return str(args.format)
    return _FORMATS_FROM_SUFFIX.get(Path(args.file).suffix.lower())


def run_ingest(args: argparse.Namespace) -> int:
    """Ingest a local file through the real use case and print its report."""
    app = bootstrap.build(Settings.from_env())
    try:
        path: Path = args.file
        with path.open("rb") as raw:
            body = io.BufferedReader(ProgressReader(raw, path.stat().st_size), buffer_size=1 << 20)
            report = app.ingest(
                FeedSubmission(
                    partner_id=args.partner,
                    body=body,
                    format=_format_of(args),
                    version=args.version,
                    dry_run=args.dry_run,
                    source="cli",
                    feed_mode=args.feed_mode,
                )
            )
    finally:
        app.close()
    print_report(report, as_json=args.json)
    return 0 if report.status is not FeedStatus.REJECTED else 1


def run_validate(args: argparse.Namespace) -> int:
    """Validate without any database; exit 1 when the feed would not be fully accepted."""
    report = bootstrap.validate_against_contract(
        sys.stdin.buffer if str(args.file) == "-" else args.file.read_bytes(),
        format=_format_of(args) or "json",
        version=args.version or 1,
        mode=args.mode,
        currency=args.currency,
    )
    print_report(report, as_json=args.json)
    return 0 if report.status is FeedStatus.ACCEPTED else 1


def run_example(args: argparse.Namespace) -> int:
    """Print the contract's example feed in one format and version."""
    app, _, _ = bootstrap.in_memory()
    for example in app.describe_contract.examples():
        if example["format"] == args.format and example["version"] == args.version:
            sys.stdout.write(example["body"])
            return 0
    print(f"partner-ingest: no example for {args.format} v{args.version}", file=sys.stderr)
    return 2
