"""The API key format (ADR 0004): recognizable, checksummed, parsed without a store."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partner_ingest.domain.model.api_keys import (
    ID_BYTES,
    KEY_LENGTH,
    SECRET_BYTES,
    ApiKey,
    IssuedKey,
    KeyRole,
    Principal,
    hash_secret,
    key_prefix,
    masked_key,
    new_api_key,
    parse_api_key,
    secrets_match,
    validate_server_secret,
)

SERVER_SECRET = b"s" * 32
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fixed_bytes(value: int) -> Callable[[int], bytes]:
    return lambda n: bytes([value]) * n


def with_checksum(body: str) -> str:
    """A key text with a correct checksum, as anyone can compute it."""
    value = zlib.crc32(body.encode())
    digits = ""
    for _ in range(6):
        value, digit = divmod(value, 62)
        digits = BASE62[digit] + digits
    return body + digits


roles = st.sampled_from(list(KeyRole))
issued_keys: st.SearchStrategy[IssuedKey] = st.builds(
    lambda role, raw_id, raw_secret: new_api_key(role, lambda n: raw_id if n == ID_BYTES else raw_secret),
    roles,
    st.binary(min_size=ID_BYTES, max_size=ID_BYTES),
    st.binary(min_size=SECRET_BYTES, max_size=SECRET_BYTES),
)


def test_a_new_key_has_its_role_prefix_fixed_length_and_parses_back() -> None:
    for role, prefix in ((KeyRole.PARTNER, "pcik_"), (KeyRole.ADMIN, "pcia_")):
        issued = new_api_key(role, secrets.token_bytes)
        assert issued.plaintext.startswith(prefix)
        assert key_prefix(role) == prefix
        assert len(issued.plaintext) == KEY_LENGTH
        parsed = parse_api_key(issued.plaintext)
        assert parsed is not None
        assert (parsed.role, parsed.key_id, parsed.secret) == (role, issued.key_id, issued.secret)
        assert parsed.prefix == prefix


@pytest.mark.parametrize("byte", [0x00, 0xFF])
def test_the_extreme_random_values_fit_the_fixed_widths(byte: int) -> None:
    issued = new_api_key(KeyRole.PARTNER, fixed_bytes(byte))
    assert len(issued.plaintext) == KEY_LENGTH
    assert parse_api_key(issued.plaintext) is not None


def test_the_secret_carries_every_random_bit() -> None:
    # 43 base62 characters hold 256 bits; distinct randomness gives distinct secrets.
    a = new_api_key(KeyRole.PARTNER, lambda n: bytes(n - 1) + b"\x01")
    b = new_api_key(KeyRole.PARTNER, lambda n: bytes(n - 1) + b"\x02")
    assert a.secret != b.secret
    assert a.key_id != b.key_id


def test_random_bytes_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly n bytes"):
        new_api_key(KeyRole.PARTNER, lambda n: b"short")


@given(issued_keys)
def test_every_issued_key_parses_back_to_its_parts(issued: IssuedKey) -> None:
    parsed = parse_api_key(issued.plaintext)
    assert parsed is not None
    assert (parsed.role, parsed.key_id, parsed.secret) == (issued.role, issued.key_id, issued.secret)


@given(issued_keys, st.data())
def test_any_single_character_typo_is_caught_by_the_checksum(issued: IssuedKey, data: st.DataObject) -> None:
    text = issued.plaintext
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(BASE62 + "_-").filter(lambda c: c != text[index]))
    assert parse_api_key(text[:index] + replacement + text[index + 1 :]) is None


@given(issued_keys, st.data())
def test_swapping_two_neighbouring_characters_is_caught(issued: IssuedKey, data: st.DataObject) -> None:
    text = issued.plaintext
    index = data.draw(st.integers(0, len(text) - 2).filter(lambda i: text[i] != text[i + 1]))
    swapped = text[:index] + text[index + 1] + text[index] + text[index + 2 :]
    assert parse_api_key(swapped) is None


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "pcik_",
        "ghp_" + "a" * 36,
        "Bearer pcik_x",
        "x" * 10_000_000,
    ],
    ids=["none", "empty", "prefix-only", "other-vendor", "with-scheme", "ten-megabytes"],
)
def test_obviously_malformed_text_is_refused(text: str | None) -> None:
    assert parse_api_key(text) is None


def test_length_alphabet_and_prefix_are_checked() -> None:
    good = new_api_key(KeyRole.PARTNER, secrets.token_bytes).plaintext
    assert parse_api_key(good[:-1]) is None
    assert parse_api_key(good + "0") is None
    assert parse_api_key(" " + good[1:]) is None
    assert parse_api_key(good + "\n") is None
    assert parse_api_key(good.upper()) is None
    assert parse_api_key("PCIK_" + good[5:]) is None
    # A valid checksum does not make a wrong alphabet or prefix acceptable.
    assert parse_api_key(with_checksum("pcix_" + good[5:-6])) is None
    assert parse_api_key(with_checksum(good[:-7] + "-")) is None


def test_changing_the_prefix_breaks_the_checksum() -> None:
    partner_key = new_api_key(KeyRole.PARTNER, secrets.token_bytes).plaintext
    assert parse_api_key("pcia_" + partner_key[5:]) is None


def test_hash_secret_is_hmac_sha256_under_the_server_secret() -> None:
    digest = hash_secret("abc", SERVER_SECRET)
    assert digest == hmac.new(SERVER_SECRET, b"abc", hashlib.sha256).digest()
    assert len(digest) == 32
    assert hash_secret("abc", b"t" * 32) != digest
    assert hash_secret("abd", SERVER_SECRET) != digest


def test_secrets_match_compares_exactly() -> None:
    assert secrets_match(b"\x01" * 32, b"\x01" * 32)
    assert not secrets_match(b"\x01" * 32, b"\x01" * 31 + b"\x02")
    assert not secrets_match(b"\x01" * 32, b"\x01" * 31)


def test_the_server_secret_must_be_long_enough() -> None:
    assert validate_server_secret(SERVER_SECRET) == SERVER_SECRET
    with pytest.raises(ValueError, match="32 bytes"):
        validate_server_secret(b"too short")


def test_the_stored_record_holds_only_the_keyed_hash() -> None:
    issued = new_api_key(KeyRole.PARTNER, secrets.token_bytes)
    record = issued.record(SERVER_SECRET, partner_id="acme", created_at=T0, label="ci")
    assert record.secret_hash == hash_secret(issued.secret, SERVER_SECRET)
    assert (record.id, record.role, record.partner_id, record.label) == (
        issued.key_id,
        KeyRole.PARTNER,
        "acme",
        "ci",
    )
    for shown in (repr(record), repr(issued), repr(parse_api_key(issued.plaintext))):
        assert issued.secret not in shown
        assert issued.plaintext not in shown
    assert "secret_hash" not in repr(record)


def test_masked_key_shows_prefix_and_id_only() -> None:
    issued = new_api_key(KeyRole.ADMIN, secrets.token_bytes)
    masked = masked_key(KeyRole.ADMIN, issued.key_id)
    assert masked == f"pcia_{issued.key_id}_****"
    assert issued.secret[:4] not in masked


def test_a_key_revoked_in_the_future_works_until_then() -> None:
    key = ApiKey("id", KeyRole.PARTNER, "acme", b"h", T0, revoked_at=T0 + timedelta(hours=1))
    assert key.usable_at(T0 + timedelta(minutes=59))
    assert not key.usable_at(T0 + timedelta(hours=1))
    expiring = ApiKey("id", KeyRole.PARTNER, "acme", b"h", T0, expires_at=T0 + timedelta(days=1))
    assert expiring.usable_at(T0)
    assert not expiring.usable_at(T0 + timedelta(days=1))


def test_principal_names_itself_in_the_audit_trail() -> None:
    assert Principal(KeyRole.PARTNER, "acme", "k1").actor == "acme"
    admin = Principal(KeyRole.ADMIN, None, "k2")
    assert admin.actor == "admin:k2"
    assert admin.is_admin
