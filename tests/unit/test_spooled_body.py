"""A received body: held in memory while small, moved whole to a temporary file past the
in-memory size, read back byte for byte either way, with the SHA-256 of what was written."""

from __future__ import annotations

import hashlib

from partner_ingest.adapters_in.http.body import SPOOL_IN_MEMORY, SpooledBody
from partner_ingest.adapters_in.http.body_threads import BodyThreads


def _spool(chunks: list[bytes]) -> tuple[bytes, str, bool]:
    with SpooledBody(BodyThreads(1)) as body:
        for chunk in chunks:
            body.write(chunk)
        in_memory = body.in_memory
        return body.stream.read(), body.sha256, in_memory


def test_a_small_body_stays_in_memory() -> None:
    chunks = [b'{"products":[', b"]}"]
    data, sha, in_memory = _spool(chunks)
    assert (data, sha, in_memory) == (b"".join(chunks), hashlib.sha256(b"".join(chunks)).hexdigest(), True)


def test_a_body_of_exactly_the_in_memory_size_stays_there() -> None:
    chunks = [b"a" * (SPOOL_IN_MEMORY - 1), b"b"]
    data, _, in_memory = _spool(chunks)
    assert in_memory
    assert data == b"".join(chunks)


def test_a_larger_body_moves_to_a_file_with_what_came_before() -> None:
    chunks = [b"a" * 1000, b"b" * (SPOOL_IN_MEMORY - 1000), b"c", b"d" * 5000]
    with SpooledBody(BodyThreads(1)) as body:
        for chunk in chunks:
            body.write(chunk)
        assert not body.in_memory
        stream = body.stream
        assert stream.fileno() >= 0  # a real file now
        assert stream.read() == b"".join(chunks)
        assert body.size == sum(map(len, chunks))
        assert body.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert stream.closed
