"""The InfluxDB 2 store, for users who run the compose stack with Grafana.

Writes are synchronous so that a failure reaches the caller (the collector then spools); the
client does no retries of its own for the same reason, and every request ends within
``timeout_s`` all included, however slowly InfluxDB answers. A write that InfluxDB refuses for
good (422: points beyond the bucket's retention, a field type conflict; 400: a point it cannot
parse) is a ``StoreRefused``, so the collector sets those points aside instead of retrying them
for ever (influx_errors.py). Every query lives in ``flux.py``, takes its values as bind
parameters and reads a bounded range of time.

The mode is the one point that must outlive the bucket's retention: it is set once and then holds
(docs/design.md, "Modes"). So whoever reads it and finds it older than a day writes it again, with
the time it was set in its ``set_ms`` field, and ``get_mode`` needs to look back only a month.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from common.deadline import guard_pools
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
    utcnow,
)
from common.store import flux
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
from common.store.influx_errors import (
    QUERY_ERRORS,
    WRITE_ERRORS,
    describe,
    request_deadline,
    write_error,
)

log = logging.getLogger(__name__)

#: How far back "latest" looks: older than this is no longer news for the phone page, and the
#: bound keeps the query from scanning years of history.
LATEST_LOOKBACK = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How far back ``get_mode`` looks, and how old the newest mode point may get before a reader
#: writes it again; older than the lookback (everything off for a month) costs one full search.
MODE_LOOKBACK = timedelta(days=30)
MODE_REFRESH = timedelta(days=1)
#: The copy goes this far before now, so that a mode someone sets while we read is newer.
MODE_REFRESH_MARGIN = timedelta(minutes=1)
#: How far ahead of the clock a mode row is still found (a clock that was years ahead once).
MODE_LOOKAHEAD = timedelta(days=3660)
_PHASE_FIELDS = ("active_power_w", "active_power_l1_w", "active_power_l2_w", "active_power_l3_w")
#: (measurement, field) -> PowerPoint field of the power_series query.
_SERIES = {
    ("p1", "active_power_w"): "grid_power_w",
    ("charger", "power_w"): "ev_power_w",
    ("decision", "surplus_w"): "surplus_w",
}


class InfluxStore:
    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url, self.org, self.bucket = url, org, bucket
        self.timeout_s = timeout_s
        self._clock = clock
        # Connect within timeout_s; reads are ended by the deadline (request_deadline), the client's
        # own read timeout is a backstop only, a second later, so that the error says which.
        timeout_ms: Any = (round(timeout_s * 1000), round((timeout_s + 1) * 1000))
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=timeout_ms, retries=0)
        guard_pools(self._client.api_client.rest_client.pool_manager)
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self._client.query_api()
        self._searched_all_modes = False
        self._refresh_warned = False

    def _write_points(self, points: list[Point]) -> None:
        if not points:
            return
        try:
            # WritePrecision.MS is a plain str; the client's annotation names the class itself.
            precision: Any = WritePrecision.MS
            with request_deadline(self.url, self.timeout_s, "write"):
                self._write.write(
                    bucket=self.bucket, org=self.org, record=points, write_precision=precision
                )
        except WRITE_ERRORS as e:
            raise write_error(self.url, e, len(points)) from e

    def _query(
        self, name: str, start: datetime, stop: datetime, every: timedelta | None = None
    ) -> list[dict[str, Any]]:
        params = flux.bind_params(self.bucket, start, stop, every)
        try:
            with request_deadline(self.url, self.timeout_s, f"query {name}"):
                tables = self._query_api.query(flux.QUERIES[name], org=self.org, params=params)
        except QUERY_ERRORS as e:
            raise StoreError(f"InfluxDB {self.url} query {name} failed: {describe(e)}") from e
        return [rec.values for table in tables for rec in table.records]

    def write_readings(self, readings: Sequence[Reading]) -> None:
        points = []
        for r in readings:
            values = r.values()
            if not values:
                continue  # a point needs at least one field
            p = Point("p1").tag("meter", r.meter).time(r.ts, WritePrecision.MS)
            for name, v in values.items():
                p = p.field(name, float(v))
            points.append(p)
        self._write_points(points)

    def grid_power_mean(
        self, window_s: float, now: datetime, since: datetime | None = None
    ) -> float | None:
        start = now - timedelta(seconds=window_s)
        if since is not None and since > start:
            start = since
        if start >= now:
            return None
        rows = self._query("grid_power_mean", start, now)
        values = [r["_value"] for r in rows if r.get("_value") is not None]
        return float(values[0]) if values else None

    def grid_phase_means(
        self, window_s: float, now: datetime, since: datetime | None = None
    ) -> PhaseMeans | None:
        start = now - timedelta(seconds=window_s)
        if since is not None and since > start:
            start = since
        if start >= now:
            return None
        means = {
            str(r["_field"]): float(r["_value"])
            for r in self._query("grid_phase_means", start, now)
            if r.get("_value") is not None
        }
        if "active_power_w" not in means:
            return None
        return PhaseMeans(**{k: v for k, v in means.items() if k in _PHASE_FIELDS})

    def latest_reading(self, now: datetime) -> Reading | None:
        # last() runs in the server, so the range must end at now: points are stored to the
        # millisecond, and [start, floor_ms(now) + 1 ms) holds exactly those at or before now.
        stop = now.replace(microsecond=now.microsecond // 1000 * 1000) + timedelta(milliseconds=1)
        rows = self._query("latest_reading", now - LATEST_LOOKBACK, stop)
        if not rows:
            return None
        row = max(rows, key=lambda r: r["_time"])
        return Reading(
            ts=row["_time"],
            meter=str(row.get("meter") or "p1"),
            **{f: row[f] for f in P1_FIELDS if row.get(f) is not None},
        )

    def write_charger_state(self, state: ChargerState) -> None:
        p = (
            Point("charger")
            .tag("charger_id", state.charger_id)
            .time(state.ts, WritePrecision.MS)
            .field("status", state.status)
        )
        if state.status_id is not None:
            p = p.field("status_id", int(state.status_id))
        for name in ("current_a", "power_w", "added_energy_kwh", "watts_per_amp"):
            v = getattr(state, name)
            if v is not None:
                p = p.field(name, float(v))
        for name in ("operation_mode", "refused"):
            text = getattr(state, name)
            if text is not None:
                p = p.field(name, str(text))
        self._write_points([p])

    def write_decision(self, d: Decision) -> None:
        p = (
            Point("decision")
            .tag("mode", d.mode.value)
            .time(d.ts, WritePrecision.MS)
            .field("target_a", int(d.target_a))
            .field("action", d.action.value)
            .field("reason", d.stored_reason)
        )
        if d.grid_power_mean_w is not None:
            p = p.field("grid_power_mean_w", float(d.grid_power_mean_w))
        if d.surplus_w is not None:
            p = p.field("surplus_w", float(d.surplus_w))
        self._write_points([p])

    def set_mode(self, mode: Mode, source: str, now: datetime) -> ModeChange:
        newest = self._newest_mode_row()
        ts = mode_stamp(now, None if newest is None else newest["_time"])
        change = ModeChange(ts=ts, mode=Mode(mode), source=source)
        p = (
            Point("mode")
            .time(change.ts, WritePrecision.MS)
            .field("mode", change.mode.value)
            .field("source", source)
        )
        self._write_points([p])
        self._searched_all_modes = False  # stamped ``now``, which may lie before the lookback
        return change

    def _last(
        self, name: str, lookback: timedelta = LATEST_LOOKBACK, ahead: timedelta = timedelta(days=1)
    ) -> dict | None:
        now = self._clock()
        rows = self._query(name, now - lookback, now + ahead)
        return max(rows, key=lambda r: r["_time"]) if rows else None

    def _newest_mode_row(self) -> dict | None:
        """The newest mode row: a month back, and far ahead (a row stamped while the clock was
        ahead, and the switches stamped after it, are the newest); all history once per store,
        for a mode from before the lookback (everything was off a long time)."""
        row = self._last("last_mode", MODE_LOOKBACK, MODE_LOOKAHEAD)
        if row is None and not self._searched_all_modes:
            self._searched_all_modes = True
            row = self._last("last_mode", self._clock() - EPOCH, MODE_LOOKAHEAD)
        return row

    def get_mode(self) -> ModeChange | None:
        row = self._newest_mode_row()
        if row is None or row.get("mode") is None:
            return None
        with stored_row(f"InfluxDB {self.url}, mode"):
            set_ms = row.get("set_ms")
            change = ModeChange(
                ts=row["_time"] if set_ms is None else EPOCH + timedelta(milliseconds=set_ms),
                mode=Mode(row["mode"]),
                source=row.get("source") or "",
            )
        if self._clock() - row["_time"] > MODE_REFRESH:
            self._refresh_mode(change)
        return change

    def _refresh_mode(self, change: ModeChange) -> None:
        """Write the mode again, so that the bucket's retention never reaches it."""
        set_ms = (change.ts - EPOCH) // timedelta(milliseconds=1)
        p = (
            Point("mode")
            .time(self._clock() - MODE_REFRESH_MARGIN, WritePrecision.MS)
            .field("mode", change.mode.value)
            .field("source", change.source)
            .field("set_ms", set_ms)
        )
        try:
            self._write_points([p])
        except StoreError as e:  # a read-only token, say: the mode still reads fine today
            if not self._refresh_warned:
                self._refresh_warned = True
                log.warning("cannot rewrite the mode to keep it from expiring: %s", e)

    def last_decision(self) -> Decision | None:
        row = self._last("last_decision")
        if row is None or row.get("action") is None:
            return None
        with stored_row(f"InfluxDB {self.url}, decision"):
            return self._decision(row)

    @staticmethod
    def _decision(row: dict[str, Any]) -> Decision:
        why, error = decode_reason(row.get("reason") or "")
        return Decision(
            ts=row["_time"],
            mode=Mode(row["mode"]),
            action=Action(row["action"]),
            reason=why,
            command_error=error,
            target_a=int(row.get("target_a") or 0),
            grid_power_mean_w=row.get("grid_power_mean_w"),
            surplus_w=row.get("surplus_w"),
        )

    def last_charger_state(self) -> ChargerState | None:
        row = self._last("last_charger_state")
        if row is None:
            return None
        status_id = row.get("status_id")
        return ChargerState(
            ts=row["_time"],
            charger_id=str(row.get("charger_id") or ""),
            status_id=int(status_id) if status_id is not None else None,
            status=row.get("status") or "",
            current_a=row.get("current_a"),
            power_w=row.get("power_w"),
            added_energy_kwh=row.get("added_energy_kwh"),
            watts_per_amp=row.get("watts_per_amp"),
            operation_mode=row.get("operation_mode"),
            refused=row.get("refused"),
        )

    def energy_summary(self, start: datetime, stop: datetime) -> EnergySummary:
        power: dict[datetime, float] = {}
        surplus: dict[datetime, float] = {}
        starts = 0
        for r in self._query("energy_points", start, stop):
            field, value, ts = r["_field"], r["_value"], r["_time"]
            if field == "power_w":
                power[ts] = float(value)
            elif field == "status":  # every charger point has one; no power_w means no draw
                power.setdefault(ts, 0.0)
            elif field == "surplus_w":
                surplus[ts] = float(value)
            elif field == "action" and value == Action.START.value:
                starts += 1
        samples = [(ts, power[ts], surplus.get(ts)) for ts in sorted(power)]
        ev_kwh, solar_kwh = integrate_energy(samples, stop)
        counters: dict[str, list[tuple[datetime, float]]] = {}
        for r in self._query("meter_counters", start, stop):
            counters.setdefault(r["_field"], []).append((r["_time"], float(r["_value"])))

        def delta(field: str) -> float | None:
            seen = sorted(counters.get(field, []))
            return max(seen[-1][1] - seen[0][1], 0.0) if seen else None

        return EnergySummary(
            ev_kwh=ev_kwh,
            ev_solar_kwh=solar_kwh,
            import_kwh=delta("total_power_import_kwh"),
            export_kwh=delta("total_power_export_kwh"),
            starts=starts,
        )

    def prune(self, now: datetime, budget_s: float) -> bool:
        return False  # the bucket's own retention applies

    def info(self, now: datetime) -> StoreInfo:
        times = [r["_time"] for r in self._query("p1_span", EPOCH, now + timedelta(days=1))]
        return StoreInfo(
            where=f"InfluxDB {self.url}, bucket {self.bucket}",
            size_bytes=None,
            oldest_reading=min(times, default=None),
            newest_reading=max(times, default=None),
            raw_since=None,
            retention="as the bucket's retention says (influx bucket list)",
        )

    def power_series(self, start: datetime, stop: datetime, step_s: float) -> list[PowerPoint]:
        first = series_start(start, step_s)
        if first >= stop:
            return []
        buckets: dict[datetime, dict[str, float]] = {}
        for r in self._query("power_series", first, stop, timedelta(seconds=step_s)):
            name = _SERIES.get((str(r.get("_measurement")), str(r.get("_field"))))
            if name is not None and r.get("_value") is not None:
                buckets.setdefault(r["_time"], {})[name] = float(r["_value"])
        return merge_series(buckets)

    def close(self) -> None:
        self._client.close()
