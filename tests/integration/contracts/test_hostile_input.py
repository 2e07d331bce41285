"""What a hostile feed can put in front of a store, for every store: the SKUs of invalid items
reach the feed's SKU register as they are (NUL, lone surrogates, newlines, empty), and none may
make a valid SKU look like a repeat."""

from __future__ import annotations

from support.stores import StoreUnderTest

HOSTILE = ["ABC\x00junk", "\ud800", "X\nY", "", ".", "\x1b41"]
LOOKALIKES = ["ABC", "\ud801", "X", "Y", "..", "41", "é"]


def test_the_feed_sku_register_takes_any_string_and_tells_them_apart(store: StoreUnderTest) -> None:
    with store.unit_of_work() as uow:
        assert uow.feed_skus.repeated(HOSTILE) == []
        repeats = uow.feed_skus.repeated([*LOOKALIKES, *HOSTILE])
        assert repeats == list(range(len(LOOKALIKES), len(LOOKALIKES) + len(HOSTILE)))
        assert uow.feed_skus.repeated(["\x00", "\x00", "\n", "\n"]) == [1, 3]
