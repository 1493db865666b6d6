"""Simulated time, shared by every simulated device and the real components they drive.

A replay steps a ``ManualClock`` second by second, so a day passes as fast as the code runs; the
demo uses a ``ScaledClock`` that runs ``speed`` times faster than the wall clock, so real threads
(the collector's poll loop, the controller's loop, the phone page) see a consistent simulated day.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def sim_day_start(days_ahead: int = 1, local: bool = False) -> datetime:
    """Midnight of a day ahead of today (UTC, or the machine's local midnight in UTC).

    Simulated days lie ahead of the wall clock because the ``wallbox`` package checks its token
    against the wall clock: ahead of it, its refresh path behaves as in real life.
    """
    if local:
        day = datetime.now().astimezone() + timedelta(days=days_ahead)
        return day.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    day = datetime.now(UTC) + timedelta(days=days_ahead)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


class ManualClock:
    """Time that moves only when told to (tests, replay)."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t

    def set(self, t: datetime) -> None:
        self.t = t


class ScaledClock:
    """Simulated time = ``start`` + ``speed`` x the real (monotonic) time since creation."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._last = start

    def __call__(self) -> datetime:
        with self._lock:
            now = self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)
            # Never backwards, even across threads: the simulated charger integrates forward only.
            self._last = max(self._last, now)
            return self._last

    def seconds(self) -> float:
        """Simulated seconds since ``start`` (a monotonic clock for code that wants floats)."""
        return (self() - self.start).total_seconds()

    def real_s(self, sim_s: float) -> float:
        """Real seconds that ``sim_s`` simulated seconds take."""
        return sim_s / self.speed

    def sleeper(self, stop: threading.Event):
        """A ``sleep(sim_seconds) -> bool`` that wakes early when ``stop`` is set."""

        def sleep(sim_s: float) -> bool:
            return stop.wait(max(sim_s, 0.0) / self.speed)

        return sleep
