"""Calls to a store's writer (ADR 0043) as the HTTP path makes them, shared by the SQLite and
PostgreSQL writer tests: each call's answer, and what the database held when it was told."""

from __future__ import annotations

import threading
from collections.abc import Callable

from partner_ingest.ports import WriteQueue

Done = Callable[[object, BaseException | None], None]


class Answers:
    """Each call's answer, with what the database held for its partner when it was told."""

    def __init__(self, stored: Callable[[str], int], expected: int) -> None:
        self.stored = stored
        self.expected = expected
        self.values: dict[str, object] = {}
        self.errors: dict[str, BaseException] = {}
        self.seen: dict[str, int] = {}
        self.told = threading.Event()

    def done(self, partner: str) -> Done:
        def told(value: object, error: BaseException | None) -> None:
            if error is not None:
                self.errors[partner] = error
            else:
                self.values[partner] = value
            self.seen[partner] = self.stored(partner)
            if len(self.values) + len(self.errors) == self.expected:
                self.told.set()

        return told


def call(writer: WriteQueue, work: Callable[[], object]) -> object:
    """`work()` in the writer, waited for like a request: its result, or its error raised."""
    told = threading.Event()
    answer: list[tuple[object, BaseException | None]] = []

    def done(value: object, error: BaseException | None) -> None:
        answer.append((value, error))
        told.set()

    writer.submit(work, done)
    assert told.wait(60)
    value, error = answer[0]
    if error is not None:
        raise error
    return value
