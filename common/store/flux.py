"""Every Flux query the code issues, in one place.

Values come in as bind parameters (``params.*``): influxdb-client sends them as an ``option params``
extern, never by string formatting, so a bucket name cannot inject Flux. The offline type check
(tools/fluxcheck) reads QUERIES and prepends the same option with PARAM_TYPES' example values.
"""

from __future__ import annotations

# The controller's mean (DESIGN.md section 8). group() first, so a meter whose tag changed inside
# the window (a re-plugged dongle with a new serial) still yields one mean, as SQLite gives.
GRID_POWER_MEAN = """from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._measurement == "p1" and r._field == "active_power_w")
  |> group()
  |> mean()"""

LATEST_READING = """from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._measurement == "p1")
  |> group(columns: ["_field"])
  |> last()
  |> pivot(rowKey: ["_time", "meter"], columnKey: ["_field"], values: ["_value"])"""

LAST_CHARGER_STATE = """from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._measurement == "charger")
  |> group(columns: ["_field"])
  |> last()
  |> pivot(rowKey: ["_time", "charger_id"], columnKey: ["_field"], values: ["_value"])"""

LAST_DECISION = """from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._measurement == "decision")
  |> group(columns: ["_field"])
  |> last()
  |> pivot(rowKey: ["_time", "mode"], columnKey: ["_field"], values: ["_value"])"""

LAST_MODE = """from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._measurement == "mode")
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], values: ["_value"])"""

# Raw per-cycle points of a period; the join and the integral happen in Python (base.py), the same
# code as for SQLite, so both backends report the same kWh.
ENERGY_POINTS = """from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) =>
      (r._measurement == "charger" and r._field == "power_w")
      or (r._measurement == "decision" and (r._field == "surplus_w" or r._field == "action")))
  |> keep(columns: ["_time", "_measurement", "_field", "_value"])"""

METER_COUNTERS = """data = from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._measurement == "p1"
      and (r._field == "total_power_import_kwh" or r._field == "total_power_export_kwh"))
  |> group(columns: ["_field"])

union(tables: [data |> first(), data |> last()])"""

QUERIES: dict[str, str] = {
    "grid_power_mean": GRID_POWER_MEAN,
    "latest_reading": LATEST_READING,
    "last_charger_state": LAST_CHARGER_STATE,
    "last_decision": LAST_DECISION,
    "last_mode": LAST_MODE,
    "energy_points": ENERGY_POINTS,
    "meter_counters": METER_COUNTERS,
}

#: The option statement influxdb-client builds from our params, with example values, for the
#: offline type check (every query takes the same three parameters).
PARAMS_OPTION = (
    'option params = {bucket: "solar", start: 2026-05-18T10:00:00.000000Z, '
    "stop: 2026-05-18T12:00:00.000000Z}"
)
