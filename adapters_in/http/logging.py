"""The access log: one line per answered request, in the format of every other line (../logs.py).

The access line carries the request id (also in the `X-Request-ID` header and
every error body), the route template, status, duration, client address,
partner id and key id, and the outcome. It never carries a header, a query
string or a body, so no API key or partner credential can reach the log; as a
second line of defence, anything shaped like one of our keys is masked by the
formatter before a line is written.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Final

from partner_ingest.adapters_in.logs import JsonFormatter, configure_logging, json_line, mask_keys

from ._context import RequestInfo

__all__ = ["JsonFormatter", "access_log", "configure_logging", "log_request", "mask_keys"]

access_log: Final = logging.getLogger("partner_ingest.http")


def log_request(info: RequestInfo, *, method: str, route: str, status: int, seconds: float) -> None:
    """The access line of one answered request."""
    level = logging.ERROR if status >= 500 else logging.INFO
    if not access_log.isEnabledFor(level):
        return  # nothing to build a line for (LOG_LEVEL=WARNING and above)
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
    handler = _lone_json_handler(level)
    if handler is not None:
        _write(handler, level, fields)
        return
    # The record made directly: Logger.log would walk the stack for a caller's file and line
    # that the access line does not carry, and that walk was a fifth of its cost.
    access_log.handle(_record(level, fields))


def _record(level: int, fields: dict[str, Any]) -> logging.LogRecord:
    return access_log.makeRecord(access_log.name, level, "(access)", 0, "request", (), None, extra=fields)


def _lone_json_handler(level: int) -> logging.StreamHandler[Any] | None:
    """The one handler an access line reaches, when it is configure_logging's JSON stream handler:
    then the line is written to its stream as its `emit` would, without the record, the walk up
    the loggers and the formatter's lookups (ADR 0045). None for any other set-up (a filter, a
    second handler, the text format, a test's capture): then through `logging`, as any line."""
    logger: logging.Logger | None = access_log
    if access_log.disabled or access_log.filters:
        return None
    while logger is not None and logger.parent is not None:  # up to, not including, the root
        if logger.handlers or not logger.propagate:
            return None
        logger = logger.parent
    if logger is None or len(logger.handlers) != 1:
        return None
    handler = logger.handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.filters
        or level < handler.level
    ):
        return None
    return handler


class _StepLines(threading.local):
    """The access lines a thread's event loop made in its current step, not yet written."""

    def __init__(self) -> None:
        self.lines: list[tuple[logging.StreamHandler[Any], str, int, dict[str, Any]]] = []


_STEP: Final = _StepLines()


def _write(handler: logging.StreamHandler[Any], level: int, fields: dict[str, Any]) -> None:
    """What `StreamHandler.emit` of a `JsonFormatter` record does, the record left out.

    On an event loop the line is written at the end of the loop's current step, with the
    other lines of that step: one write to the stream (one system call, which lets the GIL
    go) for all the requests a step answers, where each line was one. The lines are the same,
    in the same order; a line another logger writes in the same step may come before them.
    """
    line = json_line(time.time(), logging.getLevelName(level).lower(), access_log.name, "request", fields)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on a loop: at once, as emit does
        _write_lines(handler, [(handler, line, level, fields)])
        return
    step = _STEP.lines
    step.append((handler, line, level, fields))
    if len(step) == 1:
        loop.call_soon(_write_step)


def _write_step() -> None:
    lines, _STEP.lines = _STEP.lines, []
    start = 0
    for end in range(1, len(lines) + 1):  # runs of one handler (nearly always all of them)
        if end == len(lines) or lines[end][0] is not lines[start][0]:
            _write_lines(lines[start][0], lines[start:end])
            start = end


def _write_lines(
    handler: logging.StreamHandler[Any],
    lines: list[tuple[logging.StreamHandler[Any], str, int, dict[str, Any]]],
) -> None:
    terminator = handler.terminator
    handler.acquire()
    try:
        handler.stream.write("".join(line + terminator for _, line, _, _ in lines))
        handler.flush()
    except RecursionError:
        raise
    except Exception:  # as emit does: the handler reports it (for each line), the request goes on
        for _, _, level, fields in lines:
            handler.handleError(_record(level, fields))
    finally:
        handler.release()
