"""The Fernet credential vault (S4): round trip, rotation, refusal, and no secret ever shown."""

from __future__ import annotations

import base64

import pytest

from partner_ingest.adapters_out.crypto import FernetVault
from partner_ingest.ports.credentials import CredentialVault

SECRET = "Bearer partner-s3cret-token-4242"
REFUSED = "made under none of the .* configured vault keys, or was altered"


@pytest.fixture
def old_key() -> str:
    return FernetVault.generate_key()


@pytest.fixture
def new_key() -> str:
    return FernetVault.generate_key()


def test_it_implements_the_port(old_key: str) -> None:
    vault: CredentialVault = FernetVault([old_key])
    assert vault.decrypt(vault.encrypt(SECRET)) == SECRET


@pytest.mark.parametrize("plaintext", ["", "x", SECRET, "ünïcødé ✓ 密码", "a" * 10_000])
def test_round_trip(old_key: str, plaintext: str) -> None:
    vault = FernetVault([old_key])
    assert vault.decrypt(vault.encrypt(plaintext)) == plaintext


def test_the_same_secret_encrypts_differently_each_time(old_key: str) -> None:
    vault = FernetVault([old_key])
    assert vault.encrypt(SECRET) != vault.encrypt(SECRET)


def test_the_token_shows_no_plaintext(old_key: str) -> None:
    token = FernetVault([old_key]).encrypt(SECRET)
    raw = base64.urlsafe_b64decode(token)
    for fragment in ("s3cret", "Bearer", "partner"):
        assert fragment not in token
        assert fragment.encode() not in raw


def test_rotation_moves_tokens_to_the_newest_key(old_key: str, new_key: str) -> None:
    before = FernetVault([old_key])
    token = before.encrypt(SECRET)

    during = FernetVault([new_key, old_key])  # the operator puts the new key first
    assert during.decrypt(token) == SECRET  # old tokens still open
    rotated = during.rotate(token)
    assert rotated != token

    after = FernetVault([new_key])  # ... and drops the old key once everything is rotated
    assert after.decrypt(rotated) == SECRET
    with pytest.raises(ValueError, match="none of the 1 configured"):
        after.decrypt(token)


def test_new_tokens_use_the_newest_key(old_key: str, new_key: str) -> None:
    token = FernetVault([new_key, old_key]).encrypt(SECRET)
    assert FernetVault([new_key]).decrypt(token) == SECRET
    with pytest.raises(ValueError, match=REFUSED):
        FernetVault([old_key]).decrypt(token)


def test_a_token_from_another_key_is_refused(old_key: str, new_key: str) -> None:
    token = FernetVault([old_key]).encrypt(SECRET)
    with pytest.raises(
        ValueError, match="was made under none of the 1 configured vault keys, or was altered"
    ):
        FernetVault([new_key]).decrypt(token)
    with pytest.raises(ValueError, match=REFUSED):
        FernetVault([new_key]).rotate(token)


@pytest.mark.parametrize("position", [10, 30, 60, -5])
def test_tampering_is_detected(old_key: str, position: int) -> None:
    vault = FernetVault([old_key])
    raw = bytearray(base64.urlsafe_b64decode(vault.encrypt(SECRET)))
    raw[position] ^= 0x01
    with pytest.raises(ValueError, match="altered"):
        vault.decrypt(base64.urlsafe_b64encode(bytes(raw)).decode())


@pytest.mark.parametrize("token", ["", "not a token", "gAAAA", "ünïcødé"])
def test_garbage_is_refused_as_a_value_error(old_key: str, token: str) -> None:
    with pytest.raises(ValueError, match=REFUSED):
        FernetVault([old_key]).decrypt(token)


def test_errors_never_chain_to_a_cause(old_key: str, new_key: str) -> None:
    token = FernetVault([old_key]).encrypt(SECRET)
    with pytest.raises(ValueError, match=REFUSED) as caught:
        FernetVault([new_key]).decrypt(token)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_from_setting_reads_keys_newest_first(old_key: str, new_key: str) -> None:
    token = FernetVault([old_key]).encrypt(SECRET)
    vault = FernetVault.from_setting(f" {new_key} , {old_key},")
    assert vault.key_count == 2
    assert vault.decrypt(token) == SECRET
    assert FernetVault([new_key]).decrypt(vault.encrypt(SECRET)) == SECRET


@pytest.mark.parametrize("setting", ["", " ", ",", " , "])
def test_an_empty_setting_is_a_clear_error(setting: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        FernetVault.from_setting(setting)


def test_no_keys_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FernetVault([])


@pytest.mark.parametrize(
    "bad_key",
    [
        "too-short-key-material",
        "x" * 44,  # right length, but not base64 of 32 bytes
        base64.urlsafe_b64encode(b"k" * 31).decode(),
        "ünïcødé-key",
    ],
)
def test_a_malformed_key_is_named_by_position_and_never_echoed(old_key: str, bad_key: str) -> None:
    with pytest.raises(ValueError, match="is not a Fernet key") as caught:
        FernetVault.from_setting(f"{old_key},{bad_key}")
    message = str(caught.value)
    assert "vault key #2 of 2" in message
    assert "generate_key" in message
    assert bad_key not in message
    assert old_key not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_generated_keys_are_fresh_and_usable() -> None:
    keys = {FernetVault.generate_key() for _ in range(5)}
    assert len(keys) == 5
    for key in keys:
        assert len(key) == 44
        FernetVault([key])


def test_repr_shows_neither_keys_nor_secrets(old_key: str, new_key: str) -> None:
    vault = FernetVault([new_key, old_key])
    token = vault.encrypt(SECRET)
    assert repr(vault) == "FernetVault(keys=2)"
    assert str(vault) == "FernetVault(keys=2)"
    for shown in (repr(vault), str(vault)):
        assert old_key not in shown
        assert new_key not in shown
        assert token not in shown
        assert "s3cret" not in shown
    assert not hasattr(vault, "__dict__")  # nothing for a debugger's pretty-printer to dump


def test_a_non_text_plaintext_is_refused_without_showing_it(old_key: str) -> None:
    from cryptography.fernet import Fernet

    token = Fernet(old_key).encrypt(b"\xff\xfe s3cret").decode()
    with pytest.raises(ValueError, match="does not hold text") as caught:
        FernetVault([old_key]).decrypt(token)
    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
