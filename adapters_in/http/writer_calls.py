"""A feed request's ingest submitted to an `IngestQueue` (the store's writer thread, ADR 0043,
or an ingest process, ADR 0047), awaited on the event loop.

The queue answers on its own thread, after a batch's commit, every call of the batch in a
row; `LoopAnswers` settles them with one wake-up of the loop. A request cancelled while its
submission is in the queue waits until the queue no longer reads its body before the
cancellation goes on: a call that reads a request's spooled body never outlives it.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TypeVar

from anyio import CancelScope

from partner_ingest.ports import IngestQueue

from .loop_answers import LoopAnswers

__all__ = ["WriterCalls"]

S = TypeVar("S")


class WriterCalls:
    """Submits to an `IngestQueue` for the requests of an app."""

    def __init__(self) -> None:
        self._answers = LoopAnswers()

    async def run(self, queue: IngestQueue[S], submission: S) -> object:
        """`submission` ingested by `queue`, awaited until it may be answered."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        queue.submit(submission, functools.partial(self._answers.answer, loop, future))
        # Awaited bare, not in a shielded cancel scope (whose making and entering cost more
        # than the rest of the hand-off): a cancellation is rare, and is held back below.
        try:
            result = await future
        except asyncio.CancelledError:
            if not future.done() or future.cancelled():  # the call may still be running
                await self._until_done(queue, loop)
            raise
        return result

    async def _until_done(self, queue: IngestQueue[S], loop: asyncio.AbstractEventLoop) -> None:
        """Wait, through any further cancellation, until the queue reads no body submitted so far."""
        after: asyncio.Future[object] = loop.create_future()
        queue.after_submitted(functools.partial(self._answers.answer, loop, after))
        while not after.done():
            try:
                # Shielded, so that an outer anyio scope does not cancel again at every turn
                # of the loop; `asyncio.wait` takes neither the future's error nor a cancellation
                # into the future.
                with CancelScope(shield=True):
                    await asyncio.wait((after,))
            except asyncio.CancelledError:  # a plain Task.cancel: still wait
                continue
        # A writer that is closing refuses the no-op at once (it finishes what it holds first):
        # nothing more to wait for, and its error is not the request's.
        after.exception()
