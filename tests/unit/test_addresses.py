"""The address policy: every non-global range is refused, in every IPv6 disguise."""

from __future__ import annotations

import ipaddress

import pytest

from partner_ingest.domain.model.addresses import AddressPolicy, special_purpose_range

# One or more addresses from each refused range, with a word the refusal must say.
REFUSED_IPV4 = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "IETF"),
    ("192.0.2.10", "documentation"),
    ("192.88.99.1", "6to4"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
]

REFUSED_IPV6 = [
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::7f00:1", "IPv4-compatible"),
    ("::ffff:0:a00:1", "SIIT"),
    ("64:ff9b:1::1", "NAT64"),
    ("100::1", "discard"),
    ("2001::1", "IETF"),
    ("2001:2::1", "IETF"),
    ("2001:db8::1", "documentation"),
    ("2002:a00:1::1", "6to4"),
    ("3fff::1", "documentation"),
    ("5f00::1", "segment routing"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("4000::1", "global unicast"),
    ("1::1", "global unicast"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below the shared range
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001:80b::200e",
]


def mapped(ipv4: str) -> str:
    return f"::ffff:{ipv4}"


def nat64(ipv4: str) -> str:
    return str(
        ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ipaddress.IPv4Address(ipv4)))
    )


@pytest.mark.parametrize(("address", "word"), REFUSED_IPV4 + REFUSED_IPV6)
def test_special_purpose_addresses_are_refused_with_the_reason(address: str, word: str) -> None:
    refusal = AddressPolicy().refusal(address)
    assert refusal is not None
    assert word in refusal
    assert not AddressPolicy().permits(address)


@pytest.mark.parametrize(("address", "word"), REFUSED_IPV4)
def test_ipv4_mapped_forms_are_judged_by_the_ipv4_address(address: str, word: str) -> None:
    refusal = AddressPolicy().refusal(mapped(address))
    assert refusal is not None
    assert word in refusal


@pytest.mark.parametrize(("address", "word"), REFUSED_IPV4)
def test_nat64_forms_are_judged_by_the_ipv4_address(address: str, word: str) -> None:
    refusal = AddressPolicy().refusal(nat64(address))
    assert refusal is not None
    assert word in refusal


def test_the_nat64_helper_builds_the_well_known_prefix() -> None:
    assert nat64("169.254.169.254") == "64:ff9b::a9fe:a9fe"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_permitted(address: str) -> None:
    assert AddressPolicy().refusal(address) is None
    assert special_purpose_range(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", [a for a in PUBLIC if ":" not in a])
def test_public_ipv4_stays_permitted_when_mapped_or_translated(address: str) -> None:
    assert AddressPolicy().permits(mapped(address))
    assert AddressPolicy().permits(nat64(address))


@pytest.mark.parametrize("text", ["localhost", "", "10.0.0.1/8", "1.2.3", "::g", "example.com"])
def test_anything_but_an_ip_address_is_refused(text: str) -> None:
    refusal = AddressPolicy().refusal(text)
    assert refusal is not None
    assert "not an IP address" in refusal


def test_the_allow_list_permits_exactly_its_networks() -> None:
    policy = AddressPolicy.from_cidrs(["127.0.0.0/8", "10.20.0.0/16", "fd00:1::/64"])
    assert policy.permits("127.0.0.1")
    assert policy.permits("127.1.2.3")
    assert policy.permits("10.20.255.1")
    assert policy.permits("fd00:1::5")
    assert not policy.permits("10.21.0.1")
    assert not policy.permits("169.254.169.254")
    assert not policy.permits("fd00:2::5")
    assert not policy.permits("::1")  # allowing IPv4 loopback does not allow IPv6 loopback


def test_the_allow_list_covers_the_mapped_and_nat64_forms_of_its_ipv4_networks() -> None:
    policy = AddressPolicy.from_cidrs(["127.0.0.0/8"])
    assert policy.permits(mapped("127.0.0.1"))
    assert policy.permits(nat64("127.0.0.1"))
    assert not policy.permits(mapped("10.0.0.1"))


def test_the_allow_list_comes_from_a_comma_separated_setting() -> None:
    policy = AddressPolicy.from_setting(" 127.0.0.0/8 , 192.168.10.5,")
    assert policy.allowed == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("192.168.10.5/32"))
    assert AddressPolicy.from_setting("").allowed == ()


@pytest.mark.parametrize("bad", ["127.0.0.1/33", "10.0.0.1/8", "not-a-network"])
def test_a_malformed_allow_list_entry_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="allowed fetch network"):
        AddressPolicy.from_cidrs([bad])


def test_the_refusal_names_the_range() -> None:
    assert AddressPolicy().refusal("169.254.169.254") == (
        "169.254.169.254 is link-local (cloud metadata lives here) (169.254.0.0/16)"
    )


def test_the_refusal_of_an_embedding_address_names_the_ipv4_address() -> None:
    refusal = AddressPolicy().refusal(nat64("10.1.2.3"))
    assert refusal == "64:ff9b::a01:203 (IPv4 10.1.2.3) is private (10.0.0.0/8)"
