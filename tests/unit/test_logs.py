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
