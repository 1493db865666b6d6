"""The poll loop and writer: cadence, backoff, episodes, store outages, the spool, restarts.

Time is injected (FakeTime) so an hour of outage runs in a second; the meter is the simulated P1
over real HTTP wherever the HTTP path matters, a scripted source where only timing does.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from collector import service
from collector.errors import MeterUnreachable
from collector.homewizard import HomeWizardClient
from collector.service import Collector, format_reading
from collector.spool import Spool, SpoolError
from collector.writer import PRUNE_EVERY_S, ReadingWriter, format_gap
from common.config import Config
from common.models import Reading
from common.store.base import StoreError
from common.store.sqlite import SqliteStore, to_ms
from sim.meter import Fault
from tests.fakes.p1_meter import FakeTime


class FlakyStore:
    """A real SqliteStore that can be switched off; remembers every reading written to it."""

    def __init__(self, path: str) -> None:
        self.inner = SqliteStore(path)
        self.down = False
        self.written_ts: list[datetime] = []
        self.opens = 0

    def open(self) -> FlakyStore:
        self.opens += 1
        if self.down:
            raise StoreError("simulated outage: connection refused")
        return self

    def write_readings(self, readings: Sequence[Reading]) -> None:
        if self.down:
            raise StoreError("simulated outage: connection refused")
        self.inner.write_readings(readings)
        self.written_ts.extend(r.ts for r in readings)

    def prune(self, now: datetime, budget_s: float) -> bool:
        return self.inner.prune(now, budget_s)

    def rows(self) -> list[tuple[int, float]]:
        return self.inner._run("SELECT ts_ms, active_power_w FROM p1 ORDER BY ts_ms")

    def close(self) -> None:  # the writer drops a failed store; keep the file for the test
        pass


class ScriptedMeter:
    """A meter whose n-th read fails when ``fails(n)``; reading n has power -n."""

    def __init__(
        self, clock: FakeTime, fails=lambda n: False, slow: dict[int, float] | None = None
    ):
        self.clock = clock
        self.fails = fails
        self.slow = slow or {}
        self.calls = 0
        self.read_at: list[float] = []

    def read(self) -> Reading:
        n = self.calls
        self.calls += 1
        self.read_at.append(self.clock.t)
        if n in self.slow:
            self.clock.t += self.slow[n]
        if self.fails(n):
            raise MeterUnreachable(
                "cannot reach http://127.0.0.1:9/api/v1/data: connection refused"
            )
        return Reading(ts=self.clock.wall(), active_power_w=-float(n))


def make_writer(store: FlakyStore, spool: Spool, ft: FakeTime, **kw) -> ReadingWriter:
    return ReadingWriter(store.open, spool, clock=ft.monotonic, **kw)


@pytest.fixture
def store(tmp_path) -> FlakyStore:
    return FlakyStore(str(tmp_path / "scc.db"))


@pytest.fixture
def spool(tmp_path):
    s = Spool(tmp_path / "spool.sqlite")
    yield s
    s.close()


def assert_complete_and_in_order(store: FlakyStore, n: int, t0: float, interval_s: float = 1.0):
    rows = store.rows()
    assert len(rows) == n
    expected_ms = [to_ms(datetime.fromtimestamp(t0 + k * interval_s, UTC)) for k in range(n)]
    assert [ts for ts, _ in rows] == expected_ms
    assert len(store.written_ts) == n, "every reading written exactly once"
    assert store.written_ts == sorted(store.written_ts), "written in poll order"


# -- cadence and backoff ----------------------------------------------------------------------
def test_fixed_cadence_does_not_drift_and_skips_slots_after_a_slow_reply(store, spool, fake_time):
    t0 = fake_time.t
    meter = ScriptedMeter(fake_time, slow={2: 2.5})
    c = Collector(meter, make_writer(store, spool, fake_time), 1.0,
                  clock=fake_time.monotonic, sleep=fake_time.sleep)  # fmt: skip
    c.run(max_polls=6, writer_thread=False)
    assert [t - t0 for t in meter.read_at] == [0, 1, 2, 5, 6, 7]


def test_backoff_doubles_to_30_s_while_unreachable_then_one_warning_and_a_gap(
    store, spool, fake_time, caplog
):
    t0 = fake_time.t
    meter = ScriptedMeter(fake_time, fails=lambda n: 1 <= n <= 8)
    c = Collector(meter, make_writer(store, spool, fake_time), 1.0,
                  clock=fake_time.monotonic, sleep=fake_time.sleep)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="poll"):
        c.run(max_polls=12, writer_thread=False)
    assert [t - t0 for t in meter.read_at] == [0, 1, 2, 4, 8, 16, 32, 62, 92, 122, 123, 124]
    poll_logs = [r for r in caplog.records if r.name == "poll"]
    warnings = [r for r in poll_logs if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one line per failure episode"
    assert "connection refused" in warnings[0].getMessage()
    back = [r.getMessage() for r in poll_logs if r.levelno == logging.INFO]
    assert back == ["P1 meter back: 2 min 2 s without a reading (8 failed polls)"]
    assert len(store.rows()) == 4  # polls 0, 9, 10, 11


def test_an_unexpected_error_is_logged_with_its_traceback_and_polling_goes_on(
    store, spool, fake_time, caplog
):
    class Buggy(ScriptedMeter):
        def read(self) -> Reading:
            if self.calls == 1:
                self.calls += 1
                raise KeyError("bug")
            return super().read()

    c = Collector(Buggy(fake_time), make_writer(store, spool, fake_time), 1.0,
                  clock=fake_time.monotonic, sleep=fake_time.sleep)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="poll"):
        c.run(max_polls=4, writer_thread=False)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert c.readings == 3


def test_meter_episode_over_real_http_logs_once(sim_meter, store, spool, fake_time, caplog):
    server = sim_meter()
    client = HomeWizardClient(server.url, clock=fake_time.wall)
    client.device()
    server.inject(Fault.API_DISABLED, count=5)
    c = Collector(client, make_writer(store, spool, fake_time), 1.0,
                  clock=fake_time.monotonic, sleep=fake_time.sleep)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="poll"):
        c.run(max_polls=8, writer_thread=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and '"Local API"' in warnings[0]
    assert any("5 failed polls" in r.getMessage() for r in caplog.records)
    assert c.readings == 3
    assert len(store.rows()) == 3


# -- store outage and spool -------------------------------------------------------------------
def test_store_outage_over_real_http_loses_nothing_and_duplicates_nothing(
    sim_meter, store, spool, fake_time, caplog
):
    t0 = fake_time.t
    # The meter reports -(seconds since t0): each stored value must sit at its own timestamp.
    server = sim_meter(provider=lambda now: t0 - now.timestamp(), clock=fake_time.wall)
    client = HomeWizardClient(server.url, clock=fake_time.wall)
    c = Collector(client, make_writer(store, spool, fake_time), 1.0,
                  clock=fake_time.monotonic)  # fmt: skip

    def sleep(s: float) -> None:
        fake_time.sleep(s)
        store.down = 10 <= c.polls < 40  # down for 30 polls

    c._sleep = sleep
    with caplog.at_level(logging.INFO, logger="writer"):
        c.run(max_polls=100, writer_thread=False)
    assert_complete_and_in_order(store, 100, t0)
    assert [round(v) for _, v in store.rows()] == [-k for k in range(100)]
    assert len(spool) == 0
    msgs = [r.getMessage() for r in caplog.records if r.name == "writer"]
    assert sum("store unavailable" in m for m in msgs) == 1
    assert any(re.match(r"store back after \d+ s; wrote \d+ spooled readings", m) for m in msgs)


def test_one_hour_store_outage_loses_nothing(store, spool, fake_time):
    t0 = fake_time.t
    meter = ScriptedMeter(fake_time)
    writer = make_writer(store, spool, fake_time, flush_interval_s=10.0)
    c = Collector(meter, writer, 1.0, clock=fake_time.monotonic)

    def sleep(s: float) -> None:
        fake_time.sleep(s)
        store.down = 60 <= c.polls < 3660

    c._sleep = sleep
    c.run(max_polls=3800, writer_thread=False)
    assert_complete_and_in_order(store, 3800, t0)
    assert writer.spooled >= 3600 and writer.dropped == 0
    assert len(spool) == 0


def test_spool_survives_a_restart(sim_meter, store, tmp_path, fake_time):
    t0 = fake_time.t
    server = sim_meter(clock=fake_time.wall)
    path = tmp_path / "restart-spool.sqlite"

    # First run: the store is down the whole time; SIGTERM-like stop flushes into the spool.
    store.down = True
    spool1 = Spool(path)
    client = HomeWizardClient(server.url, clock=fake_time.wall)
    Collector(client, make_writer(store, spool1, fake_time), 1.0,
              clock=fake_time.monotonic, sleep=fake_time.sleep).run(
        max_polls=20, writer_thread=False)  # fmt: skip
    assert len(spool1) == 20 and store.rows() == []
    spool1.close()
    client.close()

    # Second run, new process as far as the collector knows: the store is back.
    store.down = False
    spool2 = Spool(path)
    assert len(spool2) == 20
    client = HomeWizardClient(server.url, clock=fake_time.wall)
    Collector(client, make_writer(store, spool2, fake_time), 1.0,
              clock=fake_time.monotonic, sleep=fake_time.sleep).run(
        max_polls=10, writer_thread=False)  # fmt: skip
    assert_complete_and_in_order(store, 30, t0)
    assert len(spool2) == 0
    spool2.close()


def test_store_down_at_start_is_retried_by_reopening(store, spool, fake_time):
    store.down = True
    meter = ScriptedMeter(fake_time)
    c = Collector(meter, make_writer(store, spool, fake_time), 1.0, clock=fake_time.monotonic)

    def sleep(s: float) -> None:
        fake_time.sleep(s)
        store.down = c.polls < 5

    c._sleep = sleep
    c.run(max_polls=40, writer_thread=False)
    assert store.opens >= 2
    assert_complete_and_in_order(store, 40, meter.read_at[0])


def test_a_failing_spool_holds_readings_in_memory_in_order(store, tmp_path, fake_time, caplog):
    class BrokenSpool(Spool):
        broken = True

        def append(self, readings):
            if self.broken:
                raise SpoolError(f"cannot write spool {self.path}: disk I/O error")
            return super().append(readings)

    spool = BrokenSpool(tmp_path / "broken.sqlite")
    t0 = fake_time.t
    meter = ScriptedMeter(fake_time)
    c = Collector(meter, make_writer(store, spool, fake_time), 1.0, clock=fake_time.monotonic)

    def sleep(s: float) -> None:
        fake_time.sleep(s)
        store.down = 5 <= c.polls < 30
        spool.broken = c.polls < 20

    c._sleep = sleep
    with caplog.at_level(logging.INFO, logger="writer"):
        c.run(max_polls=60, writer_thread=False)
    assert_complete_and_in_order(store, 60, t0)
    assert sum("disk I/O error" in r.getMessage() for r in caplog.records) == 1
    spool.close()


def test_full_spool_drops_oldest_and_says_so(store, tmp_path, fake_time, caplog):
    spool = Spool(tmp_path / "small.sqlite", max_readings=10)
    meter = ScriptedMeter(fake_time)
    writer = make_writer(store, spool, fake_time)
    store.down = True
    with caplog.at_level(logging.INFO, logger="writer"):
        Collector(meter, writer, 1.0, clock=fake_time.monotonic, sleep=fake_time.sleep).run(
            max_polls=25, writer_thread=False
        )
    assert len(spool) == 10 and writer.dropped == 15
    assert [r.active_power_w for _, r in spool.peek(20)] == [-float(n) for n in range(15, 25)]
    assert sum("spool full" in r.getMessage() for r in caplog.records) == 1
    spool.close()


# -- threads and real time --------------------------------------------------------------------
def test_writer_thread_writes_while_polling_and_flushes_at_stop(sim_meter, store, spool):
    server = sim_meter()
    client = HomeWizardClient(server.url)
    writer = ReadingWriter(store.open, spool, flush_interval_s=0.1)
    c = Collector(client, writer, 0.05)
    runner = threading.Thread(target=c.run)
    runner.start()
    deadline = time.monotonic() + 5
    while writer.written < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.written >= 3, "the writer thread wrote while the loop was polling"
    c.stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert len(store.rows()) == c.readings == server.requests["/api/v1/data"]
    client.close()


# -- formatting -----------------------------------------------------------------------------
def test_log_formats():
    r = Reading(ts=datetime.now(UTC), active_power_w=-4200.0, active_power_l1_w=-1420.0,
                active_power_l2_w=-1390.0, active_power_l3_w=-1390.0)  # fmt: skip
    assert format_reading(r) == "P1: -4200 W (L1 -1420, L2 -1390, L3 -1390)"
    assert format_reading(Reading(ts=r.ts)) == "P1: ? W"
    assert [format_gap(s) for s in (42, 185, 3720)] == ["42 s", "3 min 5 s", "1 h 2 min"]


def test_stop_tries_the_store_once_more_even_during_a_backoff(store, spool, fake_time):
    t0 = fake_time.t
    meter = ScriptedMeter(fake_time)
    writer = make_writer(store, spool, fake_time)
    c = Collector(meter, writer, 1.0, clock=fake_time.monotonic)

    def sleep(s: float) -> None:
        fake_time.sleep(s)
        store.down = c.polls < 40  # back at poll 40; the next retry is 30 s away

    c._sleep = sleep
    c.run(max_polls=42, writer_thread=False)
    assert writer._retry_at > fake_time.t, "the stop came while the writer was backing off"
    assert_complete_and_in_order(store, 42, t0)
    assert len(spool) == 0 and writer.store_ok


def test_the_writer_applies_the_store_retention_between_writes(tmp_path, fake_time):
    """Readings older than raw_days are rolled up by the collector's writer, in rounds between
    flushes, and again every PRUNE_EVERY_S; the poll loop only ever appends."""
    now = fake_time.wall()
    sqlite = SqliteStore(tmp_path / "scc.db", raw_days=7)
    old = [Reading(ts=now - timedelta(days=10, seconds=10 * k), active_power_w=1.0)
           for k in range(2 * 8640)]  # fmt: skip
    sqlite.write_readings(old)
    writer = ReadingWriter(lambda: sqlite, Spool(tmp_path / "spool.sqlite"),
                           clock=fake_time.monotonic, wall_clock=fake_time.wall)  # fmt: skip
    for k in range(5):
        writer.add(Reading(ts=fake_time.wall(), active_power_w=-float(k)))
        writer.flush()
        fake_time.sleep(2)
    assert sqlite._run("SELECT COUNT(*) FROM p1")[0][0] == 5
    minutes = {to_ms(r.ts) // 60_000 for r in old}
    assert sqlite._run("SELECT COUNT(*) FROM p1_1m")[0][0] == len(minutes)
    sqlite.write_readings([Reading(ts=now - timedelta(days=9), active_power_w=1.0)])
    writer.add(Reading(ts=fake_time.wall(), active_power_w=1.0))
    writer.flush()
    assert sqlite._run("SELECT COUNT(*) FROM p1")[0][0] == 7, "not again before PRUNE_EVERY_S"
    fake_time.sleep(PRUNE_EVERY_S)
    writer.add(Reading(ts=fake_time.wall(), active_power_w=1.0))
    writer.flush()
    assert sqlite._run("SELECT COUNT(*) FROM p1")[0][0] == 7
    sqlite.close()


def test_the_signal_handler_takes_no_lock_and_the_stop_still_happens(
    sim_meter, store, spool, monkeypatch
):
    """A handler runs in the main thread between two bytecodes, possibly while that thread holds
    the very lock the handler wants (inside ``Event.wait``, a ``Thread.start``, a log call):
    then SIGTERM hangs the process it should stop. So the handler may take no lock at all."""
    server = sim_meter()
    client = HomeWizardClient(server.url)
    writer = ReadingWriter(store.open, spool, flush_interval_s=0.1)
    last_resort = threading.Event()
    monkeypatch.setattr(service, "_hard_stop", lambda writer: last_resort.set())
    handled = []

    def forbidden(*_args, **_kwargs):
        raise AssertionError("the signal handler took a lock")

    def run(self, *args, **kwargs):  # the signal arrives while the loop runs
        handler = signal.getsignal(signal.SIGTERM)
        with monkeypatch.context() as m:
            for owner, name in [
                (threading.Event, "set"),
                (threading.Thread, "start"),
                (threading.Condition, "__enter__"),
                (logging.Logger, "handle"),
            ]:
                m.setattr(owner, name, forbidden)
            handler(signal.SIGTERM, None)
        handled.append(self.stop.is_set())

    monkeypatch.setattr(Collector, "run", run)
    assert service._serve(Config(), client, writer) == 0
    assert handled == [True]
    assert last_resort.wait(5), "after the handler, a thread arms the abort and the last resort"
