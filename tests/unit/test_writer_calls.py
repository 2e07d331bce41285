"""A request awaiting its call in the writer: answered with the call's result or error, and, when
cancelled, not let go before the call has ended (it may be reading the request's body)."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterator

import anyio
import pytest

from partner_ingest.adapters_in.http.writer_calls import WriterCalls
from partner_ingest.ports import UnitOfWork

_Done = Callable[[object, BaseException | None], None]


class OrderedWriter:
    """A `WriteQueue` whose one thread runs calls in the order submitted, as the store's writer."""

    def __init__(self) -> None:
        self._calls: queue.Queue[tuple[Callable[[], object], _Done] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        raise NotImplementedError

    def submit(self, work: Callable[[], object], done: _Done) -> None:
        self._calls.put((work, done))

    def close(self) -> None:
        self._calls.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            work, done = item
            try:
                result = work()
            except Exception as error:  # handed to the caller, as the writer does
                done(None, error)
            else:
                done(result, None)


class Calls:
    """An `IngestQueue` whose submissions are calls, run in an `OrderedWriter`."""

    def __init__(self, writer: OrderedWriter) -> None:
        self._writer = writer

    def submit(self, submission: Callable[[], object], done: _Done) -> None:
        self._writer.submit(submission, done)

    def after_submitted(self, done: _Done) -> None:
        self._writer.submit(lambda: None, done)

    def warm(self, timeout: float) -> None:
        pass


@pytest.fixture
def writer() -> Iterator[Calls]:
    w = OrderedWriter()
    yield Calls(w)
    w.close()


def test_the_calls_result_and_error_are_answered(writer: Calls) -> None:
    def fails() -> int:
        raise ValueError("no")

    async def both() -> tuple[object, str]:
        calls = WriterCalls()
        value = await calls.run(writer, lambda: 2 + 3)
        with pytest.raises(ValueError, match="no") as caught:
            await calls.run(writer, fails)
        return value, str(caught.value)

    assert asyncio.run(both()) == (5, "no")


def _slow_call(started: threading.Event, release: threading.Event, ended: list[str]) -> Callable[[], str]:
    def call() -> str:
        started.set()
        release.wait(10)
        ended.append("call")
        return "done"

    return call


def test_a_task_cancelled_while_its_call_runs_ends_only_after_the_call(writer: Calls) -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    async def scenario() -> None:
        task = asyncio.create_task(WriterCalls().run(writer, _slow_call(started, release, ended)))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # held back while the call runs, a second cancel too
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        ended.append("task")

    asyncio.run(scenario())
    assert ended == ["call", "task"]


def test_a_cancelled_scope_around_the_call_takes_effect_after_the_call(writer: Calls) -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    async def scenario() -> None:
        async def request() -> None:
            with anyio.CancelScope() as scope:
                threading.Timer(0.05, release.set).start()
                loop = asyncio.get_running_loop()
                loop.call_later(0.01, scope.cancel)
                await WriterCalls().run(writer, _slow_call(started, release, ended))
                ended.append("not cancelled")
            ended.append("request")

        await request()

    asyncio.run(scenario())
    assert ended == ["call", "request"]


class ClosingWriter(OrderedWriter):
    """A writer that takes the first call, then refuses every later one at once, as a closing one."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def submit(self, work: Callable[[], object], done: _Done) -> None:
        self.taken += 1
        if self.taken > 1:
            done(None, RuntimeError("the service is shutting down"))
            return
        super().submit(work, done)


def test_a_cancelled_task_still_ends_cancelled_when_the_writer_refuses_the_wait() -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []
    writer = ClosingWriter()

    async def scenario() -> None:
        task = asyncio.create_task(WriterCalls().run(Calls(writer), _slow_call(started, release, ended)))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        writer.close()


def test_a_cancelled_scope_does_not_keep_the_loop_busy_while_the_call_runs(writer: Calls) -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []
    spent: list[float] = []

    async def scenario() -> None:
        with anyio.CancelScope() as scope:
            threading.Timer(0.3, release.set).start()
            asyncio.get_running_loop().call_later(0.01, scope.cancel)
            before = time.thread_time()
            try:
                await WriterCalls().run(writer, _slow_call(started, release, ended))
            finally:
                spent.append(time.thread_time() - before)

    asyncio.run(scenario())
    assert ended == ["call"]
    assert spent[0] < 0.15  # the loop waited for the writer, it did not cancel again and again
