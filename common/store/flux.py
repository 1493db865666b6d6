"""Every Flux query the code issues, in one place.

Values come in as bind parameters, never by string formatting, so a bucket name cannot inject
Flux. influxdb-client sends ``params={name: value}`` as an ``extern`` holding one top-level
``option name = <literal>`` statement per key (not a ``params`` record: that is InfluxDB Cloud's
server-side parameterized queries), so the queries use the bare names of ``bind_params``. The
offline type check (tests/test_flux_queries.py) prepends PARAMS_OPTION, and checks that it names
and types the same options as the extern influxdb-client builds from ``bind_params``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# The controller's mean (docs/design.md, "Store schema"). group() first, so a meter whose tag
# changed inside the window (a re-plugged dongle with a new serial) still yields one mean, as SQLite
# gives.
GRID_POWER_MEAN = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> group()
  |> mean()"""

# The same over the total and each phase, one mean per field: a command's step in these shows
# what the car draws per ampere and on which phases (docs/design.md, "Surplus arithmetic").
GRID_PHASE_MEANS = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "active_power_w" or r._field == "active_power_l1_w"
        or r._field == "active_power_l2_w" or r._field == "active_power_l3_w"))
  |> group(columns: ["_field"])
  |> mean()"""

# The newest point of each kind: last() per series (each series is in time order; a group() first
# would merge series in series-key order, and last() would then pick by that order, not by time),
# then the caller takes the newest row, as SQLite's ORDER BY ts DESC LIMIT 1 does.
LATEST_READING = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1")
  |> last()
  |> pivot(rowKey: ["_time", "meter"], columnKey: ["_field"], valueColumn: "_value")"""

LAST_CHARGER_STATE = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "charger")
  |> last()
  |> pivot(rowKey: ["_time", "charger_id"], columnKey: ["_field"], valueColumn: "_value")"""

LAST_DECISION = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "decision")
  |> last()
  |> pivot(rowKey: ["_time", "mode"], columnKey: ["_field"], valueColumn: "_value")"""

LAST_MODE = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "mode")
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")"""

# Raw per-cycle points of a period; the join and the integral happen in Python (base.py), the same
# code as for SQLite, so both backends report the same kWh.
ENERGY_POINTS = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) =>
      (r._measurement == "charger" and (r._field == "power_w" or r._field == "status"))
      or (r._measurement == "decision" and (r._field == "surplus_w" or r._field == "action")))
  |> keep(columns: ["_time", "_measurement", "_field", "_value"])"""

# First and last meter counters of a period, per series; the caller takes the earliest and the
# latest of them (a re-plugged dongle starts a new series). Two streams, each read from the bucket
# on its own: a bare first() or last() right after range and filter is pushed down into the storage
# engine, which then reads one point per series, but only when nothing else reads that stream.
METER_COUNTERS = """firsts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "total_power_import_kwh" or r._field == "total_power_export_kwh"))
  |> first()
lasts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "total_power_import_kwh" or r._field == "total_power_export_kwh"))
  |> last()

union(tables: [firsts, lasts])"""

# The oldest and the newest reading of each meter (``scc status``), pushed down as above.
P1_SPAN = """firsts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> first()
lasts = from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> last()

union(tables: [firsts, lasts])"""

# The phone page's chart (Store.power_series): means per window of the grid power, the car's draw
# and the controller's surplus. group() first, as for the window mean, so each kind is one stream
# whatever its tags; windows start at whole multiples of windowEvery since the epoch (the caller
# aligns rangeStart), and timeSrc "_start" stamps each mean with its window's start, as SQLite does.
POWER_SERIES = """from(bucket: bucketName)
  |> range(start: rangeStart, stop: rangeStop)
  |> filter(fn: (r) =>
      (r._measurement == "p1" and r._field == "active_power_w")
      or (r._measurement == "charger" and r._field == "power_w")
      or (r._measurement == "decision" and r._field == "surplus_w"))
  |> group(columns: ["_measurement", "_field"])
  |> aggregateWindow(every: windowEvery, fn: mean, createEmpty: false, timeSrc: "_start")"""

QUERIES: dict[str, str] = {
    "grid_power_mean": GRID_POWER_MEAN,
    "grid_phase_means": GRID_PHASE_MEANS,
    "latest_reading": LATEST_READING,
    "last_charger_state": LAST_CHARGER_STATE,
    "last_decision": LAST_DECISION,
    "last_mode": LAST_MODE,
    "energy_points": ENERGY_POINTS,
    "meter_counters": METER_COUNTERS,
    "p1_span": P1_SPAN,
    "power_series": POWER_SERIES,
}

#: Queries that aggregate per window and so take ``windowEvery`` too (``bind_params(every=)``).
WINDOWED = frozenset({"power_series"})


def bind_params(
    bucket: str, start: datetime, stop: datetime, every: timedelta | None = None
) -> dict[str, object]:
    """The ``params`` every query takes (and ``every`` for the WINDOWED ones); influxdb-client
    turns each key into an option (a timedelta into a duration)."""
    params: dict[str, object] = {"bucketName": bucket, "rangeStart": start, "rangeStop": stop}
    if every is not None:
        params["windowEvery"] = every
    return params


#: The option statements influxdb-client builds from ``bind_params``, with example values, for
#: the offline type check.
PARAMS_OPTION = (
    'option bucketName = "solar"\n'
    "option rangeStart = 2026-05-18T10:00:00.000000000Z\n"
    "option rangeStop = 2026-05-18T12:00:00.000000000Z"
)
#: The extra option of the WINDOWED queries, for the same check.
WINDOW_OPTION = "option windowEvery = 60000000us"
