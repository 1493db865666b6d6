"""Test helpers around the simulated P1 meter (sim/meter.py) and an injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime

SERIAL = "5c2fafa1b2c3"
TOKEN = "3B8F1C2A9D0E4F5A6B7C8D9E0F1A2B3C"


def export_4200(now: datetime) -> float:
    """The reference body's moment: a sunny noon, 4200 W going out."""
    return -4200.0


class FakeTime:
    """Monotonic seconds that move only when the code under test sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def wall(self) -> datetime:
        """The same time as a UTC datetime (for reading timestamps)."""
        return datetime.fromtimestamp(self.t, UTC)
