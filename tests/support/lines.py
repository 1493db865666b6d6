"""A real process's output, collected line by line as it comes, for the tests that wait for a
log line (``scc collector`` and ``scc demo`` as processes)."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import IO


class Lines:
    """Reads ``stream`` of ``proc`` in a thread; ``wait_for`` waits for a matching line."""

    def __init__(self, proc: subprocess.Popen[str], stream: IO[str] | None) -> None:
        assert stream is not None
        self.proc = proc
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()

    def output(self) -> str:
        with self._cv:
            return "\n".join(self.lines)

    def count(self, pattern: str) -> int:
        rx = re.compile(pattern)
        with self._cv:
            return sum(1 for line in self.lines if rx.search(line))

    def wait_for(self, pattern: str, timeout_s: float = 20.0, shown: int = 40) -> re.Match[str]:
        """The first line matching ``pattern``; an AssertionError with the last ``shown`` lines
        when none comes within ``timeout_s`` or the process ends without one."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while True:
            exited = self.proc.poll() is not None
            if exited:
                self.join()  # everything it printed is in self.lines now
            with self._cv:
                for line in self.lines:
                    if m := rx.search(line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or exited:
                    raise AssertionError(
                        f"no line matching {pattern!r} within {timeout_s} s; output:\n"
                        + "\n".join(self.lines[-shown:])
                    )
                self._cv.wait(min(left, 0.2))

    def join(self, timeout_s: float = 5.0) -> None:
        self._reader.join(timeout_s)
