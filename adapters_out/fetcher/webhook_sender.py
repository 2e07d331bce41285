"""`HttpWebhookSender`: POSTs a signed webhook event through the pull fetcher's safety checks.

The receiver's host is resolved by us, every address checked by the same `AddressPolicy`
as scheduled pulls, and the connection pinned to a checked address (`HttpFeedFetcher.connect`),
so a webhook URL can no more reach the platform's own network than a feed URL. A redirect
is not followed: it counts as a failed attempt (Standard Webhooks receivers answer 2xx).
Only the status is read from the answer, and at most a few KiB of its body are drained.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping
from typing import Final

from partner_ingest.ports.webhooks import WebhookSent

from ._connection import Deadline
from ._request import FetchStoppedError, checked_headers, parse_target
from .http_fetcher import DEFAULT_USER_AGENT, HttpFeedFetcher

__all__ = ["HttpWebhookSender"]

_DRAIN: Final = 4096
_WEBHOOK_AGENT: Final = DEFAULT_USER_AGENT.replace("scheduled feed pull", "webhook")


class HttpWebhookSender:
    """A `WebhookSender` over the fetcher's pinned connections, with its own total timeout."""

    def __init__(self, fetcher: HttpFeedFetcher, *, timeout_seconds: float = 10.0) -> None:
        self._fetcher = fetcher
        self._timeout = timeout_seconds

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookSent:
        """POST `body` to `url`; every failure is a result, never an exception."""
        monotonic = time.monotonic
        started = monotonic()
        deadline = Deadline(monotonic, self._timeout, self._timeout)
        try:
            sent = self._post(url, headers, body, deadline)
        except FetchStoppedError as stop:
            sent = WebhookSent(False, stop.status, f"{stop.outcome}: {stop.detail}"[:200])
        except TimeoutError:
            sent = WebhookSent(False, None, f"timeout: no answer within {self._timeout:g}s")
        except ssl.SSLError as error:
            sent = WebhookSent(
                False, None, f"connection_error: TLS failed: {error.reason or type(error).__name__}"
            )
        except (OSError, http.client.HTTPException) as error:
            sent = WebhookSent(False, None, f"connection_error: {type(error).__name__}")
        return WebhookSent(sent.delivered, sent.status, sent.detail, monotonic() - started)

    def _post(self, url: str, headers: Mapping[str, str], body: bytes, deadline: Deadline) -> WebhookSent:
        target = parse_target(url, redirect=False)
        sendable = checked_headers(headers)
        connection = self._fetcher.connect(target, deadline)
        try:
            connection.putrequest("POST", target.path, skip_accept_encoding=True)
            connection.putheader("User-Agent", _WEBHOOK_AGENT)
            connection.putheader("Content-Length", str(len(body)))
            for name, value in sendable.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            try:
                response.read(_DRAIN)
            finally:
                response.close()
        finally:
            connection.close()
        status = response.status
        if 200 <= status < 300:
            return WebhookSent(True, status, f"{target.origin} answered {status}")
        return WebhookSent(False, status, f"http_error: {target.origin} answered {status}")
