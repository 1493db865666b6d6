"""The collector and controller loops beat once per turn, failed turns included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.homewizard import MeterUnreachable
from collector.service import Collector, ReadingWriter
from collector.spool import Spool
from common.models import Reading
from common.store.sqlite import SqliteStore
from controller.service import run_loop


class FlakyMeter:
    """Answers, fails twice, answers again."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self) -> Reading:
        self.calls += 1
        if self.calls in (2, 3):
            raise MeterUnreachable("connection refused")
        return Reading(ts=datetime(2026, 5, 18, 12, tzinfo=UTC) + timedelta(seconds=self.calls))


def test_collector_beats_every_poll_even_when_the_meter_fails(tmp_path):
    store = SqliteStore(tmp_path / "scc.db")
    writer = ReadingWriter(lambda: store, Spool(tmp_path / "spool"))
    beats: list[int] = []
    t = [0.0]
    meter = FlakyMeter()
    collector = Collector(
        meter,
        writer,
        1.0,
        clock=lambda: t[0],
        sleep=lambda s: t.__setitem__(0, t[0] + s),
        heartbeat=lambda: beats.append(meter.calls),
    )
    collector.run(max_polls=5, writer_thread=False)
    assert beats == [1, 2, 3, 4, 5]


def test_controller_loop_beats_after_every_cycle_even_a_crashed_one():
    class Crashy:
        cycles = 0

        def look_in_s(self) -> None:
            return None  # no start measuring a car: nothing to look at between cycles

        def run_cycle(self, now: datetime) -> None:
            self.cycles += 1
            if self.cycles == 2:
                raise RuntimeError("bug")

    now = [datetime(2026, 5, 18, 12, tzinfo=UTC)]
    beats: list[datetime] = []
    n = run_loop(
        Crashy(),
        60.0,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + timedelta(seconds=s)),
        max_cycles=3,
        heartbeat=beats.append,
    )
    assert n == 3
    assert [b - beats[0] for b in beats] == [
        timedelta(0),
        timedelta(seconds=60),
        timedelta(seconds=120),
    ]
