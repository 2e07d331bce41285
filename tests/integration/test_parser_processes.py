"""ParserProcesses (ADR 0019): a feed parsed in a helper process comes out exactly as parsed here.

Real helper processes throughout: the property runs every generated feed
through one (min_bytes=0), and the failure tests kill one mid-feed, feed it a
format it cannot import and a stream that fails, and check that nothing is
half-written and the next feed still works.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import tempfile
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import PARTNER, broken_items, feeds, junk_items
from support.examples import examples
from support.feeds import jsonl_feed

from partner_ingest.adapters_out.memory import FakeClock, SequentialIds
from partner_ingest.adapters_out.parser_processes import ParserProcessError, ParserProcesses
from partner_ingest.adapters_out.parser_spawn import spawn
from partner_ingest.adapters_out.parser_wire import pack_rows, unpack_rows
from partner_ingest.adapters_out.sqlite.store import SqliteStore
from partner_ingest.adapters_out.sqlite.testing import seed_partner
from partner_ingest.domain.model import (
    FeedLimits,
    ItemValidator,
    Mode,
    ProductRow,
    ValidationPolicy,
    contract_for,
    jsontext,
)
from partner_ingest.domain.model.reading import FeedReading
from partner_ingest.domain.model.streams import RawReader
from partner_ingest.domain.use_cases import FeedSubmission, IngestFeed
from partner_ingest.domain.use_cases.pipeline import PARSE_HERE, FeedOutcome, SetSink, run_feed
from partner_ingest.plugins import load_formats
from partner_ingest.plugins._items import product_item
from partner_ingest.plugins.json_feed import JsonLinesFeed
from partner_ingest.ports import FeedFormat
from partner_ingest.ports.repositories import UpsertCounts

FORMATS = load_formats(entry_points=False)
JSONL = FORMATS.get("jsonl", 2)
LIMITS = FeedLimits(max_items=60)


@pytest.fixture(scope="module")
def helpers() -> Iterator[ParserProcesses]:
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    yield pool
    pool.close()


class RecordingSink(SetSink):
    """SetSink that also keeps every row it was asked to write, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[ProductRow] = []

    def upsert(self, rows: Sequence[ProductRow]) -> UpsertCounts:
        self.written.extend(rows)
        return super().upsert(rows)


def ingest(
    fmt: FeedFormat,
    body: bytes,
    parsing: ParserProcesses | None,
    *,
    mode: Mode = Mode.STRICT,
    atomic: bool = False,
    batch_size: int = 3,
    stream: BinaryIO | None = None,
) -> tuple[FeedOutcome, list[ProductRow]]:
    validator = ItemValidator(
        contract_for(fmt.version), mode, textual=fmt.textual, partner_id=PARTNER, limits=LIMITS
    )
    sink = RecordingSink()
    policy = ValidationPolicy(mode=mode, atomic=atomic, max_error_ratio=1.0)
    outcome = run_feed(
        fmt,
        FeedReading(fmt, validator, LIMITS, batch_size),
        io.BytesIO(body) if stream is None else stream,
        policy,
        sink,
        errors_cap=5,
        parsing=parsing or PARSE_HERE,
    )
    return outcome, sink.written


def json_document(items: list[Any]) -> bytes:
    return ('{"products": [' + ",".join(jsontext.dumps(item) for item in items) + "]}").encode()


def jsonl_document(items: list[Any]) -> bytes:
    return "".join(jsontext.dumps(item) + "\n" for item in items).encode()


_ITEMS = st.lists(
    st.one_of(
        feeds(2, max_size=1).map(lambda ps: product_item(ps[0], 2) if ps else {}),
        broken_items(2),
        junk_items(2),
    ),
    max_size=70,  # past LIMITS.max_items, sometimes
)


@settings(max_examples=examples(40))
@given(
    items=_ITEMS,
    repeat=st.booleans(),
    cut=st.integers(0, 200) | st.none(),
    fmt_name=st.sampled_from(["json", "jsonl"]),
    mode=st.sampled_from([Mode.STRICT, Mode.LENIENT]),
    atomic=st.booleans(),
)
def test_json_feeds_come_out_the_same_from_a_helper(
    helpers: ParserProcesses,
    items: list[Any],
    repeat: bool,
    cut: int | None,
    fmt_name: str,
    mode: Mode,
    atomic: bool,
) -> None:
    if repeat and items:
        items = [*items, items[0]]  # a repeated SKU, maybe across a batch boundary
    try:
        body = (json_document if fmt_name == "json" else jsonl_document)(items)
    except ValueError:  # an int past Python's 4300-digit str() limit: not a document to send
        assume(False)
        raise
    if cut is not None:
        body = body[: max(0, len(body) - cut)]  # truncated: a feed error part way
    fmt = FORMATS.get(fmt_name, 2)
    here = ingest(fmt, body, None, mode=mode, atomic=atomic)
    assert ingest(fmt, body, helpers, mode=mode, atomic=atomic) == here


_VALUES = st.none() | st.text() | st.integers() | st.booleans() | st.floats(allow_nan=False) | st.binary()
"""What a row may hold, and more: an integer past 64 bits, a lone surrogate, bytes."""


class _Text(str):
    """A subclass of str: `marshal` carries str alone."""


_FOREIGN = st.decimals(allow_nan=False) | st.builds(_Text, st.text())
"""Values `marshal` does not carry (their types are not its own): such rows go as pickle."""


@given(rows=st.lists(st.tuples(_VALUES, _VALUES, _VALUES) | st.lists(_VALUES, max_size=20).map(tuple)))
def test_rows_travel_exactly(rows: list[ProductRow]) -> None:
    packed = pack_rows(rows)
    if not rows:
        assert packed is None
        return
    assert packed is not None
    back = unpack_rows(packed)
    assert back == rows
    assert [[type(v) for v in row] for row in back] == [[type(v) for v in row] for row in rows]
    assert all(type(row) is tuple for row in back)


@given(rows=st.lists(st.tuples(_VALUES, _FOREIGN, _VALUES), min_size=1))
def test_rows_of_other_types_go_as_pickle(rows: list[ProductRow]) -> None:
    assert pack_rows(rows) is None


@settings(max_examples=examples(25))
@given(
    products=feeds(2, max_size=12),
    fmt_name=st.sampled_from(["csv", "xml"]),
    cut=st.integers(0, 40) | st.none(),
)
def test_textual_feeds_come_out_the_same_from_a_helper(
    helpers: ParserProcesses, products: list[Any], fmt_name: str, cut: int | None
) -> None:
    fmt = FORMATS.get(fmt_name, 2)
    body = fmt.render([*products, *products[:1]])  # and a repeat
    if cut is not None:
        body = body[: max(0, len(body) - cut)]
    assert ingest(fmt, body, helpers) == ingest(fmt, body, None)


_SKIPPED = b"what the caller read before"


@settings(max_examples=examples(12))
@given(products=feeds(2, max_size=12), fmt_name=st.sampled_from(["json", "jsonl", "csv", "xml"]))
def test_a_helper_reads_a_plain_file_itself_and_the_feed_comes_out_the_same(
    helpers: ParserProcesses, products: list[Any], fmt_name: str
) -> None:
    """A feed in a regular file, opened as open(path, "rb") opens it, is read by the helper
    from the parent's position on: the parent reads none of its bytes (its position does not
    move), and the chunks are those of the feed parsed here."""
    fmt = FORMATS.get(fmt_name, 2)
    body = fmt.render([*products, *products[:1]])  # and a repeat
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "feed"
        path.write_bytes(_SKIPPED + body)
        with path.open("rb") as stream:
            stream.read(len(_SKIPPED))
            outcome = ingest(fmt, body, helpers, stream=stream)
            assert stream.tell() == len(_SKIPPED)
    assert outcome == ingest(fmt, body, None)


def test_a_file_the_helper_cannot_open_goes_through_the_pipe(
    helpers: ParserProcesses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the helper cannot open the file it is named, the parent sends the bytes instead:
    the feed comes out the same, and the helper serves the next feed."""
    import partner_ingest.adapters_out.parser_processes as processes
    from partner_ingest.adapters_out.parser_wire import FileSource

    monkeypatch.setattr(processes, "_file_source", lambda stream: FileSource(str(tmp_path / "gone"), 0))
    path = tmp_path / "feed.jsonl"
    path.write_bytes(jsonl_feed(30))
    with path.open("rb") as stream:
        outcome = ingest(JSONL, jsonl_feed(30), helpers, stream=stream)
    assert outcome == ingest(JSONL, jsonl_feed(30), None)
    first = helpers.pids
    assert ingest(JSONL, jsonl_feed(5), helpers)[0].counts.created == 5
    assert helpers.pids == first and len(first) == 1


class _Counting(RawReader):
    """A file behind a reader that counts what is read of it (as a progress bar does)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.passed = 0

    def read_some(self, size: int) -> bytes:
        data = self._inner.read(size)
        self.passed += len(data)
        return data


def test_a_wrapped_file_goes_through_the_pipe(helpers: ParserProcesses, tmp_path: Path) -> None:
    """A file behind anything that watches its reads (a progress bar, a hash) is read here and
    sent to the helper, so that every byte passes through the wrapper."""
    path = tmp_path / "feed.jsonl"
    path.write_bytes(jsonl_feed(30))
    with path.open("rb") as raw:
        counting = _Counting(raw)
        outcome = ingest(JSONL, jsonl_feed(30), helpers, stream=io.BufferedReader(counting))
    assert counting.passed == len(jsonl_feed(30))
    assert outcome == ingest(JSONL, jsonl_feed(30), None)


def test_a_small_feed_is_parsed_here_and_starts_no_helper() -> None:
    pool = ParserProcesses(min_bytes=1 << 20, max_processes=1)
    try:
        outcome, written = ingest(JSONL, jsonl_feed(10), pool)
        assert outcome.counts.created == 10 and len(written) == 10
        assert pool.pids == []
    finally:
        pool.close()


def test_a_helper_is_reused_from_feed_to_feed(helpers: ParserProcesses) -> None:
    ingest(JSONL, jsonl_feed(5), helpers)
    first = helpers.pids
    ingest(JSONL, jsonl_feed(5), helpers)
    assert helpers.pids == first and len(first) == 1


def test_a_helper_started_without_waiting_serves_the_first_feed() -> None:
    """warm(wait=False) only starts the process (a CLI ingest hashes its file meanwhile, ADR 0039);
    the first feed waits for its hello and is parsed there."""
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    try:
        pool.warm(wait=False)
        (started,) = pool.pids
        pool.warm(wait=False)  # one is starting already: no second process
        assert pool.pids == [started]
        outcome, written = ingest(JSONL, jsonl_feed(50), pool)
        assert outcome.counts.created == 50 and len(written) == 50
        assert pool.pids == [started]
    finally:
        pool.close()


def test_a_helper_started_before_the_pool_is_adopted_or_stopped() -> None:
    """A process a CLI ingest starts before importing the composition root (parser_spawn.py,
    ADR 0039) becomes the pool's idle helper and parses the first feed; a pool that already
    has one, or runs no helpers, stops it rather than leaving it running."""
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    spare = spawn()
    try:
        early = spawn()
        pool.warm(spawned=early)
        assert pool.pids == [early.process.pid]
        pool.warm(spawned=spare)  # one is there already
        assert spare.process.poll() is not None
        outcome, written = ingest(JSONL, jsonl_feed(50), pool)
        assert outcome.counts.created == 50 and len(written) == 50
        assert pool.pids == [early.process.pid]
    finally:
        pool.close()
    off = spawn()
    ParserProcesses(min_bytes=0, max_processes=0).warm(spawned=off)
    assert off.process.poll() is not None


def test_a_helper_that_fails_to_start_unseen_leaves_feeds_parsed_here(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = ParserProcesses(min_bytes=0, max_processes=1, executable="/bin/false")
    try:
        pool.warm(wait=False)
        with caplog.at_level(logging.WARNING):
            outcome, written = ingest(JSONL, jsonl_feed(20), pool)
        assert outcome.counts.created == 20 and len(written) == 20
        assert "no parser process could start" in caplog.text
        assert pool.pids == []
    finally:
        pool.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are set on Linux only")
def test_a_helper_may_write_several_chunks_ahead(helpers: ParserProcesses) -> None:
    import fcntl

    helpers.warm()
    (helper,) = helpers._idle
    room = min(fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ) for pipe in (helper._outbox, helper.inbox))
    # A system whose pipes may not grow that much (pipe-max-size) keeps its default.
    allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text()) >= 1 << 20
    assert room >= 1 << 20 if allowed else room > 0


def test_formats_a_helper_cannot_have_are_parsed_here(
    helpers: ParserProcesses, caplog: pytest.LogCaptureFixture
) -> None:
    # A class of a module that exists only in this process: pickled by reference, it
    # cannot be imported in the helper, which refuses it; the feed is parsed here.
    module = types.ModuleType("partner_ingest_test_only_here")
    cls = attrs.frozen(type("OnlyHere", (JsonLinesFeed,), {"__module__": module.__name__}))
    module.OnlyHere = cls  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        with caplog.at_level(logging.WARNING):
            outcome, written = ingest(cls(version=2), jsonl_feed(7), helpers)
        assert outcome.counts.created == 7 and len(written) == 7
        assert "parsed in this process" in caplog.text
        outcome, _ = ingest(cls(version=2), jsonl_feed(7), helpers)  # remembered: not offered again
        assert outcome.counts.created == 7
        assert ingest(JSONL, jsonl_feed(3), helpers)[0].counts.created == 3  # the helper serves on
    finally:
        del sys.modules[module.__name__]


class Stopped(BaseException):
    """Like the worker's interruption at shutdown: raised by a read, not an Exception."""


class FailingStream(RawReader):
    """Yields `good` bytes, then fails the way a broken disk or socket does (or a
    worker's stored body when the worker is told to stop)."""

    def __init__(self, good: bytes, error: BaseException) -> None:
        self._good = io.BytesIO(good)
        self._error = error

    def read_some(self, size: int) -> bytes:
        data = self._good.read(size)
        if not data:
            raise self._error
        return data


@pytest.mark.parametrize("error", [ConnectionResetError("the stream broke"), Stopped("the stream broke")])
def test_a_stream_that_fails_raises_the_same_error_as_parsed_here(
    helpers: ParserProcesses, error: BaseException
) -> None:
    fmt = JSONL
    validator = ItemValidator(contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER)
    body = jsonl_feed(50)[:-10]
    reading = FeedReading(fmt, validator, FeedLimits())
    for parsing in (PARSE_HERE, helpers):
        stream: BinaryIO = io.BufferedReader(FailingStream(body, error))
        with pytest.raises(type(error), match="the stream broke"):
            run_feed(fmt, reading, stream, ValidationPolicy(), SetSink(), parsing=parsing)
    assert ingest(fmt, jsonl_feed(3), helpers)[0].counts.created == 3  # and the next feed is fine


def seeded_store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "killed.db")
    seed_partner(store, PARTNER)
    return store


def test_a_helper_killed_mid_feed_fails_the_feed_and_writes_nothing(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    pool.warm()
    (victim,) = pool.pids

    class KillingStream(RawReader):
        # Kills the helper once a good part of the feed has gone to it.
        def __init__(self, body: bytes) -> None:
            self._body = io.BytesIO(body)

        def read_some(self, size: int) -> bytes:
            if self._body.tell() > 200_000:
                os.kill(victim, signal.SIGKILL)
            return self._body.read(size)

    use_case = IngestFeed(
        store.unit_of_work, FORMATS, FakeClock(), SequentialIds(), parsing=pool, batch_size=100
    )
    try:
        body = io.BufferedReader(KillingStream(jsonl_feed(20_000)), 4096)
        with pytest.raises(ParserProcessError, match=r"ended unexpectedly|is gone"):
            use_case(FeedSubmission(partner_id=PARTNER, body=body, format="jsonl", version=2))
        with store.unit_of_work(read_only=True) as uow:
            assert uow.products.count(PARTNER) == 0
            assert uow.imports.latest_applied(PARTNER) is None
        report = use_case(
            FeedSubmission(partner_id=PARTNER, body=io.BytesIO(jsonl_feed(300)), format="jsonl")
        )
        assert report.counts.created == 300
        assert pool.pids != [victim]
    finally:
        pool.close()
        store.close()


def test_close_stops_the_helpers() -> None:
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    pool.warm()
    (pid,) = pool.pids
    pool.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (and reaped: close waits for it)
    outcome, _ = ingest(JSONL, jsonl_feed(4), pool)  # a closed pool parses here
    assert outcome.counts.created == 4


def test_a_helper_ends_itself_once_its_pipe_closes() -> None:
    """A helper that has parsed a feed exits on its own, with status 0, as soon as its parent
    closes the pipe: stop() never has to kill it after waiting (the end of every CLI ingest)."""
    from partner_ingest.adapters_out.parser_helper import Helper

    helper = Helper.start(sys.executable)
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    pool._idle.append(helper)
    outcome, _ = ingest(JSONL, jsonl_feed(40), pool)
    assert outcome.counts.created == 40
    pool.close()  # stops it: closes its pipes and waits
    assert helper._process.returncode == 0  # not killed, and its exit raised nothing


def test_no_helper_when_none_may_run() -> None:
    pool = ParserProcesses(min_bytes=0, max_processes=0)
    outcome, _ = ingest(JSONL, jsonl_feed(4), pool)
    assert outcome.counts.created == 4 and pool.pids == []


def test_an_interpreter_that_cannot_start_means_parsing_here(caplog: pytest.LogCaptureFixture) -> None:
    pool = ParserProcesses(min_bytes=0, max_processes=1, executable="/nonexistent/python")
    with caplog.at_level(logging.WARNING):
        outcome, _ = ingest(JSONL, jsonl_feed(4), pool)
    assert outcome.counts.created == 4
    assert "no parser process could start" in caplog.text


def test_the_service_parses_large_feeds_in_a_helper_unless_told_not_to(tmp_path: Path) -> None:
    from partner_ingest.adapters_in.bootstrap import build
    from partner_ingest.adapters_in.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="PARSER_PROCESSES must not be negative"):
        Settings.from_env({"PARTNER_INGEST_PARSER_PROCESSES": "-1"})
    with pytest.raises(SettingsError, match="PARSER_MIN_BYTES must be greater than 0"):
        Settings.from_env({"PARTNER_INGEST_PARSER_MIN_BYTES": "0"})
    with pytest.raises(SettingsError, match="PARSER_PROCESSES must be 0"):
        Settings(parser_processes=-1).check()  # built in code, not from the environment
    for env, helpers_expected in (({}, True), ({"PARTNER_INGEST_PARSER_PROCESSES": "0"}, False)):
        settings = Settings.from_env(
            {
                "PARTNER_INGEST_DATABASE_URL": f"sqlite:///{tmp_path}/svc-{len(env)}.db",
                "PARTNER_INGEST_PARSER_MIN_BYTES": "1",
                **env,
            }
        )
        app = build(settings)
        try:
            parsing = app.ingest._parsing
            assert isinstance(parsing, ParserProcesses) is helpers_expected
            if isinstance(parsing, ParserProcesses):
                assert parsing.min_bytes == 1
        finally:
            app.close()
        if isinstance(parsing, ParserProcesses):
            assert parsing.pids == []  # closed with the application


def test_a_helper_killed_while_idle_is_replaced() -> None:
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    try:
        pool.warm()
        (victim,) = pool.pids
        os.kill(victim, signal.SIGKILL)
        # Whether the pool notices before offering it a feed (dead) or after (the offer
        # fails, the feed is parsed here), every feed comes out right, and one more
        # feed later a new helper is running.
        for _ in range(2):
            outcome, written = ingest(JSONL, jsonl_feed(8), pool)
            assert outcome.counts.created == 8 and len(written) == 8
        (replacement,) = pool.pids
        assert replacement != victim
    finally:
        pool.close()


def test_a_feed_of_invalid_items_is_held_a_batch_at_a_time() -> None:
    # Invalid items' errors wait in a chunk like valid rows do, so a feed of a million
    # invalid items never holds a million error lists (the back half keeps 100 errors).
    fmt = FORMATS.get("jsonl", 2)
    body = jsonl_document([{"sku": f"X-{n}", "price": "free"} for n in range(2_500)])
    validator = ItemValidator(contract_for(2), Mode.STRICT, textual=False, partner_id=PARTNER)
    chunks = list(FeedReading(fmt, validator, FeedLimits(), 1000).chunks(io.BytesIO(body)))
    assert [len(c.rejected) for c in chunks] == [1000, 1000, 500]
    assert [c.received for c in chunks] == [1000, 2000, 2500] and chunks[-1].last


def test_signals_for_the_whole_group_leave_the_helper_to_its_parent() -> None:
    # Ctrl+C or a group-wide SIGTERM must not kill a helper mid-feed (the worker finishes
    # its job on SIGTERM) nor print a traceback; closing the pipe ends it.
    pool = ParserProcesses(min_bytes=0, max_processes=1)
    try:
        pool.warm()
        (pid,) = pool.pids
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        outcome, _ = ingest(JSONL, jsonl_feed(6), pool)
        assert outcome.counts.created == 6
        assert pool.pids == [pid]
    finally:
        pool.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_item_at_a_feed_cap_ends_the_feed_at_it_in_a_helper_too(helpers: ParserProcesses) -> None:
    # Lenient mode keeps unknown fields, and one past max_field_chars is a feed error raised
    # by the validator: in the helper as here, the feed ends at that item with the same
    # counts and error, and the next feed is fine.
    items: list[Any] = [
        {"sku": f"C-{n}", "name": "Capped", "price": 1, "currency": "EUR", "quantity": 1} for n in range(20)
    ]
    items[13]["note"] = "x" * (LIMITS.max_field_chars + 1)
    body = jsonl_document(items)
    here = ingest(JSONL, body, None, mode=Mode.LENIENT)
    assert here[0].feed_error is not None and here[0].counts.received == 14
    assert ingest(JSONL, body, helpers, mode=Mode.LENIENT) == here
    assert ingest(JSONL, jsonl_feed(4), helpers)[0].counts.created == 4


@pytest.mark.parametrize("name", ["gmc-xml", "gmc-tsv", "shopify-csv"])
def test_a_foreign_format_bound_to_its_partner_is_parsed_in_a_helper_alike(
    helpers: ParserProcesses, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from partner_ingest.domain.model import FeedContext
    from partner_ingest.ports.formats import for_partner

    fmt = for_partner(load_formats().get(name, 2), FeedContext(PARTNER, "USD"))
    sample: bytes = fmt.sample()  # type: ignore[attr-defined]
    here = ingest(fmt, sample, None, mode=Mode.LENIENT)
    with caplog.at_level(logging.WARNING):
        there = ingest(fmt, sample, helpers, mode=Mode.LENIENT)
    assert "parsed in this process" not in caplog.text  # the helper had the bound format
    assert there == here
    assert here[0].counts.created == len(here[1]) > 0
