"""Which IP addresses the platform may pull partner feeds from: only globally routable ones.

A partner controls its endpoint URL, its DNS and its redirects, so without this check a
scheduled pull could be pointed at the platform's own network: the cloud metadata
service (169.254.169.254), a database on 10.0.0.5, an admin port on localhost. The
fetcher resolves every host itself and asks `AddressPolicy.refusal()` about every
address before it opens a connection, then connects to exactly that address; the
partner and schedule use cases ask the same policy about an endpoint when it is
configured (`endpoints.py`), so both apply one set of rules (ADR 0021).

The special-purpose ranges are listed explicitly (IANA IPv4 and IPv6 special-purpose
address registries) rather than taken from `ipaddress`'s `is_global`, whose answers
change between Python releases and which calls IPv4 multicast global. Addresses that
embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are
judged by the IPv4 address they reach. An operator allow-list of networks (e.g. a
partner on a private link, or 127.0.0.0/8 in tests) overrides the refusal explicitly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final

import attrs

__all__ = ["IPAddress", "IPNetwork", "AddressPolicy", "special_purpose_range"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _table(*rows: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), label) for cidr, label in rows)


_IPV4_REFUSED: Final = _table(
    ("0.0.0.0/8", "'this network' (unspecified)"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (and broadcast)"),
)

_IPV6_REFUSED: Final = _table(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("::ffff:0:0:0/96", "IPv4-translated (SIIT)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments (Teredo, ORCHID, benchmarking)"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4 (deprecated; embeds an IPv4 address)"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6)"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)

# Global unicast space; everything outside it is unassigned or special.
_IPV6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
_NAT64_WELL_KNOWN: Final = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it is mapped or NAT64-translated."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def special_purpose_range(address: IPAddress) -> tuple[IPNetwork, str] | None:
    """The special-purpose range holding `address` and its label, or None when global.

    Mapped and NAT64 addresses are judged by the IPv4 address they embed.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return special_purpose_range(embedded)
        for network, label in _IPV6_REFUSED:
            if address in network:
                return network, label
        if address not in _IPV6_GLOBAL_UNICAST:
            return _IPV6_GLOBAL_UNICAST, "outside global unicast"
        return None
    for network, label in _IPV4_REFUSED:
        if address in network:
            return network, label
    return None


def _parse(address: str | IPAddress) -> IPAddress | None:
    if not isinstance(address, str):
        return address
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


@attrs.frozen
class AddressPolicy:
    """Refuses every address that is not globally routable, except the allowed networks."""

    allowed: tuple[IPNetwork, ...] = ()
    """Networks an operator permits explicitly (a partner on a private link; tests)."""

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> AddressPolicy:
        """A policy allowing these networks (`10.20.0.0/16`, `127.0.0.1`); ValueError if malformed."""
        allowed: list[IPNetwork] = []
        for text in cidrs:
            try:
                allowed.append(ipaddress.ip_network(text.strip(), strict=True))
            except ValueError as error:
                raise ValueError(
                    f"allowed fetch network {text.strip()!r} is not a CIDR network: {error}"
                ) from None
        return cls(allowed=tuple(allowed))

    @classmethod
    def from_setting(cls, text: str) -> AddressPolicy:
        """A policy from a comma-separated list of networks (a setting); blank: none."""
        return cls.from_cidrs(part for part in text.split(",") if part.strip())

    def refusal(self, address: str | IPAddress) -> str | None:
        """None when the fetcher may connect to `address`; otherwise why not, for `detail`."""
        parsed = _parse(address)
        if parsed is None:
            return f"{address!s} is not an IP address"
        if self._allows(parsed):
            return None
        found = special_purpose_range(parsed)
        if found is None:
            return None
        network, label = found
        embedded = _embedded_ipv4(parsed) if isinstance(parsed, ipaddress.IPv6Address) else None
        shown = f"{parsed} (IPv4 {embedded})" if embedded is not None else str(parsed)
        return f"{shown} is {label} ({network})"

    def permits(self, address: str | IPAddress) -> bool:
        """Whether the fetcher may connect to `address`."""
        return self.refusal(address) is None

    def _allows(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                candidates.append(embedded)
        return any(candidate in network for candidate in candidates for network in self.allowed)
