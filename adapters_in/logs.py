"""Log lines of every `partner-ingest` process: one JSON object per line (or text), keys masked.

`configure_logging(settings)` sends every logger to stderr in the format and at the
level the settings name (PARTNER_INGEST_LOG_FORMAT, PARTNER_INGEST_LOG_LEVEL). Every
process calls it: `serve`, `worker` and `scheduler` alike, so a deployment's log
pipeline reads one format, with the fields the code logs (job id, outcome,
schedule...) on every line. Anything shaped like one of our API keys is masked by
the formatter before a line is written.

No Starlette here: `worker` and `scheduler` run on an install without the `server` extra.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final

from partner_ingest.adapters_in.settings import Settings

__all__ = ["JsonFormatter", "configure_logging", "json_line", "mask_keys"]

# Record attributes that are not "extra" fields (uvicorn adds an ANSI-coloured copy of its message).
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}
_KEY: Final = re.compile(r"\b(pci[ka]_[0-9A-Za-z]{13}_)[0-9A-Za-z]{10,}")


def mask_keys(text: str) -> str:
    """Replace the secret part of anything that looks like an API key by `****`."""
    # Every key starts "pci": a line without it (nearly all) skips the regex's scan, which
    # tried a word boundary at every character of every access line.
    if "pci" not in text:
        return text
    return _KEY.sub(r"\1****", text)


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    """The fields the code passed with `extra=` (job id, outcome, ...)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def json_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    fields: Mapping[str, Any],
    exception: str | None = None,
) -> str:
    """One JSON line: what `JsonFormatter` writes for a record of these, keys masked."""
    out: dict[str, Any] = {
        "ts": _line_time(created),
        "level": level,
        "logger": logger,
        "message": message,
        **fields,
    }
    if exception is not None:
        out["exception"] = exception
    return mask_keys(_encode(out))


def _line_time(created: float) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, the same text.

    The text up to the second is made once a second: the date's formatting was a quarter of the
    cost of the access line every request writes (ADR 0045). `fromtimestamp` rounds the fraction
    to microseconds half to even, which `round` of the same product does, and the text keeps
    their milliseconds."""
    global _line_second  # a cache of one entry, replaced whole (read by any thread)
    if not math.isfinite(created):  # no time at all: refused as fromtimestamp refuses it
        return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    fraction, whole = math.modf(created)
    micro = round(fraction * 1e6)
    second = int(whole)
    if micro >= 1_000_000:
        micro -= 1_000_000
        second += 1
    elif micro < 0:
        micro += 1_000_000
        second -= 1
    known, text = _line_second
    if known != second:
        try:
            text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:19]
        except (OverflowError, OSError, ValueError):  # out of datetime's range: fails as before
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        _line_second = (second, text)
    return f"{text}.{micro // 1000:03d}+00:00"


_line_second: tuple[int, str] = (0, "1970-01-01T00:00:00")
"""The second `_line_time` last wrote, and its text up to the second (replaced whole)."""


# What json.dumps(default=str, ensure_ascii=False) builds for each call, built once.
_ENCODER: Final = json.JSONEncoder(default=str, ensure_ascii=False)


def _encode(value: dict[str, Any]) -> str:
    """`_ENCODER.encode(value)`, the same text, from the json module's C encoder called directly.

    `JSONEncoder.encode` reaches that encoder through `iterencode`, whose Python-level set-up
    (the float writer it defines, the checks of its options) was half the cost of the access
    line every request writes (ADR 0045). The encoder is made for each line, as `iterencode`
    makes it, so each has its own circular-reference markers (a line that failed half way
    cannot leave its markers to the next)."""
    if _C_ENCODER is None:  # pragma: no cover - a Python without the json module's C part
        return _ENCODER.encode(value)
    # Arguments as `JSONEncoder.iterencode` passes them for `_ENCODER`: markers, default,
    # string writer, indent, key and item separators, sort_keys, skipkeys, allow_nan.
    return "".join(_C_ENCODER({}, str, encode_basestring, None, ": ", ", ", False, False, True)(value, 0))


_C_ENCODER: Final[Callable[..., Callable[[object, int], tuple[str, ...]]] | None] = c_make_encoder


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ...extra fields, "exception"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return json_line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            _extra(record),
            exception,
        )


class _TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`: the extra fields too, or a job id is lost."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in _extra(record).items())
        if fields:
            head, newline, rest = line.partition("\n")  # after the message, before a traceback
            line = f"{head} {fields}{newline}{rest}"
        return mask_keys(line)


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
