"""/readyz's checks as `bootstrap.build` wires them: the database, its schema, the free space
beside a SQLite file, and Redis when set.

Redis is part of readiness because the failure limits fail closed without it
(ADR 0015): an instance whose Redis is gone refuses every partner request, and
the load balancer should send them elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from support.redis import redis_prefix, redis_url

from partner_ingest.adapters_in.bootstrap import Readiness, build
from partner_ingest.adapters_in.settings import Settings

CURRENT = {"database": "reachable", "schema": "current", "disk": "ok"}


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path}/ready.db",
            "PARTNER_INGEST_PARSER_PROCESSES": "0",
        }
        | {f"PARTNER_INGEST_{name.upper()}": value for name, value in env.items()}
    )


def test_readiness_looks_at_the_database_alone_without_redis(tmp_path: Path) -> None:
    app = build(_settings(tmp_path))
    try:
        assert app.ready() == Readiness(True, CURRENT)
    finally:
        app.close()


def test_readiness_looks_at_redis_when_one_is_set(tmp_path: Path) -> None:
    url = redis_url()
    with redis_prefix(url) as prefix:
        app = build(_settings(tmp_path, redis_url=url, redis_prefix=prefix))
        try:
            assert app.ready() == Readiness(True, {**CURRENT, "redis": "reachable"})
        finally:
            app.close()


def test_an_instance_whose_redis_does_not_answer_is_not_ready(tmp_path: Path) -> None:
    app = build(_settings(tmp_path, redis_url="redis://127.0.0.1:1/0"))  # nothing listens on port 1
    try:
        assert app.ready() == Readiness(False, {**CURRENT, "redis": "unreachable"})
    finally:
        app.close()


def test_a_sqlite_instance_short_of_disk_space_is_not_ready(tmp_path: Path) -> None:
    app = build(_settings(tmp_path, min_free_disk_bytes=str(10**18)))  # more than any disk has free
    try:
        readiness = app.ready()
        assert not readiness.ready
        assert readiness.checks["disk"].startswith("low (") and readiness.checks["disk"].endswith(
            f"below {10**18})"
        )
        assert readiness.checks["database"] == "reachable"
    finally:
        app.close()
    app = build(_settings(tmp_path, min_free_disk_bytes="0"))  # 0: not checked
    try:
        assert app.ready() == Readiness(True, {"database": "reachable", "schema": "current"})
    finally:
        app.close()
