"""Readiness checks for /readyz (ADR 0032): the store answers and its schema is current, and,
where the service depends on them, Redis answers and the SQLite file's disk has room.

Invariant: a check never raises; it answers not ready, with what it looked at, so a load
balancer sends requests elsewhere before they would fail.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .application import Readiness

if TYPE_CHECKING:
    from partner_ingest.ports import UnitOfWorkFactory

__all__ = ["schema_current", "store_ready", "with_disk", "with_redis"]


def store_ready(
    uow: UnitOfWorkFactory, schema: Callable[[], str | None] = lambda: None
) -> Callable[[], Readiness]:
    """A readiness check: a read-only unit of work answers, and `schema` finds nothing wrong."""

    def ready() -> Readiness:
        try:
            with uow(read_only=True) as work:
                work.api_keys.count()
            problem = schema()
        except Exception as error:
            return Readiness(False, {"database": f"unreachable ({type(error).__name__})"})
        if problem is not None:
            return Readiness(False, {"database": "reachable", "schema": problem})
        return Readiness(True, {"database": "reachable", "schema": "current"})

    return ready


def with_redis(ready: Callable[[], Readiness], ping: Callable[[], bool]) -> Callable[[], Readiness]:
    """`ready`, and Redis answering: failure limits fail closed without it, so
    every partner request would be refused (ADR 0015): the load balancer should look elsewhere."""

    def check() -> Readiness:
        store = ready()
        reachable = ping()
        checks = {**store.checks, "redis": "reachable" if reachable else "unreachable"}
        return Readiness(store.ready and reachable, checks)

    return check


def with_disk(ready: Callable[[], Readiness], directory: Path, minimum: int) -> Callable[[], Readiness]:
    """`ready`, and at least `minimum` bytes free where the SQLite file lives: below it, writes
    are about to fail with `store_full`, so the load balancer should look elsewhere first."""

    def check() -> Readiness:
        import shutil  # here: shutil imports bz2, lzma and fnmatch, which only this check uses

        store = ready()
        try:
            free = shutil.disk_usage(directory).free
        except OSError as error:
            return Readiness(False, {**store.checks, "disk": f"unknown ({type(error).__name__})"})
        if free < minimum:
            return Readiness(False, {**store.checks, "disk": f"low ({free} bytes free, below {minimum})"})
        return Readiness(store.ready, {**store.checks, "disk": "ok"})

    return check


def schema_current(version: Callable[[], int], newest: int) -> Callable[[], str | None]:
    """A schema check for `store_ready`: None while the store is at this release's newest migration."""

    def check() -> str | None:
        current = version()
        return None if current == newest else f"at migration {current}, this release needs {newest}"

    return check
