"""The webhook sender port: POSTing a signed event to a partner's receiver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

__all__ = ["WebhookSender", "WebhookSent"]


@attrs.frozen
class WebhookSent:
    """How one POST went. `delivered`: the receiver answered 2xx. `detail` never holds a header
    value, a URL path or query, or the receiver's body."""

    delivered: bool
    status: int | None = None
    detail: str = ""
    duration_seconds: float = 0.0


class WebhookSender(Protocol):
    """Sends one POST safely: the same address checks, pinned connections and timeouts as
    scheduled pulls; no redirect is followed (a redirect is a failed attempt)."""

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookSent:
        """Never raises for network problems: every failure is a `WebhookSent` that was not delivered."""
