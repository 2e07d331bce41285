"""`ParserProcesses`: large feeds are parsed and validated in a helper process while this one writes.

Why (ADR 0019): a feed's time goes two-thirds to parsing and validating, in
Python, and one third to SQLite; in one thread they take turns, and SQLite
waits. With a helper process doing the front half (`FeedReading.chunks`),
parsing batch n+1 overlaps writing batch n, and a two-core machine ingests
at the speed of the slower half. Threads cannot do this: the front half holds
the GIL, and sqlite3 gives it up around every row it steps.

How:
- A feed smaller than `min_bytes` (read ahead to find out) is parsed here:
  it is over before a helper would make a difference.
- Helpers are started once (`python -c`, never `multiprocessing`'s spawn,
  which would re-run the embedding application's `__main__`) and reused; at
  most `max_processes` run, and a feed that finds none free is parsed here.
- Per feed, the helper gets the feed's `FeedReading` (pickled: the format,
  the validator, the limits), then the feed's bytes from a feeder thread (or, for a
  plain file, the file's name and offset: it reads the file itself, and this process
  copies nothing; ADR 0039), and sends back `ValidatedChunk`s: exactly what `reading.chunks` yields here. A chunk's
  rows travel in the `marshal` format (`pack_rows`): this process, which writes
  them, is the slower half, and `marshal` rebuilds them in fewer instructions
  than pickle or MessagePack. A row holding a value of another type goes as pickle.

Where: this module is the pool (the `FeedParsing` port); parser_helper.py starts one helper
and talks to it, parser_serve.py is what runs inside it, parser_wire.py what they say.
- A format that cannot be pickled, or that the helper cannot import, is
  parsed here. A helper that fails mid-feed is killed and the feed fails like
  any unexpected error (its unit of work rolls back); the next feed starts a
  new helper. If no helper can be started at all, every feed is parsed here
  and that is logged once.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from typing import TYPE_CHECKING, BinaryIO, Protocol

from partner_ingest.domain.model.streams import RawReader

from .parser_wire import FRAME, FileSource, ParserProcessError

if TYPE_CHECKING:
    import logging

    # The helper's handle (subprocess, the row codec) is imported when a first helper is
    # started: a process that only parses small feeds here never loads it (ADR 0042).
    from partner_ingest.domain.model.chunk import ValidatedChunk
    from partner_ingest.domain.model.reading import FeedReading

    from .parser_helper import Helper
    from .parser_spawn import SpawnedProcess

__all__ = ["ParserProcessError", "ParserProcesses"]


def _log() -> logging.Logger:
    """This module's logger, with `logging` imported on the first line logged: a command
    that logs nothing does not load it (ADR 0042)."""
    import logging

    return logging.getLogger(__name__)


class ParserProcesses:
    """A `FeedParsing` that runs the front half of large feeds in helper processes."""

    def __init__(
        self,
        *,
        min_bytes: int = 2 << 20,
        max_processes: int | None = None,
        executable: str | None = None,
    ) -> None:
        """`max_processes` defaults to one less than the CPUs (none on one CPU), at most 4."""
        self.min_bytes = min_bytes
        self.max_processes = (
            max_processes if max_processes is not None else max(0, min(4, (os.cpu_count() or 1) - 1))
        )
        self._executable = executable or sys.executable
        self._lock = threading.Lock()
        self._idle: list[Helper] = []
        self._busy = 0
        self._closed = False
        self._disabled = False
        self._refused: set[type] = set()

    def open(
        self, reading: FeedReading, stream: BinaryIO
    ) -> AbstractContextManager[Iterator[ValidatedChunk]]:
        """The feed's chunks, from a helper when the feed is large and one is free; leaving
        the context hands the helper back (or stops it, if the feed did not end cleanly)."""
        source = _file_source(stream)
        head = _read_up_to(stream, self.min_bytes)
        if len(head) < self.min_bytes:  # the whole feed, and a small one
            return closing(reading.chunks(io.BytesIO(head)))
        rest = io.BufferedReader(_Prefixed(head, stream), FRAME)
        found = self._helper_for(reading, source)
        if found is None:
            return closing(reading.chunks(rest))
        helper, reads_file = found
        return _remote(helper, None if reads_file else rest, self._release)

    def warm(self, *, wait: bool = True, spawned: SpawnedProcess | None = None) -> None:
        """Start one helper now rather than on the first large feed. Without `wait`, only its
        process is started: it imports the library while this process goes on (a CLI ingest
        hashes the file meanwhile), and the first feed waits for whatever is left of that.
        `spawned` is such a process the caller started already (`parser_spawn.spawn`): kept
        as the idle helper, or stopped if this pool has no use for it."""
        if not wait or spawned is not None:
            with self._lock:
                idle = not (self._closed or self._disabled or self._idle or self._busy)
            if idle and self.max_processes > 0:
                self._spawn_idle(spawned)
            elif spawned is not None:
                spawned.abandon()
            return
        helper = self._acquire()
        if helper is not None:
            self._release(helper, reusable=True)

    def _spawn_idle(self, spawned: SpawnedProcess | None = None) -> None:
        try:
            from .parser_helper import Helper

            helper = Helper.spawn(self._executable) if spawned is None else Helper.adopt(spawned)
        except OSError:
            return  # the first large feed tries again, and says why if it fails then
        with self._lock:
            kept = not self._closed
            if kept:
                self._idle.append(helper)
        if not kept:
            helper.stop()

    @property
    def pids(self) -> list[int]:
        """Process ids of the idle helpers (benchmarks read their memory)."""
        with self._lock:
            return [helper.pid for helper in self._idle]

    def close(self) -> None:
        """Stop every idle helper; busy ones stop when their feed ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for helper in idle:
            helper.stop()

    def _helper_for(self, reading: FeedReading, source: FileSource | None) -> tuple[Helper, bool] | None:
        """A helper that has accepted this feed's reading, and whether it reads the feed from
        `source` itself (else it waits for the bytes); or None: parse it here."""
        kind = type(reading.parser)
        if self.max_processes < 1 or kind in self._refused or kind.__module__ == "__main__":
            return None  # (a class of __main__ would be another class in the helper)
        try:
            import pickle  # here: only a feed sent to a helper is pickled

            job = pickle.dumps((reading, source), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # whatever pickling a plugin's object raises: parse it here
            return None
        helper = self._acquire()
        if helper is None:
            return None
        try:
            answer, detail = helper.offer(job)
            if answer == "unreadable":  # the file cannot be opened there: the bytes go through the pipe
                source = None
                answer, detail = helper.offer(pickle.dumps((reading, None), protocol=pickle.HIGHEST_PROTOCOL))
        except ParserProcessError as error:
            self._release(helper, reusable=False)
            _log().warning("parsing a feed in this process: %s", error)
            return None
        if answer != "accepted":  # the helper cannot unpickle this format: parse such feeds here
            self._release(helper, reusable=True)
            with self._lock:
                self._refused.add(kind)
            _log().warning("feeds parsed by %s are parsed in this process: %s", kind.__qualname__, detail)
            return None
        return helper, source is not None

    def _acquire(self) -> Helper | None:
        with self._lock:
            if self._closed or self._disabled:
                return None
            dead: list[Helper] = []
            found: Helper | None = None
            while self._idle and found is None:
                helper = self._idle.pop()
                if helper.alive():
                    found = helper
                else:
                    dead.append(helper)  # killed from outside while idle
            if found is None and self._busy >= self.max_processes:
                return None
            self._busy += 1
        for helper in dead:
            helper.stop()
        try:
            if found is not None:
                found.greet()  # at once, unless it was started by warm(wait=False) and is still starting
                return found
            from .parser_helper import Helper

            return Helper.start(self._executable)
        except (OSError, ParserProcessError) as error:
            with self._lock:
                self._busy -= 1
                self._disabled = True
            _log().warning("every feed is parsed in this process: no parser process could start (%s)", error)
            return None

    def _release(self, helper: Helper, *, reusable: bool) -> None:
        with self._lock:
            self._busy -= 1
            keep = reusable and not self._closed
            if keep:
                self._idle.append(helper)
        if not keep:
            helper.stop()


class _Release(Protocol):
    """How a feed hands its helper back to the pool (`ParserProcesses._release`)."""

    def __call__(self, helper: Helper, *, reusable: bool) -> None: ...


@contextmanager
def _remote(helper: Helper, stream: BinaryIO | None, release: _Release) -> Iterator[Iterator[ValidatedChunk]]:
    """The chunks `helper` sends for `stream` (None: for the file it reads itself); on leaving,
    the helper is handed back, or killed if the feed did not end cleanly."""
    chunks = _RemoteChunks(helper, stream, release)
    try:
        yield chunks
    finally:
        chunks.close()


class _RemoteChunks:
    """The chunks of one feed as a helper sends them; `close` hands the helper back, or
    kills it if the feed did not end cleanly."""

    def __init__(self, helper: Helper, stream: BinaryIO | None, release: _Release) -> None:
        self._release = release
        self._helper: Helper | None = helper
        from .parser_helper import Feeder

        self._feeder: Feeder | None = None
        if stream is not None:
            self._feeder = Feeder(helper.inbox, stream)
            self._feeder.start()
        self._done = False

    def __iter__(self) -> _RemoteChunks:
        return self

    def __next__(self) -> ValidatedChunk:
        helper = self._helper
        if helper is None or self._done:
            raise StopIteration
        try:
            chunk = helper.receive()
            if chunk.last:
                if self._feeder is not None:
                    self._feeder.finish()  # re-raises what reading the stream raised, if anything
                helper.wait_ready()
                self._done = True
                self._helper = None
                self._release(helper, reusable=True)
        except BaseException:
            self.close()
            raise
        return chunk

    def close(self) -> None:
        helper, self._helper = self._helper, None
        if helper is None:
            return
        helper.kill()  # first: a feeder blocked on the pipe then fails instead of waiting
        if self._feeder is not None:
            self._feeder.abandon()
            self._feeder.join()
        self._release(helper, reusable=False)


class _Prefixed(RawReader):
    """`head`, then the rest of `stream`."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def read_some(self, size: int) -> bytes | memoryview:
        if self._head:
            part, self._head = self._head[:size], self._head[size:]
            return part
        return self._stream.read(size)


def _file_source(stream: BinaryIO) -> FileSource | None:
    """Where a helper can read the rest of `stream` itself: when it is a plain file object (what
    `open(path, "rb")` returns) on a regular file, and /proc names its open files (Linux). A
    stream anything else wraps (a progress bar, a hash of what is read) goes through the pipe,
    so that whatever watches its reads still sees every byte."""
    if type(stream) is not io.BufferedReader or type(stream.raw) is not io.FileIO:
        return None
    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        offset = stream.tell()
    except (OSError, ValueError):
        return None
    path = f"/proc/{os.getpid()}/fd/{fd}"
    return FileSource(path, offset) if os.path.exists(path) else None


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    have = 0
    while have < size:
        data = stream.read(size - have)
        if not data:
            break
        parts.append(data)
        have += len(data)
    return b"".join(parts)
