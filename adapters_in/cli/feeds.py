"""Feed commands: `ingest` a file into the store, `validate` one as the server would, print an `example`."""

from __future__ import annotations

import argparse
import io
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from partner_ingest.domain.model.contract_versions import NEWEST
from partner_ingest.domain.model.feed_mode import FeedMode

from ._choices import VALIDATION_MODES
from ._collector import fewer_young_collections
from ._output import print_report, reading_with_progress

if TYPE_CHECKING:
    from partner_ingest.ports.formats import FormatRegistry

__all__ = ["NEWEST_VERSION", "register", "version_of"]

NEWEST_VERSION: Final = NEWEST
"""What `example` and `validate` use without --version: one default, so an example validates."""


def version_of(args: argparse.Namespace) -> int:
    """The contract version `example` and `validate` work in: --version, else the newest."""
    return int(args.version) if args.version is not None else NEWEST_VERSION


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add the feed commands."""
    ingest = commands.add_parser("ingest", help="ingest a feed file into the store, with a progress bar")
    ingest.add_argument("file", type=Path, help="the feed file")
    ingest.add_argument("--partner", required=True, help="partner id (must exist)")
    _format_arguments(ingest)
    ingest.add_argument("--dry-run", action="store_true", help="report without writing")
    ingest.add_argument(
        "--feed-mode",
        choices=[str(m) for m in FeedMode],
        help="upsert (default: the partner's), snapshot (absent products are retired) or patch",
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show progress (bytes, rate, elapsed, time left) on stderr; default: only on a terminal",
    )
    # Ends the process without tearing the interpreter down (see main.run).
    ingest.set_defaults(command=run_ingest, quick_exit=True)

    validate = commands.add_parser(
        "validate",
        help="validate a feed file against the contract, exactly as the server would (no database)",
    )
    validate.add_argument("file", type=Path, help="the feed file, or - for standard input")
    _format_arguments(validate)
    validate.add_argument(
        "--mode",
        choices=list(VALIDATION_MODES),
        default=VALIDATION_MODES[0],
        help="strict (exact types, unknown fields are errors) or lenient (default: strict)",
    )
    validate.add_argument(
        "--currency", help="the partner's currency setting, for formats whose feeds carry none (shopify-csv)"
    )
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.set_defaults(command=run_validate)

    example = commands.add_parser("example", help="print an example feed that validates")
    example.add_argument("--format", default="json", help="the example's format (default: json)")
    example.add_argument(
        "--version", type=int, help=f"contract version (default: the newest, {NEWEST_VERSION}, as validate)"
    )
    example.set_defaults(command=run_example)


def _format_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        help="json, jsonl, csv, xml, gmc-xml, gmc-tsv, shopify-csv or a plugin's (default: from the file name)",
    )
    parser.add_argument(
        "--version",
        type=int,
        help="contract version (ingest: default the partner's, else 1; validate: default the newest, "
        f"{NEWEST_VERSION}, as example)",
    )


def _format_of(args: argparse.Namespace, formats: FormatRegistry | None = None) -> str | None:
    """--format, else the one format whose plugin declares the file's extension (among
    `formats`, the application's when it has them: the installed plugins are found once)."""
    if args.format:
        return str(args.format)
    from partner_ingest.plugins import load_formats
    from partner_ingest.ports.formats import format_for_file

    return format_for_file(formats if formats is not None else load_formats(), Path(args.file).name)


def run_ingest(args: argparse.Namespace) -> int:
    """Ingest a local file through the real use case and print its report."""
    from partner_ingest.adapters_in.early_parser import start_parser_for
    from partner_ingest.adapters_in.settings import Settings

    settings = Settings.from_env()
    path: Path = args.file
    # A file the parser process will read: start it first, before this process imports the
    # composition root and the use case, so that it imports the library meanwhile (ADR 0039).
    spawned = start_parser_for(settings, path)
    # Hashed first, so the ingest reads the body once (the progress drawn once), and the
    # body stays seekable: a snapshot held by the mass-delete guard is kept from it. The
    # hash runs in a thread of its own (hashlib leaves the GIL while it reads and hashes)
    # while this one imports the use case, opens the store and finds the installed formats:
    # work it would otherwise wait for (ADR 0039). A missing file is reported by this open.
    try:
        digest = _Digest(path.open("rb"))
        from partner_ingest.adapters_in import bootstrap
        from partner_ingest.domain.model.report import FeedStatus
    except BaseException:
        if spawned is not None:
            spawned.abandon()
        raise
    app = bootstrap.build(settings, start_parser=spawned if spawned is not None else False)
    from partner_ingest.domain.use_cases.feed_terms import FeedSubmission

    try:
        fmt = _format_of(args, app.formats)
        app.formats.all()  # found now, while the hash is still being computed
        content_hash = digest.result()
        with (
            path.open("rb") as raw,
            reading_with_progress(raw, path.stat().st_size, shown=args.progress) as read,
            fewer_young_collections(),  # a chunk's rows die young (ADR 0039)
        ):
            body = read
            report = app.ingest(
                FeedSubmission(
                    partner_id=args.partner,
                    body=body,
                    format=fmt,
                    version=args.version,
                    dry_run=args.dry_run,
                    source="cli",
                    feed_mode=args.feed_mode,
                    content_hash=content_hash,
                )
            )
    finally:
        app.close()
    print_report(report, as_json=args.json)
    return 0 if report.status is not FeedStatus.REJECTED else 1


class _Digest:
    """The SHA-256 of an open file, computed by a thread of its own from now on (which
    closes the file)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self._hex = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="partner-ingest-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import hashlib  # loads OpenSSL: in this thread, not in every command's start

        try:
            with self._raw as raw:
                self._hex = hashlib.file_digest(raw, "sha256").hexdigest()
        except BaseException as error:  # re-raised by result(), in the caller's thread
            self._error = error

    def result(self) -> str:
        """The hex digest, once the thread is done; what reading the file raised, if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hex


def run_validate(args: argparse.Namespace) -> int:
    """Validate without any database; exit 1 when the feed would not be fully accepted."""
    from partner_ingest.adapters_in.settings import Settings
    from partner_ingest.domain.model.report import FeedStatus
    from partner_ingest.domain.use_cases.validate_feed import validate_against_contract
    from partner_ingest.plugins import load_formats

    settings = Settings.from_env()
    report = validate_against_contract(
        sys.stdin.buffer if str(args.file) == "-" else args.file.read_bytes(),
        formats=load_formats(),
        format=_format_of(args) or "json",
        version=version_of(args),
        mode=args.mode,
        currency=args.currency,
        fast_validator=settings.fast_validator,
    )
    print_report(report, as_json=args.json)
    return 0 if report.status is FeedStatus.ACCEPTED else 1


def run_example(args: argparse.Namespace) -> int:
    """Print the contract's example feed in one format and version."""
    from partner_ingest.adapters_in import bootstrap

    app, _, _ = bootstrap.in_memory()
    for example in app.describe_contract.examples():
        if example["format"] == args.format and example["version"] == version_of(args):
            sys.stdout.write(example["body"])
            return 0
    print(f"partner-ingest: no example for {args.format} v{version_of(args)}", file=sys.stderr)
    return 2
