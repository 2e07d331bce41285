"""Starting a parser helper's process (ADR 0019), or the ingest process of `serve` (ADR 0047):
the `python -c` boot and its two pipes, and nothing else, so that a command can start one
before it imports the rest of the library (ADR 0039: a CLI ingest of a large file starts its
helper first thing).

Invariant: this module imports only the standard library's `os`, `json`, `subprocess` and
`sys`; `parser_helper.Helper` adopts what it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Final, NamedTuple

__all__ = ["SpawnedProcess", "spawn"]

_PIPE_BYTES: Final = 1 << 20
"""Room in the pipes to and from a helper (Linux's cap for a pipe, /proc/sys/fs/pipe-max-size)."""
_BOOT: Final = (
    "import importlib, json, sys; sys.path[:] = json.loads(sys.argv[3]); "
    "importlib.import_module(sys.argv[4]).serve(int(sys.argv[1]), int(sys.argv[2]))"
)
PARSER: Final = "partner_ingest.adapters_out.parser_serve"
"""The module whose `serve(inbox_fd, outbox_fd)` a parser helper runs."""


class SpawnedProcess(NamedTuple):
    """A helper process still importing the library, and this side's ends of its pipes."""

    process: subprocess.Popen[bytes]
    to_helper: int
    """What the helper reads: this process writes it."""
    from_helper: int
    """What the helper writes: this process reads it."""

    def abandon(self) -> None:
        """Stop a helper nobody adopted (its pipes close; it is killed and reaped)."""
        for fd in (self.to_helper, self.from_helper):
            os.close(fd)
        self.process.kill()
        self.process.wait()


def spawn(executable: str | None = None, *, module: str = PARSER) -> SpawnedProcess:
    """Start a helper process over two new pipes, running `module`'s `serve(inbox_fd, outbox_fd)`
    (a parser helper's by default: it imports the library and says hello)."""
    helper_reads, to_helper = os.pipe()
    from_helper, helper_writes = os.pipe()
    _widen(from_helper)
    _widen(to_helper)
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [
                executable or sys.executable,
                "-c",
                _BOOT,
                str(helper_reads),
                str(helper_writes),
                json.dumps(sys.path),
                module,
            ],
            pass_fds=(helper_reads, helper_writes),
            stdin=subprocess.DEVNULL,
        )
    except OSError:
        for fd in (helper_reads, to_helper, from_helper, helper_writes):
            os.close(fd)
        raise
    os.close(helper_reads)
    os.close(helper_writes)
    return SpawnedProcess(process, to_helper, from_helper)


def _widen(pipe: int) -> None:
    """Give a pipe room for several messages (Linux: 64 KiB by default, a chunk is ~200 KiB).

    With the default, a helper that finishes a chunk waits until this process is done
    writing the one before, and the feeder waits for the helper to take each frame:
    each chunk then costs the slower of the two halves, whose speeds vary chunk by
    chunk. With room for several each side keeps going, and a feed costs the slower
    half on average (faster in alternating runs; see ADR 0019).
    """
    try:
        import fcntl

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or capped lower: the default works
        pass
