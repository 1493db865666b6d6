"""SQLite retention (common/store/sqlite_retention.py): 1 s readings for ``raw_days``, then
1-minute means and counters for ``rollup_days``; worked off in budgeted rounds; what the
contract promises still reads the same across the boundary (tests/test_store_contract.py)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from common.models import Action, ChargerState, Decision, Mode, Reading
from common.store.sqlite import SqliteStore, to_ms

NOW = datetime(2026, 5, 18, 12, 0, tzinfo=UTC)


def day_of_readings(start: datetime, step_s: int = 10) -> list[Reading]:
    """A day of readings; power and counters follow the second of the day."""
    out = []
    for k in range(0, 86400, step_s):
        out.append(
            Reading(
                ts=start + timedelta(seconds=k),
                meter="m",
                active_power_w=float(k % 600) - 300.0,
                active_power_l1_w=float(k % 60),
                active_voltage_l1_v=230.0 + (k % 7) / 10,
                total_power_import_kwh=1000.0 + k / 3600,
                total_power_export_kwh=500.0 + k / 7200,
                montly_power_peak_w=3000.0 + (k // 3600),
            )
        )
    return out


def rows(store: SqliteStore, sql: str) -> list[tuple]:
    return store._run(sql)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "scc.db", raw_days=7, rollup_days=30)
    yield s
    s.close()


def test_readings_older_than_raw_days_become_minute_means_with_their_counters(store):
    old_day = NOW - timedelta(days=9)  # whole minutes
    readings = day_of_readings(old_day)
    store.write_readings(readings)
    recent = [
        Reading(ts=NOW - timedelta(seconds=k), meter="m", active_power_w=1.0) for k in range(1, 61)
    ]
    store.write_readings(recent)
    before = store.energy_summary(old_day, old_day + timedelta(days=1))
    assert store.prune(NOW, budget_s=60) is False

    assert rows(store, "SELECT COUNT(*) FROM p1")[0][0] == 60, "only the recent ones stay at 1 s"
    assert rows(store, "SELECT COUNT(*) FROM p1_1m")[0][0] == 1440
    minute = old_day + timedelta(minutes=61)  # 01:01 of that day: readings 3660 .. 3710 s
    in_minute = [r for r in readings if minute <= r.ts < minute + timedelta(minutes=1)]
    ((n, mean_w, l1_w, peak_w, imp_first, imp_last),) = rows(
        store,
        "SELECT n, active_power_w, active_power_l1_w, montly_power_peak_w, "
        "total_power_import_kwh_first, total_power_import_kwh_last FROM p1_1m "
        f"WHERE ts_ms = {to_ms(minute)}",
    )
    assert n == 6
    assert mean_w == pytest.approx(sum(r.active_power_w for r in in_minute) / 6)
    assert l1_w == pytest.approx(sum(r.active_power_l1_w for r in in_minute) / 6)
    assert peak_w == 3001.0
    assert (imp_first, imp_last) == (
        in_minute[0].total_power_import_kwh,
        in_minute[-1].total_power_import_kwh,
    )
    # The day's energy reads the same from the minutes as it did from the readings.
    assert store.energy_summary(old_day, old_day + timedelta(days=1)) == before
    assert before.import_kwh == pytest.approx(86390 / 3600)
    # Rolled up data answers no window mean and no "latest": those are about now.
    assert store.grid_power_mean(600, old_day + timedelta(hours=12)) is None
    assert store.latest_reading(NOW).active_power_w == 1.0


def test_rolled_up_minutes_charger_states_and_decisions_go_after_rollup_days_the_mode_stays(store):
    gone, kept = NOW - timedelta(days=31), NOW - timedelta(days=29)
    for ts in (gone, kept):
        store.write_readings([Reading(ts=ts, active_power_w=1.0)])
        store.write_charger_state(
            ChargerState(ts=ts, charger_id="c", status_id=194, status="Charging",
                         current_a=6.0, power_w=4140.0)
        )  # fmt: skip
        store.write_decision(
            Decision(ts=ts, mode=Mode.SOLAR, action=Action.HOLD, reason="hold", target_a=6)
        )
    store.set_mode(Mode.MANUAL, "phone", NOW - timedelta(days=400))
    assert store.prune(NOW, budget_s=60) is False
    for table in ("p1_1m", "charger", "decision"):
        assert [ts for (ts,) in rows(store, f"SELECT ts_ms FROM {table}")] == [to_ms(kept)], table
    assert rows(store, "SELECT COUNT(*) FROM p1")[0][0] == 0
    assert store.get_mode().mode is Mode.MANUAL


def test_a_large_backlog_is_worked_off_in_rounds_within_the_budget(store):
    start = NOW - timedelta(days=12)
    for d in range(5):  # five days at 1 reading per 10 s, all older than raw_days
        store.write_readings(day_of_readings(start + timedelta(days=d)))
    rounds, longest = 0, 0.0
    while True:
        began = time.perf_counter()
        more = store.prune(NOW, budget_s=0.01)
        longest = max(longest, time.perf_counter() - began)
        rounds += 1
        if not more:
            break
    assert rounds > 5, "the budget cut the work into rounds"
    assert longest < 0.5, f"one round took {longest:.2f} s"
    assert rows(store, "SELECT COUNT(*) FROM p1")[0][0] == 0
    assert rows(store, "SELECT COUNT(*) FROM p1_1m")[0][0] == 5 * 1440


def test_a_late_reading_for_a_rolled_up_minute_is_merged_into_it(store):
    minute = NOW - timedelta(days=10)
    first = [Reading(ts=minute + timedelta(seconds=s), active_power_w=100.0,
                     total_power_import_kwh=10.0 + s / 1000) for s in range(0, 30)]  # fmt: skip
    late = [Reading(ts=minute + timedelta(seconds=s), active_power_w=400.0,
                    total_power_import_kwh=10.0 + s / 1000) for s in range(30, 40)]  # fmt: skip
    store.write_readings(first)
    store.prune(NOW, budget_s=60)
    store.write_readings(late)  # from a spool, after a long outage
    store.prune(NOW, budget_s=60)
    ((n, mean_w, a, b),) = rows(
        store,
        "SELECT n, active_power_w, total_power_import_kwh_first, total_power_import_kwh_last "
        "FROM p1_1m",
    )
    assert n == 40
    assert mean_w == pytest.approx((30 * 100 + 10 * 400) / 40)
    assert (a, b) == (10.0, pytest.approx(10.039))


def test_energy_summary_across_the_boundary_adds_the_rolled_up_and_the_raw_parts(store):
    start = NOW - timedelta(days=8)  # a period from rolled up minutes into raw readings
    readings = [
        Reading(ts=start + timedelta(minutes=m), total_power_import_kwh=100.0 + m / 60,
                total_power_export_kwh=50.0) for m in range(2 * 1440)
    ]  # fmt: skip
    store.write_readings(readings)
    stop = start + timedelta(days=2)
    before = store.energy_summary(start, stop)
    store.prune(NOW, budget_s=60)
    assert rows(store, "SELECT COUNT(*) FROM p1_1m")[0][0] == 1440  # the first day
    assert rows(store, "SELECT COUNT(*) FROM p1")[0][0] == 1440  # the second, still 1 s
    after = store.energy_summary(start, stop)
    assert after == before and after.import_kwh == pytest.approx((2 * 1440 - 1) / 60)


def test_an_old_file_without_the_rollup_table_gets_it(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE p1 (ts_ms INTEGER NOT NULL, meter TEXT NOT NULL, active_power_w REAL, "
            "PRIMARY KEY (ts_ms, meter)) WITHOUT ROWID"
        )
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "p1_1m" in tables
