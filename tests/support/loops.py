"""Coroutines a test runs on an event loop of their own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def on_a_loop_of_its_own(main: Callable[[], Awaitable[T]]) -> T:
    """`main()` run by a fresh event loop in a thread of its own, as a server's loop would run it:
    never in the test's thread, where another test's loop may still be running (the browser
    suite's session-wide Playwright keeps one running in each worker that ran it).
    Whatever `main()` raised is raised here."""
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
