"""S1 end to end: guessing keys is throttled, audited and blocked; partners keep their own quota.

The limits are lowered through settings (a one-second first block) so that a
repeat offence can be watched within the test; the per-key limit is checked
both at its default of 60 a minute and at a partner's own lower limit.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterator

import httpx2
import pytest
from support.clocks import SkippableClock
from support.http import new_address
from support.redis import ENV as REDIS_ENV
from support.redis import redis_prefix
from support.service import LogCapture, Service, forge_key, json_of, key_id_of

THRESHOLD = 10
"""Failed authentications per minute per address (the default, spelled out for the test)."""
REDIS_URL = os.environ.get(REDIS_ENV)


def _guesses(count: int) -> list[tuple[str, bool]]:
    """(text, well-formed): guesses with the right format and checksum (random id and secret),
    alternating with malformed ones."""
    malformed = [
        "letmein-{n}",
        "pcik_{n}",
        "pcik_0123456789ABC_{n}",
        "Bearer pcik_{n}",
        "' OR '1'='1 {n}",
        "pcia_{n}" + "x" * 57,
    ]
    out = []
    for n in range(count):
        if n % 2:
            out.append((forge_key("pcik_" if n % 4 == 1 else "pcia_"), True))
        else:
            out.append((malformed[(n // 2) % len(malformed)].format(n=f"{n:03d}-{time.time_ns()}"), False))
    return out


def _rate_fields(response: httpx2.Response) -> tuple[int, int, int]:
    """(limit, remaining, reset seconds) from RateLimit-Policy and RateLimit."""
    policy = re.fullmatch(r'"key";q=(\d+);w=(\d+)', response.headers["RateLimit-Policy"])
    rate = re.fullmatch(r'"key";r=(\d+);t=(\d+)', response.headers["RateLimit"])
    assert policy is not None, response.headers["RateLimit-Policy"]
    assert rate is not None, response.headers["RateLimit"]
    assert policy.group(2) == "60"
    return int(policy.group(1)), int(rate.group(1)), int(rate.group(2))


def test_a_hundred_guesses_are_throttled_audited_and_blocked_for_longer(
    serve: Callable[..., Service], logs: LogCapture
) -> None:
    clock = SkippableClock()
    service = serve(clock=clock, auth_failures_per_minute=THRESHOLD, block_seconds=1.0, max_block_seconds=8.0)
    admin = service.admin_key()
    _, partner_key = service.partner(admin)
    attacker_address, partner_address = new_address(), new_address()
    attacker = service.client(attacker_address)
    partner = service.client(partner_address, **{"X-API-Key": partner_key})

    guesses = _guesses(100)
    answers = []
    for n, (guess, _) in enumerate(guesses):
        answers.append(attacker.post("/partner/ingest", headers={"X-API-Key": guess}, content=b"{}"))
        if n % 10 == 0:  # the real partner, from elsewhere, all along
            assert partner.get("/partner/products").status_code == 200

    statuses = [a.status_code for a in answers]
    assert statuses[:THRESHOLD] == [401] * THRESHOLD
    assert statuses[THRESHOLD:] == [429] * (100 - THRESHOLD), "throttled after the threshold, and stays so"
    for answer in answers[:THRESHOLD]:
        assert json_of(answer)["error"] == "unauthenticated"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    for answer in answers[THRESHOLD:]:
        body = json_of(answer)
        assert body["error"] == "too_many_failed_attempts"
        retry_after = int(answer.headers["Retry-After"])
        assert 1 <= retry_after <= 8
        assert body["details"]["retry_after"] == retry_after
        assert "RateLimit" not in answer.headers  # the failure policy is not advertised (ADR 0003)

    # Every attempt is audited once, with the address and (when it parsed) the key's prefix and id.
    entries = service.audit("client = ?", [attacker_address])
    assert len(entries) == 100
    assert [e["action"] for e in entries[:THRESHOLD]] == ["auth.failed"] * THRESHOLD
    assert {e["action"] for e in entries[THRESHOLD:]} == {"auth.throttled"}
    for entry, (guess, well_formed) in zip(entries, guesses, strict=True):
        assert entry["outcome"] == "denied"
        assert entry["actor"] == "anonymous"
        assert entry["details"]["needs"] == "partner"
        if well_formed:
            assert entry["details"]["key_prefix"] == guess[:5]
            assert entry["details"]["key_id"] == key_id_of(guess)
        else:
            assert "key_prefix" not in entry["details"]
            assert "key_id" not in entry["details"]

    # Never the presented secret: not in the audit trail, not in any log line.
    audit_text, log_text = service.audit_text(), logs.text
    assert "auth.failed" in audit_text
    assert attacker_address in log_text
    for guess, well_formed in guesses:
        secret = guess[19:62] if well_formed else guess
        assert secret not in audit_text
        assert secret not in log_text
    assert partner_key[19:] not in audit_text + log_text, "nor a valid key's"

    # Repeat offenders: each block that follows one that just ended lasts twice as long.
    def blocks() -> list[float]:
        found = service.audit("client = ? AND action = 'auth.throttled'", [attacker_address])
        return [e["details"]["blocked_for"] for e in found if e["details"]["reason"] != "blocked"]

    skipped = 0.0
    while len(blocks()) < 2:  # keep guessing until the first block is over and the next one starts
        answer = attacker.get("/partner/products", headers={"X-API-Key": forge_key()})
        assert answer.status_code == 429
        assert skipped < 10, "no second block"
        clock.skip(0.25)  # the server's time passes between guesses; the wall's need not
        skipped += 0.25
    found = blocks()
    assert found == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0, 8.0][: len(found)])

    # The partner's own quota was never touched by any of it.
    limit, remaining, _ = _rate_fields(partner.get("/partner/products"))
    assert limit - remaining == 11


def test_a_blocked_address_is_refused_even_with_a_valid_key(serve: Callable[..., Service]) -> None:
    service = serve(auth_failures_per_minute=3, block_seconds=30.0)
    _, key = service.partner(service.admin_key())
    address = new_address()
    client = service.client(address)
    for _ in range(3):
        assert client.get("/partner/products", headers={"X-API-Key": forge_key()}).status_code == 401
    assert client.get("/partner/products", headers={"X-API-Key": forge_key()}).status_code == 429
    refused = client.get("/partner/products", headers={"X-API-Key": key})
    assert refused.status_code == 429
    assert 29 <= int(refused.headers["Retry-After"]) <= 30
    # The same key from another address works: the block is the address's, not the key's.
    assert service.client(**{"X-API-Key": key}).get("/partner/products").status_code == 200


def test_failed_authentications_never_spend_the_quota_of_the_key_they_present(service: Service) -> None:
    admin = service.admin_key()
    _, victim_key = service.partner(admin, rate_limit_per_minute=5)
    victim = service.client(**{"X-API-Key": victim_key})
    assert _rate_fields(victim.get("/partner/products"))[:2] == (5, 4)

    # An attacker names the victim's key id with secrets of its own, from many addresses.
    for _ in range(3):
        attacker = service.client()
        for _ in range(8):
            wrong = forge_key("pcik_", key_id_of(victim_key))
            assert attacker.get("/partner/products", headers={"X-API-Key": wrong}).status_code in (401, 429)

    assert _rate_fields(victim.get("/partner/products"))[:2] == (5, 3)
    attempts = service.audit("action IN ('auth.failed', 'auth.throttled')")
    assert len(attempts) == 24
    assert {e["details"]["key_id"] for e in attempts} == {key_id_of(victim_key)}
    assert {e["partner_id"] for e in attempts if e["action"] == "auth.failed"} == {
        json_of(service.client(**{"X-API-Key": admin}).get("/admin/partners"))["partners"][0]["id"]
    }, "the owner can see attempts on its key"


def test_a_partners_own_limit_holds_with_retry_after_and_ratelimit_fields(service: Service) -> None:
    admin = service.admin_key()
    partner_id, key = service.partner(admin, rate_limit_per_minute=5)
    client = service.client(**{"X-API-Key": key})
    for expected_remaining in (4, 3, 2, 1, 0):
        answer = client.get("/partner/products")
        assert answer.status_code == 200
        limit, remaining, reset = _rate_fields(answer)
        assert (limit, remaining) == (5, expected_remaining)
        assert 1 <= reset <= 60
    started = time.monotonic()
    refused = client.get("/partner/products")
    assert refused.status_code == 429
    body = json_of(refused)
    assert body["error"] == "rate_limited"
    assert body["details"]["limit_per_minute"] == 5
    retry_after = int(refused.headers["Retry-After"])
    # The oldest of the five leaves the window 60 s after it was counted, a moment ago.
    assert 60 - math.ceil(time.monotonic() - started) - 2 <= retry_after <= 60
    assert body["details"]["retry_after"] == retry_after
    assert _rate_fields(refused)[:2] == (5, 0)
    # The refusal is audited as the key's, and it does not block the address.
    limited = service.audit("action = 'rate.limited'")
    assert len(limited) == 1
    assert (limited[0]["partner_id"], limited[0]["details"]["key_id"]) == (partner_id, key_id_of(key))
    assert service.audit("action IN ('auth.failed', 'auth.throttled')") == []
    # Another key of another partner is not affected.
    _, other = service.partner(admin)
    assert service.client(**{"X-API-Key": other}).get("/partner/products").status_code == 200


def test_the_default_limit_is_60_requests_a_minute_per_key(service: Service) -> None:
    _, key = service.partner(service.admin_key())
    client = service.client(**{"X-API-Key": key})
    answers = [client.get("/partner/products") for _ in range(61)]
    assert [a.status_code for a in answers] == [200] * 60 + [429]
    assert _rate_fields(answers[0])[:2] == (60, 59)
    assert _rate_fields(answers[59])[:2] == (60, 0)
    assert _rate_fields(answers[60])[:2] == (60, 0)
    assert 1 <= int(answers[60].headers["Retry-After"]) <= 60


@pytest.fixture
def shared_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, cleaned up afterwards."""
    assert REDIS_URL is not None
    with redis_prefix(REDIS_URL) as prefix:
        yield prefix


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set PARTNER_INGEST_TEST_REDIS_URL to run S1 on the shared limiter")
def test_two_instances_sharing_redis_count_together(
    serve: Callable[..., Service], shared_prefix: str
) -> None:
    settings = {"redis_url": REDIS_URL, "redis_prefix": shared_prefix, "auth_failures_per_minute": 4}
    first = serve(**settings)
    second = serve(database=first.database, **settings)
    _, key = first.partner(first.admin_key(), rate_limit_per_minute=5)
    address = new_address()
    instances = [s.client(address, **{"X-API-Key": key}) for s in (first, second)]

    # One quota for the key, whichever instance answers.
    statuses = [instances[n % 2].get("/partner/products").status_code for n in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    # One count of failures for the address: the fifth guess blocks it on both instances.
    attacker = new_address()
    guesses = [
        (first, second)[n % 2].client(attacker).get("/partner/products", headers={"X-API-Key": forge_key()})
        for n in range(6)
    ]
    assert [g.status_code for g in guesses] == [401] * 4 + [429] * 2
    assert second.client(attacker).get("/partner/products", headers={"X-API-Key": key}).status_code == 429
    entries = first.audit("client = ?", [attacker])
    assert [e["action"] for e in entries] == ["auth.failed"] * 4 + ["auth.throttled"] * 3
