"""A stop request that a signal handler can make without any lock, and a sleep it ends at once.

The obvious ``threading.Event`` is not safe here: ``Event.set()`` takes the Event's lock, and a
signal handler runs in the main thread between two bytecodes, possibly while that same thread
holds the lock inside ``Event.wait()``. The handler then waits for a lock its own thread holds,
for ever: SIGTERM hangs the process it should stop (docs/design.md, "Fail-safe"). So the handler
only sets a flag and writes one byte to a pipe; a sleep is a ``select`` on that pipe, which the
byte ends at once. Neither takes a lock.

Linux may hand a process's signal to any of its threads (the OCPP central system's loop thread,
say, when the main one is stopped or busy), and Python runs the handler only in the main thread,
at its next bytecode: a main thread asleep in ``select`` would sleep on, up to the whole wait. So
``on_signals`` also makes a second pipe the process's signal wakeup fd, which the C-level handler
writes to whichever thread it interrupted; the main thread's sleep watches it too, and the
handler then runs at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
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
        self._read_fd, self._write_fd = _pipe()
        #: The signal wakeup pipe (``on_signals``): wakes the main thread, drained each time.
        self._wake: tuple[int, int] | None = None
        self._previous_wakeup_fd = -1

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
            ready, _, _ = select.select(self._watched(), [], [], left)
            if self._wake is not None and self._wake[0] in ready:
                _drain(self._wake[0])  # a signal came: its handler runs before the next check
        return self._requested

    def _watched(self) -> list[int]:
        """The stop pipe; in the main thread, where handlers run, the wakeup pipe too."""
        if self._wake is None or threading.current_thread() is not threading.main_thread():
            return [self._read_fd]
        return [self._read_fd, self._wake[0]]

    def on_signals(self, signals: Iterable[signal.Signals]) -> dict[signal.Signals, Any]:
        """Request a stop on each of ``signals`` (from the main thread, as Python requires);
        the handlers they had, to put back."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.signum = signum
            self.request()

        before = {sig: signal.signal(sig, handler) for sig in signals}
        if self._wake is None:
            self._wake = _pipe()
            self._previous_wakeup_fd = signal.set_wakeup_fd(
                self._wake[1], warn_on_full_buffer=False
            )
        return before

    def close(self) -> None:
        fds = [self._read_fd, self._write_fd]
        if self._wake is not None:
            try:
                signal.set_wakeup_fd(self._previous_wakeup_fd)
                fds += self._wake  # no longer the wakeup fd: it may go
            except ValueError:  # not from the main thread: the handler may still write to it
                pass
            self._wake = None
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    return read_fd, write_fd


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 64):
            pass
