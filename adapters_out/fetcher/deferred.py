"""A fetcher (and a webhook sender) built on first use.

The HTTP fetcher imports the HTTP client (http.client, ssl, email): about a third
of the start-up of a process, and most processes never pull a feed (`ingest`,
`validate`, an HTTP instance without scheduled pulls). The composition root wraps
it in this, so only a process that fetches pays for those imports, when it does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from partner_ingest.ports.fetcher import FeedFetcher, FetchRequest, FetchResult
from partner_ingest.ports.webhooks import WebhookSender, WebhookSent

__all__ = ["DeferredFetcher", "DeferredWebhookSender"]


class DeferredFetcher:
    """A `FeedFetcher` that builds the real one (`build()`) the first time it is asked to fetch."""

    def __init__(self, build: Callable[[], FeedFetcher]) -> None:
        self._build = build
        self._fetcher: FeedFetcher | None = None
        self._lock = threading.Lock()

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch through the real fetcher, built now if this is the first fetch."""
        fetcher = self._fetcher
        if fetcher is None:
            with self._lock:
                if self._fetcher is None:
                    self._fetcher = self._build()
                fetcher = self._fetcher
        return fetcher.fetch(request)


class DeferredWebhookSender:
    """A `WebhookSender` that builds the real one (`build()`) on its first delivery: the HTTP
    sender imports the HTTP client too, and most processes never deliver."""

    def __init__(self, build: Callable[[], WebhookSender]) -> None:
        self._build = build
        self._sender: WebhookSender | None = None
        self._lock = threading.Lock()

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookSent:
        """Send through the real sender, built now if this is the first delivery."""
        sender = self._sender
        if sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = self._build()
                sender = self._sender
        return sender.send(url, headers, body)
