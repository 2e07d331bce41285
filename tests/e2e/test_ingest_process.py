"""`serve`'s ingest process (ADR 0047), on a real server and a real SQLite file: a child that
dies answers its calls in flight 503 `store_busy` and the next feeds go to a new child; a
shutdown lets the child finish what it holds; errors cross the process boundary as the
thread writer raises them; the setting off keeps the writer thread; SIGTERM to `serve`
leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support.feeds import JSONL, jsonl_feed, wait_for
from support.http import e2e_settings
from support.service import Service
from support.sqlite_files import migrated_database

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.ingest_queues import ProcessIngest, WriterIngest

pytestmark = pytest.mark.slow


def _calls(service: Service) -> Any:
    queue = service.app.sync_ingest
    assert isinstance(queue, ProcessIngest)
    return queue.calls


def _send(service: Service, key: str, body: bytes, **headers: str) -> httpx2.Response:
    sent = {"X-API-Key": key, "Content-Type": JSONL, **headers}
    return service.client().post("/partner/ingest", content=body, headers=sent)


@contextmanager
def _stopped(pid: int) -> Iterator[None]:
    """The child held still (SIGSTOP) while feeds queue for it; let go at the end if alive."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _queued(service: Service, key: str, pool: ThreadPoolExecutor, n: int) -> list[Future[httpx2.Response]]:
    """`n` feeds sent, each waiting in the ingest process (which is stopped)."""
    calls = _calls(service)
    sent = [pool.submit(_send, service, key, jsonl_feed(2, first=100 * i, prefix="Q")) for i in range(n)]
    wait_for(lambda: calls.waiting == n, 20, f"{n} feeds in the ingest process")
    return sent


def _products(service: Service, partner: str) -> int:
    return int(service.sql("SELECT count(*) AS n FROM product WHERE partner_id = ?", (partner,))[0]["n"])


def test_the_setting_chooses_the_ingest_process_or_the_writer_thread(serve: Callable[..., Service]) -> None:
    on = serve(ingest_process=True)
    off = serve(ingest_process=False)
    assert isinstance(on.app.sync_ingest, ProcessIngest)
    assert isinstance(off.app.sync_ingest, WriterIngest)
    for service in (on, off):
        partner, key = service.partner(service.admin_key())
        assert _send(service, key, jsonl_feed(3)).status_code == 200
        assert _products(service, partner) == 3


def test_an_ingest_given_to_a_copy_of_the_app_is_the_one_its_feeds_go_to(tmp_path: Path) -> None:
    database = migrated_database(tmp_path / "replaced.db")
    app = bootstrap.build(e2e_settings(str(database), ingest_process=True))
    try:
        assert isinstance(app.sync_ingest, ProcessIngest)
        given = app.ingest
        queue = app.replacing(ingest_now=given).sync_ingest
        assert isinstance(queue, WriterIngest)
        assert queue.ingest is given
        assert isinstance(app.sync_ingest, ProcessIngest)  # the original keeps its own
    finally:
        app.close()


def test_a_killed_ingest_process_answers_503_for_its_calls_and_a_new_one_takes_the_next(
    serve: Callable[..., Service],
) -> None:
    service = serve(ingest_process=True, rate_limit_per_minute=100_000)
    partner, key = service.partner(service.admin_key())
    assert _send(service, key, jsonl_feed(1, prefix="FIRST")).status_code == 200
    calls = _calls(service)
    first = calls.pid
    with ThreadPoolExecutor(4) as pool, _stopped(first):
        in_flight = _queued(service, key, pool, 4)
        os.kill(first, signal.SIGKILL)
        answers = [future.result(timeout=30) for future in in_flight]
    assert [(a.status_code, a.json()["error"]) for a in answers] == [(503, "store_busy")] * 4
    assert _products(service, partner) == 1  # the child died before any of them ran

    again = _send(service, key, jsonl_feed(2, prefix="AGAIN"))
    assert again.status_code == 200, again.text
    assert calls.pid not in (None, first)
    assert _products(service, partner) == 3
    with pytest.raises(ChildProcessError):
        os.waitpid(first, os.WNOHANG)  # reaped: no zombie left


def test_a_shutdown_lets_the_ingest_process_finish_the_feeds_it_holds(serve: Callable[..., Service]) -> None:
    service = serve(ingest_process=True, rate_limit_per_minute=100_000)
    partner, key = service.partner(service.admin_key())
    assert _send(service, key, jsonl_feed(1, prefix="FIRST")).status_code == 200
    calls = _calls(service)
    child = calls.pid
    with ThreadPoolExecutor(4) as pool:
        with _stopped(child):
            in_flight = _queued(service, key, pool, 4)
            closing = threading.Thread(target=calls.close)
            closing.start()
        answers = [future.result(timeout=30) for future in in_flight]
        closing.join(30)
    assert not closing.is_alive()
    assert [a.status_code for a in answers] == [200] * 4
    assert _products(service, partner) == 1 + 4 * 2
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)
    refused = _send(service, key, jsonl_feed(1, prefix="LATE"))
    assert (refused.status_code, refused.json()["error"]) == (503, "store_busy")


@pytest.mark.parametrize("ingest_process", [False, True], ids=["writer thread", "ingest process"])
def test_errors_raised_in_the_ingest_are_answered_alike_in_either_writer(
    serve: Callable[..., Service], ingest_process: bool
) -> None:
    service = serve(ingest_process=ingest_process, rate_limit_per_minute=100_000)
    _, key = service.partner(service.admin_key())
    # An override the partner may not make (PolicyOverrideDenied), a key reused for another
    # body (IdempotencyKeyReused, whose constructor takes other arguments than its message).
    denied = _send(service, key, jsonl_feed(1), **{"X-Atomic": "true"})
    assert _send(service, key, jsonl_feed(1), **{"Idempotency-Key": "k-1"}).status_code == 200
    reused = _send(service, key, jsonl_feed(2), **{"Idempotency-Key": "k-1"})
    assert (denied.status_code, denied.json()["error"]) == (403, "policy_override_denied"), denied.text
    assert reused.status_code == 422, reused.text
    assert reused.json()["error"] == "idempotency_key_reused", reused.text


def _serve_command(database: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_INGEST_")}
    env.update(PARTNER_INGEST_DATABASE_URL=f"sqlite:///{database}", PARTNER_INGEST_LOG_LEVEL="WARNING")
    main = [sys.executable, "-m", "partner_ingest.adapters_in.cli.main"]
    subprocess.run([*main, "migrate"], env=env, check=True, capture_output=True)
    return subprocess.Popen(
        [*main, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _answering(port: int) -> bool:
    """The server answers (it has then installed its signal handlers)."""
    try:
        httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
    except httpx2.HTTPError:
        return False
    return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 0), (signal.SIGKILL, -signal.SIGKILL)])
def test_serve_stopped_by_a_signal_leaves_no_ingest_process(tmp_path: Path, stop: int, code: int) -> None:
    """SIGTERM: `serve` stops the child as it closes; SIGKILL: the child sees its pipe end."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = _serve_command(tmp_path / "served.db", port)
    try:
        wait_for(lambda: _answering(port), 30, "the server")
        (child,) = _children(server.pid)  # started with the server
        server.send_signal(stop)
        assert server.wait(timeout=30) == code
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    wait_for(lambda: not Path(f"/proc/{child}").exists(), 10, "the ingest process's end")
