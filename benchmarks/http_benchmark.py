"""HTTP benchmark: small JSON feeds from 32 connections, the real `serve` beside a bare Starlette app.

    .venv/bin/python benchmarks/http_benchmark.py [--seconds 10] [--connections 32]

(h-a) the baseline: a bare Starlette app on the same uvicorn (h11, no access
log) that reads the same body, parses it as JSON and answers a small JSON
document; (h-b) `partner-ingest serve` on a SQLite file, the partner's feeds
posted to /partner/ingest with its API key, every item written, feeds committed
in groups (ADR 0039); (h-c) the same with PARTNER_INGEST_GROUP_COMMIT=false, a
transaction and a sync per feed. The load
generator is wrk (Debian `wrk`), 32 connections, each request a 10-item json
v2 feed whose prices change from request to request so every request writes.
(h-d) two `serve` processes sharing PostgreSQL (a schema of their own) and Redis
(a key prefix of its own), half the connections on each, two wrk processes at
once: requests/s summed, p50 and p99 the worse of the two; skipped unless
PARTNER_INGEST_TEST_POSTGRES_URL and PARTNER_INGEST_TEST_REDIS_URL are set.
Runs alternate (a, b, c, d, a, b, c, d), best of ROUNDS by requests/s; each row prints
requests/s, p50, p99, the answers that were not 2xx, and the ratio to (h-a); then the CPU
time (user + system, from /proc) the server process of (h-a), (h-b) and (h-c) and its
child processes (serve's ingest process, ADR 0047) spent a request in that run, a figure less sensitive to a shared machine's load.
The machine is shared: the ratio of runs taken side by side is the figure,
not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import fresh_prefix, fresh_schema, served

ROUNDS = 2
PG_ENV = "PARTNER_INGEST_TEST_POSTGRES_URL"
REDIS_ENV = "PARTNER_INGEST_TEST_REDIS_URL"
TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0

BARE_APP = """
import json
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

async def ingest(request: Request) -> JSONResponse:
    document = json.loads(await request.body())
    return JSONResponse({"status": "accepted", "counts": {"received": len(document["products"])}})

app = Starlette(routes=[Route("/partner/ingest", ingest, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), http="h11",
            access_log=False, log_config=None, server_header=False)
"""

# Each request its own body: prices follow a per-thread counter, so every feed changes 10 rows.
LUA = """
local counter = 0
local key = "%(key)s"
request = function()
  counter = counter + 1
  local items = {}
  for i = 1, 10 do
    items[i] = string.format(
      '{"sku":"HTTP-%%d-%%02d","name":"Café crème %%d","price":%%d.%%02d,"currency":"EUR","quantity":%%d}',
      counter %% 97, i, i, 10 + counter %% 500, i, counter %% 1000)
  end
  local body = '{"products":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/partner/ingest",
    {["Content-Type"] = "application/json", ["X-API-Key"] = key}, body)
end
"""


@attrs.frozen
class Load:
    """One wrk run's figures."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: str
    cpu_ms: float | None = None
    """CPU time (user + system) the server process spent a request, in ms; None: not measured."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its descendants: those alive (serve's
    ingest process, ADR 0047) and those it has reaped (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    """The live children of a process, from every thread's list."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    except OSError:
        return []
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(port: int, script: Path, *, seconds: int, connections: int) -> Load:
    return _load(_wrk_start(f"http://127.0.0.1:{port}", script, seconds=seconds, connections=connections))


def _wrk_start(base: str, script: Path, *, seconds: int, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"{base}/partner/ingest"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _load(process: subprocess.Popen[str]) -> Load:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.strip()[-500:]}")
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:[^\n]*", out)
    return Load(rate, p50, p99, int(non_2xx.group(1)) if non_2xx else 0, errors.group(0) if errors else "")


def cli(env: dict[str, str], *args: str) -> str:
    exe = str(Path(sys.executable).with_name("partner-ingest"))
    return subprocess.run([exe, *args], env=env, check=True, capture_output=True, text=True).stdout


def best(loads: list[Load]) -> Load:
    return max(loads, key=lambda load: load.requests_per_s)


def _setup_partner(env: dict[str, str], directory: Path, name: str) -> Path:
    """Migrate, add the benchmark partner and its key; the wrk script posting its feeds."""
    cli(env, "migrate")
    cli(
        env,
        "partners",
        "add",
        "bench",
        "--name",
        "Bench",
        "--default-format",
        "json",
        "--default-version",
        "2",
    )
    key = json.loads(cli(env, "keys", "create", "--partner", "bench", "--json"))["api_key"]
    script = directory / f"feeds-{name}.lua"
    script.write_text(LUA % {"key": key})
    return script


class _Shared:
    """(h-d): two `serve` sharing PostgreSQL and Redis, started afresh for each round."""

    def __init__(self, stack: ExitStack, directory: Path) -> None:
        pg, redis_url = os.environ[PG_ENV], os.environ[REDIS_ENV]
        from cryptography.fernet import Fernet

        self.directory = directory
        self.env = {
            **os.environ,
            "PARTNER_INGEST_DATABASE_URL": stack.enter_context(fresh_schema(pg, "http")),
            "PARTNER_INGEST_REDIS_URL": redis_url,
            "PARTNER_INGEST_REDIS_PREFIX": stack.enter_context(fresh_prefix(redis_url, "http")),
            "PARTNER_INGEST_KEY_HASH_SECRET": secrets.token_urlsafe(48),
            "PARTNER_INGEST_VAULT_KEYS": Fernet.generate_key().decode(),
            "PARTNER_INGEST_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        self.script = _setup_partner(self.env, directory, "shared")

    def run(self, *, seconds: int, connections: int) -> Load:
        with ExitStack() as stack:
            urls = [
                stack.enter_context(served(self.env, self.directory / "logs-shared", name=f"serve-{n}"))
                for n in range(2)
            ]
            halves = [connections // 2, connections - connections // 2]
            runs = [
                _wrk_start(url, self.script, seconds=seconds, connections=half)
                for url, half in zip(urls, halves, strict=True)
            ]
            loads = [_load(run) for run in runs]
        return Load(
            sum(load.requests_per_s for load in loads),
            max(load.p50_ms for load in loads),
            max(load.p99_ms for load in loads),
            sum(load.non_2xx for load in loads),
            "; ".join(load.errors for load in loads if load.errors),
        )


def measure(
    directory: Path, *, seconds: int, connections: int, shared: _Shared | None = None
) -> tuple[Load, Load, Load, int, Load | None]:
    """(bare app, serve on SQLite, serve with a transaction per feed, rows the service stored,
    two serve on PostgreSQL and Redis when `shared` is given)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    database = directory / "http.db"
    env = {
        **os.environ,
        "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{database}",
        "PARTNER_INGEST_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    env.pop("PARTNER_INGEST_REDIS_URL", None)
    script = _setup_partner(env, directory, "sqlite")
    bare_file = directory / "bare_app.py"
    bare_file.write_text(BARE_APP)
    exe = str(Path(sys.executable).with_name("partner-ingest"))
    bare_runs: list[Load] = []
    serve_runs: list[Load] = []
    single_runs: list[Load] = []
    shared_runs: list[Load] = []
    servers = (
        ([sys.executable, str(bare_file)], env, bare_runs),
        ([exe, "serve", "--host", "127.0.0.1"], env, serve_runs),
        ([exe, "serve", "--host", "127.0.0.1"], {**env, "PARTNER_INGEST_GROUP_COMMIT": "false"}, single_runs),
    )
    for _ in range(ROUNDS):
        for command, server_env, runs in servers:
            port = free_port()
            argv = [*command, str(port)] if runs is bare_runs else [*command, "--port", str(port)]
            server = subprocess.Popen(
                argv, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                wait_listening(port, server)
                # CPU a request is less sensitive to a shared machine's load than requests/s.
                before = cpu_seconds(server.pid)
                load = wrk(port, script, seconds=seconds, connections=connections)
                spent = cpu_seconds(server.pid) - before
                requests = load.requests_per_s * seconds
                runs.append(attrs.evolve(load, cpu_ms=1000 * spent / requests if requests else None))
            finally:
                server.terminate()
                server.wait(timeout=60)
        if shared is not None:
            shared_runs.append(shared.run(seconds=seconds, connections=connections))
    import sqlite3

    with sqlite3.connect(database) as conn:
        stored = int(conn.execute("SELECT count(*) FROM product").fetchone()[0])
    return (
        best(bare_runs),
        best(serve_runs),
        best(single_runs),
        stored,
        best(shared_runs) if shared_runs else None,
    )


def section(*, seconds: int = 10, connections: int = 32) -> None:
    """Print the HTTP section."""
    print(
        f"\nHTTP: 10-item json v2 feeds, {connections} connections, wrk {seconds}s, best of {ROUNDS} alternating:"
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        try:
            shared = None
            if os.environ.get(PG_ENV) and os.environ.get(REDIS_ENV):
                (Path(tmp) / "pg").mkdir()
                shared = _Shared(stack, Path(tmp) / "pg")
            bare, serve, single, stored, two = measure(
                Path(tmp), seconds=seconds, connections=connections, shared=shared
            )
        except (RuntimeError, subprocess.CalledProcessError) as error:
            print(f"  skipped: {error}")
            return
    ratio = serve.requests_per_s / bare.requests_per_s
    rows = [
        ("what", "requests/s", "p50", "p99", "not 2xx", "ratio to (h-a)", "target", ""),
        ("(h-a) bare Starlette, same body", f"{bare.requests_per_s:,.0f}", f"{bare.p50_ms:.1f} ms",
         f"{bare.p99_ms:.1f} ms", str(bare.non_2xx), "1.00", "", ""),
        ("(h-b) partner-ingest serve, SQLite", f"{serve.requests_per_s:,.0f}", f"{serve.p50_ms:.1f} ms",
         f"{serve.p99_ms:.1f} ms", str(serve.non_2xx), f"{ratio:.2f}",
         f">= {TARGET_RATIO:.2f}, p99 <= {TARGET_P99_MS:.0f} ms",
         "ok" if ratio >= TARGET_RATIO and serve.p99_ms <= TARGET_P99_MS else "BELOW"),
        ("(h-c) the same, GROUP_COMMIT=false", f"{single.requests_per_s:,.0f}", f"{single.p50_ms:.1f} ms",
         f"{single.p99_ms:.1f} ms", str(single.non_2xx), f"{single.requests_per_s / bare.requests_per_s:.2f}",
         "", "a transaction and a sync per feed"),
    ]  # fmt: skip
    if two is None:
        rows.append(("(h-d) two serve, PostgreSQL + Redis", "skipped", "", "", "", "", "",
                     f"{PG_ENV} and {REDIS_ENV} are not both set"))  # fmt: skip
    else:
        rows.append(("(h-d) two serve, PostgreSQL + Redis", f"{two.requests_per_s:,.0f}", f"{two.p50_ms:.1f} ms",
                     f"{two.p99_ms:.1f} ms", str(two.non_2xx), f"{two.requests_per_s / bare.requests_per_s:.2f}",
                     "", "half the connections on each; p50, p99: the worse one"))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    cpu = [(name, load.cpu_ms) for name, load in (("h-a", bare), ("h-b", serve), ("h-c", single))]
    print(
        "(CPU of the server process a request, its best run: "
        + ", ".join(f"({name}) {ms:.3f} ms" for name, ms in cpu if ms is not None)
        + f"; load average {os.getloadavg()[0]:.1f})"
    )
    print(f"(rows stored by the service: {stored:,}; {serve.errors or 'no socket errors'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    section(seconds=args.seconds, connections=args.connections)


if __name__ == "__main__":
    main()
