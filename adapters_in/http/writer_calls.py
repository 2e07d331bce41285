"""A feed request's ingest run in the store's writer (ADR 0043), awaited on the event loop.

The writer answers on its own thread, after a batch's commit, every call of the batch in a
row; `LoopAnswers` settles them with one wake-up of the loop. As with the request threads,
the call runs in the caller's context variables, and a request cancelled while its call runs
waits for the call to end before the cancellation goes on: a call that reads a request's
spooled body never outlives it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from anyio import CancelScope

from partner_ingest.ports import WriteQueue

from .loop_answers import LoopAnswers

__all__ = ["WriterCalls"]

P = ParamSpec("P")
T = TypeVar("T")


def _nothing() -> None:
    return None


class WriterCalls:
    """Runs calls in a `WriteQueue` for the requests of an app."""

    def __init__(self) -> None:
        self._answers = LoopAnswers()

    async def run(self, writer: WriteQueue, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args, **kwargs)` in the writer, in this context, awaited until it may be answered."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        call = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
        writer.submit(call, functools.partial(self._answers.answer, loop, future))
        # Awaited bare, not in a shielded cancel scope (whose making and entering cost more
        # than the rest of the hand-off): a cancellation is rare, and is held back below.
        try:
            result = await future
        except asyncio.CancelledError:
            if not future.done() or future.cancelled():  # the call may still be running
                await self._until_done(writer, loop)
            raise
        return cast("T", result)

    async def _until_done(self, writer: WriteQueue, loop: asyncio.AbstractEventLoop) -> None:
        """Wait, through any further cancellation, until the writer has ended the calls
        submitted so far: it runs them in order, so a call submitted now is answered after them."""
        after: asyncio.Future[object] = loop.create_future()
        writer.submit(_nothing, functools.partial(self._answers.answer, loop, after))
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
