"""The library's exceptions: one root, a few bases by meaning, small subclasses with structure.

Item-level problems are values (`ItemError`), never exceptions. These are for
what a caller must stop on. Every error derives from one of the bases (invalid,
denied, not found, conflict, too large, unavailable, and the refinements HTTP
needs: unreadable, unsupported, unauthenticated, rate limited), and carries its
own `code` and `details`; the inbound adapters map only the bases, each in one
place, so a new error needs no new mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report import ErrorCode, FeedError, Location

__all__ = [
    "ConflictError",
    "DeniedError",
    "IdempotencyKeyNamesJob",
    "IdempotencyKeyReused",
    "IdempotencyKeyTaken",
    "PolicyOverrideDenied",
    "RateLimitedError",
    "TooLargeError",
    "UnauthenticatedError",
    "FeedRejectedError",
    "IngestError",
    "InvalidCursor",
    "InvalidError",
    "MalformedFeedError",
    "NotFoundError",
    "UnavailableError",
    "UnknownFormatError",
    "UnknownVersionError",
    "UnreadableError",
    "UnsupportedError",
]


class IngestError(Exception):
    """Root of every error this library raises on purpose."""

    code: str = "ingest_error"

    @property
    def details(self) -> dict[str, Any]:
        """What a caller may be told beyond the message, as plain JSON values (never a secret,
        never whether something exists that the caller may not see)."""
        return {}


# --- The bases, by meaning: every error derives from one, and the inbound adapters map
# --- only these (HTTP statuses in adapters_in/http/errors.py, exit codes in the CLI).


class InvalidError(IngestError):
    """The request, the document or the setting is wrong as sent; sending it again will not help."""

    code = "invalid"


class UnreadableError(InvalidError):
    """The request names something this service cannot read at all (a header value, a version)."""

    code = "bad_request"


class UnsupportedError(InvalidError):
    """The request is in a form (a media type, an encoding) this service does not take."""

    code = "unsupported_media_type"


class DeniedError(IngestError):
    """The caller may not do this."""

    code = "forbidden"


class UnauthenticatedError(DeniedError):
    """The caller could not be told apart from anybody (no valid credential)."""

    code = "unauthenticated"


class RateLimitedError(DeniedError):
    """Too much, too fast: come back after `retry_after` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(IngestError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    code = "not_found"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key

    @property
    def details(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.key}


class ConflictError(IngestError):
    """The request contradicts what is stored (a duplicate id, a stale lease, a state that does
    not allow it)."""

    code = "conflict"


class InvalidCursor(InvalidError):
    """A change-feed cursor this store never gave (a typo, or another store's)."""

    code = "invalid_cursor"


class TooLargeError(IngestError):
    """Larger than this operation takes (its details say how large it may be)."""

    code = "too_large"


class UnavailableError(IngestError):
    """Something the library depends on (the store) cannot serve now; the same request may
    succeed later. Callers retry: HTTP answers 503, a worker retries the job with backoff
    instead of giving it up. The storage adapters raise its subclasses."""

    code = "unavailable"


# --- The domain's own errors.


class MalformedFeedError(InvalidError):
    """The document cannot be read as its format (syntax, encoding, markup, limits)."""

    code = "malformed_feed"

    def __init__(
        self, code: ErrorCode, message: str, location: Location | None = None, hint: str | None = None
    ) -> None:
        # The report's types when a feed is malformed, not wherever an error is caught (every
        # command's start catches these).
        from .report import FeedError

        super().__init__(message)
        self.error = FeedError(code, message, location, hint)

    @property
    def details(self) -> dict[str, Any]:
        return {"feed_error": self.error.to_json()}

    @classmethod
    def not_utf8(cls, data: bytes, error: UnicodeDecodeError, *, line: int) -> MalformedFeedError:
        """The error for line `line` of a text feed, `data`, that is not UTF-8 where `error`
        says: located at the line and the character column, for the built-in formats and
        third-party line-based ones alike."""
        from .report import ErrorCode, Location

        column = len(data[: error.start].decode("utf-8", "replace")) + 1
        return cls(
            ErrorCode.ENCODING,
            f"line {line}, column {column}: the feed is not valid UTF-8 ({error.reason})",
            Location(line=line, column=column),
        )


class FeedRejectedError(InvalidError):
    """A feed was refused as a whole; carries the feed error for the report."""

    code = "feed_rejected"

    def __init__(self, error: FeedError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def details(self) -> dict[str, Any]:
        return {"feed_error": self.error.to_json()}


class UnknownFormatError(UnsupportedError):
    """No registered feed format accepts this media type or name."""

    code = "unsupported_media_type"

    def __init__(self, requested: str, supported: Sequence[str]) -> None:
        super().__init__(f"no feed format for {requested!r}; supported: {', '.join(supported)}")
        self.requested = requested
        self.supported = tuple(supported)

    @property
    def details(self) -> dict[str, Any]:
        return {"requested": self.requested, "supported": list(self.supported)}


class UnknownVersionError(UnreadableError):
    """The format exists, but not in the requested version."""

    code = "unknown_feed_version"

    def __init__(self, format_name: str, version: object, available: Sequence[int]) -> None:
        listed = ", ".join(str(v) for v in available)
        super().__init__(f"{format_name} feeds have no version {version!r}; available: {listed}")
        self.format_name = format_name
        self.version = version
        self.available = tuple(available)

    @property
    def details(self) -> dict[str, Any]:
        return {"format": self.format_name, "requested": self.version, "available": list(self.available)}


class PolicyOverrideDenied(DeniedError):
    """The request asked for its own validation policy; this partner may not."""

    code = "policy_override_denied"


class IdempotencyKeyReused(InvalidError):
    """An Idempotency-Key came back with a different request: what `differs` names
    (body, format, version, validation mode, atomic, ...). The first request stands."""

    code = "idempotency_key_reused"

    def __init__(self, key: str, differs: Sequence[str]) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was first used for a different request ({', '.join(differs)} "
            "differ): send a new key for a new request"
        )
        self.key = key
        self.differs = tuple(differs)

    @property
    def details(self) -> dict[str, Any]:
        return {"differs": list(self.differs)}


class IdempotencyKeyTaken(ConflictError):
    """The store refused to record an Idempotency-Key another request recorded first
    (two requests under one key at once); the loser answers as a repeat of the winner."""

    code = "idempotency_key_taken"


class IdempotencyKeyNamesJob(ConflictError):
    """The Idempotency-Key was first used for a job that has no report yet (queued,
    running) or never will (dead, cancelled): the job is the answer, not this request."""

    code = "idempotency_key_names_job"

    def __init__(self, key: str, job_id: str, status: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was first used for job {job_id!r}, which is {status}: "
            f"its report will be at /partner/jobs/{job_id}"
        )
        self.key = key
        self.job_id = job_id
        self.status = status

    @property
    def details(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": self.status}
