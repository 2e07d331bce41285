"""Log lines of every process: the fields a line was logged with are in it, in JSON and in text.

`worker` and `scheduler` once logged through `logging.basicConfig`, which drops
them: "job processed" with no job id, outcome or attempt, whatever
PARTNER_INGEST_LOG_FORMAT said. Every command now configures logging alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from partner_ingest.adapters_in.logs import configure_logging
from partner_ingest.adapters_in.settings import Settings


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as it was (pytest's capture handlers included)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _logged(capsys: pytest.CaptureFixture[str], settings: Settings) -> str:
    configure_logging(settings)
    logging.getLogger("partner_ingest.worker").info(
        "job processed", extra={"job_id": "job_1", "outcome": "succeeded", "attempt": 1}
    )
    return capsys.readouterr().err.strip()


@pytest.mark.usefixtures("root_logging")
def test_a_json_line_carries_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    line = json.loads(_logged(capsys, Settings(log_format="json")))
    assert line["message"] == "job processed" and line["logger"] == "partner_ingest.worker"
    assert (line["job_id"], line["outcome"], line["attempt"]) == ("job_1", "succeeded", 1)


@pytest.mark.usefixtures("root_logging")
def test_a_text_line_carries_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    line = _logged(capsys, Settings(log_format="text"))
    assert line.endswith(
        'INFO partner_ingest.worker job processed job_id="job_1" outcome="succeeded" attempt=1'
    )


@pytest.mark.usefixtures("root_logging")
def test_a_key_is_masked_in_either_format(capsys: pytest.CaptureFixture[str]) -> None:
    key = "pcik_0123456789ABC_" + "x" * 43
    for log_format in ("json", "text"):
        configure_logging(Settings(log_format=log_format))
        logging.getLogger("partner_ingest").warning("oops", extra={"presented": key})
        text = capsys.readouterr().err
        assert "x" * 20 not in text and "pcik_0123456789ABC_****" in text


@pytest.mark.usefixtures("root_logging")
def test_an_access_line_written_straight_to_the_stream_is_the_line_logging_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from partner_ingest.adapters_in.http._context import RequestInfo
    from partner_ingest.adapters_in.http.logging import _lone_json_handler, log_request
    from partner_ingest.domain.model.api_keys import KeyRole, Principal

    info = RequestInfo(request_id="r" * 32, client="203.0.113.9")
    info.principal = Principal(role=KeyRole.PARTNER, partner_id="acme", key_id="0123456789ABC")
    info.fields.update(feed_id="feed_1", feed_status="accepted", note="Café pcik_0123456789ABC_" + "y" * 43)
    configure_logging(Settings(log_format="json"))
    assert _lone_json_handler(logging.INFO) is not None  # the straight way
    log_request(info, method="POST", route="/partner/ingest", status=200, seconds=0.0123)
    log_request(info, method="POST", route="/partner/ingest", status=503, seconds=0.5)
    direct = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    # A filter on the access logger: the same lines go through the record and the formatter.
    logging.getLogger("partner_ingest.http").addFilter(lambda record: True)
    assert _lone_json_handler(logging.INFO) is None
    try:
        log_request(info, method="POST", route="/partner/ingest", status=200, seconds=0.0123)
        log_request(info, method="POST", route="/partner/ingest", status=503, seconds=0.5)
    finally:
        logging.getLogger("partner_ingest.http").filters.clear()
    through_logging = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line.pop("ts") for line in direct] and [line.pop("ts") for line in through_logging]
    assert direct == through_logging
    assert [(line["level"], line["status"], line["outcome"]) for line in direct] == [
        ("info", 200, "ok"),
        ("error", 503, "error"),
    ]
    assert direct[0]["note"] == "Café pcik_0123456789ABC_****"
    assert list(direct[0])[:4] == ["level", "logger", "message", "request_id"]


@pytest.mark.usefixtures("root_logging")
def test_access_lines_made_on_a_loop_are_written_together_at_the_end_of_its_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from partner_ingest.adapters_in.http._context import RequestInfo
    from partner_ingest.adapters_in.http.logging import log_request

    configure_logging(Settings(log_format="json"))
    info = RequestInfo(request_id="s" * 32, client="203.0.113.9")

    async def two_requests() -> tuple[str, str]:
        log_request(info, method="POST", route="/partner/ingest", status=200, seconds=0.01)
        log_request(info, method="GET", route="/partner/imports", status=404, seconds=0.02)
        during = capsys.readouterr().err
        await asyncio.sleep(0)
        return during, capsys.readouterr().err

    during, after = asyncio.run(two_requests())
    log_request(info, method="POST", route="/partner/ingest", status=200, seconds=0.01)
    log_request(info, method="GET", route="/partner/imports", status=404, seconds=0.02)
    off_loop = capsys.readouterr().err
    assert during == ""
    on_loop = [json.loads(line) for line in after.splitlines()]
    at_once = [json.loads(line) for line in off_loop.splitlines()]
    assert [line.pop("ts") for line in on_loop] and [line.pop("ts") for line in at_once]
    assert on_loop == at_once
    assert [(line["route"], line["status"]) for line in on_loop] == [
        ("/partner/ingest", 200),
        ("/partner/imports", 404),
    ]


def test_a_json_line_is_the_text_json_dumps_writes_for_it() -> None:
    """The line's encoder is called directly: it must write what json.dumps(default=str,
    ensure_ascii=False) writes, for every kind of value a field may hold."""
    from datetime import datetime
    from decimal import Decimal

    from partner_ingest.adapters_in.logs import json_line

    fields = {
        "text": 'é\n"\u2028\x00',
        "float": 3.21,
        "inf": float("inf"),
        "big": 2**70,
        "none": None,
        "flag": True,
        "nested": [1, {"a": (2, 3)}],
        "decimal": Decimal("1.10"),
        "at": datetime(2026, 12, 7, 5, 30),
    }
    line = json_line(1_765_085_400.123, "info", "partner_ingest.http", "request", fields)
    expected = {
        "ts": "2025-12-07T05:30:00.123+00:00",
        "level": "info",
        "logger": "partner_ingest.http",
        "message": "request",
        **fields,
    }
    assert line == json.dumps(expected, default=str, ensure_ascii=False)


def test_a_json_line_of_a_circular_field_fails_as_json_dumps_does_and_the_next_line_is_whole() -> None:
    from partner_ingest.adapters_in.logs import json_line

    looped: dict[str, object] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular reference"):
        json_line(0.0, "info", "x", "m", {"looped": looped})
    shared = [1]
    assert json.loads(json_line(0.0, "info", "x", "m", {"a": shared, "b": shared}))["b"] == [1]


def test_a_json_lines_time_is_the_text_fromtimestamp_and_isoformat_write() -> None:
    """The line's time is made from a cached second: the same text for every moment, those a
    rounding to microseconds carries into the next second or millisecond included."""
    import random
    from datetime import UTC, datetime

    from partner_ingest.adapters_in.logs import json_line

    chance = random.Random(11)
    moments = [0.0, -0.5, 0.9999995, -0.9999995, 1_765_085_400.9999995, 1_765_085_399.9995, -62_135_596_800.0]
    moments += [chance.uniform(-6e10, 2.5e11) for _ in range(3000)]
    moments += [chance.randrange(4 * 10**9) + chance.randrange(10**6) / 1e6 + 5e-7 for _ in range(3000)]
    moments += [1_765_085_400 + step * 0.000_731 for step in range(3000)]
    for created in moments:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(json_line(created, "info", "x", "m", {}))["ts"] == expected, created
