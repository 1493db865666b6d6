"""Roles of the three processes that share one SQLite file (collector, controller, toggle app),
run in separate OS processes by tests/test_sqlite_store.py."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime, timedelta

from common.models import Action, ChargerState, Decision, Mode, Reading, Reason
from common.store import build_status
from common.store.sqlite import SqliteStore

BASE = datetime(2026, 5, 18, 8, tzinfo=UTC)
BATCHES = 100
BATCH_SIZE = 25
CYCLES = 100


def reading_value(meter: int, k: int) -> float:
    return float((k * 7 + meter * 13) % 500)


def run(role: str, index: int, path: str, results) -> None:
    """Do one role's work; put (role, index, error or None) on ``results``."""
    try:
        store = SqliteStore(path, busy_timeout_s=30)
        if role == "collector":
            for b in range(BATCHES):
                batch = [
                    Reading(
                        ts=BASE + timedelta(seconds=b * BATCH_SIZE + i),
                        meter=f"meter{index}",
                        active_power_w=reading_value(index, b * BATCH_SIZE + i),
                    )
                    for i in range(BATCH_SIZE)
                ]
                store.write_readings(batch)
                store.grid_power_mean(120, batch[-1].ts)
        elif role == "controller":
            for c in range(CYCLES):
                ts = BASE + timedelta(seconds=c * 25)
                mean = store.grid_power_mean(120, ts)
                store.write_charger_state(ChargerState(ts=ts, charger_id="c", status_id=194,
                                                       status="Charging", current_a=6.0,
                                                       power_w=4140.0))  # fmt: skip
                store.write_decision(Decision(ts=ts, mode=Mode.SOLAR, action=Action.HOLD,
                                              reason=Reason.HOLD, target_a=6,
                                              grid_power_mean_w=mean))  # fmt: skip
                store.last_decision()
        elif role == "toggle":
            for c in range(CYCLES):
                ts = BASE + timedelta(seconds=c)
                store.set_mode(list(Mode)[c % 3], "phone", ts)
                store.get_mode()
                build_status(store, now=ts, window_s=120, day_start=BASE)
        store.close()
        results.put((role, index, None))
    except BaseException:
        results.put((role, index, traceback.format_exc()))
