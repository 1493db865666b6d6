"""SQLite-only behaviour: several OS processes on one file at once, and a bad path."""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
from datetime import timedelta

import pytest

from common.store import StoreError
from common.store.sqlite import SqliteStore
from tests.support import sqlite_worker as w

ROLES = [("collector", 0), ("collector", 1), ("collector", 2), ("controller", 0), ("toggle", 0)]


def test_collectors_controller_and_toggle_app_share_one_file_without_errors_or_loss(tmp_path):
    path = str(tmp_path / "shared.db")
    SqliteStore(path).close()  # the schema exists before the race starts
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=w.run, args=(role, i, path, results)) for role, i in ROLES]
    for p in procs:
        p.start()
    outcomes = []
    try:
        for _ in procs:
            outcomes.append(results.get(timeout=60))
    except queue.Empty:
        pytest.fail(f"workers did not finish in 60 s; finished: {outcomes}")
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    errors = [f"{role}[{i}]: {err}" for role, i, err in outcomes if err]
    assert not errors, "\n".join(errors)
    assert sorted((role, i) for role, i, _ in outcomes) == sorted(ROLES)

    with sqlite3.connect(path) as db:
        per_meter = dict(db.execute("SELECT meter, COUNT(*) FROM p1 GROUP BY meter").fetchall())
        assert per_meter == {f"meter{i}": w.BATCHES * w.BATCH_SIZE for i in range(3)}
        assert db.execute("SELECT COUNT(*) FROM decision").fetchone()[0] == w.CYCLES
        assert db.execute("SELECT COUNT(*) FROM charger").fetchone()[0] == w.CYCLES
        assert db.execute("SELECT COUNT(*) FROM mode").fetchone()[0] == w.CYCLES
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # Every reading made it with its value: the window mean over the last 120 s is exact.
    store = SqliteStore(path)
    end = w.BASE + timedelta(seconds=w.BATCHES * w.BATCH_SIZE)
    last = range(w.BATCHES * w.BATCH_SIZE - 120, w.BATCHES * w.BATCH_SIZE)
    values = [w.reading_value(m, k) for m in range(3) for k in last]
    assert store.grid_power_mean(120, end) == pytest.approx(sum(values) / len(values))
    store.close()


def test_an_unusable_path_is_a_store_error(tmp_path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"SQLite store .*dir\.db"):
        SqliteStore(tmp_path / "dir.db")


def test_an_unknown_stored_mode_is_a_store_error_not_a_crash(tmp_path):
    """Another tool wrote a mode we do not know: callers get StoreError, which they handle."""
    import sqlite3

    from common.store.base import StoreError

    path = tmp_path / "scc.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO mode VALUES (1, 'turbo', 'other-tool')")
        db.execute("INSERT INTO decision VALUES (1, 'solar', 0, 0, 6, 'start', 'turbo-boost')")
    store = SqliteStore(path)
    with pytest.raises(StoreError, match="turbo"):
        store.get_mode()
    with pytest.raises(StoreError, match="turbo"):
        store.last_decision()


def test_a_file_from_before_gets_the_new_charger_columns(tmp_path):
    """A store made by an earlier version has no watts_per_amp, operation_mode or refused: they
    are added at open, the old points read back with None there, and new points keep them."""
    from datetime import UTC, datetime

    from common.models import ChargerState

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE charger (ts_ms INTEGER NOT NULL, charger_id TEXT NOT NULL, "
            "status_id INTEGER, status TEXT, current_a REAL, power_w REAL, added_energy_kwh REAL, "
            "PRIMARY KEY (ts_ms, charger_id)) WITHOUT ROWID"
        )
        db.execute("INSERT INTO charger VALUES (1000, 'c', 194, 'Charging', 10.0, 6928.0, 1.5)")
    store = SqliteStore(path)
    old = store.last_charger_state()
    assert old is not None and (old.power_w, old.watts_per_amp, old.refused) == (6928.0, None, None)
    new = ChargerState(
        ts=datetime(2026, 5, 18, 12, tzinfo=UTC), charger_id="c", status_id=194,
        status="Charging", current_a=16.0, power_w=3694.0, watts_per_amp=230.9,
        operation_mode="wallbox",
    )  # fmt: skip
    store.write_charger_state(new)
    assert store.last_charger_state() == new
    store.close()
    SqliteStore(path).close()  # opening again adds nothing twice
