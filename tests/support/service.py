"""End-to-end support: one real server per test on its own SQLite file, its logs and its audit trail.

`serving(database, **settings)` builds the application exactly as `serve` does
(`bootstrap.build`), serves it with uvicorn on loopback (support.http) and
yields a `Service`: the base URL, clients speaking from addresses of their own,
and read-only SQL on the database file, so a test can check what was really
stored (the schema, the rows, the audit trail) beside what the API answered.

`LogCapture` formats every record with the service's own JSON formatter, so a
test sees the log lines an operator would see.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import string
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx2

from partner_ingest.adapters_in import bootstrap
from partner_ingest.adapters_in.bootstrap import Application
from partner_ingest.adapters_in.http.logging import JsonFormatter
from partner_ingest.ports.clock import Clock

from .http import admin_key, e2e_settings, new_address, new_partner, running_server, tls
from .sqlite_files import migrated_database

__all__ = ["LogCapture", "Service", "forge_key", "json_of", "key_id_of", "serving"]

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@attrs.define
class Service:
    """A running server, its application and its database file."""

    base_url: str
    app: Application
    database: Path
    transport: httpx2.HTTPTransport
    """Shared by every client of the service: a transport of its own per client costs more than most requests."""

    def client(self, address: str | None = None, **headers: str) -> httpx2.Client:
        """A client speaking from `address` (default: a fresh one) through the trusted loopback proxy."""
        sent = {"X-Forwarded-For": address or new_address(), **headers}
        return httpx2.Client(base_url=self.base_url, headers=sent, timeout=30, transport=self.transport)

    def admin_key(self) -> str:
        """A fresh admin key."""
        return admin_key(self.app)

    def partner(self, admin: str, **fields: Any) -> tuple[str, str]:
        """A partner and its key, created through the admin API; (partner id, key)."""
        return new_partner(self.client(), admin, **fields)

    def sql(self, query: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query on the database file itself (not through the application)."""
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            connection.row_factory = sqlite3.Row
            return connection.execute(query, params).fetchall()
        finally:
            connection.close()

    def audit(self, where: str = "1 = 1", params: Sequence[object] = ()) -> list[dict[str, Any]]:
        """Audit entries read from `partner_ingest_audit`, oldest first, details decoded."""
        rows = self.sql(f"SELECT * FROM partner_ingest_audit WHERE {where} ORDER BY id", params)
        return [{**dict(row), "details": json.loads(row["details"])} for row in rows]

    def audit_text(self) -> str:
        """The whole audit table as text, every column, for "this never appears anywhere" checks."""
        rows = self.sql("SELECT * FROM partner_ingest_audit ORDER BY id")
        return "\n".join(json.dumps(list(row), default=str) for row in rows)


@contextmanager
def serving(database: Path, *, clock: Clock | None = None, **overrides: Any) -> Iterator[Service]:
    """Build the service on `database` (a new file, or another service's) with these settings and serve it.

    `clock` replaces the system clock (support.clocks.SkippableClock lets a test skip a lifetime).
    """
    if not database.exists() and "database_url" not in overrides:
        migrated_database(database)
    with ExitStack() as stack:
        app = bootstrap.build(e2e_settings(str(database), **overrides), clock=clock)
        stack.callback(app.close)
        base_url = stack.enter_context(running_server(app))
        transport = stack.enter_context(httpx2.HTTPTransport(verify=tls()))
        yield Service(base_url=base_url, app=app, database=database, transport=transport)


class LogCapture(logging.Handler):
    """Every log record of the process while installed, as the JSON lines `serve` writes."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        """Everything logged so far."""
        return "\n".join(self.lines)

    def entries(self, **match: object) -> list[dict[str, Any]]:
        """The decoded lines whose fields equal `match`."""
        decoded = [json.loads(line) for line in self.lines]
        return [e for e in decoded if all(e.get(k) == v for k, v in match.items())]

    @classmethod
    @contextmanager
    def installed(cls) -> Iterator[LogCapture]:
        """Attach to the root logger at DEBUG for the duration."""
        capture = cls()
        root = logging.getLogger()
        level = root.level
        root.addHandler(capture)
        root.setLevel(logging.DEBUG)
        try:
            yield capture
        finally:
            root.removeHandler(capture)
            root.setLevel(level)


def _base62(value: int, width: int) -> str:
    digits = ""
    while value:
        value, digit = divmod(value, 62)
        digits = _BASE62[digit] + digits
    return digits.rjust(width, "0")


def forge_key(prefix: str = "pcik_", key_id: str | None = None, secret: str | None = None) -> str:
    """A well-formed key an attacker could write: right prefix, lengths and checksum, any id and secret.

    Written here from the documented format (ADR 0004) rather than imported, so the
    test does not trust the code it tests to define what "well-formed" means.
    """
    key_id = key_id or "".join(secrets.choice(_BASE62) for _ in range(13))
    secret = secret or "".join(secrets.choice(_BASE62) for _ in range(43))
    body = f"{prefix}{key_id}_{secret}"
    return body + _base62(zlib.crc32(body.encode("ascii")), 6)


def key_id_of(key: str) -> str:
    """The public id part of a key's text."""
    return key[5:18]


def json_of(response: httpx2.Response) -> dict[str, Any]:
    """The body as a JSON object (fails the test with the body when it is not one)."""
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict), response.text
    return body
