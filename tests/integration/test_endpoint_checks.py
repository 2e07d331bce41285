"""The check at configuration against the fetcher itself: whatever an admin is refused to
configure, the real fetcher (the system resolver, real sockets on loopback) never connects
to either, and what the operator's allow-list admits, both admit."""

from __future__ import annotations

import socket

import pytest

from partner_ingest.adapters_out.fetcher import AddressPolicy, FetchLimits, HttpFeedFetcher
from partner_ingest.domain.model.endpoints import endpoint_refusal
from partner_ingest.ports.fetcher import FetchOutcome, FetchRequest

LIMITS = FetchLimits(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0)

# Every spelling whose address needs no DNS (literals, the resolver's own names): the
# metadata names are left out, as a lookup here would ask a DNS server.
NON_PUBLIC = [
    "127.0.0.1",
    "127.0.0.1.",
    "2130706433",
    "0x7f.1",
    "017700000001",
    "0177.0.0.1",
    "127.1",
    "0",
    "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
    "127\u30020\u30020\u30021",
    "localhost",
    "LOCALHOST.",
    "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
    "10.0.0.5",
    "10.1",
    "0xc0a80101",
    "169.254.169.254",
    "2852039166",
    "100.100.100.200",
    "[fd00:ec2::254]",
    "[fe80::1%25eth0]",
    "[ff02::1]",
    "224.0.0.1",
]


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A loopback port nothing listens on: a connection there is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("host", NON_PUBLIC)
def test_what_configuration_refuses_the_fetcher_never_connects_to(host: str, closed_port: int) -> None:
    url = f"http://{host}:{closed_port}/feed.json"
    assert endpoint_refusal(url, AddressPolicy()) is not None
    result = HttpFeedFetcher(policy=AddressPolicy(), limits=LIMITS).fetch(FetchRequest(url=url))
    # Refused, or not even resolved (glibc reads neither `127.0.0.1.` nor `localhost.`).
    never_connected = result.outcome in (FetchOutcome.REFUSED_ADDRESS, FetchOutcome.INVALID_REQUEST) or (
        result.outcome is FetchOutcome.CONNECTION_ERROR and result.detail.startswith("cannot resolve")
    )
    assert never_connected, (result.outcome, result.detail)


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "017700000001", "127.1"])
def test_loopback_the_operator_allows_is_admitted_by_both(host: str, closed_port: int) -> None:
    allowed = AddressPolicy.from_cidrs(["127.0.0.0/8"])
    url = f"http://{host}:{closed_port}/feed.json"
    assert endpoint_refusal(url, allowed) is None
    result = HttpFeedFetcher(policy=allowed, limits=LIMITS).fetch(FetchRequest(url=url))
    assert result.outcome is FetchOutcome.CONNECTION_ERROR, result.detail  # it tried: nothing listens
    assert "refused" in result.detail.lower()
