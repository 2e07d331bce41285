"""Structured logs: one JSON object per line, one access line per request.

The access line carries the request id (also in the `X-Request-ID` header and
every error body), the route template, status, duration, client address,
partner id and key id, and the outcome. It never carries a header, a query
string or a body, so no API key or partner credential can reach the log; as a
second line of defence, anything shaped like one of our keys is masked by the
formatter before a line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final

from partner_ingest.adapters_in.settings import Settings

from ._context import RequestInfo

__all__ = ["JsonFormatter", "access_log", "configure_logging", "log_request", "mask_keys"]

access_log: Final = logging.getLogger("partner_ingest.http")

# Record attributes that are not "extra" fields (uvicorn adds an ANSI-coloured copy of its message).
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}
_KEY: Final = re.compile(r"\b(pci[ka]_[0-9A-Za-z]{13}_)[0-9A-Za-z]{10,}")


def mask_keys(text: str) -> str:
    """Replace the secret part of anything that looks like an API key by `****`."""
    return _KEY.sub(r"\1****", text)


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ...extra fields, "exception"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return mask_keys(json.dumps(out, default=str, ensure_ascii=False))


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_keys(super().format(record))


def configure_logging(settings: Settings) -> None:
    """Send every logger (ours and uvicorn's) to stderr in the configured format and level."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def log_request(info: RequestInfo, *, method: str, route: str, status: int, seconds: float) -> None:
    """The access line of one answered request."""
    principal = info.principal
    if status >= 500:
        outcome = "error"
    elif status in (401, 403, 429):
        outcome = "denied"
    elif status >= 400:
        outcome = "rejected"
    else:
        outcome = "ok"
    fields: dict[str, Any] = {
        "request_id": info.request_id,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "client": info.client,
        "partner_id": principal.partner_id if principal is not None else None,
        "key_id": principal.key_id if principal is not None else None,
        "outcome": outcome,
        "error": info.error,
        **info.fields,
    }
    level = logging.ERROR if status >= 500 else logging.INFO
    access_log.log(level, "request", extra=fields)
