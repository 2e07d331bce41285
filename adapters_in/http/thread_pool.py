"""What the server's own thread pools share (body_threads.py, request_threads.py): at most `size`
named threads taking calls from one queue, started and stopped with the app (lifespan.py).

Not a `ThreadPoolExecutor` behind `run_in_executor`: that hand-off made two futures per call
and woke the loop once per result; a feed request makes one or two such calls. Here a call
is put on a `SimpleQueue` with its loop future, and its result goes back through
`LoopAnswers` (one wake-up for every result that finished meanwhile).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Final, TypeVar, cast

from .loop_answers import LoopAnswers

__all__ = ["ThreadPool"]

T = TypeVar("T")

_Call = tuple[Callable[[], object], asyncio.AbstractEventLoop, "asyncio.Future[object]"]
_STOP: Final = None


class ThreadPool:
    """At most `size` threads, named `<prefix>-N`; each made when work finds no idle one."""

    name = "thread pool"

    def __init__(self, size: int, *, prefix: str, initializer: Callable[[], None] | None = None) -> None:
        self.size = size
        self._prefix = prefix
        self._initializer = initializer
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._answers = LoopAnswers()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._stopped = False

    async def _hand_off(self, call: Callable[[], T]) -> T:
        """`call()` in one of the pool's threads, awaited."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"the {self.name} are stopped")
            if self._idle:
                self._idle -= 1  # claimed: the next call does not count on this thread
            elif len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._prefix}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._calls.put((call, loop, future))
        return cast("T", await future)

    def _work(self) -> None:
        if self._initializer is not None:
            self._initializer()
        answers = self._answers
        while True:
            item = self._calls.get()
            if item is _STOP:
                return
            call, loop, future = item
            value: object = None
            error: BaseException | None = None
            try:
                value = call()
            except BaseException as failure:  # the awaiting request raises it
                error = failure
            answers.answer(loop, future, value, error)
            del item, call, value, error  # no reference to a request's objects while idle
            with self._lock:
                self._idle += 1

    def start(self) -> None:
        """Nothing to start: threads are made when work arrives."""

    def stop(self) -> None:
        """Let the threads end once the calls queued before are done."""
        with self._lock:
            self._stopped = True
            threads = len(self._threads)
        for _ in range(threads):
            self._calls.put(_STOP)
