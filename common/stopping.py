"""A stop request that a signal handler can make without any lock, and a sleep it ends at once.

The obvious ``threading.Event`` is not safe here: ``Event.set()`` takes the Event's lock, and a
signal handler runs in the main thread between two bytecodes, possibly while that same thread
holds the lock inside ``Event.wait()``. The handler then waits for a lock its own thread holds,
for ever: SIGTERM hangs the process it should stop (docs/design.md, "Fail-safe"). So the handler
only sets a flag and writes one byte to a pipe; a sleep is a ``select`` on that pipe, which the
byte ends at once. Neither takes a lock.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any


class Stopping:
    """``request()`` from anywhere (a signal handler too); ``wait()`` sleeps until then."""

    def __init__(self) -> None:
        self._requested = False
        #: The signal that asked, for the log (the handler itself logs nothing).
        self.signum: int | None = None
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def request(self) -> None:
        """Ask to stop: a flag and a byte, no lock, so a signal handler may call it."""
        self._requested = True
        # A full pipe already holds a byte that wakes the sleeper.
        with contextlib.suppress(OSError):
            os.write(self._write_fd, b"\0")

    def is_set(self) -> bool:
        return self._requested

    def __call__(self) -> bool:
        return self._requested

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s``, less when a stop is requested; whether one was."""
        end = time.monotonic() + max(timeout_s, 0.0)
        while not self._requested:
            left = end - time.monotonic()
            if left <= 0:
                break
            # The byte stays in the pipe: every sleeper, in any thread, sees it (a stop is for
            # good), where one that read it would leave the others asleep.
            select.select([self._read_fd], [], [], left)
        return self._requested

    def on_signals(self, signals: Iterable[signal.Signals]) -> dict[signal.Signals, Any]:
        """Request a stop on each of ``signals`` (from the main thread, as Python requires);
        the handlers they had, to put back."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.signum = signum
            self.request()

        return {sig: signal.signal(sig, handler) for sig in signals}

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
