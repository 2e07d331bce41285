"""Connection hygiene for `serve`: a deadline for the request head, an idle limit, a cap on connections.

uvicorn closes a keep-alive connection left idle after an answer
(`timeout_keep_alive`, PARTNER_INGEST_KEEP_ALIVE_SECONDS), but it sets no clock
on a connection that has not sent a request yet, nor on one sending its request
head a byte at a time: such sockets were kept forever, and enough of them use up
the process's file descriptors. `GuardedH11Protocol` adds both:

- the request head must be complete within PARTNER_INGEST_HEADER_TIMEOUT_SECONDS
  of the connection opening, or of the previous answer on it; otherwise the
  connection is closed (as nginx's `client_header_timeout` does, without an answer);
- a request arriving while the process holds more than
  PARTNER_INGEST_MAX_CONNECTIONS connections is answered 503 `server_busy` (the
  API's error shape, with Retry-After) and its connection closed, so the
  connections already open keep being served and the crowd drains.

The head deadline and uvicorn's keep-alive deadline share one timer a connection, moved
forward by each answer (uvicorn made a timer at every answer and cancelled it at the next
request's first bytes); each closes the connection when, and as, it did on its own.

Not a guard, but on the same connections: an answer's head and body leave in one write, not
two (held_writes.py).

Built on the protocol of malformed_requests.py (unparsable requests get the error
shape too); where that cannot be built, `protocol()` answers "auto" and uvicorn's
own protocol runs without these guards. See ADR 0026 and docs/deployment.md for
what a reverse proxy in front must enforce besides.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Final

import attrs

from partner_ingest.adapters_in.settings import Settings

from .held_writes import HeldWrites
from .malformed_requests import json_errors_protocol

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send
    from uvicorn.protocols.http.h11_impl import RequestResponseCycle

__all__ = ["BUSY_CODE", "ConnectionLimits", "protocol"]

BUSY_CODE: Final = "server_busy"
_UVICORN_METHODS: Final = ("handle_events", "timeout_keep_alive_handler", "_unset_keepalive_if_required")


@attrs.frozen
class ConnectionLimits:
    """What one server process allows a connection."""

    header_timeout: float
    """Seconds from the connection opening (or the previous answer) to a complete request head."""
    keep_alive: int
    """Seconds an idle keep-alive connection is kept after an answer."""
    max_connections: int
    """Open connections served; a request on one beyond them is answered 503."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """The limits the settings ask for."""
        return cls(
            header_timeout=settings.header_timeout_seconds,
            keep_alive=settings.keep_alive_seconds,
            max_connections=settings.max_connections,
        )


def _busy_app(limits: ConnectionLimits) -> object:
    body = json.dumps(
        {
            "error": BUSY_CODE,
            "details": {
                "message": "the server holds as many connections as it serves; retry shortly",
                "max_connections": limits.max_connections,
            },
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
    ]

    async def busy(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return busy


def protocol(limits: ConnectionLimits) -> type[asyncio.Protocol] | str:
    """The protocol class for `uvicorn.Config(http=...)`, or "auto" where it cannot be built."""
    base = json_errors_protocol()
    if base is None:  # pragma: no cover - uvicorn without h11, or a uvicorn that changed its protocol
        return "auto"
    # The methods of uvicorn's protocol that on_response_complete below calls: a uvicorn without
    # them runs its own protocol, as one without send_400_response does.
    if not all(callable(getattr(base, name, None)) for name in _UVICORN_METHODS):  # pragma: no cover
        return "auto"
    import h11  # uvicorn's h11 protocol's own parser, there when `base` is

    busy = _busy_app(limits)

    class GuardedH11Protocol(base):  # type: ignore[valid-type, misc]  # a class made at run time
        _deadline: asyncio.TimerHandle | None = None
        _deadline_at = math.inf
        _head_due = math.inf
        _head_cycle: RequestResponseCycle | None = None
        _idle_due: float | None = None
        """When an answered connection that has received nothing since is closed (keep-alive)."""

        def connection_made(self, transport: asyncio.Transport) -> None:
            # An answer's head and body in one write (held_writes.py).
            super().connection_made(HeldWrites(transport, self.loop))
            self._arm_deadlines(self.loop.time())

        def data_received(self, data: bytes) -> None:
            self._idle_due = None  # any byte ends the keep-alive wait, as uvicorn's timer's cancel did
            if self.cycle is None or self.cycle.response_complete:
                # These bytes begin a request: decide now whether it is served.
                crowded = len(self.connections) > limits.max_connections
                self.app = busy if crowded else self.config.loaded_app
            super().data_received(data)

        def on_response_complete(self) -> None:
            # uvicorn's own, but for its keep-alive timer: made with `call_later` at every answer
            # and cancelled by the next request's bytes, it is a deadline on this connection's
            # one timer here, as the head deadline is (ADR 0045). The same close, at the same time.
            self.server_state.total_requests += 1
            if self.transport.is_closing():
                return
            self._unset_keepalive_if_required()
            now = self.loop.time()
            self._idle_due = now + self.timeout_keep_alive
            answered = self.cycle
            self.flow.resume_reading()
            # Unblock any pipelined events.
            if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
                self.conn.start_next_cycle()
                self.handle_events()
            if self.cycle is not answered:  # a pipelined request began: no longer idle
                self._idle_due = None
            if not self.transport.is_closing():
                self._arm_deadlines(now)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            super().connection_lost(exc)

        def _arm_deadlines(self, now: float) -> None:
            # The cycle now current: a request head parsed later makes a new one.
            self._head_cycle = self.cycle
            self._head_due = now + limits.header_timeout
            self._arm_at(self._next_due())

        def _next_due(self) -> float:
            return self._head_due if self._idle_due is None else min(self._head_due, self._idle_due)

        def _arm_at(self, due: float) -> None:
            # One timer a connection, not one a request: when it fires before the deadlines last
            # set (an answer moved them since), it waits again for the nearest. Only a timer set
            # for later than `due` is made again.
            if self._deadline is not None:
                if self._deadline_at <= due:
                    return
                self._deadline.cancel()
            self._deadline_at = due
            self._deadline = self.loop.call_at(due, self._check_deadlines)

        def _check_deadlines(self) -> None:
            self._deadline = None
            now = self.loop.time()
            if self._idle_due is not None and now >= self._idle_due:
                self._idle_due = None
                self.timeout_keep_alive_handler()
            if now >= self._head_due:
                self._head_due = math.inf  # checked once, as the request it was set for
                self._head_too_slow(self._head_cycle)
            due = self._next_due()
            if due < math.inf and not self.transport.is_closing():
                self._arm_at(due)

        def _head_too_slow(self, cycle: RequestResponseCycle | None) -> None:
            waiting = self.cycle is cycle and (cycle is None or cycle.response_complete)
            if waiting and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol
