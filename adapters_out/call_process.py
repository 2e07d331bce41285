"""`CallProcess`: calls answered by a child process, so that their work holds another GIL than
this process's (ADR 0047: `serve`'s ingest of the feeds answered while their sender waits).

Invariant: every call submitted is answered exactly once, with the child's result or error,
or, if the child ends before answering it, with `BatchNotDurable` (503 `store_busy`: the
request may be sent again; its Idempotency-Key makes that safe). The thread that submits never
waits on the pipe: a message is written at once when the pipe has room for it, otherwise (a
large feed, a child busy with a batch) a sender thread writes it, in order.

How:
- The child is started like a parser helper (parser_spawn.py: `python -c`, two pipes), running
  call_process_serve.py; its first message is `opening`, a pickled `(open, argument)`: the
  child calls `open(argument)` and hands every later message to what that returns. Each later
  message is a frame (frames.py) of an 8-byte call number and the pickled message; each answer
  the same, with a pickled `(value, error)`.
- A reader thread takes the answers and tells each call's `done`. When the pipe ends (the
  child died or finished), the calls still waiting are told `BatchNotDurable`, the child is
  reaped, and the next call starts a new child.
- `close()` ends the pipe to the child: it finishes the calls it holds (its writer commits
  them), answers them, and exits; then it is reaped. The child ignores SIGINT and SIGTERM (a
  signal to the service's process group is for this process, which stops it this way), and
  ends when this process's end of the pipe closes, however this process ended.
"""

from __future__ import annotations

import functools
import os
import pickle
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .call_process_serve import NUMBER
from .frames import FramePipe, frame, write_all
from .store_errors import BatchNotDurable

if TYPE_CHECKING:
    import logging
    import subprocess

    from partner_ingest.ports.unit_of_work import Done

__all__ = ["CHILD_ENDED", "CallProcess"]

CHILD_ENDED: Final = "the ingest process stopped before answering; the feed may be sent again"
_SERVE: Final = "partner_ingest.adapters_out.call_process_serve"
_STOP_SECONDS: Final = 60.0
"""How long `close()` waits for the child to finish what it holds before killing it."""


def _log() -> logging.Logger:
    import logging

    return logging.getLogger(__name__)


def _frame(number: int, payload: bytes) -> bytes:
    """A call's frame (frames.py): the call number, then the payload."""
    return frame(payload, NUMBER.pack(number))


class _Child:
    """One child process and the calls it has not answered yet."""

    def __init__(self, executable: str | None, opening: bytes) -> None:
        from .parser_spawn import spawn

        spawned = spawn(executable, module=_SERVE)
        self.process: subprocess.Popen[bytes] = spawned.process
        self.to_child = spawned.to_helper
        os.set_blocking(self.to_child, False)
        self.from_child = FramePipe(spawned.from_helper)
        self.waiting: dict[int, Done] = {}
        self.outbox: deque[tuple[int, bytes | Callable[[], bytes]]] = deque()
        """What the sender writes, in order, by call number: frames, or what makes one (a body
        read off the submitting thread)."""
        self.sending = False
        """The sender holds a frame it is writing: a new one must queue behind it."""
        self.ended = False
        self.settled = threading.Event()
        """Set once the child has opened what the opening message names, or has ended."""
        self.outbox.append((0, _frame(0, opening)))


class CallProcess:
    """Calls answered by a child process (see the module); `close()` at shutdown."""

    def __init__(self, opening: bytes, *, executable: str | None = None) -> None:
        """`opening`: the pickled `(open, argument)` every child starts with."""
        self._opening = opening
        self._executable = executable
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._child: _Child | None = None
        self._numbers = 0
        self._closed = False
        self._threads: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        """The current child's process id (tests kill it), None before the first call."""
        with self._lock:
            return None if self._child is None else self._child.process.pid

    @property
    def waiting(self) -> int:
        """Calls submitted to the current child and not answered yet."""
        with self._lock:
            return 0 if self._child is None else len(self._child.waiting)

    def start(self, *, wait: float = 0.0) -> None:
        """Start the child now rather than on the first call, and wait up to `wait` seconds
        until it is ready for calls (or has ended: the first call starts another)."""
        with self._lock:
            if not self._closed and self._child is None:
                self._child = self._spawn()
            child = self._child
        if child is not None and wait > 0:
            child.settled.wait(wait)

    def submit(self, message: bytes | Callable[[], bytes], done: Done) -> None:
        """Send the pickled `message` (or what `message()` returns, called on the sender thread)
        to the child; `done(value, None)` or `done(None, error)` is called, on a thread of
        this object's, with its answer."""
        with self._lock:
            if self._closed:
                error: BaseException = BatchNotDurable("the service is shutting down; nothing was stored")
            else:
                try:
                    child = self._child if self._child is not None and not self._child.ended else None
                    if child is None:
                        child = self._child = self._spawn()
                except OSError as failure:
                    error = BatchNotDurable(f"the ingest process could not start: {failure}")
                else:
                    self._numbers += 1
                    number = self._numbers
                    child.waiting[number] = done
                    if not isinstance(message, bytes):
                        made = message
                        child.outbox.append((number, lambda: _frame(number, made())))
                        self._wake.notify_all()
                    elif not child.outbox and not child.sending:
                        self._write_now(child, number, _frame(number, message))
                    else:
                        child.outbox.append((number, _frame(number, message)))
                        self._wake.notify_all()
                    return
        done(None, error)

    def sent(self, done: Done) -> None:
        """`done(None, None)` once every message submitted so far has left this process's hands
        (what a message is made from may then be closed)."""
        with self._lock:
            child = self._child
            if child is None or child.ended or (not child.outbox and not child.sending):
                waiting = False
            else:
                waiting = True
                child.outbox.append((0, functools.partial(_told, done)))
                self._wake.notify_all()
        if not waiting:
            done(None, None)

    def close(self) -> None:
        """Take no more calls; the child finishes what it holds, answers, and is reaped."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(_STOP_SECONDS)
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            _reap(child)

    # In the lock.
    def _spawn(self) -> _Child:
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        child = _Child(self._executable, self._opening)
        for target, name in ((self._send, "sender"), (self._read, "reader")):
            thread = threading.Thread(
                target=target, args=(child,), name=f"partner-ingest-process-{name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        self._wake.notify_all()
        return child

    def _write_now(self, child: _Child, number: int, data: bytes) -> None:
        """Write what the pipe takes now; the sender writes the rest."""
        try:
            written = os.write(child.to_child, data)
        except BlockingIOError:
            written = 0
        except OSError:  # the child is gone: its reader answers the call
            return
        if written < len(data):
            child.outbox.appendleft((number, data[written:]))
            self._wake.notify_all()

    # The sender thread: writes what could not be written at once, and ends the pipe at close.
    def _send(self, child: _Child) -> None:
        try:
            while True:
                with self._lock:
                    while not child.outbox and not self._closed and not child.ended:
                        self._wake.wait()
                    if child.ended or (self._closed and not child.outbox):
                        break
                    number, item = child.outbox.popleft()
                    child.sending = True
                try:
                    data = item if isinstance(item, bytes) else item()
                except Exception as error:
                    self._fail(child, number, error)
                    data = b""
                try:
                    write_all(child.to_child, data)
                except OSError:  # the child is gone: its reader answers the calls
                    break
                finally:
                    with self._lock:
                        child.sending = False
        finally:
            with self._lock:
                child.sending = False
                fd, child.to_child = child.to_child, -1
                # Calls left unsent are answered by the reader when the pipe ends; a `sent`
                # barrier among them is reached now: nothing of theirs will be read any more.
                barriers = [item for number, item in child.outbox if number == 0 and callable(item)]
                child.outbox.clear()
                self._wake.notify_all()
            if fd >= 0:
                os.close(fd)  # the child's end of file: it finishes what it holds and exits
            for barrier in barriers:
                barrier()

    def _fail(self, child: _Child, number: int, error: BaseException) -> None:
        """A call whose message could not be made (its body could not be read): never sent,
        so told its error here."""
        with self._lock:
            done = child.waiting.pop(number, None)
        if done is not None:
            _tell(done, None, error)

    # The reader thread: tells each answer to its call, and the rest when the pipe ends.
    def _read(self, child: _Child) -> None:
        pipe = child.from_child
        try:
            while True:
                data = pipe.recv_bytes()
                (number,) = NUMBER.unpack_from(data)
                if number == 0:  # the child is ready
                    child.settled.set()
                    continue
                value, error = pickle.loads(memoryview(data)[NUMBER.size :])  # noqa: S301 - our own child
                with self._lock:
                    done = child.waiting.pop(number, None)
                if done is not None:
                    _tell(done, value, error)
        except (EOFError, OSError):
            pass
        except Exception:
            _log().exception("an answer of the ingest process could not be read")
        child.settled.set()
        with self._lock:
            child.ended = True
            waiting, child.waiting = child.waiting, {}
            if self._child is child:
                self._child = None
            self._wake.notify_all()
        pipe.close()
        for done in waiting.values():
            _tell(done, None, BatchNotDurable(CHILD_ENDED))
        if waiting and not self._closed:
            _log().error("the ingest process ended with %d calls unanswered", len(waiting))
        _reap(child)


def _told(done: Done) -> bytes:
    """A `sent` barrier reached: nothing to write."""
    done(None, None)
    return b""


def _tell(done: Done, value: object, error: BaseException | None) -> None:
    try:
        done(value, error)
    except Exception:  # one caller's answer must not keep the others from theirs
        _log().exception("an ingest process call's answer failed")


def _reap(child: _Child) -> None:
    """Wait for the child's exit (it ends once its pipe is closed), killing it if it does not."""
    import subprocess

    try:
        child.process.wait(_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.process.kill()
        child.process.wait()
