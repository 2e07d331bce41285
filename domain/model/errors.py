"""The domain's exceptions: one root, small subclasses carrying structured attributes.

Item-level problems are values (`ItemError`), never exceptions. These are for
what a caller must stop on. Only the inbound adapters turn them into HTTP
responses or exit codes, each in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from .report import ErrorCode, FeedError, Location

__all__ = [
    "ConflictError",
    "IdempotencyKeyNamesJob",
    "IdempotencyKeyReused",
    "IdempotencyKeyTaken",
    "PolicyOverrideDenied",
    "FeedRejectedError",
    "IngestError",
    "MalformedFeedError",
    "NotFoundError",
    "UnavailableError",
    "UnknownFormatError",
    "UnknownVersionError",
]


class IngestError(Exception):
    """Root of every error this library raises on purpose."""

    code: str = "ingest_error"


class UnavailableError(IngestError):
    """Something the library depends on (the store) cannot serve now; the same request may
    succeed later. Callers retry: HTTP answers 503, a worker retries the job with backoff
    instead of giving it up. The storage adapters raise its subclasses."""

    code = "unavailable"


class MalformedFeedError(IngestError):
    """The document cannot be read as its format (syntax, encoding, markup, limits)."""

    code = "malformed_feed"

    def __init__(self, code: ErrorCode, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.error = FeedError(code, message, location)

    @classmethod
    def not_utf8(cls, data: bytes, error: UnicodeDecodeError, *, line: int) -> MalformedFeedError:
        """The error for line `line` of a text feed, `data`, that is not UTF-8 where `error`
        says: located at the line and the character column, for the built-in formats and
        third-party line-based ones alike."""
        column = len(data[: error.start].decode("utf-8", "replace")) + 1
        return cls(
            ErrorCode.ENCODING,
            f"line {line}, column {column}: the feed is not valid UTF-8 ({error.reason})",
            Location(line=line, column=column),
        )


class FeedRejectedError(IngestError):
    """A feed was refused as a whole; carries the feed error for the report."""

    code = "feed_rejected"

    def __init__(self, error: FeedError) -> None:
        super().__init__(error.message)
        self.error = error


class UnknownFormatError(IngestError):
    """No registered feed format accepts this media type or name."""

    code = "unsupported_media_type"

    def __init__(self, requested: str, supported: Sequence[str]) -> None:
        super().__init__(f"no feed format for {requested!r}; supported: {', '.join(supported)}")
        self.requested = requested
        self.supported = tuple(supported)


class UnknownVersionError(IngestError):
    """The format exists, but not in the requested version."""

    code = "unknown_feed_version"

    def __init__(self, format_name: str, version: object, available: Sequence[int]) -> None:
        listed = ", ".join(str(v) for v in available)
        super().__init__(f"{format_name} feeds have no version {version!r}; available: {listed}")
        self.format_name = format_name
        self.version = version
        self.available = tuple(available)


class NotFoundError(IngestError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    code = "not_found"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(IngestError):
    """The request contradicts what is stored (a duplicate id, a stale lease)."""

    code = "conflict"


class PolicyOverrideDenied(IngestError):
    """The request asked for its own validation policy; this partner may not."""

    code = "policy_override_denied"


class IdempotencyKeyReused(IngestError):
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
