"""The bounded thread pool that receives request bodies, below the event loop's CPU priority.

Inflating, hashing and spooling a body is bulk work (body.py). It runs in at
most PARTNER_INGEST_BODY_THREADS threads of this pool, never on the event loop;
requests beyond them wait for a thread with their one received chunk. On Linux
the pool's threads also run at a lower scheduling priority (nice + 10): on a
busy machine the kernel gives the event loop the CPU first, so answering
requests never waits behind a gzip bomb (ADR 0026).

It is a background service of the app (lifespan.py): stopped with the server.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

from .thread_pool import ThreadPool

__all__ = ["THREAD_NAME", "BodyThreads"]

THREAD_NAME: Final = "partner-ingest-body"
_NICER: Final = 10
P = ParamSpec("P")
T = TypeVar("T")


def _lower_priority() -> None:
    # Linux schedules threads, and PRIO_PROCESS with a thread id renices that thread alone;
    # elsewhere it would renice the whole process, so it is left alone there.
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + _NICER)


class BodyThreads(ThreadPool):
    """At most `size` threads doing body work, named `partner-ingest-body-N`."""

    name = "body threads"

    def __init__(self, size: int) -> None:
        super().__init__(size, prefix=THREAD_NAME, initializer=_lower_priority)

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args, **kwargs)` in one of the pool's threads, awaited."""
        return await self._hand_off(functools.partial(work, *args, **kwargs))
