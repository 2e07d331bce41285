"""`partner-ingest serve`: the HTTP API under uvicorn, on the settings' store (SQLite by default).

- On the first start against an empty database (no key at all) it creates an
  admin key, once it holds its address, and prints it once, on stdout, with a
  copy-paste quickstart; the key never reaches a log. An address it cannot
  listen on is one line on stderr, like a bad setting.
- Uvicorn handles SIGTERM and SIGINT: it stops accepting, finishes the requests
  in flight, runs the app's lifespan shutdown (which stops the background
  services), and only then is the application closed here.
- Background services (the worker and the scheduler) run in this process on
  the embedded default: `background_services(app)` (adapters_in/background.py,
  re-exported here) lists them and `create_app`
  starts them with the server and stops them with it. On SIGTERM the worker's
  current job finishes, or is given back after PARTNER_INGEST_SHUTDOWN_GRACE_SECONDS.
- Client addresses come from this app's own trusted-proxy rule
  (PARTNER_INGEST_TRUSTED_PROXIES), so uvicorn's X-Forwarded-For handling is off.

uvicorn and Starlette are imported when the command runs, so the rest of the
command line works on an install without the `server` extra.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._collector import fewer_young_collections

if TYPE_CHECKING:
    import socket

    import uvicorn

    from partner_ingest.adapters_in.background import background_services
    from partner_ingest.adapters_in.settings import Settings

__all__ = ["background_services", "bind", "first_start_banner", "register", "server_config"]


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    """Add `serve`."""
    serve = commands.add_parser(
        "serve", help="run the HTTP API (the embedded default: SQLite, all in one process)"
    )
    serve.add_argument("--host", help="address to listen on (default: PARTNER_INGEST_HOST, 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, help="port (default: PARTNER_INGEST_PORT, 8000; 0 picks a free one)"
    )
    serve.set_defaults(command=run_serve)


def server_config(web: Any, *, host: str, port: int, settings: Settings) -> uvicorn.Config:  # noqa: ANN401 - an ASGI app
    """How `serve` runs uvicorn; the end-to-end tests run their servers with it too.

    The protocol answers a request uvicorn cannot parse in the API's error shape,
    and enforces the header deadline and the connection cap (http/connections.py).
    """
    import uvicorn

    from partner_ingest.adapters_in.http.connections import ConnectionLimits, protocol

    limits = ConnectionLimits.from_settings(settings)
    return uvicorn.Config(
        web,
        host=host,
        port=port,
        http=protocol(limits),
        timeout_keep_alive=limits.keep_alive,
        lifespan="on",
        proxy_headers=False,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


def bind(config: uvicorn.Config) -> socket.socket:
    """The listening socket for `config.host` and `config.port`; SettingsError (one line) when
    the address cannot be had (taken, not this machine's, not resolvable).

    Not uvicorn's `config.bind_socket()`, which logs and calls `sys.exit` on failure.
    The socket listens at once. Nagle's algorithm is off on it, and so on every connection it accepts: asyncio
    turns it off only on sockets it creates itself (it checks `proto == IPPROTO_TCP`),
    and left on, every keep-alive answer, written as headers then body, waits for
    the client's delayed ACK, about 40 ms a request on Linux.
    """
    import socket  # here: the other commands open no socket

    from partner_ingest.adapters_in.settings import PREFIX, SettingsError

    host, port = config.host, config.port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        # Listening now, not when uvicorn starts: a client that connects as soon as the
        # "serving" line appears waits in the backlog instead of being refused.
        sock.listen(config.backlog)
    except (OSError, OverflowError) as error:
        sock.close()
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise SettingsError(
            f"cannot listen on {_url(host, port)} ({reason}): see --host/--port, {PREFIX}HOST/{PREFIX}PORT"
        ) from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104 - displayed, not bound
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def first_start_banner(url: str, admin_key: str, examples: list[dict[str, Any]]) -> str:
    """The once-only message: the admin key and the commands from nothing to a stored feed."""
    import shlex

    from partner_ingest.adapters_in.http.help import quickstart

    guide = quickstart(url, examples)
    steps = {step["id"]: step["command"] for step in [*guide["steps"], *guide["operator_steps"]]}
    take_key = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"api_key\"])'"
    rule = "=" * 78
    lines = [
        rule,
        "First start: an admin key was created. It is shown this once and stored only as a hash.",
        "",
        f"    ADMIN_KEY={admin_key}",
        "",
        "Quickstart (paste into a shell in an empty directory):",
        "",
        f"export PARTNER_INGEST_URL={shlex.quote(url)}",
        f"export ADMIN_KEY={admin_key}",
        "# 1. create a partner",
        steps["create-partner"],
        "# 2. issue its API key (shown once) and keep it in API_KEY",
        f"export API_KEY=$({steps['create-key']} | {take_key})",
        "# 3. download the example feed and send it",
        steps["example"],
        steps["ingest"],
        "# then: the partner quickstart at $PARTNER_INGEST_URL/partner/help",
        rule,
    ]
    return "\n".join(lines)


@contextmanager
def _survive_stop_signals() -> Iterator[list[int]]:
    """Uvicorn handles SIGTERM and SIGINT itself and, once shut down, raises the signal again
    for the handler that was there before it. With the default one, SIGTERM would then kill
    the process before the application is closed; this one just notes it."""
    import signal  # here: only this command and the background ones handle signals

    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean shutdown."""

    import uvicorn

    from partner_ingest.adapters_in import bootstrap
    from partner_ingest.adapters_in.background import background_services
    from partner_ingest.adapters_in.http import create_app
    from partner_ingest.adapters_in.logs import configure_logging
    from partner_ingest.adapters_in.settings import Settings, shown_url

    settings = Settings.from_env()
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    configure_logging(settings)
    app = bootstrap.build(settings)
    try:
        web = create_app(app, services=background_services(app))
        config = server_config(web, host=host, port=port, settings=settings)
        server = uvicorn.Server(config)
        # The ingest process, where there is one (ADR 0047), ready before the address listens:
        # otherwise the first feeds would wait for it to import the library and build the service.
        queue = app.sync_ingest
        if queue is not None:
            queue.warm(timeout=60)
        sock = bind(config)
        # Only once the address is ours: a first-start key made before a failed bind would
        # never be shown, and the next start, finding a key, would not make another.
        try:
            first = app.keys.ensure_admin_key()
        except BaseException:
            sock.close()
            raise
        url = _url(host, sock.getsockname()[1])
        if first is not None:
            print(first_start_banner(url, first.plaintext, app.describe_contract.examples()), flush=True)
        print(
            f"partner-ingest: serving {url} on {shown_url(settings.database_url)}; stop with Ctrl+C or SIGTERM",
            flush=True,
        )
        # A small feed's request allocates a few thousand objects that die with it (ADR 0045).
        try:
            with fewer_young_collections(), _survive_stop_signals():
                server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        app.close()
    if not server.started:
        print("partner-ingest: the server did not start (see the log above)", file=sys.stderr)
        return 1
    print("partner-ingest: stopped", flush=True)
    return 0


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the one name re-exported on first use
    """`background_services`, re-exported from adapters_in/background.py when first asked for:
    the other commands never load the background loops (ADR 0042)."""
    if name == "background_services":
        from partner_ingest.adapters_in.background import background_services

        return background_services
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
