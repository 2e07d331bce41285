"""An answer's head and body leave in one write; nothing is lost, reordered or kept past a loop step."""

from __future__ import annotations

import asyncio

from partner_ingest.adapters_in.http.held_writes import HOLD_AT_MOST, HeldWrites


class RecordingTransport(asyncio.Transport):
    """A transport that keeps what it is given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data:  # as asyncio's socket transport: an empty write sends nothing
            self.writes.append(bytes(data))

    def close(self) -> None:
        self.events.append(f"close after {len(self.writes)} writes")
        self.closing = True

    def abort(self) -> None:
        self.events.append("abort")
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 4242)}.get(name, default)


def test_a_head_and_its_body_written_in_one_step_leave_in_one_write() -> None:
    async def answer() -> list[bytes]:
        transport = RecordingTransport()
        held = HeldWrites(transport, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert transport.writes == []
        held.write(b"{}")
        held.write(b"")
        await asyncio.sleep(0)
        return transport.writes

    assert asyncio.run(answer()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


def test_a_lone_write_leaves_at_the_end_of_the_loop_step() -> None:
    async def head_only() -> tuple[list[bytes], list[bytes]]:
        transport = RecordingTransport()
        held = HeldWrites(transport, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        before = list(transport.writes)
        await asyncio.sleep(0)
        return before, transport.writes

    assert asyncio.run(head_only()) == ([], [b"HTTP/1.1 100 Continue\r\n\r\n"])


def test_closing_sends_what_is_held_first_and_aborting_drops_it() -> None:
    async def close_then_abort() -> tuple[RecordingTransport, RecordingTransport]:
        loop = asyncio.get_running_loop()
        closed, aborted = RecordingTransport(), RecordingTransport()
        HeldWrites(closed, loop).write(b"head")
        held = HeldWrites(closed, loop)
        held.write(b"last")
        held.close()
        dropped = HeldWrites(aborted, loop)
        dropped.write(b"never")
        dropped.abort()
        await asyncio.sleep(0)
        return closed, aborted

    closed, aborted = asyncio.run(close_then_abort())
    assert closed.writes == [b"last", b"head"]  # each HeldWrites keeps its own order; both sent
    assert closed.events == ["close after 1 writes"]
    assert aborted.writes == []
    assert aborted.events == ["abort"]


def test_a_large_write_is_not_held_and_the_transport_answers_the_rest() -> None:
    async def large() -> tuple[list[bytes], object, bool]:
        transport = RecordingTransport()
        held = HeldWrites(transport, asyncio.get_running_loop())
        held.write(b"x" * (HOLD_AT_MOST + 1))
        return transport.writes, held.get_extra_info("peername"), held.is_closing()

    writes, peer, closing = asyncio.run(large())
    assert writes == [b"x" * (HOLD_AT_MOST + 1)]
    assert peer == ("127.0.0.1", 4242)
    assert closing is False


def test_a_large_body_after_a_held_head_is_sent_after_it_not_copied_into_it() -> None:
    async def head_then_large() -> list[bytes]:
        transport = RecordingTransport()
        held = HeldWrites(transport, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 200 OK\r\n\r\n")
        held.write(b"y" * (HOLD_AT_MOST + 1))
        await asyncio.sleep(0)
        return transport.writes

    assert asyncio.run(head_then_large()) == [b"HTTP/1.1 200 OK\r\n\r\n", b"y" * (HOLD_AT_MOST + 1)]


def test_the_connections_holding_a_write_in_one_step_are_flushed_by_one_callback() -> None:
    scheduled: list[tuple[object, tuple[object, ...]]] = []

    class Loop:
        def call_soon(self, callback: object, *args: object) -> None:
            scheduled.append((callback, args))

    loop = Loop()
    first, second = RecordingTransport(), RecordingTransport()
    a, b = HeldWrites(first, loop), HeldWrites(second, loop)  # type: ignore[arg-type]
    a.write(b"head a")
    b.write(b"head b")
    a.write(b"body a")  # joined to its head; the step's callback finds nothing left of it
    assert len(scheduled) == 1
    callback, args = scheduled[0]
    callback(*args)  # type: ignore[operator]
    assert first.writes == [b"head abody a"]
    assert second.writes == [b"head b"]
    b.write(b"next")  # a new step: a new callback
    assert len(scheduled) == 2
