"""The pool that runs a feed request's blocking calls: off the loop, in the caller's context,
and never abandoned by a cancelled request while its call still runs."""

from __future__ import annotations

import contextvars
import threading
import time

import anyio
from support.loops import on_a_loop_of_its_own

from partner_ingest.adapters_in.http.request_threads import THREAD_NAME, RequestThreads

_who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def _where() -> tuple[str, str]:
    return threading.current_thread().name, _who.get()


def test_a_call_runs_in_the_pool_with_the_callers_context_variables() -> None:
    pool = RequestThreads(2)

    async def main() -> tuple[str, tuple[str, str]]:
        _who.set("request-7")
        return threading.current_thread().name, await pool.run(_where)

    try:
        loop_thread, (name, who) = on_a_loop_of_its_own(main)
    finally:
        pool.stop()
    assert name.startswith(THREAD_NAME) and name != loop_thread
    assert who == "request-7"


def test_a_cancelled_request_waits_for_its_call_to_end_before_it_unwinds() -> None:
    pool = RequestThreads(1)
    finished: list[float] = []

    def slow() -> None:
        time.sleep(0.3)
        finished.append(time.monotonic())

    async def main() -> float:
        # Cancelled as Starlette and uvicorn cancel a request: by an anyio cancel scope.
        async with anyio.create_task_group() as group:
            group.start_soon(pool.run, slow)
            await anyio.sleep(0.05)
            group.cancel_scope.cancel()
        return time.monotonic()

    try:
        unwound = on_a_loop_of_its_own(main)
    finally:
        pool.stop()
    assert finished, "the call was abandoned"
    assert finished[0] <= unwound


class _Refused(Exception):
    """What every third call raises."""


def test_concurrent_calls_each_get_their_own_answer_from_at_most_size_threads() -> None:
    # Answers that finish while the loop is busy are settled together (one wake-up): each
    # still reaches its own caller, a failure as that caller's exception alone.
    pool = RequestThreads(3)
    threads: set[str] = set()

    def work(n: int) -> int:
        threads.add(threading.current_thread().name)
        time.sleep(0.001 * (n % 4))
        if n % 3 == 0:
            raise _Refused(n)
        return n * n

    async def one(n: int, out: dict[int, object]) -> None:
        try:
            out[n] = await pool.run(work, n)
        except _Refused as error:
            out[n] = error

    async def main() -> dict[int, object]:
        out: dict[int, object] = {}
        async with anyio.create_task_group() as group:
            for n in range(60):
                group.start_soon(one, n, out)
        return out

    try:
        answers = on_a_loop_of_its_own(main)
    finally:
        pool.stop()
    assert sorted(answers) == list(range(60))
    for n, answer in answers.items():
        if n % 3 == 0:
            assert isinstance(answer, _Refused) and answer.args == (n,)
        else:
            assert answer == n * n
    assert 1 <= len(threads) <= 3
