"""Fetching partner feeds safely: address checks, timeouts, size caps, circuit breaker.

The composition root builds `CircuitBreakerFetcher(HttpFeedFetcher(...), uow, clock, policy)`:
the breaker answers for a partner feed that keeps failing (its circuits kept in the store,
shared by every process), the HTTP fetcher for everything a single fetch must never do
(reach a private address, hang, or fill the disk).
"""

from partner_ingest.domain.model.addresses import AddressPolicy, special_purpose_range

from .circuit_breaker import CircuitBreakerFetcher, judge
from .http_fetcher import DEFAULT_USER_AGENT, FetchLimits, HttpFeedFetcher, Resolver, system_resolver
from .webhook_sender import HttpWebhookSender

__all__ = [
    "AddressPolicy",
    "special_purpose_range",
    "HttpFeedFetcher",
    "FetchLimits",
    "Resolver",
    "system_resolver",
    "DEFAULT_USER_AGENT",
    "CircuitBreakerFetcher",
    "judge",
    "HttpWebhookSender",
]
