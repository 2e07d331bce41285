"""Coroutines a test runs on an event loop of their own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def on_a_loop_of_its_own(main: Callable[[], Awaitable[T]]) -> T:
    """`main()` run by a fresh event loop in a thread of its own, as a server's loop would run it,
    for a test about which thread does what (the loop's, a request thread's, their priorities).
    A coroutine that only needs a loop takes `asyncio.run`: the test's thread has no running loop
    (tests/conftest.py, `_no_loop_left_running`). Whatever `main()` raised is raised here."""
    results: list[T] = []
    errors: list[BaseException] = []

    async def awaited() -> T:
        return await main()

    def run() -> None:
        try:
            results.append(asyncio.run(awaited()))
        except BaseException as error:  # re-raised in the test's thread below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if errors:
        raise errors[0]
    assert results, "the loop's work did not finish"
    return results[0]
