"""Reading typed values out of headers, query strings and JSON bodies, with precise errors.

Headers and query parameters fail on the first bad one (400 `invalid_header`,
`invalid_parameter`; a query parameter the operation does not declare is 400
`unknown_parameter`, and an empty one is refused like any other bad value); a JSON body collects every problem of every field before
answering (422 `invalid_request`, `details.problems`), like the feed validator.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from starlette.requests import Request

from partner_ingest.domain.model.feed_mode import FeedMode
from partner_ingest.domain.model.policy import Mode, ValidationPolicy
from partner_ingest.domain.use_cases.manage_partners import UNSET, Unset

from ._context import request_header
from .errors import BadRequest, InvalidRequest

__all__ = [
    "INT64_MAX",
    "MAX_PARTNER_ID",
    "JsonFields",
    "header_bool",
    "header_int",
    "header_mode",
    "header_token",
    "query_datetime",
    "query_enum",
    "query_int",
    "query_optional_int",
    "query_text",
    "refuse_unknown_parameters",
]

E = TypeVar("E", bound=enum.Enum)
_TOKEN: Final = re.compile(r"[\x21-\x7e]{1,255}")
MAX_PARTNER_ID: Final = 64
"""The longest partner id (they match ^[a-z0-9][a-z0-9_-]{0,63}$)."""
INT64_MAX: Final = 2**63 - 1
"""The largest integer any parameter or field may carry: SQLite's and PostgreSQL's bigint."""
_TRUE: Final = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _bad_header(name: str, message: str) -> BadRequest:
    return BadRequest(f"header {name}: {message}", code="invalid_header", details={"header": name})


def header_int(request: Request, name: str, *, minimum: int = 1) -> int | None:
    """A whole-number header (None when absent)."""
    raw = request_header(request, name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 9 or int(raw) < minimum:
        raise _bad_header(name, f"must be a whole number of at least {minimum}, got {raw[:40]!r}")
    return int(raw)


def header_bool(request: Request, name: str) -> bool | None:
    """`true` or `false` (None when absent)."""
    raw = request_header(request, name)
    if raw is None:
        return None
    value = _TRUE.get(raw.strip().lower())
    if value is None:
        raise _bad_header(name, f"must be true or false, got {raw[:40]!r}")
    return value


def header_token(request: Request, name: str) -> str | None:
    """1-255 visible ASCII characters (an Idempotency-Key), None when absent."""
    raw = request_header(request, name)
    if raw is None:
        return None
    if not _TOKEN.fullmatch(raw.strip()):
        raise _bad_header(name, "must be 1-255 visible ASCII characters")
    return raw.strip()


def header_feed_mode(request: Request, name: str = "X-Feed-Mode") -> FeedMode | None:
    """`upsert`, `snapshot` or `patch` (None when absent)."""
    raw = request_header(request, name)
    if raw is None:
        return None
    try:
        return FeedMode(raw.strip().lower())
    except ValueError:
        raise _bad_header(name, f"must be upsert, snapshot or patch, got {raw[:40]!r}") from None


def header_mode(request: Request, name: str) -> Mode | None:
    """`strict` or `lenient` (None when absent)."""
    raw = request_header(request, name)
    if raw is None:
        return None
    try:
        return Mode(raw.strip().lower())
    except ValueError:
        raise _bad_header(name, f"must be strict or lenient, got {raw[:40]!r}") from None


def _bad_param(name: str, message: str) -> BadRequest:
    return BadRequest(f"parameter {name}: {message}", code="invalid_parameter", details={"parameter": name})


def _query_value(request: Request, name: str) -> str | None:
    """The one reading of a query parameter every typed read below goes through.

    Absent: None (the default applies). Empty (`?limit=`) or given twice: 400, since
    either is a client mistake that reading as absent, or taking the last, would hide.
    """
    if not request.scope.get("query_string"):
        return None  # no query at all (most requests): nothing to parse
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise _bad_param(name, "given more than once")
    if values[0] == "":
        raise _bad_param(name, "is empty: leave the parameter out to use its default")
    return values[0]


def refuse_unknown_parameters(request: Request, known: Collection[str]) -> None:
    """400 `unknown_parameter` naming every query parameter the operation does not declare
    (a misspelt `limt=5` would otherwise be ignored and answer a default page)."""
    if not request.scope.get("query_string"):
        return  # most requests have no query: not even an empty one is parsed
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        shown = [name[:64] for name in unknown[:10]]
        raise BadRequest(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(shown)}",
            code="unknown_parameter",
            details={"parameters": shown, "known": sorted(known)},
        )


def query_int(
    request: Request, name: str, default: int, *, minimum: int = 0, maximum: int = INT64_MAX
) -> int:
    """A whole-number query parameter, `default` when absent."""
    found = query_optional_int(request, name, minimum=minimum, maximum=maximum)
    return default if found is None else found


def query_optional_int(
    request: Request, name: str, *, minimum: int = 0, maximum: int = INT64_MAX
) -> int | None:
    """A whole number from `minimum` to `maximum` (at most INT64_MAX, what every store can
    hold), None when absent. Refused past its bounds, never clamped: the document declares them."""
    raw = _query_value(request, name)
    if raw is None:
        return None
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw) > 19
        or not minimum <= int(raw) <= min(maximum, INT64_MAX)
    ):
        raise _bad_param(name, f"must be a whole number from {minimum} to {maximum}, got {raw[:40]!r}")
    return int(raw)


def query_instant(request: Request, name: str = "at") -> datetime | None:
    """An RFC 3339 date-time with its offset (None when absent); 400 otherwise."""
    raw = _query_value(request, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad_param(name, f"must be an RFC 3339 date-time, got {raw[:40]!r}") from None
    if moment.tzinfo is None:
        raise _bad_param(name, "needs its offset (Z or +01:00)")
    return moment


def query_retired(request: Request) -> bool:
    """`?retired=true`: retired products instead of active ones (ADR 0036); 400 for another value."""
    raw = _query_value(request, "retired")
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise _bad_param("retired", f"must be true or false, got {raw[:40]!r}")


def query_text(request: Request, name: str, *, max_length: int = 200) -> str | None:
    """A text query parameter of 1 to `max_length` characters (None when absent)."""
    raw = _query_value(request, name)
    if raw is None:
        return None
    if len(raw) > max_length:
        raise _bad_param(name, f"at most {max_length} characters")
    return raw


def query_enum(request: Request, name: str, kind: type[E]) -> E | None:
    """One of an enum's values."""
    raw = _query_value(request, name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        known = ", ".join(str(m.value) for m in kind)
        raise _bad_param(name, f"must be one of {known}") from None


def query_datetime(request: Request, name: str) -> datetime | None:
    """An ISO 8601 moment; without a zone it is read as UTC."""
    raw = _query_value(request, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise _bad_param(
            name, f"must be an ISO 8601 time such as 2026-01-31T12:00:00Z, got {raw[:40]!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class JsonFields:
    """Typed reads of a JSON object's fields, collecting every problem; `done()` raises them.

    An absent field reads as UNSET (so an update leaves it alone); `null` is a value
    only where the field is nullable.
    """

    def __init__(self, data: Mapping[str, Any], known: Collection[str]) -> None:
        self._data = data
        self.problems: dict[str, str] = {name: "unknown field" for name in data if name not in known}

    def _get(self, name: str, kinds: tuple[type, ...], what: str, nullable: bool) -> Any:  # noqa: ANN401
        if name not in self._data:
            return UNSET
        value = self._data[name]
        if value is None and nullable:
            return None
        # JSON has one number type: 60.0 is the integer 60 (as JSON Schema's "integer" says).
        if int in kinds and isinstance(value, float) and value.is_integer():
            value = int(value)
        # bool is an int in Python, never in JSON.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            self.problems[name] = f"must be {what}{' or null' if nullable else ''}"
            return UNSET
        return value

    def text(self, name: str) -> str | Unset:
        """A string field."""
        result: str | Unset = self._get(name, (str,), "a string", False)
        return result

    def optional_text(self, name: str) -> str | Unset | None:
        """A string field that may be null."""
        result: str | Unset | None = self._get(name, (str,), "a string", True)
        return result

    def integer(self, name: str) -> int | Unset:
        """A whole-number field within 64 bits."""
        result: int | Unset = self._within_int64(name, self._get(name, (int,), "a whole number", False))
        return result

    def optional_integer(self, name: str) -> int | Unset | None:
        """A whole-number field within 64 bits that may be null."""
        result: int | Unset | None = self._within_int64(name, self._get(name, (int,), "a whole number", True))
        return result

    def _within_int64(self, name: str, value: Any) -> Any:  # noqa: ANN401
        # JSON numbers have no bound, the stores' integers do: refused here, never an overflow there.
        if isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
            self.problems[name] = f"must be a whole number from {-INT64_MAX - 1} to {INT64_MAX}"
            return UNSET
        return value

    def boolean(self, name: str) -> bool | Unset:
        """true or false."""
        result: bool | Unset = self._get(name, (bool,), "true or false", False)
        return result

    def moment(self, name: str) -> datetime | Unset:
        """An ISO 8601 time; without a zone it is read as UTC."""
        value = self._get(name, (str,), "an ISO 8601 time", False)
        if not isinstance(value, str):
            return UNSET
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.problems[name] = "must be an ISO 8601 time such as 2026-01-31T12:00:00Z"
            return UNSET
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def string_map(self, name: str) -> dict[str, str] | Unset:
        """An object of string values."""
        value = self._get(name, (dict,), "an object of strings", False)
        if isinstance(value, dict) and not all(isinstance(v, str) for v in value.values()):
            self.problems[name] = "must be an object of strings"
            return UNSET
        result: dict[str, str] | Unset = value
        return result

    def feed_mode(self, name: str) -> FeedMode | Unset:
        """upsert, snapshot or patch."""
        value = self.text(name)
        if isinstance(value, str):
            try:
                return FeedMode(value)
            except ValueError:
                self.problems[name] = "must be upsert, snapshot or patch"
        return UNSET

    def policy(self, name: str) -> ValidationPolicy | Unset:
        """A validation policy `{mode, atomic, max_error_ratio}`; missing keys take their defaults."""
        value = self._get(name, (dict,), "an object", False)
        if not isinstance(value, dict):
            return UNSET
        inner = JsonFields(value, ("mode", "atomic", "max_error_ratio"))
        mode = inner.text("mode")
        atomic = inner.boolean("atomic")
        ratio = self._ratio(inner, value.get("max_error_ratio", 1.0))
        if mode is not UNSET and mode not in tuple(Mode):
            inner.problems["mode"] = "must be strict or lenient"
        for key, why in inner.problems.items():
            self.problems[f"{name}.{key}"] = why
        if inner.problems:
            return UNSET
        return ValidationPolicy(
            mode=Mode(mode) if isinstance(mode, str) else Mode.STRICT,
            atomic=atomic if isinstance(atomic, bool) else False,
            max_error_ratio=ratio,
        )

    @staticmethod
    def _ratio(inner: JsonFields, raw: object) -> float:
        # Absent is the default (1.0: no limit); null is not a number, so refused like one.
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.0 <= raw <= 1.0:
            inner.problems["max_error_ratio"] = "must be a number from 0 to 1"
            return 1.0
        return float(raw)

    def done(self) -> None:
        """InvalidRequest listing every problem found, if any."""
        if self.problems:
            raise InvalidRequest(
                "the request body has invalid fields",
                details={"problems": dict(sorted(self.problems.items()))},
            )
