"""A parser helper process's own side (ADR 0019): one feed after another, read from the pipe,
parsed and validated by the feed's `FeedReading`, its chunks sent back.

Invariant: the helper does only the front half (pure computation) and keeps nothing between
feeds; it reads every feed to its end before saying "ready", so the next feed starts at a
frame boundary (a feed it reads from a file sends no frames); it ends when its parent closes
the pipe, never on a signal meant for the parent.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import BinaryIO, NoReturn

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.domain.model.streams import RawReader

from .frames import FramePipe
from .parser_wire import FRAME, FileSource, pack_rows

__all__ = ["serve"]


class _InboxReader(RawReader):
    """The helper's side: the feed's bytes as they arrive, to the empty frame that ends them."""

    def __init__(self, inbox: FramePipe) -> None:
        self._inbox = inbox
        self._pending = memoryview(b"")
        self.ended = False

    def read_some(self, size: int) -> bytes | memoryview:
        while not self._pending:
            if self.ended:
                return b""
            data = self._inbox.recv_bytes()
            if not data:
                self.ended = True
                return b""
            self._pending = memoryview(data)
        part, self._pending = self._pending[:size], self._pending[size:]
        return part

    def drain(self) -> None:
        """Skip to the end of the feed (the parser may stop early; the feeder stops soon after)."""
        self._pending = memoryview(b"")
        while not self.ended:
            if not self._inbox.recv_bytes():
                self.ended = True


def serve(inbox_fd: int, outbox_fd: int) -> NoReturn:
    """A helper's life: one feed after another, until its parent closes the pipe; then the
    process ends."""
    # Ctrl+C in a terminal, or a service manager's SIGTERM to the whole group, is for the
    # parent: it lets the current feed finish (a worker's graceful stop), then closes
    # the pipe, and that is what ends a helper. If the parent dies, the pipe closes too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # EOFError or OSError: the parent went away (or killed the feed): nothing to report to.
    with contextlib.suppress(EOFError, OSError):
        _serve(FramePipe(inbox_fd), FramePipe(outbox_fd))
    # The parent waits for this exit when it stops its helpers (the end of every CLI ingest),
    # and nothing here needs the interpreter's teardown: the pipes are bare descriptors and
    # every message is written. Tearing down every module and object of a helper that has
    # parsed a feed costs tens of milliseconds (ADR 0039); ending the process now does not.
    # What was registered to run at exit (a coverage tool's, say) still runs.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _serve(inbox: FramePipe, outbox: FramePipe) -> None:
    """One feed after another, until end of file on `inbox`."""

    def send(kind: str, detail: object = None) -> None:
        outbox.send_bytes(pickle.dumps((kind, detail), protocol=pickle.HIGHEST_PROTOCOL))

    def send_chunk(chunk: ValidatedChunk) -> None:
        packed = pack_rows(chunk.rows)
        if packed is None:
            send("chunk", chunk)
        else:  # the chunk without its rows, then the rows (see Helper.receive)
            send("packed", attrs.evolve(chunk, rows=[]))
            outbox.send_bytes(packed)

    # The cyclic GC, left to itself, scans every live row of the batch in progress again and
    # again (a multiple of the work per item; ADR 0019). Here it runs once per chunk, when
    # no batch is alive: what a feed leaves in cycles is collected, nothing else is scanned.
    gc.disable()
    send("hello", os.getpid())
    while True:
        job = inbox.recv_bytes()
        try:
            reading: FeedReading
            source: FileSource | None
            reading, source = pickle.loads(job)  # noqa: S301 - from our parent
        except Exception as error:  # any import failure means "parse it there"
            send("refused", f"{type(error).__name__}: {error}")
            continue
        if source is None:
            send("accepted")
            _parse(reading, _InboxReader(inbox), send_chunk, send)
            continue
        try:
            feed = source.open()
        except OSError as error:  # the parent sends the bytes through the pipe instead
            send("unreadable", f"{type(error).__name__}: {error}")
            continue
        send("accepted")
        with feed:
            _parse(reading, feed, send_chunk, send)


def _parse(
    reading: FeedReading,
    feed: _InboxReader | BinaryIO,
    send_chunk: Callable[[ValidatedChunk], None],
    send: Callable[[str, object], None],
) -> None:
    """One feed: its chunks sent as they are made, then "ready" once its bytes are all read."""
    stream = io.BufferedReader(feed, FRAME) if isinstance(feed, _InboxReader) else feed
    try:
        for chunk in reading.chunks(stream):
            send_chunk(chunk)
            del chunk
            gc.collect(0)
    except Exception as error:  # reported to the parent, which fails the feed
        send("failed", f"{type(error).__name__}: {error}")
    if isinstance(feed, _InboxReader):
        feed.drain()
    gc.collect()
    send("ready", None)
