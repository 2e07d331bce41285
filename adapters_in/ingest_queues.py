"""The two `IngestQueue`s a feed answered while its sender waits goes through (ADR 0043, 0047).

- `WriterIngest`: the grouped ingest run in the store's writer thread, in this process, in
  the caller's context variables.
- `ProcessIngest`: the same, in an ingest process (call_process.py), whose own writer thread
  batches and commits exactly as `WriterIngest`'s does; only the submission (its body as
  bytes, the partner the access check read) and the report or error cross the pipe. A body
  held in memory is pickled by the caller; a body spooled to a file is read by the sender
  thread, so the caller never reads a file nor waits on the pipe.

The child's side, `open_ingest`, builds the service from the parent's settings (the same
database file, formats, plugins, secrets and logging) with the ingest process off, and
hands each submission to its writer.
"""

from __future__ import annotations

import contextvars
import functools
import io
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from partner_ingest.adapters_in.application import Application
    from partner_ingest.adapters_in.settings import Settings
    from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
    from partner_ingest.ports import WriteQueue
    from partner_ingest.ports.unit_of_work import Done

__all__ = ["ProcessIngest", "WriterIngest", "open_ingest"]


def _nothing() -> None:
    return None


@attrs.frozen
class WriterIngest:
    """The grouped ingest in the store's writer thread (ADR 0043)."""

    writer: WriteQueue
    ingest: IngestFeed

    def submit(self, submission: FeedSubmission, done: Done) -> None:
        call = functools.partial(contextvars.copy_context().run, self.ingest, submission)
        self.writer.submit(call, done)

    def after_submitted(self, done: Done) -> None:
        # The writer runs its calls in order: a no-op submitted now is answered after them.
        self.writer.submit(_nothing, done)

    def warm(self, timeout: float) -> None:
        """Nothing to wait for: the writer's thread starts with its first call."""


class _Calls(Protocol):
    """`CallProcess`'s side this module uses (the composition root hands it in)."""

    def submit(self, message: bytes | Callable[[], bytes], done: Done) -> None: ...

    def sent(self, done: Done) -> None: ...

    def start(self, *, wait: float = 0.0) -> None: ...


@attrs.frozen
class ProcessIngest:
    """The grouped ingest in an ingest process (ADR 0047)."""

    calls: _Calls

    def submit(self, submission: FeedSubmission, done: Done) -> None:
        body = submission.body
        if type(body) is io.BytesIO:  # a body in memory (pickled with its position: the start)
            self.calls.submit(pickle.dumps(submission, protocol=pickle.HIGHEST_PROTOCOL), done)
        else:
            self.calls.submit(functools.partial(_read_and_pickle, submission), done)

    def after_submitted(self, done: Done) -> None:
        self.calls.sent(done)

    def warm(self, timeout: float) -> None:
        """Start the ingest process and wait until it has built the service (or has failed)."""
        self.calls.start(wait=timeout)


def _read_and_pickle(submission: FeedSubmission) -> bytes:
    """A submission whose body is a spooled file, with the body read into memory (on the sender)."""
    body = submission.body
    assert not isinstance(body, io.BytesIO)
    assert hasattr(body, "read")
    held = attrs.evolve(submission, body=io.BytesIO(body.read()))
    return pickle.dumps(held, protocol=pickle.HIGHEST_PROTOCOL)


class _ChildIngest:
    """An ingest process's side: each submission handed to its writer thread."""

    def __init__(self, app: Application) -> None:
        self._app = app
        writer, ingest = app.feed_writer, app.ingest_now
        if writer is None or ingest is None:
            raise RuntimeError("the ingest process needs group commit on a SQLite store")
        self._writer = writer
        self._ingest = ingest

    def call(self, message: object, done: Done) -> None:
        self._writer.submit(functools.partial(self._ingest, message), done)  # type: ignore[arg-type]

    def close(self) -> None:
        self._app.close()  # the writer finishes the calls it holds first


def open_ingest(settings: Settings) -> _ChildIngest:
    """In the ingest process: the service built from the parent's settings, the process off
    (`(open_ingest, settings)` pickled is the message every ingest process starts with)."""
    import gc

    # Absolute, as `serve` imports them: the settings handed to both are one class to mypy.
    from partner_ingest.adapters_in.bootstrap import build
    from partner_ingest.adapters_in.cli._collector import GC_YOUNG_THRESHOLD
    from partner_ingest.adapters_in.logs import configure_logging

    # The collector's pace of `serve` (ADR 0045): a feed's objects die young and hold no cycles.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    configure_logging(settings)
    own = attrs.evolve(settings, ingest_process=False)
    return _ChildIngest(build(own))
