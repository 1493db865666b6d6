"""The embedded store: one SQLite file shared by the collector, controller and toggle app.

Tables mirror the InfluxDB measurements (docs/design.md, "Store schema"). Each is clustered on its
(timestamp, tags) key, so a window mean is a range scan whose cost does not grow with history, and
an upsert on that key gives InfluxDB's rule: the same point written twice is stored once, and the
fields of a later write replace those of an earlier one. WAL mode lets three processes read while
one writes. Retention (1 s readings, then 1-minute means) is in sqlite_retention.py.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common.models import (
    P1_FIELDS,
    Action,
    ChargerState,
    Decision,
    EnergySummary,
    Mode,
    ModeChange,
    PhaseMeans,
    Reading,
    decode_reason,
)
from common.store import sqlite_retention as retention
from common.store.base import (
    PowerPoint,
    StoreError,
    StoreInfo,
    integrate_energy,
    merge_series,
    mode_stamp,
    series_start,
    stored_row,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_P1_COLS = ", ".join(f"{f} REAL" for f in P1_FIELDS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS p1 (
    ts_ms INTEGER NOT NULL, meter TEXT NOT NULL, {_P1_COLS},
    PRIMARY KEY (ts_ms, meter)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS charger (
    ts_ms INTEGER NOT NULL, charger_id TEXT NOT NULL, status_id INTEGER, status TEXT,
    current_a REAL, power_w REAL, added_energy_kwh REAL,
    watts_per_amp REAL, operation_mode TEXT, refused TEXT,
    PRIMARY KEY (ts_ms, charger_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decision (
    ts_ms INTEGER NOT NULL, mode TEXT NOT NULL, grid_power_mean_w REAL, surplus_w REAL,
    target_a INTEGER, action TEXT, reason TEXT,
    PRIMARY KEY (ts_ms, mode)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mode (
    ts_ms INTEGER NOT NULL PRIMARY KEY, mode TEXT NOT NULL, source TEXT NOT NULL);
{retention.SCHEMA}"""
#: Defaults of store.raw_days and store.rollup_days (common/config.py).
RAW_DAYS = 7.0
ROLLUP_DAYS = 730.0


def _upsert(table: str, key: tuple[str, str], fields: tuple[str, ...]) -> str:
    """Insert, or merge into the point with the same key: fields given replace, others stay."""
    cols = (*key, *fields)
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{f} = COALESCE(excluded.{f}, {table}.{f})" for f in fields)
    )


#: PowerPoint field -> (table, column) of Store.power_series.
_SERIES = {
    "grid_power_w": ("p1", "active_power_w"),
    "ev_power_w": ("charger", "power_w"),
    "surplus_w": ("decision", "surplus_w"),
}

_P1_UPSERT = _upsert("p1", ("ts_ms", "meter"), P1_FIELDS)
_CHARGER_FIELDS = (
    "status_id",
    "status",
    "current_a",
    "power_w",
    "added_energy_kwh",
    "watts_per_amp",
    "operation_mode",
    "refused",
)
_CHARGER_UPSERT = _upsert("charger", ("ts_ms", "charger_id"), _CHARGER_FIELDS)
#: Columns added after the first release, with their types: a file made before gets them at open.
_ADDED_COLUMNS = {
    "charger": (("watts_per_amp", "REAL"), ("operation_mode", "TEXT"), ("refused", "TEXT")),
}
_DECISION_UPSERT = _upsert(
    "decision",
    ("ts_ms", "mode"),
    ("grid_power_mean_w", "surplus_w", "target_a", "action", "reason"),
)


def to_ms(ts: datetime) -> int:
    """Whole milliseconds, truncated as influxdb-client does, so both stores key a point alike."""
    return (ts - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class SqliteStore:
    """Store on a local SQLite file; safe for several processes and threads at once."""

    def __init__(
        self,
        path: str | Path,
        busy_timeout_s: float = 10.0,
        raw_days: float = RAW_DAYS,
        rollup_days: float = ROLLUP_DAYS,
    ) -> None:
        self.path = str(path)
        self.raw_days, self.rollup_days = raw_days, rollup_days
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_columns()
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"SQLite store {self.path}: {e}") from e
        self._lock = threading.Lock()

    def _add_columns(self) -> None:
        """Bring a file from an earlier version up to the schema (new columns are NULL)."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def _run(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise StoreError(f"SQLite store {self.path}: {e}") from e

    def write_readings(self, readings: Sequence[Reading]) -> None:
        rows = [(to_ms(r.ts), r.meter, *(getattr(r, f) for f in P1_FIELDS)) for r in readings]
        if not rows:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(_P1_UPSERT, rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                raise StoreError(f"SQLite store {self.path}: {e}") from e

    def grid_power_mean(
        self, window_s: float, now: datetime, since: datetime | None = None
    ) -> float | None:
        start_ms = to_ms(now) - round(window_s * 1000)
        if since is not None:
            start_ms = max(start_ms, to_ms(since))
        rows = self._run(
            "SELECT AVG(active_power_w) FROM p1 WHERE ts_ms >= ? AND ts_ms < ?",
            (start_ms, to_ms(now)),
        )
        return rows[0][0]

    def grid_phase_means(
        self, window_s: float, now: datetime, since: datetime | None = None
    ) -> PhaseMeans | None:
        start_ms = to_ms(now) - round(window_s * 1000)
        if since is not None:
            start_ms = max(start_ms, to_ms(since))
        rows = self._run(
            "SELECT AVG(active_power_w), AVG(active_power_l1_w), AVG(active_power_l2_w), "
            "AVG(active_power_l3_w) FROM p1 WHERE ts_ms >= ? AND ts_ms < ?",
            (start_ms, to_ms(now)),
        )
        total, l1, l2, l3 = rows[0]
        return None if total is None else PhaseMeans(total, l1, l2, l3)

    def latest_reading(self, now: datetime) -> Reading | None:
        rows = self._run(
            f"SELECT ts_ms, meter, {', '.join(P1_FIELDS)} FROM p1 WHERE ts_ms <= ? "
            "ORDER BY ts_ms DESC LIMIT 1",
            (to_ms(now),),
        )
        if not rows:
            return None
        ts_ms, meter, *values = rows[0]
        return Reading(ts=from_ms(ts_ms), meter=meter, **dict(zip(P1_FIELDS, values, strict=True)))

    def write_charger_state(self, state: ChargerState) -> None:
        self._run(
            _CHARGER_UPSERT,
            (
                to_ms(state.ts),
                state.charger_id,
                state.status_id,
                state.status,
                state.current_a,
                state.power_w,
                state.added_energy_kwh,
                state.watts_per_amp,
                state.operation_mode,
                state.refused,
            ),
        )

    def write_decision(self, decision: Decision) -> None:
        self._run(
            _DECISION_UPSERT,
            (
                to_ms(decision.ts),
                decision.mode.value,
                decision.grid_power_mean_w,
                decision.surplus_w,
                decision.target_a,
                decision.action.value,
                decision.stored_reason,
            ),
        )

    def set_mode(self, mode: Mode, source: str, now: datetime) -> ModeChange:
        newest = self._run("SELECT MAX(ts_ms) FROM mode")[0][0]
        ts = mode_stamp(now, None if newest is None else from_ms(newest))
        change = ModeChange(ts=ts, mode=Mode(mode), source=source)
        self._run(
            "INSERT OR REPLACE INTO mode VALUES (?, ?, ?)",
            (to_ms(change.ts), change.mode.value, source),
        )
        return change

    def get_mode(self) -> ModeChange | None:
        rows = self._run("SELECT ts_ms, mode, source FROM mode ORDER BY ts_ms DESC LIMIT 1")
        if not rows:
            return None
        ts_ms, mode, source = rows[0]
        with stored_row(f"SQLite store {self.path}, mode"):
            return ModeChange(ts=from_ms(ts_ms), mode=Mode(mode), source=source)

    def last_decision(self) -> Decision | None:
        rows = self._run(
            "SELECT ts_ms, mode, grid_power_mean_w, surplus_w, target_a, action, reason "
            "FROM decision ORDER BY ts_ms DESC LIMIT 1"
        )
        if not rows:
            return None
        ts_ms, mode, mean_w, surplus_w, target_a, action, reason = rows[0]
        with stored_row(f"SQLite store {self.path}, decision"):
            return self._decision(ts_ms, mode, mean_w, surplus_w, target_a, action, reason)

    @staticmethod
    def _decision(ts_ms, mode, mean_w, surplus_w, target_a, action, reason) -> Decision:
        why, error = decode_reason(reason)
        return Decision(
            ts=from_ms(ts_ms),
            mode=Mode(mode),
            action=Action(action),
            reason=why,
            command_error=error,
            target_a=int(target_a),
            grid_power_mean_w=mean_w,
            surplus_w=surplus_w,
        )

    def last_charger_state(self) -> ChargerState | None:
        rows = self._run(
            f"SELECT ts_ms, charger_id, {', '.join(_CHARGER_FIELDS)} FROM charger "
            "ORDER BY ts_ms DESC LIMIT 1"
        )
        if not rows:
            return None
        ts_ms, charger_id, *values = rows[0]
        return ChargerState(
            ts=from_ms(ts_ms),
            charger_id=charger_id,
            **dict(zip(_CHARGER_FIELDS, values, strict=True)),
        )

    def energy_summary(self, start: datetime, stop: datetime) -> EnergySummary:
        a, b = to_ms(start), to_ms(stop)
        samples = [
            (from_ms(ts), power or 0.0, surplus)
            for ts, power, surplus in self._run(
                "SELECT c.ts_ms, c.power_w, d.surplus_w FROM charger c "
                "LEFT JOIN decision d ON d.ts_ms = c.ts_ms "
                "WHERE c.ts_ms >= ? AND c.ts_ms < ? ORDER BY c.ts_ms",
                (a, b),
            )
        ]
        ev_kwh, solar_kwh = integrate_energy(samples, stop)
        starts = self._run(
            "SELECT COUNT(*) FROM decision WHERE action = 'start' AND ts_ms >= ? AND ts_ms < ?",
            (a, b),
        )[0][0]
        return EnergySummary(
            ev_kwh=ev_kwh,
            ev_solar_kwh=solar_kwh,
            import_kwh=self._counter_delta("total_power_import_kwh", a, b),
            export_kwh=self._counter_delta("total_power_export_kwh", a, b),
            starts=starts,
        )

    def _counter_delta(self, field: str, a: int, b: int) -> float | None:
        with self._lock:
            try:
                first, last = retention.counter_ends(self._db, field, a, b)
            except sqlite3.Error as e:
                raise StoreError(f"SQLite store {self.path}: {e}") from e
        if first is None or last is None:
            return None
        return max(last[1] - first[1], 0.0)

    def prune(self, now: datetime, budget_s: float) -> bool:
        try:
            days = (self.raw_days, self.rollup_days)
            return retention.prune(self._db, self._lock, to_ms(now), days, budget_s)
        except sqlite3.Error as e:
            raise StoreError(f"SQLite store {self.path}: retention: {e}") from e

    def info(self, now: datetime) -> StoreInfo:
        raw = self._run("SELECT MIN(ts_ms), MAX(ts_ms) FROM p1")[0]
        rolled = self._run("SELECT MIN(ts_ms), MAX(ts_ms) FROM p1_1m")[0]
        oldest = min((v for v in (raw[0], rolled[0]) if v is not None), default=None)
        newest = max((v for v in (raw[1], rolled[1]) if v is not None), default=None)
        return StoreInfo(
            where=f"SQLite {self.path}",
            size_bytes=self._size_bytes(),
            oldest_reading=None if oldest is None else from_ms(oldest),
            newest_reading=None if newest is None else from_ms(newest),
            raw_since=None if rolled[0] is None or raw[0] is None else from_ms(raw[0]),
            retention=(
                f"1 s readings for {self.raw_days:g} days, then 1-minute means "
                f"for {self.rollup_days:g} days"
            ),
        )

    def _size_bytes(self) -> int | None:
        if self.path == ":memory:":
            return None
        return sum(os.stat(p).st_size for p in (self.path, self.path + "-wal") if os.path.exists(p))

    def power_series(self, start: datetime, stop: datetime, step_s: float) -> list[PowerPoint]:
        a, b = to_ms(series_start(start, step_s)), to_ms(stop)
        step_ms = round(step_s * 1000)
        buckets: dict[datetime, dict[str, float]] = {}
        for name, (table, column) in _SERIES.items():
            args: tuple[int, ...] = (a, step_ms, a, b)
            sql = (
                f"SELECT (ts_ms - ?) / ? AS k, AVG({column}) FROM {table} "
                f"WHERE ts_ms >= ? AND ts_ms < ? AND {column} IS NOT NULL GROUP BY k"
            )
            if table == "p1":  # the 1 s readings, and the minutes they were rolled up into
                sql, args = retention.GRID_SERIES, args * 2
            for k, mean in self._run(sql, args):
                buckets.setdefault(from_ms(a + k * step_ms), {})[name] = mean
        return merge_series(buckets)

    def close(self) -> None:
        with self._lock:
            self._db.close()
