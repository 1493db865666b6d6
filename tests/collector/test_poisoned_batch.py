"""Readings the store refuses for good must not block the ones behind them (docs/design.md,
"Fail-safe"). The reported case: after a clock error the spool's oldest readings were older than
InfluxDB's retention; every retry sent the same chunk, got 422, and no fresh reading was stored
for 55 hours while the heartbeat said healthy.

The writer, in-process, against a store double that refuses what is too old; then ``scc
collector`` as a process against the fake InfluxDB refusing old points with 422.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from collector.spool import Spool
from collector.writer import ReadingWriter
from common.heartbeat import check
from common.models import Reading
from common.store.base import StoreError, StoreRefused
from tests.collector.collector_proc import CollectorProcess
from tests.fakes.bad_http import wait_for
from tests.fakes.influxdb import FakeInfluxDB

NOW = datetime.now(UTC).replace(microsecond=0)


class RetentionStore:
    """Keeps what is younger than ``oldest``; a batch with older readings is refused (422-like,
    the others kept), saying so when it kept none. Counts its calls."""

    def __init__(self, oldest: datetime, tell_all_refused: bool = True) -> None:
        self.oldest = oldest
        self.tell = tell_all_refused
        self.kept: dict[datetime, Reading] = {}
        self.calls = 0
        self.down = False

    def open(self) -> RetentionStore:
        return self

    def write_readings(self, readings: Sequence[Reading]) -> None:
        self.calls += 1
        if self.down:
            raise StoreError("connection refused")
        refused = [r for r in readings if r.ts < self.oldest]
        self.kept.update((r.ts, r) for r in readings if r.ts >= self.oldest)
        if refused:
            everything = self.tell and len(refused) == len(readings)
            raise StoreRefused(
                f"HTTP 422: points beyond retention policy dropped={len(refused)}", everything
            )

    def prune(self, now: datetime, budget_s: float) -> bool:
        return False

    def close(self) -> None:
        pass


def series(start: datetime, n: int, power_w: float) -> list[Reading]:
    return [Reading(ts=start + timedelta(seconds=i), active_power_w=power_w) for i in range(n)]


@pytest.mark.parametrize(("tells", "max_calls"), [(True, 15), (False, 2 * 37 + 10)])
def test_a_refused_chunk_is_split_set_aside_and_the_rest_written(
    tmp_path, caplog, tells, max_calls
):
    """Halving finds the refused readings; a store that says when it kept none of a piece (as
    InfluxDB's "dropped=N" does) lets whole halves go aside at once."""
    store = RetentionStore(oldest=NOW - timedelta(days=7), tell_all_refused=tells)
    spool = Spool(tmp_path / "spool.sqlite")
    old, recent = series(NOW - timedelta(days=30), 37, -1.0), series(NOW, 63, -2.0)
    spool.append(old + recent)  # one chunk, the refused ones first
    writer = ReadingWriter(store.open, spool)
    with caplog.at_level(logging.WARNING, logger="writer"):
        writer.flush(final=True)
    assert sorted(store.kept) == [r.ts for r in recent]
    assert len(spool) == 0 and writer.store_ok
    assert writer.set_aside == 37 and writer.written == 63
    lines = writer.dead_letter.path.read_text().splitlines()
    assert [json.loads(line)["ts"] for line in lines] == [r.ts.isoformat() for r in old]
    assert "beyond retention" in json.loads(lines[0])["refused"]
    assert store.calls <= max_calls
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "set aside in" in warnings[0]


def test_a_chunk_the_store_kept_none_of_is_set_aside_in_one_request(tmp_path):
    store = RetentionStore(oldest=NOW - timedelta(days=7))
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(series(NOW - timedelta(days=30), 3000, -1.0))
    writer = ReadingWriter(store.open, spool)
    writer.add(Reading(ts=NOW, active_power_w=-5.0))
    writer.flush(final=True)
    assert store.calls == 4  # three chunks of 1000, then the fresh one
    assert writer.set_aside == 3000 and list(store.kept) == [NOW]


def test_the_writer_reports_a_stall_while_nothing_reaches_the_store(tmp_path, fake_time):
    store = RetentionStore(oldest=NOW + timedelta(days=1))  # a clock far behind: all refused
    writer = ReadingWriter(store.open, Spool(tmp_path / "spool.sqlite"), clock=fake_time.monotonic)
    for _ in range(10):
        writer.add(Reading(ts=NOW, active_power_w=1.0))
        fake_time.sleep(1)
        writer.flush()
    assert writer.stalled_s() == 10 and writer.set_aside == 10
    store.oldest = NOW - timedelta(days=1)
    writer.add(Reading(ts=NOW + timedelta(seconds=1), active_power_w=1.0))
    writer.flush()
    assert writer.stalled_s() == 0


def test_collector_sets_poisoned_readings_aside_and_keeps_fresh_ones_flowing(tmp_path, sim_meter):
    """As a process: 2500 spooled readings from before a clock error (30 days old, the bucket
    keeps 7), 500 recent ones behind them, a meter giving fresh ones; then InfluxDB goes away."""
    spool = Spool(tmp_path / "spool.sqlite")
    old = series(NOW - timedelta(days=30), 2500, -1.0)
    recent = series(NOW - timedelta(hours=1), 500, -2.0)
    spool.append(old + recent)
    spool.close()
    beat = tmp_path / "heartbeat"
    meter = sim_meter()
    with FakeInfluxDB() as influx:
        influx.set_retention(7 * 86400)
        started_ns = time.time_ns()
        proc = CollectorProcess(
            tmp_path,
            meter={"url": meter.url, "poll_interval_s": 0.5},
            store={"backend": "influxdb"},
            influxdb={"url": influx.url, "token": influx.token, "org": influx.org},
            health={"heartbeat_file": str(beat), "store_stall_s": 5},
        )
        try:

            def stored() -> list[int]:
                return [p["ts_ns"] for p in influx.points("solar", "p1")]

            assert wait_for(lambda: any(ts > started_ns for ts in stored()), 20), proc.output()
            assert wait_for(lambda: len(stored()) >= 500 + 3, 10), proc.output()
            recent_ns = {int(r.ts.timestamp()) * 10**9 for r in recent}
            assert recent_ns <= set(stored()), "the spooled readings the store takes are written"
            dead = tmp_path / "spool.sqlite.refused.jsonl"
            lines = dead.read_text().splitlines()
            assert len(lines) == 2500
            assert "points beyond retention policy" in json.loads(lines[0])["refused"]
            writes = [r for r in influx.requests if r.path.startswith("/api/v2/write")]
            assert len(writes) < 40, "refused chunks set aside whole, not split to single points"
            assert proc.count("store refused 1000 readings for good") == 1, proc.output()
            assert check(str(beat), 5.0, time.time())[0], proc.output()

            # Nothing gets through: the heartbeat stops after store_stall_s, and comes back.
            influx.fail(503)
            proc.wait_for(r"no reading has reached the store for \d+ s", timeout_s=15)
            assert wait_for(lambda: not check(str(beat), 2.0, time.time())[0], 10), proc.output()
            influx.fail(None)
            # The writer retries with a growing pause (up to 30 s) while the store is away.
            proc.wait_for(r"readings reach the store again; heartbeat resumed", timeout_s=60)
            assert wait_for(lambda: check(str(beat), 2.0, time.time())[0], 5), proc.output()
            code, took = proc.stop(signal.SIGTERM)
        finally:
            proc.kill()
    assert code == 0 and took < 5, (code, took)
    assert "2500 refused by the store and set aside in" in proc.output()
    assert "Traceback" not in proc.output()
