"""`partner-ingest <args>` run in this process: `main(argv)` with the environment, standard streams
and logging a fresh process of the console script would have, restored afterwards.

A whole process costs a new interpreter and every import of the command (0.2 to 0.45 s of
CPU each time); a test about what a command prints, returns and writes does not need one.
`run` answers in the shape `subprocess.run` does (returncode, stdout, stderr), so a test
reads the same either way. What only a process shows stays with `support.processes`:
the console script's own exit (`run()` ends the process, an ingest through `os._exit`),
signals, and start-up.

What `run` makes the same as a process:
- `os.environ` is exactly `env` for the call: settings are read from it, nothing of the
  test runner's own environment leaks in;
- stdin, stdout and stderr are UTF-8 text streams over bytes (`.buffer` too, which
  `validate -` reads), none of them a terminal;
- the root logger has no handler, so what is logged at WARNING and above reaches stderr
  through `logging.lastResort`, as in a process that configured no logging; a command that
  configures logging (serve, worker, scheduler) has it undone afterwards;
- argparse's exit (usage error, `--version`) becomes the exit code, as Python's exit does.
An exception no command turns into an exit code propagates: the test fails with its traceback,
where the process would have printed it and exited 1.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import attrs

from partner_ingest.adapters_in.cli.main import main

__all__ = ["Ran", "run"]

_CONFIGURED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
"""The loggers `configure_logging` changes: the root, and uvicorn's, which it sends to the root."""


@attrs.frozen
class Ran:
    """One command's exit code and what it wrote, as `subprocess.run(..., text=True)` returns them."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(env: Mapping[str, str], *args: str, stdin: str | None = None) -> Ran:
    """`partner-ingest <args>` to its end, in this process, under `env` alone."""
    out, err = _stream(), _stream(errors="backslashreplace")
    given = _stream(initial=(stdin or "").encode())
    with _environment(env), _logging_of_a_fresh_process(), _standard_streams(given, out, err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = _exit_code(exit_.code, err)
    return Ran(args, code, _text(out), _text(err))


def _stream(*, initial: bytes = b"", errors: str = "strict") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(initial), encoding="utf-8", errors=errors, write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8", errors="replace")


def _exit_code(code: object, err: io.TextIOWrapper) -> int:
    """The code `sys.exit(code)` ends a process with: None is 0, anything not a number is
    printed to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)
    return 1


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    # The temporary directory is read from TMPDIR once per process, on first use: first used under
    # `env`, it would stay the command's choice for every later test of this process.
    tempfile.gettempdir()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _logging_of_a_fresh_process() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _CONFIGURED_LOGGERS]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, handlers, level, propagate in saved:
            for handler in list(lg.handlers):
                lg.removeHandler(handler)
            for handler in handlers:
                lg.addHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


@contextmanager
def _standard_streams(
    stdin: io.TextIOWrapper, stdout: io.TextIOWrapper, stderr: io.TextIOWrapper
) -> Iterator[None]:
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
