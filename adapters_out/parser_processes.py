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
  the validator, the limits), then the feed's bytes from a feeder thread, and
  sends back `ValidatedChunk`s: exactly what `reading.chunks` yields here. A chunk's
  rows travel as MessagePack when msgspec is installed (`_pack_rows`): pickling
  rows is a visible share of the helper's work and msgspec packs them several
  times faster, while unpacking costs no more than unpickling. Anything MessagePack
  cannot carry exactly (an integer past 64 bits, say) goes as pickle.
- A format that cannot be pickled, or that the helper cannot import, is
  parsed here. A helper that fails mid-feed is killed and the feed fails like
  any unexpected error (its unit of work rolls back); the next feed starts a
  new helper. If no helper can be started at all, every feed is parsed here
  and that is logged once.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any, BinaryIO, Final, Protocol

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk
from partner_ingest.domain.model.product import ProductRow
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.domain.model.streams import RawReader

from .frames import FramePipe

__all__ = ["ParserProcessError", "ParserProcesses", "serve"]

log = logging.getLogger(__name__)

_FRAME: Final = 1 << 18
"""Bytes per message of feed data to a helper."""
_PIPE_BYTES: Final = 1 << 20
"""Room in the pipes to and from a helper (Linux's cap for a pipe, /proc/sys/fs/pipe-max-size)."""
_START_TIMEOUT: Final = 60.0
"""Seconds a new helper may take to import the library and report ready."""
_BOOT: Final = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[3]); "
    "from partner_ingest.adapters_out.parser_processes import serve; "
    "serve(int(sys.argv[1]), int(sys.argv[2]))"
)


def _row_codec() -> tuple[Any, Any] | None:
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec comes with the fast and server extras
        return None
    # tuple[Any, ...]: every array decodes as a tuple, the ProductRow it was.
    return msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder(list[tuple[Any, ...]]).decode


_ROW_CODEC: Final = _row_codec()


def _pack_rows(rows: list[ProductRow]) -> bytes | None:
    """The rows as MessagePack, or None where it cannot carry them exactly (or is absent)."""
    if _ROW_CODEC is None or not rows:
        return None
    try:
        packed: bytes = _ROW_CODEC[0](rows)
    except Exception:  # past 64 bits, a lone surrogate, a type it does not know: pickle takes them
        return None
    return packed


def _unpack_rows(packed: bytes) -> list[ProductRow]:
    if _ROW_CODEC is None:  # pragma: no cover - a helper packs only where msgspec imports
        raise ParserProcessError("the parser process sent MessagePack and msgspec is not installed")
    rows: list[ProductRow] = _ROW_CODEC[1](packed)
    return rows


class ParserProcessError(RuntimeError):
    """A helper process failed or ended in the middle of a feed."""


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
        self._idle: list[_Helper] = []
        self._busy = 0
        self._closed = False
        self._disabled = False
        self._refused: set[type] = set()

    def open(
        self, reading: FeedReading, stream: BinaryIO
    ) -> AbstractContextManager[Iterator[ValidatedChunk]]:
        """The feed's chunks, from a helper when the feed is large and one is free; leaving
        the context hands the helper back (or stops it, if the feed did not end cleanly)."""
        head = _read_up_to(stream, self.min_bytes)
        if len(head) < self.min_bytes:  # the whole feed, and a small one
            return closing(reading.chunks(io.BytesIO(head)))
        rest = io.BufferedReader(_Prefixed(head, stream), _FRAME)
        helper = self._helper_for(reading)
        if helper is None:
            return closing(reading.chunks(rest))
        return _remote(helper, rest, self._release)

    def warm(self, *, wait: bool = True) -> None:
        """Start one helper now rather than on the first large feed. Without `wait`, only its
        process is started: it imports the library while this process goes on (a CLI ingest
        hashes the file meanwhile), and the first feed waits for whatever is left of that."""
        if not wait:
            with self._lock:
                idle = not (self._closed or self._disabled or self._idle or self._busy)
            if idle and self.max_processes > 0:
                self._spawn_idle()
            return
        helper = self._acquire()
        if helper is not None:
            self._release(helper, reusable=True)

    def _spawn_idle(self) -> None:
        try:
            helper = _Helper.spawn(self._executable)
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

    def _helper_for(self, reading: FeedReading) -> _Helper | None:
        """A helper that has accepted this feed's reading, or None: parse it here."""
        kind = type(reading.parser)
        if self.max_processes < 1 or kind in self._refused or kind.__module__ == "__main__":
            return None  # (a class of __main__ would be another class in the helper)
        try:
            job = pickle.dumps(reading, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # whatever pickling a plugin's object raises: parse it here
            return None
        helper = self._acquire()
        if helper is None:
            return None
        try:
            refusal = helper.offer(job)
        except ParserProcessError as error:
            self._release(helper, reusable=False)
            log.warning("parsing a feed in this process: %s", error)
            return None
        if refusal is not None:  # the helper cannot unpickle this format: parse such feeds here
            self._release(helper, reusable=True)
            with self._lock:
                self._refused.add(kind)
            log.warning("feeds parsed by %s are parsed in this process: %s", kind.__qualname__, refusal)
            return None
        return helper

    def _acquire(self) -> _Helper | None:
        with self._lock:
            if self._closed or self._disabled:
                return None
            dead: list[_Helper] = []
            found: _Helper | None = None
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
            return _Helper.start(self._executable)
        except (OSError, ParserProcessError) as error:
            with self._lock:
                self._busy -= 1
                self._disabled = True
            log.warning("every feed is parsed in this process: no parser process could start (%s)", error)
            return None

    def _release(self, helper: _Helper, *, reusable: bool) -> None:
        with self._lock:
            self._busy -= 1
            keep = reusable and not self._closed
            if keep:
                self._idle.append(helper)
        if not keep:
            helper.stop()


class _Release(Protocol):
    """How a feed hands its helper back to the pool (`ParserProcesses._release`)."""

    def __call__(self, helper: _Helper, *, reusable: bool) -> None: ...


@contextmanager
def _remote(helper: _Helper, stream: BinaryIO, release: _Release) -> Iterator[Iterator[ValidatedChunk]]:
    """The chunks `helper` sends for `stream`; on leaving, the helper is handed back, or killed
    if the feed did not end cleanly."""
    chunks = _RemoteChunks(helper, stream, release)
    try:
        yield chunks
    finally:
        chunks.close()


class _RemoteChunks:
    """The chunks of one feed as a helper sends them; `close` hands the helper back, or
    kills it if the feed did not end cleanly."""

    def __init__(self, helper: _Helper, stream: BinaryIO, release: _Release) -> None:
        self._release = release
        self._helper: _Helper | None = helper
        self._feeder = _Feeder(helper.inbox, stream)
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
        self._feeder.abandon()
        self._feeder.join()
        self._release(helper, reusable=False)


class _Helper:
    """One helper process and its two pipes."""

    def __init__(self, process: subprocess.Popen[bytes], inbox: FramePipe, outbox: FramePipe) -> None:
        self._process = process
        self.pid = process.pid
        self.inbox = inbox  # what the helper reads
        self._outbox = outbox  # what it writes
        self._greeted = False

    @classmethod
    def start(cls, executable: str) -> _Helper:
        """A helper that has started and said so."""
        helper = cls.spawn(executable)
        helper.greet()
        return helper

    @classmethod
    def spawn(cls, executable: str) -> _Helper:
        """A helper process started, still importing the library (see `greet`)."""
        to_helper, helper_in = os.pipe()
        helper_out, from_helper = os.pipe()
        _widen(helper_out)
        _widen(helper_in)
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
                [executable, "-c", _BOOT, str(to_helper), str(from_helper), json.dumps(sys.path)],
                pass_fds=(to_helper, from_helper),
                stdin=subprocess.DEVNULL,
            )
        except OSError:
            for fd in (to_helper, helper_in, helper_out, from_helper):
                os.close(fd)
            raise
        os.close(to_helper)
        os.close(from_helper)
        return cls(process, FramePipe(helper_in), FramePipe(helper_out))

    def greet(self) -> None:
        """Wait for the helper's hello (once); a helper that fails to start is stopped."""
        if self._greeted:
            return
        try:
            if not self._outbox.poll(_START_TIMEOUT):
                raise ParserProcessError(f"a parser process did not start within {_START_TIMEOUT:.0f} s")
            kind, detail = self._message()
            if kind != "hello":
                raise ParserProcessError(f"a parser process failed to start: {detail}")
        except BaseException:
            self.kill()
            self.stop()
            raise
        self._greeted = True

    def alive(self) -> bool:
        return self._process.poll() is None

    def offer(self, job: bytes) -> str | None:
        """Hand over a feed's job; None when accepted, else why not."""
        try:
            self.inbox.send_bytes(job)
        except OSError as error:
            raise ParserProcessError(f"the parser process is gone ({error})") from None
        kind, detail = self._message()
        return None if kind == "accepted" else str(detail)

    def receive(self) -> ValidatedChunk:
        kind, detail = self._message()
        if kind == "packed" and isinstance(detail, ValidatedChunk):  # its rows follow (_pack_rows)
            return attrs.evolve(detail, rows=_unpack_rows(self._receive_bytes()))
        if kind != "chunk" or not isinstance(detail, ValidatedChunk):
            raise ParserProcessError(f"the parser process failed: {detail}")
        return detail

    def wait_ready(self) -> None:
        kind, detail = self._message()
        if kind != "ready":
            raise ParserProcessError(f"the parser process failed: {detail}")

    def _message(self) -> tuple[str, object]:
        kind, detail = pickle.loads(self._receive_bytes())  # noqa: S301 - from our own helper
        return str(kind), detail

    def _receive_bytes(self) -> bytes:
        try:
            return self._outbox.recv_bytes()
        except (EOFError, OSError):
            raise ParserProcessError("the parser process ended unexpectedly") from None

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()

    def stop(self) -> None:
        for connection in (self.inbox, self._outbox):
            connection.close()  # the helper reads end of file and exits
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


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


class _Feeder(threading.Thread):
    """Copies the feed's bytes to the helper, then an empty frame for its end."""

    def __init__(self, inbox: FramePipe, stream: BinaryIO) -> None:
        super().__init__(name="partner-ingest-feeder", daemon=True)
        self._inbox = inbox
        self._stream = stream
        self._stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    data = self._stream.read(_FRAME)
                except BaseException as error:  # re-raised by finish(), in the ingesting thread
                    self.error = error
                    break
                if not data:
                    break
                self._inbox.send_bytes(data)
            self._inbox.send_bytes(b"")  # the helper's parser sees the end (or a truncated feed)
        except OSError:  # the helper is gone: whoever reads its chunks finds out
            pass

    def finish(self) -> None:
        """Stop reading (the helper has all it needs) and re-raise what reading the stream raised."""
        self._stopping.set()
        self.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        self._stopping.set()


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


def serve(inbox_fd: int, outbox_fd: int) -> None:
    """A helper's life: one feed after another, until its parent closes the pipe."""
    # Ctrl+C in a terminal, or a service manager's SIGTERM to the whole group, is for the
    # parent: it lets the current feed finish (a worker's graceful stop), then closes
    # the pipe, and that is what ends a helper. If the parent dies, the pipe closes too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        _serve(FramePipe(inbox_fd), FramePipe(outbox_fd))
    except (EOFError, OSError):  # the parent went away (or killed the feed): nothing to report to
        return


def _serve(inbox: FramePipe, outbox: FramePipe) -> None:
    """One feed after another, until end of file on `inbox`."""

    def send(kind: str, detail: object = None) -> None:
        outbox.send_bytes(pickle.dumps((kind, detail), protocol=pickle.HIGHEST_PROTOCOL))

    def send_chunk(chunk: ValidatedChunk) -> None:
        packed = _pack_rows(chunk.rows)
        if packed is None:
            send("chunk", chunk)
        else:  # the chunk without its rows, then the rows (see _Helper.receive)
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
            reading: FeedReading = pickle.loads(job)  # noqa: S301 - from our parent
        except Exception as error:  # any import failure means "parse it there"
            send("refused", f"{type(error).__name__}: {error}")
            continue
        send("accepted")
        reader = _InboxReader(inbox)
        try:
            for chunk in reading.chunks(io.BufferedReader(reader, _FRAME)):
                send_chunk(chunk)
                del chunk
                gc.collect(0)
        except Exception as error:  # reported to the parent, which fails the feed
            send("failed", f"{type(error).__name__}: {error}")
        reader.drain()
        gc.collect()
        send("ready")
