"""The threads that run the blocking calls of a feed request: the key check and the ingest.

Starlette's `run_in_threadpool` (anyio's `to_thread.run_sync`) costs about 80 µs of CPU
a call under 32 connections (a capacity limiter, a cancel scope, a run-variable lookup
and a queue hand-off per call); this pool's hand-off (thread_pool.py) a fraction of
that. Every feed request makes one such call (its key check; where the store has a writer,
the ingest goes there, writer_calls.py), so the request path uses this pool; the other
routes, rarer and heavier, keep Starlette's.

What the caller sees is the same as with `run_in_threadpool`: the call runs in the
caller's context variables, and the awaiting request is not cancelled while its call
runs (shielded): a call that reads a request's spooled body never outlives it.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

from anyio import CancelScope

from .thread_pool import ThreadPool

__all__ = ["THREAD_NAME", "RequestThreads"]

THREAD_NAME: Final = "partner-ingest-request"
DEFAULT_SIZE: Final = 40
"""As many as anyio's default limiter lets Starlette's pool run: without the store's writer
(PARTNER_INGEST_GROUP_COMMIT=false, or no SQLite) a feed's whole ingest, its commit and sync
included, holds a thread. With the writer only key checks run here, and a thread is made
only when none is idle, so a busy server has a few."""
P = ParamSpec("P")
T = TypeVar("T")


class RequestThreads(ThreadPool):
    """At most `size` threads running the blocking calls of requests, named `partner-ingest-request-N`."""

    name = "request threads"

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        super().__init__(size, prefix=THREAD_NAME)

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args, **kwargs)` in one of the pool's threads, in this context, awaited to its end."""
        call = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
        with CancelScope(shield=True):
            result = await self._hand_off(call)
        return result  # noqa: RET504 - returned inside, mypy reads the scope as one that may swallow an error
