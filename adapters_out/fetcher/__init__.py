"""Fetching partner feeds safely: address checks, timeouts, size caps, circuit breaker.

The composition root builds `CircuitBreakerFetcher(HttpFeedFetcher(...), uow, clock, policy)`:
the breaker answers for a partner feed that keeps failing (its circuits kept in the store,
shared by every process), the HTTP fetcher for everything a single fetch must never do
(reach a private address, hang, or fill the disk).
"""

from typing import TYPE_CHECKING

from partner_ingest.domain.model.addresses import AddressPolicy, special_purpose_range

from .circuit_breaker import CircuitBreakerFetcher, judge
from .deferred import DeferredFetcher, DeferredWebhookSender

if TYPE_CHECKING:
    from .http_fetcher import DEFAULT_USER_AGENT, FetchLimits, HttpFeedFetcher, Resolver, system_resolver
    from .webhook_sender import HttpWebhookSender

# The HTTP fetcher's names are imported when first used (see deferred.py): importing this
# package, as every process's composition root does, must not import the HTTP client.
_HTTP_FETCHER_NAMES = frozenset(
    {"DEFAULT_USER_AGENT", "FetchLimits", "HttpFeedFetcher", "Resolver", "system_resolver"}
)


def __getattr__(name: str) -> object:
    if name in _HTTP_FETCHER_NAMES:
        from . import http_fetcher

        return getattr(http_fetcher, name)
    if name == "HttpWebhookSender":
        from . import webhook_sender

        return webhook_sender.HttpWebhookSender
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AddressPolicy",
    "special_purpose_range",
    "HttpFeedFetcher",
    "FetchLimits",
    "Resolver",
    "system_resolver",
    "DEFAULT_USER_AGENT",
    "CircuitBreakerFetcher",
    "DeferredFetcher",
    "DeferredWebhookSender",
    "judge",
    "HttpWebhookSender",
]
