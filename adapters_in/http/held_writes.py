"""A connection's writes of one event-loop step sent as one: an answer's head and body in one syscall.

uvicorn's h11 protocol writes an answer's status line and headers when the app sends
`http.response.start`, and its body when the app sends `http.response.body`: two
`transport.write` calls, so two `send` system calls on the socket for every small answer
(each of which, on a local connection, also does the receiving side's TCP work). `HeldWrites`
stands between the protocol and its transport: a write made when nothing is held is held, and
sent with the next write or at the end of the loop's current step (`call_soon`), whichever
comes first. A small answer's head is then sent with its body, in one write; a head the app
follows with nothing yet (a streamed answer waiting for its first chunk) leaves on the loop's
next step, as if written at once; order is kept, every byte is sent. Closing sends what is
held first; aborting drops it, as the transport drops its own buffer.

The end of the step is one callback for every connection of the loop that held a write in it,
not one a connection: the answers of a batch the writer committed are sent in one step, and
each of them scheduled a callback that then found nothing held (ADR 0045).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Final

__all__ = ["HOLD_AT_MOST", "HeldWrites"]

HOLD_AT_MOST: Final = 16 * 1024
"""A write larger than this is never held (it is no head; copying it to join would cost more)."""


class HeldWrites:
    """`transport`, with each lone write held until the next one or the end of the loop's step."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send `data` after what is held: with it, or held itself until the step ends."""
        held = self._held
        if held:
            self._held = b""
            if len(data) > HOLD_AT_MOST:  # joining would copy a large body to save one syscall
                self._transport.write(held)
                self._transport.write(data)
            else:
                self._transport.write(held + data)
        elif not data or len(data) > HOLD_AT_MOST or self._transport.is_closing():
            self._transport.write(data)  # nothing to join it to; the transport's own checks
        else:
            self._held = bytes(data)
            self._flush_at_step_end()

    def _flush_at_step_end(self) -> None:
        step = _STEP
        if step.held and step.loop is self._loop:
            step.held.append(self)
            return
        # The first this step (or the list of a loop that stopped before its callback ran, whose
        # connections nobody serves any more: not this loop's to send).
        held = [self]
        step.loop, step.held = self._loop, held
        self._loop.call_soon(_flush_step, held)

    def flush(self) -> None:
        """Send what is held now."""
        held = self._held
        if held:
            self._held = b""
            self._transport.write(held)

    def writelines(self, lines: Any) -> None:  # noqa: ANN401 - the transport's own signature
        self.flush()
        self._transport.writelines(lines)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = b""
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:  # noqa: ANN401 - as the transport's
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - whatever else the transport offers
        return getattr(self._transport, name)


class _Step(threading.local):
    """The connections of this thread's loop holding a write, flushed by one callback at the
    end of its step; `loop` is the loop that callback was scheduled on."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.held: list[HeldWrites] = []


_STEP: Final = _Step()


def _flush_step(held: list[HeldWrites]) -> None:
    step = _STEP
    if step.held is held:
        step.held = []
    for writes in held:
        writes.flush()
