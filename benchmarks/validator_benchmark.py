"""Validator benchmark: per-item cost of the generated fast path against the reference
validator alone (PARTNER_INGEST_FAST_VALIDATOR=false), and the cost of generating it.

    .venv/bin/python benchmarks/validator_benchmark.py            # 20,000 items per setup
    .venv/bin/python benchmarks/validator_benchmark.py --items 2000

The items are valid (the fast path's case): JSON items with typed values, and the
same items as a textual format (CSV, XML) hands them over. Each figure is the best
of five runs, in microseconds per item. Nothing here asserts: benchmarks inform,
tests decide (tests/unit/test_fast_path.py holds both paths to the same results).
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

from partner_ingest.domain.model import FeedLimits, ItemValidator, Mode, _fast_path, contract_for


def items(count: int, *, textual: bool) -> list[dict[str, Any]]:
    """Valid v2 items, with their numbers as text when `textual`."""
    out = []
    for n in range(count):
        item: dict[str, Any] = {
            "sku": f"SKU-{n:08d}",
            "name": f"Product {n}",
            "price": Decimal(f"{n % 1000}.25"),
            "currency": "EUR",
            "quantity": n % 50,
            "brand": "Acme",
        }
        if textual:
            item = {key: str(value) for key, value in item.items()}
        out.append(item)
    return out


def per_item_us(validator: ItemValidator, feed: list[dict[str, Any]], rounds: int = 5) -> float:
    validate = validator.validate
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for index, item in enumerate(feed):
            validate(item, index)
        best = min(best, time.perf_counter() - start)
    return best / len(feed) * 1e6


def generation_ms(rounds: int = 20) -> float:
    """Building a validator with its fast path generated anew, less building one without."""
    contract, limits = contract_for(2), FeedLimits()
    best_with = best_without = float("inf")
    for _ in range(rounds):
        _fast_path._FACTORIES.clear()
        start = time.perf_counter()
        ItemValidator(contract, Mode.STRICT, textual=False, partner_id="p", limits=limits)
        best_with = min(best_with, time.perf_counter() - start)
        start = time.perf_counter()
        ItemValidator(contract, Mode.STRICT, textual=False, partner_id="p", limits=limits, fast=False)
        best_without = min(best_without, time.perf_counter() - start)
    return (best_with - best_without) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    count = parser.parse_args().items
    print(f"{'setup':<24} {'fast us/item':>13} {'reference us/item':>18} {'ratio':>6}")
    for textual in (False, True):
        feed = items(count, textual=textual)
        for mode in (Mode.STRICT, Mode.LENIENT):
            fast, reference = (
                per_item_us(
                    ItemValidator(contract_for(2), mode, textual=textual, partner_id="p", fast=on), feed
                )
                for on in (True, False)
            )
            setup = f"v2 {mode} {'textual' if textual else 'typed'}"
            print(f"{setup:<24} {fast:>13.2f} {reference:>18.2f} {reference / fast:>5.1f}x")
    print(f"generating the fast path: {generation_ms():.2f} ms (once per contract, mode, source kind)")


if __name__ == "__main__":
    main()
