"""`partner-ingest`: the entry point, and the one place errors become exit codes.

Each command group lives in its own module and registers its subcommands
here. A command returns an exit code; anything the user got wrong ends as one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # imported by name when their commands are built (see `parser`)
    from . import admin, background, feeds, imports, operations, serve, webhooks  # noqa: F401

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_UNAVAILABLE", "EXIT_USAGE", "main", "run"]

EXIT_FAILURE = 1
"""The command ran and the answer is no (a rejected feed, a failed check)."""
EXIT_USAGE = 2
"""The command could not run: bad arguments, settings, input."""
EXIT_UNAVAILABLE = 75
"""The command could not run now (the database is busy or unreachable): try again later
(sysexits' EX_TEMPFAIL, which service managers and schedulers read as "retry")."""
EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], int]

GROUPS = ("feeds", "operations", "background", "serve", "admin", "imports", "webhooks")
"""The modules (of this package) with a `register(subparsers)` function, in the order `--help`
lists their commands; each sets `command` on its parsers."""

COMMANDS = {
    "ingest": "feeds",
    "validate": "feeds",
    "example": "feeds",
    "migrate": "operations",
    "settings": "operations",
    "purge": "operations",
    "credentials": "operations",
    "audit": "operations",
    "worker": "background",
    "scheduler": "background",
    "serve": "serve",
    "partners": "admin",
    "keys": "admin",
    "imports": "imports",
    "webhooks": "webhooks",
}
"""Each command and the module of `GROUPS` that registers it (tests/unit/test_cli_help.py holds
the two to each other)."""


def _version() -> str:
    from importlib import metadata  # only for --version: it imports email and zipfile (ADR 0039)

    try:
        return metadata.version("partner-catalog-ingest")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


class _VersionAction(argparse.Action):
    """argparse's "version" action with the version read when asked for, not on every start."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"partner-ingest {_version()}")
        parser.exit()


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` reads it ($COLUMNS, else standard
    output's terminal, else 80)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return columns


class _Formatter(argparse.HelpFormatter):
    """argparse's help, as wide as the terminal, measured without `shutil`: argparse imports it
    for every parser with subcommands, and with it bz2 and lzma, in every command (ADR 0042)."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class _Parser(argparse.ArgumentParser):
    """A parser whose help `_Formatter` draws; its subcommands' parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - argparse's, passed on
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line `argv` needs: when it starts with a command, that command's group only
    (its module imported, its parsers built: one of seven, where building all of them was a
    fifth of `ingest`'s start-up, ADR 0042); else (`--help`, `--version`, no command, one
    misspelt) the whole command line, so help and usage errors list every command."""
    first = argv[0] if argv else None
    groups = (COMMANDS[first],) if first in COMMANDS else GROUPS
    root = _Parser(
        prog="partner-ingest",
        description="Take partner product catalog feeds: serve the API, run workers, manage partners and keys, "
        "ingest or validate a feed file.",
    )
    root.add_argument("--version", action=_VersionAction, help="show program's version number and exit")
    commands = root.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for group in groups:
        importlib.import_module(f"{__package__}.{group}").register(commands)
    return root


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    """`argv` parsed by the command line it needs (see `parser`)."""
    return parser(argv).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (the console script exits with it)."""
    return _run(_arguments(sys.argv[1:] if argv is None else argv))


def run() -> NoReturn:
    """The console script: run the command of `sys.argv` and end the process with its code.

    A command that sets `quick_exit` (`ingest`) ends the process without tearing the
    interpreter down: freeing every module and object of a process that has ingested a
    large feed is work nobody waits for but the user (ADR 0039). It does so only when its
    thread is the last one left; what was registered to run at exit runs first, and what
    is buffered for stdout and stderr is written.
    """
    args = _arguments(sys.argv[1:])
    code = _run(args)
    if getattr(args, "quick_exit", False) and threading.active_count() == 1:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # a closed or broken stream: the ordinary exit reports it
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def _run(args: argparse.Namespace) -> int:
    # Imported once a command is chosen: `--help` and a usage error end before it (ADR 0042).
    from partner_ingest.domain.model.errors import IngestError, UnavailableError

    command: Command = args.command
    try:
        return command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UnavailableError as error:
        print(f"partner-ingest: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except IngestError as error:
        print(f"partner-ingest: {error}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as error:
        print(f"partner-ingest: no such file: {error.filename}", file=sys.stderr)
        return EXIT_USAGE
    except PermissionError as error:
        print(f"partner-ingest: permission denied: {error.filename or error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    run()
