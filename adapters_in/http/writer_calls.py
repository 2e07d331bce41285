"""A feed request's ingest run in the store's writer (ADR 0043), awaited on the event loop.

The writer answers on its own thread, after a batch's commit, every call of the batch in a
row; `LoopAnswers` settles them with one wake-up of the loop. As with the request threads,
the call runs in the caller's context variables, and the awaiting request is not cancelled
while its call runs (shielded): a call that reads a request's spooled body never outlives it.
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
        with CancelScope(shield=True):
            result = await future
        return cast("T", result)
