"""The committed fuzz corpus, replayed by pytest: every input the fuzzers kept or found stays checked.

Each file under tests/fuzz/corpus/<target>/ goes through the same check the
fuzzer runs (tests/fuzz/targets.py): a feed error, item errors or rows that
round-trip, nothing else; and reading it allocates at most a bounded multiple
of its size (tracemalloc), so no input makes memory grow without bound.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from fuzz.targets import TARGETS, check

CORPUS = Path(__file__).parent / "corpus"
INPUTS = [(target, path) for target in TARGETS for path in sorted((CORPUS / target).iterdir())]
# Reading a feed keeps the parsers' buffers, the validators and the fast path's generated code
# (compiled once per process): a floor, plus a bounded amount per input byte.
MEMORY_FLOOR = 8 << 20
MEMORY_PER_BYTE = 200


def test_every_target_has_a_corpus() -> None:
    for target in TARGETS:
        assert any((CORPUS / target).iterdir()), f"no corpus for {target}"


@pytest.mark.parametrize(("target", "path"), INPUTS, ids=[f"{t}/{p.name}" for t, p in INPUTS])
def test_a_corpus_input_ends_in_errors_or_round_trips_in_bounded_memory(target: str, path: Path) -> None:
    data = path.read_bytes()
    one_input = check(target)
    one_input(data)  # once to warm up (generated validators, imports)
    tracemalloc.start()
    try:
        one_input(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= MEMORY_FLOOR + MEMORY_PER_BYTE * len(data), f"{peak} bytes for {len(data)} bytes of input"
