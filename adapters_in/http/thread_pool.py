"""What the server's own thread pools share (body_threads.py, request_threads.py): a bounded
`ThreadPoolExecutor` with named threads, started and stopped with the app (lifespan.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["ThreadPool"]

T = TypeVar("T")


class ThreadPool:
    """At most `size` threads, named `<prefix>-N`; each made when work first needs it."""

    name = "thread pool"

    def __init__(self, size: int, *, prefix: str, initializer: Callable[[], None] | None = None) -> None:
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=prefix, initializer=initializer)

    async def _hand_off(self, call: Callable[[], T]) -> T:
        """`call()` in one of the pool's threads, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def start(self) -> None:
        """Nothing to start: threads are made when work arrives."""

    def stop(self) -> None:
        """Let the threads end once their current work is done."""
        self._pool.shutdown(wait=False)
