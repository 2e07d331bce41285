"""The pool that receives request bodies: bounded, named, and below the event loop's priority."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest
from support.loops import on_a_loop_of_its_own

from partner_ingest.adapters_in.http.body_threads import THREAD_NAME, BodyThreads


def _where() -> tuple[str, int]:
    tid = threading.get_native_id()
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)


async def _from_the_loop(pool: BodyThreads) -> tuple[str, tuple[str, int]]:
    return threading.current_thread().name, await pool.run(_where)


def test_body_work_runs_in_the_pool_never_on_the_event_loop() -> None:
    pool = BodyThreads(2)
    try:
        loop_thread, (name, _) = on_a_loop_of_its_own(lambda: _from_the_loop(pool))
    finally:
        pool.stop()
    assert name.startswith(THREAD_NAME) and name != loop_thread


def test_no_more_threads_work_at_once_than_the_setting_allows() -> None:
    pool = BodyThreads(2)
    running, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def six_at_once() -> None:
        await asyncio.gather(*(pool.run(work) for _ in range(6)))

    try:
        on_a_loop_of_its_own(six_at_once)
    finally:
        pool.stop()
    assert most == 2


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are set on Linux only")
def test_the_pool_threads_run_at_a_lower_priority_than_the_event_loop() -> None:
    pool = BodyThreads(1)

    async def both() -> tuple[int, int]:
        loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        _, nice = await pool.run(_where)
        return loop_nice, nice

    try:
        loop_nice, nice = on_a_loop_of_its_own(both)
    finally:
        pool.stop()
    assert nice == min(19, loop_nice + 10)
