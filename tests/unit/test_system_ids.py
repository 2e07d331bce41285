"""The real id source: a feed's id is a version 4 UUID's hex, as uuid.uuid4() makes it."""

from __future__ import annotations

import uuid

import pytest

from partner_ingest.adapters_out import system
from partner_ingest.adapters_out.system import UuidIds


def test_an_id_is_its_kind_then_a_version_4_uuid_in_hex() -> None:
    ids = {UuidIds().new_id("feed") for _ in range(200)}
    assert len(ids) == 200
    for found in ids:
        kind, _, text = found.partition("_")
        assert kind == "feed"
        parsed = uuid.UUID(hex=text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == text


@pytest.mark.parametrize("random", [bytes(16), b"\xff" * 16, bytes(range(16)), b"\x5a\xa5" * 8])
def test_an_id_has_the_bits_uuid4_makes_of_the_same_random_bytes(
    monkeypatch: pytest.MonkeyPatch, random: bytes
) -> None:
    monkeypatch.setattr(system, "os", _FixedRandom(random))
    assert UuidIds().new_id("job") == f"job_{uuid.UUID(bytes=random, version=4).hex}"


class _FixedRandom:
    """Stands for the `os` module `new_id` draws from: its `urandom` answers fixed bytes."""

    def __init__(self, random: bytes) -> None:
        self._random = random

    def urandom(self, size: int) -> bytes:
        return self._random[:size]
