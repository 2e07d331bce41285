"""The child's side of `CallProcess` (call_process.py, ADR 0047): one message after another,
read from the pipe and handed to what the opening message opened, each answered on the
thread that settles it.

Invariant: every message read is answered once (its value, or its error made portable);
the child ends when its parent closes the pipe, after what it opened has finished (`close()`)
the calls it holds, never on a signal meant for the parent.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pickle
import signal
import struct
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Final, NoReturn, Protocol

from .frames import FramePipe

if TYPE_CHECKING:
    from collections.abc import Callable

    from partner_ingest.ports.unit_of_work import Done

__all__ = ["NUMBER", "Opened", "portable", "serve"]

NUMBER: Final = struct.Struct("!Q")
"""A call's number, first in each frame of a call and of its answer (0: the opening, and ready)."""


class Opened(Protocol):
    """What the opening message's `open(argument)` returns."""

    def call(self, message: object, done: Done) -> None:
        """Run `message`; `done(value, None)` or `done(None, error)` once it may be answered."""
        ...

    def close(self) -> None:
        """Finish the calls held, then release everything."""
        ...


def serve(inbox_fd: int, outbox_fd: int) -> NoReturn:
    """A child's life: open, then one message after another until its parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    inbox, outbox = FramePipe(inbox_fd), FramePipe(outbox_fd)
    code = 0
    try:
        _serve(inbox, outbox)
    except (EOFError, OSError):  # the parent went away before the opening: nothing to open
        pass
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _serve(inbox: FramePipe, outbox: FramePipe) -> None:
    opening = inbox.recv_bytes()[NUMBER.size :]
    open_, argument = pickle.loads(opening)  # noqa: S301 - from our parent
    opened: Opened = open_(argument)
    sending = threading.Lock()
    outbox.send_bytes(NUMBER.pack(0) + pickle.dumps((None, None)))  # opened: ready for calls

    def answer(number: int, value: object, error: BaseException | None) -> None:
        try:
            data = pickle.dumps((value, portable(error)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as failure:
            data = pickle.dumps((None, portable(failure)), protocol=pickle.HIGHEST_PROTOCOL)
        with sending, contextlib.suppress(OSError):  # the parent is gone: nobody to answer
            outbox.send_bytes(NUMBER.pack(number) + data)

    try:
        while True:
            try:
                data = inbox.recv_bytes()
            except (EOFError, OSError):
                break
            (number,) = NUMBER.unpack_from(data)
            done = functools.partial(answer, number)
            try:
                message = pickle.loads(memoryview(data)[NUMBER.size :])  # noqa: S301 - from our parent
            except Exception as error:
                done(None, error)
                continue
            opened.call(message, done)
    finally:
        opened.close()


def portable(error: BaseException | None) -> BaseException | None:
    """`error` as it can be unpickled in the parent: itself when it can; else a copy made
    without calling its `__init__` (an error whose arguments are not those of its constructor);
    else a RuntimeError with its text."""
    if error is None or _travels(error):
        return error
    try:
        copy = _Rebuilt(type(error), error.args, dict(vars(error)))
    except TypeError:  # no __dict__ (slots)
        return RuntimeError(f"{type(error).__name__}: {error}")
    return copy if _travels(copy) else RuntimeError(f"{type(error).__name__}: {error}")


def _travels(error: BaseException) -> bool:
    """Does `error` come out of pickle as it went in (in this process: the parent has the same
    classes)?"""
    try:
        pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - just made
    except Exception:  # whatever a class's pickling raises
        return False
    return True


class _Rebuilt(Exception):
    """Carries an error whose class cannot be unpickled the usual way; unpickled as that class."""

    def __init__(self, kind: type[BaseException], args: tuple[object, ...], state: dict[str, object]) -> None:
        super().__init__(kind, args, state)

    def __reduce__(self) -> tuple[Callable[..., BaseException], tuple[object, ...]]:
        return _rebuild, self.args


def _rebuild(kind: type[BaseException], args: tuple[object, ...], state: dict[str, object]) -> BaseException:
    error = kind.__new__(kind, *args)
    error.args = args
    vars(error).update(state)
    return error
