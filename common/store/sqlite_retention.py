"""Retention for the SQLite store: 1 s readings for ``store.raw_days``, then 1-minute means.

Why: at 1 Hz a reading is about 127 bytes, 4 GB a year, and nothing reads 1 s readings older than
today (the controller's window is minutes, the page shows today). So readings older than
``raw_days`` are rolled up into ``p1_1m``, one row per minute and meter (docs/design.md, "Store
schema"): the means of the powers, the month's peak, and the first and last of each energy
counter, which is all that an energy summary or a chart over any later period needs. Minute rows,
charger states and decisions older than ``rollup_days`` go; the mode never does.

The work is done in steps of an hour of readings, one short transaction each, so the controller and
the phone page (other processes on the same file) never wait long, and ``prune`` stops after its
time budget: the collector's writer calls it between writes, so a poll is never held up, and a
large backlog (the first run on a year-old file) is worked off over a few minutes.
"""

from __future__ import annotations

import sqlite3
import threading
import time

MINUTE_MS = 60_000
DAY_MS = 86_400_000
#: Readings rolled up per transaction.
STEP_MS = 3_600_000

#: Rolled up as the mean over the minute. Not ``active_power_average_w``: a minute's mean of a
#: 15-minute average says nothing the power's own means do not (the month's peak is kept).
MEAN_FIELDS = ("active_power_w", "active_power_l1_w", "active_power_l2_w", "active_power_l3_w")
#: Rolled up as the largest value of the minute.
MAX_FIELDS = ("montly_power_peak_w",)
#: Energy counters: the first and the last value of the minute (they only grow).
COUNTERS = ("total_power_import_kwh", "total_power_export_kwh")

_COUNTER_COLS = tuple(f"{c}_{end}" for c in COUNTERS for end in ("first", "last"))
_COLS = (*MEAN_FIELDS, *MAX_FIELDS, *_COUNTER_COLS)

# A minute row names its meter by a number (``p1_meter``): the serial's 12 characters would be a
# tenth of the row, repeated half a million times a year.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS p1_meter (id INTEGER PRIMARY KEY, meter TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS p1_1m (
    ts_ms INTEGER NOT NULL, meter_id INTEGER NOT NULL, n INTEGER NOT NULL,
    {", ".join(f"{c} REAL" for c in _COLS)},
    PRIMARY KEY (ts_ms, meter_id)) WITHOUT ROWID;
"""


def _select_minutes() -> str:
    exprs = [f"AVG({f})" for f in MEAN_FIELDS] + [f"MAX({f})" for f in MAX_FIELDS]
    for c in COUNTERS:  # counters only grow: the first value is the smallest
        exprs += [f"MIN({c})", f"MAX({c})"]
    return (
        f"SELECT p1.ts_ms / {MINUTE_MS} * {MINUTE_MS}, m.id, COUNT(*), {', '.join(exprs)} "
        "FROM p1 JOIN p1_meter m ON m.meter = p1.meter WHERE p1.ts_ms < ? GROUP BY 1, 2"
    )


def _merge(col: str) -> str:
    """A minute rolled up twice (a late reading from the spool): combine, weighted by count."""
    old, new = f"p1_1m.{col}", f"excluded.{col}"
    if col in MEAN_FIELDS:
        both = f"({old} * p1_1m.n + {new} * excluded.n) / (p1_1m.n + excluded.n)"
    elif col.endswith("_first"):
        both = f"MIN({old}, {new})"
    else:  # MAX_FIELDS and *_last
        both = f"MAX({old}, {new})"
    either = f"WHEN {old} IS NULL THEN {new} WHEN {new} IS NULL THEN {old}"
    return f"{col} = CASE {either} ELSE {both} END"


_METERS = "INSERT OR IGNORE INTO p1_meter (meter) SELECT DISTINCT meter FROM p1 WHERE ts_ms < ?"
_ROLL_UP = (
    f"INSERT INTO p1_1m (ts_ms, meter_id, n, {', '.join(_COLS)}) {_select_minutes()} "
    "ON CONFLICT (ts_ms, meter_id) DO UPDATE SET "
    + ", ".join(_merge(c) for c in _COLS)
    + ", n = p1_1m.n + excluded.n"
)


def prune(
    db: sqlite3.Connection,
    lock: threading.Lock,
    now_ms: int,
    days: tuple[float, float],
    budget_s: float,
) -> bool:
    """One budgeted round of retention on ``db`` (autocommit mode, guarded by ``lock``), with
    ``days`` = (raw_days, rollup_days); True when work is left for the next round."""
    raw_days, rollup_days = days
    cutoff = (now_ms - round(raw_days * DAY_MS)) // MINUTE_MS * MINUTE_MS
    stop_at = time.monotonic() + budget_s
    while True:
        with lock:
            oldest = db.execute("SELECT MIN(ts_ms) FROM p1").fetchone()[0]
            if oldest is None or oldest >= cutoff:
                break
            step_end = min(cutoff, oldest // MINUTE_MS * MINUTE_MS + STEP_MS)
            _in_transaction(
                db,
                (_METERS, (step_end,)),
                (_ROLL_UP, (step_end,)),
                ("DELETE FROM p1 WHERE ts_ms < ?", (step_end,)),
            )
        if time.monotonic() > stop_at:
            return True
    old = now_ms - round(rollup_days * DAY_MS)
    tables = ("p1_1m", "charger", "decision")
    with lock:
        _in_transaction(db, *((f"DELETE FROM {t} WHERE ts_ms < ?", (old,)) for t in tables))
    return False


def _in_transaction(db: sqlite3.Connection, *statements: tuple[str, tuple[object, ...]]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql, args in statements:
            db.execute(sql, args)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


#: Store.power_series's grid power: 1 s readings and rolled up minutes (weighted by their count)
#: per bucket; takes (start, step, start, stop) twice.
GRID_SERIES = (
    "SELECT k, SUM(v * w) / SUM(w) FROM ("
    "SELECT (ts_ms - ?) / ? AS k, active_power_w AS v, 1 AS w FROM p1 "
    "WHERE ts_ms >= ? AND ts_ms < ? AND active_power_w IS NOT NULL UNION ALL "
    "SELECT (ts_ms - ?) / ? AS k, active_power_w AS v, n AS w FROM p1_1m "
    "WHERE ts_ms >= ? AND ts_ms < ? AND active_power_w IS NOT NULL) GROUP BY k"
)


def counter_ends(
    db: sqlite3.Connection, field: str, a_ms: int, b_ms: int
) -> tuple[tuple[int, float] | None, tuple[int, float] | None]:
    """(ts, value) of the first and of the last value of a counter in [a, b), 1 s or rolled up.

    A minute counts when it starts in [a, b); for a period that starts and ends on whole minutes
    (a day does) that is exactly the readings in it.
    """
    where = "IS NOT NULL AND ts_ms >= ? AND ts_ms < ?"
    ends: list[tuple[int, float] | None] = []
    for order, rolled in (("ASC", f"{field}_first"), ("DESC", f"{field}_last")):
        found = [
            row
            for sql in (
                f"SELECT ts_ms, {field} FROM p1 WHERE {field} {where} ORDER BY ts_ms {order}",
                f"SELECT ts_ms, {rolled} FROM p1_1m WHERE {rolled} {where} ORDER BY ts_ms {order}",
            )
            for row in db.execute(sql + " LIMIT 1", (a_ms, b_ms)).fetchall()
        ]
        pick = min if order == "ASC" else max
        ends.append(pick(found) if found else None)
    return ends[0], ends[1]
