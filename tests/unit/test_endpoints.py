"""Endpoints refused when configured: every spelling of a non-public host, the operator's
allow-list honoured, and names left to pull time (tests/integration/test_endpoint_checks.py holds
the check to what the fetcher itself does)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.memory import MemoryApp

from partner_ingest.domain.model.addresses import AddressPolicy
from partner_ingest.domain.model.cron import InvalidScheduleError
from partner_ingest.domain.model.endpoints import endpoint_host, endpoint_refusal
from partner_ingest.domain.use_cases.manage_partners import _URL, PartnerChanges, PartnerRequestError

DEFAULT = AddressPolicy()
LOOPBACK_ALLOWED = AddressPolicy.from_cidrs(["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("127.0.0.1", "127.0.0.1 is loopback"),
        ("127.0.0.1.", "127.0.0.1 is loopback"),
        ("2130706433", "127.0.0.1 is loopback (127.0.0.0/8), written as 2130706433"),
        ("0x7f.1", "127.0.0.1 is loopback"),
        ("0X7F.0.0.1", "127.0.0.1 is loopback"),
        ("017700000001", "127.0.0.1 is loopback"),
        ("0177.0.0.1", "127.0.0.1 is loopback"),
        ("127.1", "127.0.0.1 is loopback"),
        ("0", "0.0.0.0 is 'this network'"),
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127.0.0.1 is loopback"),  # full-width digits and dots
        ("127\u30020\u30020\u30021", "127.0.0.1 is loopback"),  # ideographic full stops
        ("localhost", "127.0.0.1 is loopback (127.0.0.0/8), and localhost always resolves to it"),
        ("LOCALHOST.", "always resolves to it"),
        ("\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54", "always resolves to it"),
        ("feeds.localhost", "always resolves to it"),
        ("[::1]", "::1 is loopback"),
        ("[0:0:0:0:0:0:0:1]", "::1 is loopback"),
        ("[::ffff:127.0.0.1]", "(IPv4 127.0.0.1) is loopback"),
        ("[::ffff:7f00:1]", "(IPv4 127.0.0.1) is loopback"),
        ("[64:ff9b::a9fe:a9fe]", "(IPv4 169.254.169.254) is link-local"),
        ("[::]", "unspecified"),
        ("10.0.0.5", "private"),
        ("10.1", "10.0.0.1 is private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("0xc0a80101", "192.168.1.1 is private"),
        ("100.100.100.200", "shared address space"),  # a cloud metadata address (Alibaba)
        ("169.254.169.254", "link-local (cloud metadata lives here)"),
        ("2852039166", "169.254.169.254 is link-local"),
        ("metadata.google.internal", "169.254.169.254 is link-local"),
        ("Metadata.Google.Internal.", "169.254.169.254 is link-local"),
        ("metadata.goog", "169.254.169.254 is link-local"),
        ("instance-data.ec2.internal", "169.254.169.254 is link-local"),
        ("[fd00:ec2::254]", "unique-local"),
        ("[fc00::1]", "unique-local"),
        ("[fe80::1]", "link-local"),
        ("[fe80::1%25eth0]", "link-local"),
        ("[ff02::1]", "multicast"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_a_non_public_host_is_refused_in_any_spelling(host: str, says: str) -> None:
    for url in (f"http://{host}/feed.json", f"https://{host}:8443", f"http://{host}?x=1#y"):
        refusal = endpoint_refusal(url, DEFAULT)
        assert refusal is not None, url
        assert says in refusal, refusal
        assert refusal.endswith(
            "feeds are pulled from public addresses only, unless the operator allows the network"
        )


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("1.2.3.256", "'1.2.3.256' is not a valid IPv4 address"),
        ("1.2.3.4.5", "not a valid IPv4 address"),
        ("256.1", "not a valid IPv4 address"),
        ("0x1g.1", "not a valid IPv4 address"),
        ("09.1.1.1", "not a valid IPv4 address"),  # 09 is octal, and 9 is no octal digit
        ("[127.0.0.1]", "'127.0.0.1' is not a valid IPv6 address"),
        ("[not-an-address]", "not a valid IPv6 address"),
        ("a..b", "'a..b' is not a valid host name"),
        ("-bad-.example", "not a valid host name"),
        ("x" * 64 + ".example", "not a valid host name"),
    ],
)
def test_a_host_nobody_can_reach_is_refused_as_invalid(host: str, says: str) -> None:
    refusal = endpoint_refusal(f"http://{host}/", DEFAULT)
    assert refusal is not None and says in refusal, refusal


@pytest.mark.parametrize(
    "url",
    [
        "https://feeds.acme.example/catalog.json",
        "http://93.184.216.34/feed",
        "http://1572395042/feed",  # 93.184.216.34, written as one number
        "https://[2606:2800:220:1:248:1893:25c8:1946]/feed",
        "https://ex_ample.com:8443/x?y#z",
        "https://xn--caf-dma.example/",
        "https://café.example/",
        # Names are resolved at pull time only: even one that will never resolve, or one a
        # private DNS may map anywhere, is not refused now.
        "https://feeds.corp.internal/catalog.json",
        "http://printer.local/",
    ],
)
def test_public_addresses_and_names_are_left_to_pull_time(url: str) -> None:
    assert endpoint_refusal(url, DEFAULT) is None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("2130706433", True),
        ("[::ffff:127.0.0.1]", True),
        ("localhost", True),  # it may also resolve to ::1, which only pull time can refuse
        ("[::1]", False),
        ("169.254.169.254", False),
        ("metadata.google.internal", False),
        ("10.0.0.1", False),
    ],
)
def test_the_operators_allow_list_admits_loopback_in_every_spelling(host: str, allowed: bool) -> None:
    assert (endpoint_refusal(f"http://{host}/", LOOPBACK_ALLOWED) is None) is allowed


@given(st.from_regex(_URL, fullmatch=True))
def test_the_host_is_read_as_the_fetchers_url_parser_reads_it(url: str) -> None:
    # urlsplit strips C0 controls at the ends of a URL; such hosts are refused as invalid anyway.
    assume(url == url.strip("".join(map(chr, range(0x21)))))
    try:
        expected = urlsplit(url).hostname
    except ValueError:  # a bracket urlsplit refuses: the fetcher refuses the URL as malformed
        assume(False)
    assert endpoint_host(url) == expected


def _written(number: int, base: str) -> str:
    return {"dec": str(number), "oct": f"0{number:o}", "hex": f"0x{number:x}", "HEX": f"0X{number:X}"}[base]


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> str:
    """An IPv4 address in one to four parts, each decimal, octal or hexadecimal, the last one
    filling the bytes left (sometimes a part too large, which no reader accepts)."""
    count = draw(st.integers(1, 4))
    leading = draw(st.lists(st.integers(0, 260), min_size=count - 1, max_size=count - 1))
    last = draw(st.integers(0, 256 ** (5 - count)))
    bases = st.sampled_from(["dec", "oct", "hex", "HEX"])
    text = ".".join(_written(number, draw(bases)) for number in [*leading, last])
    return text + draw(st.sampled_from(["", "."]))


@given(ipv4_spellings())
def test_an_address_the_resolver_reads_from_digits_is_judged_as_that_address(host: str) -> None:
    """glibc's inet_aton (what getaddrinfo uses for IPv4 literals) and the check read every
    spelling as the same address; what inet_aton cannot read is refused as invalid."""
    refusal = endpoint_refusal(f"http://{host}/", DEFAULT)
    try:
        resolved = ipaddress.IPv4Address(socket.inet_aton(host.removesuffix(".")))
    except OSError:
        assert refusal is not None and "is not a valid IPv4 address" in refusal, (host, refusal)
        return
    if DEFAULT.permits(resolved):
        assert refusal is None, (host, refusal)
    else:
        assert refusal is not None and refusal.startswith(f"{resolved} is "), (host, resolved, refusal)


# --- where endpoints are set: partners, and the schedules that pull them ------------


def test_a_partner_is_not_created_or_changed_with_a_refused_endpoint(memory_app: MemoryApp) -> None:
    app, store, _ = memory_app
    audited = len(store.tables.audit)
    with pytest.raises(PartnerRequestError) as refused:
        app.partners.create(
            "globex", PartnerChanges(name="Globex", endpoint="http://0x7f.1/feed.json"), actor="system"
        )
    assert refused.value.problems["endpoint"].startswith("refused: 127.0.0.1 is loopback")
    with pytest.raises(PartnerRequestError, match=r"169\.254\.169\.254 is link-local"):
        app.partners.update(
            "acme", PartnerChanges(endpoint="http://metadata.google.internal/x"), actor="system"
        )
    assert "globex" not in store.tables.partners
    assert store.tables.partners["acme"].endpoint is None
    assert len(store.tables.audit) == audited
    changed = app.partners.update(
        "acme", PartnerChanges(endpoint="https://feeds.acme.example/"), actor="system"
    )
    assert changed.endpoint == "https://feeds.acme.example/"


def test_a_schedule_is_refused_while_its_partner_has_a_refused_endpoint(memory_app: MemoryApp) -> None:
    """An endpoint stored before it was checked (or allowed by a list since narrowed)."""
    app, store, _ = memory_app
    with store.unit_of_work() as uow:
        acme = uow.partners.get("acme")
        assert acme is not None
        uow.partners.update(attrs.evolve(acme, endpoint="http://[::ffff:169.254.169.254]/latest"))
        uow.commit()
    with pytest.raises(InvalidScheduleError, match=r"partner 'acme' has its endpoint refused \(.*link-local"):
        app.schedules.create("acme", actor="system", interval_seconds=300)
    off = app.schedules.create("acme", actor="system", interval_seconds=300, enabled=False)
    with pytest.raises(InvalidScheduleError, match="change the endpoint first"):
        app.schedules.update(off.id, actor="system", enabled=True)
    assert [s.enabled for s in app.schedules.all("acme")] == [False]
