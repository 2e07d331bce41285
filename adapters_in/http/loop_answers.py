"""Results of calls run in other threads, handed back to the event loop in one wake-up per drain.

`asyncio`'s own hand-back (`run_in_executor`, `wrap_future`) chains a second future to the
executor's and writes to the loop's self-pipe for every result. Here a thread that
finishes a call appends its result to the loop's list and wakes the loop only when the
list was empty: results that arrive while the loop is busy (a batch of feeds committed
together, a key check finishing beside it) are settled in one go.
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["LoopAnswers"]

_Answer = tuple["asyncio.Future[object]", object, BaseException | None]


class LoopAnswers:
    """Settles futures of any event loop from any thread (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}

    def answer(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[object],
        value: object,
        error: BaseException | None,
    ) -> None:
        """From any thread: settle `future` (on its loop) with `value`, or with `error`."""
        with self._lock:
            answers = self._pending.setdefault(loop, [])
            wake = not answers
            answers.append((future, value, error))
        if wake:
            try:
                loop.call_soon_threadsafe(self._settle, loop)
            except RuntimeError:  # the loop is closed: nobody waits any more
                with self._lock:
                    self._pending.pop(loop, None)

    def _settle(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            answers = self._pending.pop(loop, [])
        for future, value, error in answers:
            if future.cancelled():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)
