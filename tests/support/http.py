"""HTTP test support: a real uvicorn server on loopback, client addresses, Starlette's TestClient.

`running_server(app)` serves `create_app(app)` from a thread on 127.0.0.1 and a
free port, exactly as `partner-ingest serve` configures uvicorn (its own
X-Forwarded-For handling off), and stops it cleanly: the lifespan shutdown runs
and the thread is joined before the context exits.

Every test speaks from addresses of its own (`new_address()`, sent as
X-Forwarded-For through the trusted loopback proxy), so that one test's failed
authentications never block another's.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx2
import uvicorn
from starlette import testclient

from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.cli.serve import bind, server_config
from partner_ingest.adapters_in.http import BackgroundService, create_app
from partner_ingest.adapters_in.settings import Settings
from partner_ingest.domain.model.api_keys import KeyRole
from support.tracing import untraced

__all__ = [
    "LOOPBACK_PROXY",
    "TestClient",
    "admin_key",
    "e2e_settings",
    "new_address",
    "new_partner",
    "running_server",
    "tls",
]

LOOPBACK_PROXY = "127.0.0.1/32"


class TestClient(testclient.TestClient):
    """Starlette's TestClient, its side of each request made outside the coverage tracer.

    The application runs in the client's portal thread, whose tracer is its own: every line
    of the package a request reaches is traced as before. What is left untraced is httpx
    and Starlette building the request and reading the answer in the test's thread, none of
    it measured, which under the tracer cost about as much again as the request itself.
    """

    __test__ = False  # a class named Test*, not a test

    def request(self, *args: Any, **kwargs: Any) -> httpx2.Response:
        call = super().request
        return untraced(lambda: call(*args, **kwargs))


_addresses = itertools.count(1)


@functools.cache
def tls() -> ssl.SSLContext:
    """The one SSL context of every test client in this process (`verify=tls()`).

    httpx builds a context per client, reading the system's CA bundle each time (45 ms or
    more, more than a typical test's requests); this is the same context, built once.
    """
    return httpx2.create_ssl_context()


def new_address() -> str:
    """A client address no other test in this process uses (documentation and private ranges)."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def e2e_settings(database: str, **overrides: Any) -> Settings:
    """Settings for a test server: a SQLite file, loopback as the trusted proxy, and otherwise
    `serve`'s defaults, the ingest process of the feeds answered while their sender waits
    included (ADR 0047; it starts with a server's first such feed)."""
    values: dict[str, Any] = {"database_url": f"sqlite:///{database}", "trusted_proxies": LOOPBACK_PROXY}
    values.update(overrides)
    return Settings(**values)


class _Server(uvicorn.Server):
    """uvicorn's server, checking for `should_exit` every 10 ms rather than every 100 ms, and
    shutting down as soon as its connections have closed rather than after a fixed tenth of a second.

    Its main loop sleeps a tenth of a second between checks; stopping a test server then
    waited 50 ms on average for nothing, once per test that starts one. Its shutdown then sleeps
    another 100 ms for the connections it asked to close, and polls at that pace while any remain.
    """

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn.Server.shutdown's steps, in its order, with 10 ms polls for its fixed sleeps.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while self.server_state.connections or self.server_state.tasks:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


@contextmanager
def running_server(app: Application, *, services: Sequence[BackgroundService] = ()) -> Iterator[str]:
    """Serve the app on 127.0.0.1:<free port> in a thread; yield its base URL."""
    config = server_config(
        create_app(app, services=services), host="127.0.0.1", port=0, settings=app.settings
    )
    server = _Server(config)
    sock = bind(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-e2e")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "the test server did not stop"


def admin_key(app: Application) -> str:
    """A fresh admin key (each test its own, so each has its own per-minute quota)."""
    return app.keys.create(KeyRole.ADMIN, actor="system", label="e2e").plaintext


_partners = itertools.count(1)


def new_partner(client: httpx2.Client, admin: str, **fields: Any) -> tuple[str, str]:
    """Create a partner and its key through the admin API; (partner id, key)."""
    partner_id = fields.pop("id", None) or f"partner-{next(_partners)}-{int(time.time() * 1000) % 100000}"
    body = {"id": partner_id, "name": f"Partner {partner_id}", **fields}
    created = client.post("/admin/partners", json=body, headers={"X-API-Key": admin})
    assert created.status_code == 201, created.text
    key = client.post(
        f"/admin/partners/{partner_id}/keys", json={"label": "e2e"}, headers={"X-API-Key": admin}
    )
    assert key.status_code == 201, key.text
    return partner_id, str(key.json()["api_key"])
