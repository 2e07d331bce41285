"""The feed fetcher port: pulling a partner's feed from the partner's own URL."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import BinaryIO, Protocol

import attrs

from partner_ingest.domain.model.circuits import CircuitState

__all__ = [
    "CircuitState",
    "FeedFetcher",
    "FetchOutcome",
    "FetchRequest",
    "FetchResult",
]


class FetchOutcome(enum.StrEnum):
    """How a fetch ended; every outcome is audited. Values are added, never renamed."""

    FETCHED = "fetched"
    NOT_MODIFIED = "not_modified"
    REFUSED_ADDRESS = "refused_address"
    """The URL, or a redirect, leads to an address or scheme the platform never fetches."""
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    HTTP_ERROR = "http_error"
    BAD_CONTENT_TYPE = "bad_content_type"
    CONNECTION_ERROR = "connection_error"
    CIRCUIT_OPEN = "circuit_open"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    INVALID_RESPONSE = "invalid_response"
    """The endpoint answered with something that is not valid HTTP (or a corrupt encoding)."""
    INVALID_REQUEST = "invalid_request"
    """The request itself is unusable (malformed URL or header): a configuration problem."""


@attrs.frozen
class FetchRequest:
    """What to fetch; `headers` carry decrypted credentials and must never be logged."""

    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    etag: str | None = None
    last_modified: str | None = None
    accept: tuple[str, ...] = ()
    """Media types acceptable for the partner's format (`type/*` and `*/*` allowed); empty: any."""
    partner_id: str | None = None
    """Whose feed this is: a circuit breaker keeps one circuit per partner and URL (ADR 0014)."""


@attrs.frozen
class FetchResult:
    """What came back. `body` is set only when outcome is FETCHED; the caller closes it.

    `host` is the host of the last URL tried (after redirects); `bytes` is the size of
    `body` after content decoding. `detail` is for people and audit: it never holds a
    header value, a URL path or query (either may carry a credential), or body content.
    """

    outcome: FetchOutcome
    host: str
    status: int | None = None
    bytes: int = 0
    duration_seconds: float = 0.0
    body: BinaryIO | None = attrs.field(default=None, repr=False, eq=False)
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    detail: str = ""


class FeedFetcher(Protocol):
    """Fetches one URL safely (address checks, timeouts, size cap) behind a circuit breaker
    (`CIRCUIT_OPEN`: no request was made; `CircuitState` names where a circuit stands)."""

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Never raises for network problems: every failure is an outcome."""
