"""Real `partner-ingest` processes: the venv's console script, its output in files, stopped by SIGTERM.

`Process.start(name, args, env, logs)` runs `partner-ingest <args>` with stdout
and stderr written to files under `logs`, not to pipes: a chatty process
(a worker logging every job) whose pipe nobody drains would stall once the
pipe is full. `wait_for_output` reads those files for a line a process prints
when it is up; `tail()` is what a failed test prints about it; `stop()` sends
SIGTERM and returns the exit code.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs

__all__ = ["CLI", "Process", "run"]

CLI = str(Path(sys.executable).parent / "partner-ingest")
"""The console script of the virtualenv the tests run in."""


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`partner-ingest <args>` to its end (at most a minute)."""
    return subprocess.run(
        [CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@attrs.define
class Process:
    """One running `partner-ingest` command and the files its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    stopped_by_us: bool = False

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], logs: Path) -> Process:
        """Start `partner-ingest <args>`; its output goes to `<logs>/<name>.out` and `.err`."""
        logs.mkdir(parents=True, exist_ok=True)
        out, err = logs / f"{name}.out", logs / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen([CLI, *args], env=env, stdout=stdout, stderr=stderr)
        return cls(name, popen, out, err)

    def stdout(self) -> str:
        """Everything it printed on stdout so far."""
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        """Everything it wrote on stderr (its log) so far."""
        return self.stderr_path.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        """Still running."""
        return self.popen.poll() is None

    def wait_for_output(
        self, pattern: str, *, timeout: float = 60.0, stream: str = "stdout"
    ) -> re.Match[str]:
        """The first match of `pattern` in its stdout (or stderr) once it appears; AssertionError
        with its output when it exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.stdout() if stream == "stdout" else self.stderr()
            found = re.search(pattern, text, re.MULTILINE)
            if found is not None:
                return found
            if not self.alive:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {pattern!r} after {timeout} s:\n{self.tail()}")
            time.sleep(0.05)

    def signal_stop(self) -> None:
        """Send SIGTERM (if it still runs); `wait` collects the exit code."""
        if self.alive:
            self.stopped_by_us = True
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code; SIGKILL (and a code of -9) when it does not exit within `timeout`."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=10)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit code."""
        self.signal_stop()
        return self.wait(timeout)

    def tail(self, lines: int = 12, width: int = 400) -> str:
        """The last lines of its stdout and stderr, for the report of a failed test."""
        state = "running" if self.alive else f"exited with {self.popen.returncode}"
        parts = [f"--- {self.name} ({state}) ---"]
        for label, text in (("stdout", self.stdout()), ("stderr", self.stderr())):
            kept = [line[:width] for line in text.splitlines()[-lines:]]
            if kept:
                parts.append(f"[{label}, last {len(kept)} lines]")
                parts.extend(kept)
        return "\n".join(parts)
