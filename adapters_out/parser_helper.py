"""The parent's side of one parser helper process (ADR 0019): starting it, handing it a feed's
reading and bytes, receiving its chunks, stopping it.

Invariant: a helper is started with `python -c` (never `multiprocessing`'s spawn, which would
re-run the embedding application's `__main__`), talks over two pipes it inherits, and ends when
its pipes close; a helper that does not answer as the protocol says (parser_wire.py) raises
`ParserProcessError`, and whoever holds it kills it.
"""

from __future__ import annotations

import pickle
import subprocess
import threading
from typing import BinaryIO, Final

import attrs

from partner_ingest.domain.model.chunk import ValidatedChunk

from .frames import FramePipe
from .parser_spawn import SpawnedProcess, spawn
from .parser_wire import FRAME, ParserProcessError, unpack_rows

__all__ = ["Feeder", "Helper"]

_START_TIMEOUT: Final = 60.0
"""Seconds a new helper may take to import the library and report ready."""


class Helper:
    """One helper process and its two pipes."""

    def __init__(self, process: subprocess.Popen[bytes], inbox: FramePipe, outbox: FramePipe) -> None:
        self._process = process
        self.pid = process.pid
        self.inbox = inbox  # what the helper reads
        self._outbox = outbox  # what it writes
        self._greeted = False

    @classmethod
    def start(cls, executable: str) -> Helper:
        """A helper that has started and said so."""
        helper = cls.spawn(executable)
        helper.greet()
        return helper

    @classmethod
    def spawn(cls, executable: str) -> Helper:
        """A helper process started, still importing the library (see `greet`)."""
        return cls.adopt(spawn(executable))

    @classmethod
    def adopt(cls, spawned: SpawnedProcess) -> Helper:
        """The helper a `parser_spawn.spawn` started (before this module was imported)."""
        return cls(spawned.process, FramePipe(spawned.to_helper), FramePipe(spawned.from_helper))

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

    def offer(self, job: bytes) -> tuple[str, str]:
        """Hand over a feed's job; the answer ("accepted", "refused" or "unreadable") and why."""
        try:
            self.inbox.send_bytes(job)
        except OSError as error:
            raise ParserProcessError(f"the parser process is gone ({error})") from None
        kind, detail = self._message()
        if kind not in ("accepted", "refused", "unreadable"):
            raise ParserProcessError(f"the parser process failed: {detail}")
        return kind, str(detail)

    def receive(self) -> ValidatedChunk:
        kind, detail = self._message()
        if kind == "packed" and isinstance(detail, ValidatedChunk):  # its rows follow (pack_rows)
            return attrs.evolve(detail, rows=unpack_rows(self._receive_bytes()))
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


class Feeder(threading.Thread):
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
                    data = self._stream.read(FRAME)
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
