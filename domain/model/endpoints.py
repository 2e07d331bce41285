"""Which partner endpoint URLs are refused when they are configured, before any pull.

The fetcher checks every address it resolves at pull time (`addresses.py`); this module
applies the same `AddressPolicy` to what can be known without DNS, so that an admin
setting an endpoint on the platform's own network hears why at once (ADR 0021):

- an IP literal in any spelling a resolver or URL parser accepts: dotted, decimal
  (`2130706433`), octal (`0177.0.0.1`, `017700000001`), hexadecimal (`0x7f.1`), short
  (`127.1`), full-width or with ideographic dots (IDNA maps them), a trailing dot,
  bracketed IPv6 with an IPv4 inside (`[::ffff:127.0.0.1]`) or a zone (`[fe80::1%25eth0]`);
- a name whose answer is fixed: `localhost` and `*.localhost` (RFC 6761) always mean
  loopback, and the cloud metadata names mean 169.254.169.254.

Any other name is left to pull time: it may resolve anywhere, and later to something
else. A host is refused here only when the fetcher would certainly refuse it, so whatever
the operator's allow-list (`AddressPolicy.allowed`) admits at pull time, it admits here.
The host is read as the fetcher's URL parser (`urllib.parse.urlsplit`) reads it; the
domain may not import urllib, so `endpoint_host` does the same few steps and a property
test holds the two together.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from .addresses import AddressPolicy, IPAddress

__all__ = ["endpoint_host", "endpoint_refusal"]

_HOSTNAME: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?")
_LOOPBACK: Final = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
_METADATA: Final = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
# Names whose answer does not depend on the partner's DNS: the resolver's own (RFC 6761,
# Debian's /etc/hosts) and the cloud metadata services' (GCP, AWS).
_FIXED_NAMES: Final[dict[str, tuple[IPAddress, ...]]] = {
    "localhost": _LOOPBACK,
    "localhost.localdomain": _LOOPBACK,
    "ip6-localhost": _LOOPBACK,
    "ip6-loopback": _LOOPBACK,
    "metadata": _METADATA,
    "metadata.google.internal": _METADATA,
    "metadata.goog": _METADATA,
    "instance-data": _METADATA,
    "instance-data.ec2.internal": _METADATA,
}
_DIGITS: Final = {8: frozenset("01234567"), 10: frozenset("0123456789"), 16: frozenset("0123456789abcdef")}


def endpoint_host(url: str) -> str | None:
    """The host of `url` as `urlsplit(url).hostname` reads it (lowercase, without brackets,
    an IPv6 zone kept as written), or None when it has none."""
    authority = _authority(url)
    _, bracket, inside = authority.partition("[")
    host = inside.partition("]")[0] if bracket else authority.partition(":")[0]
    address, percent, zone = host.partition("%")
    return address.lower() + percent + zone or None


def endpoint_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why an endpoint is refused at configuration, or None when only pull time can tell."""
    host = endpoint_host(url)
    if host is None:
        return "the URL has no host"
    if "[" in _authority(url):
        return _literal_refusal(host, host, policy, bracketed=True)
    try:
        name = host.encode("idna").decode("ascii").removesuffix(".")
    except UnicodeError:
        return f"{host!r} is not a valid host name"
    if _ends_in_number(name):
        return _literal_refusal(host, name, policy, bracketed=False)
    fixed = _FIXED_NAMES.get(name) or (_LOOPBACK if name.endswith(".localhost") else None)
    if fixed is not None:
        refusals = [policy.refusal(address) for address in fixed]
        if all(refusals):
            return _non_public(f"{refusals[0]}, and {host} always resolves to it")
        return None
    if not _HOSTNAME.fullmatch(name) or ".." in name:
        return f"{host!r} is not a valid host name"
    return None


def _authority(url: str) -> str:
    """What lies between `scheme://` and the path, query or fragment, without any userinfo."""
    rest = url.partition("://")[2]
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    return rest[:end].rpartition("@")[2]


def _non_public(why: str) -> str:
    return f"{why}: feeds are pulled from public addresses only, unless the operator allows the network"


def _literal_refusal(host: str, text: str, policy: AddressPolicy, *, bracketed: bool) -> str | None:
    address = _ipv6(text) if bracketed else _ipv4(text)
    if address is None:
        kind = "IPv6" if bracketed else "IPv4"
        return f"{host!r} is not a valid {kind} address"
    refusal = policy.refusal(address)
    if refusal is None:
        return None
    return _non_public(refusal if host == str(address) else f"{refusal}, written as {host}")


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def _ends_in_number(name: str) -> bool:
    """Whether a host is an IPv4 address to a URL parser or resolver: its last label is a number."""
    last = name.rpartition(".")[2]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_part(last) is not None)


def _ipv4(name: str) -> ipaddress.IPv4Address | None:
    """`name` read as inet_aton(3) and the WHATWG URL standard read it: one to four parts,
    each decimal, octal (leading 0) or hexadecimal (0x), the last filling the bytes left."""
    parts = name.split(".")
    numbers = [_ipv4_part(part) for part in parts]
    if len(parts) > 4 or None in numbers:
        return None
    *leading, last = (number for number in numbers if number is not None)
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _ipv4_part(part: str) -> int | None:
    digits, base = part, 10
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    if not part:
        return None
    if not digits:
        return 0
    if not set(digits.lower()) <= _DIGITS[base]:
        return None
    return int(digits, base)
