"""The Flux every panel and annotation of the dashboards runs, kept readable (grafana/build.py).

Flux inside JSON strings is unreadable and unreviewable, so the queries live here as text and the
dashboard JSON that Grafana provisions is generated from them.

The queries read exactly the store schema (docs/design.md, "Store schema"). Grafana replaces the
macros ``v.timeRangeStart``, ``v.timeRangeStop``, ``v.windowPeriod`` and ``v.defaultBucket`` (the
datasource's bucket) before sending a query, and ``${timezone}`` from the dashboard variable.
"""

from __future__ import annotations

RANGE = """from(bucket: v.defaultBucket)
  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)"""


def series(measurement: str, field: str) -> str:
    return (
        f"{RANGE}\n"
        f'  |> filter(fn: (r) => r._measurement == "{measurement}" and r._field == "{field}")'
    )


def windowed(measurement: str, field: str, column: str, fn: str = "mean") -> str:
    """One field as one series, averaged (or ``fn``) per Grafana's pixel-sized window.

    aggregateWindow straight after range and filter lets InfluxDB push the aggregate down to
    storage, so a year on screen reads a few thousand points, not thirty million. group()
    afterwards merges the series of a re-plugged meter (new tag) into one line.
    """
    return (
        f"{series(measurement, field)}\n"
        f"  |> aggregateWindow(every: v.windowPeriod, fn: {fn}, createEmpty: false)\n"
        "  |> group()\n"
        f"  |> map(fn: (r) => ({{_time: r._time, {column}: r._value}}))"
    )


# Grid power split by sign: positive is import, negative export (HomeWizard's convention).
GRID_IMPORT_EXPORT = f"""{series("p1", "active_power_w")}
  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)
  |> group()
  |> map(fn: (r) => ({{
      _time: r._time,
      import_w: if r._value > 0.0 then r._value else 0.0,
      export_w: if r._value < 0.0 then -r._value else 0.0,
  }}))"""

# What the car could take with the house as it is: EV draw minus grid power (docs/design.md,
# "Surplus arithmetic"). Both sides are averaged over the same windows, at least one minute wide
# because the charger is read once per controller cycle; a window without a charger point yields no
# surplus rather than a guess.
ESTIMATED_SURPLUS = f"""period = if int(v: v.windowPeriod) < int(v: 1m) then 1m else v.windowPeriod
grid = {series("p1", "active_power_w")}
  |> aggregateWindow(every: period, fn: mean, createEmpty: false)
  |> group()
ev = {series("charger", "power_w")}
  |> aggregateWindow(every: period, fn: mean, createEmpty: false)
  |> group()
union(tables: [grid, ev])
  |> pivot(rowKey: ["_time"], columnKey: ["_measurement"], valueColumn: "_value")
  |> filter(fn: (r) => exists r.p1 and exists r.charger)
  |> map(fn: (r) => ({{_time: r._time, surplus_w: r.charger - r.p1}}))"""

# The EV's energy in 5-minute steps, split into what the surplus covered and the rest. The solar
# part of each step is min(ev, max(0, ev - grid)) as in docs/design.md, "Replay and benchmarks"; a
# step without meter data counts as grid (never claim sun without evidence). A 5-minute window holds
# a charger point at any controller interval up to 300 s; a longer gap (controller down) counts as
# no charging, like the store's integrate_energy. Each step counts for its real length: the window
# now running and a first window cut by the range start are shorter than 5 minutes.
EV_ENERGY_STEPS = f"""ev = {series("charger", "power_w")}
  |> aggregateWindow(every: 5m, fn: mean, createEmpty: false, timeSrc: "_start")
  |> group()
grid = {series("p1", "active_power_w")}
  |> aggregateWindow(every: 5m, fn: mean, createEmpty: false, timeSrc: "_start")
  |> group()
steps = union(tables: [ev, grid])
  |> pivot(rowKey: ["_time", "_stop"], columnKey: ["_measurement"], valueColumn: "_value")
  |> filter(fn: (r) => exists r.charger)
  |> map(fn: (r) => {{
      startNs = int(v: r._time)
      windowEndNs = startNs - startNs % 300000000000 + 300000000000
      stopNs = int(v: r._stop)
      endNs = if windowEndNs < stopNs then windowEndNs else stopNs
      hours = float(v: endNs - startNs) / 3600000000000.0
      evW = if r.charger > 0.0 then r.charger else 0.0
      gridW = if exists r.p1 then r.p1 else evW
      solarW = if gridW <= 0.0 then evW else if gridW >= evW then 0.0 else evW - gridW
      return {{
          _time: r._time,
          ev_kwh: evW * hours / 1000.0,
          solar_kwh: solarW * hours / 1000.0,
      }}
  }})"""

EV_TOTALS = f"""{EV_ENERGY_STEPS}
totals = steps
  |> reduce(
      fn: (r, accumulator) => ({{
          ev_kwh: accumulator.ev_kwh + r.ev_kwh,
          solar_kwh: accumulator.solar_kwh + r.solar_kwh,
      }}),
      identity: {{ev_kwh: 0.0, solar_kwh: 0.0}},
  )"""

EV_KWH_TODAY = f"""{EV_TOTALS}
totals |> map(fn: (r) => ({{ev_kwh: r.ev_kwh}}))"""

SOLAR_SHARE_TODAY = f"""{EV_TOTALS}
totals
  |> filter(fn: (r) => r.ev_kwh > 0.0)
  |> map(fn: (r) => ({{solar_share_pct: 100.0 * r.solar_kwh / r.ev_kwh}}))"""

LOCATION = '{zone: "${timezone}", offset: 0h}'

DAILY_EV_KWH = f"""{EV_ENERGY_STEPS}
steps
  |> window(every: 1d, location: {LOCATION})
  |> reduce(
      fn: (r, accumulator) => ({{
          solar_kwh: accumulator.solar_kwh + r.solar_kwh,
          grid_kwh: accumulator.grid_kwh + r.ev_kwh - r.solar_kwh,
      }}),
      identity: {{solar_kwh: 0.0, grid_kwh: 0.0}},
  )
  |> duplicate(column: "_start", as: "_time")
  |> window(every: inf)
  |> keep(columns: ["_time", "solar_kwh", "grid_kwh"])"""


def meter_counter_delta(field: str, column: str) -> str:
    """kWh over the range from the meter's own counter: last minus first reading, per meter."""
    return f"""{series("p1", field)}
  |> spread()
  |> group()
  |> sum()
  |> map(fn: (r) => ({{{column}: r._value}}))"""


STARTS_TODAY = f"""{series("decision", "action")}
  |> filter(fn: (r) => r._value == "start")
  |> group()
  |> count()
  |> map(fn: (r) => ({{starts: r._value}}))"""

# The meter's own running peak of 15-minute averages this month (the capacity tariff's basis);
# its newest value, whichever meter tag it came under.
MONTH_PEAK = f"""{series("p1", "montly_power_peak_w")}
  |> last()
  |> group()
  |> sort(columns: ["_time"], desc: true)
  |> limit(n: 1)
  |> map(fn: (r) => ({{month_peak_w: r._value}}))"""

MONTHLY_PEAKS = f"""{series("p1", "montly_power_peak_w")}
  |> aggregateWindow(
      every: 1mo, fn: max, timeSrc: "_start", createEmpty: false, location: {LOCATION},
  )
  |> group()
  |> map(fn: (r) => ({{_time: r._time, month_peak_w: r._value}}))"""

ANNOTATE_MODES = f"""{RANGE}
  |> filter(fn: (r) => r._measurement == "mode")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> map(fn: (r) => ({{
      _time: r._time,
      text: "Mode " + (if exists r.mode then r.mode else "?")
          + " (set by " + (if exists r.source then r.source else "?") + ")",
  }}))"""

ANNOTATE_STARTS_STOPS = f"""{RANGE}
  |> filter(fn: (r) => r._measurement == "decision")
  |> filter(fn: (r) => r._field == "action" or r._field == "reason")
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> filter(fn: (r) => r.action == "start" or r.action == "stop")
  |> map(fn: (r) => ({{
      _time: r._time,
      text: "Charging " + r.action + " (mode " + r.mode + "): "
          + (if exists r.reason then r.reason else ""),
  }}))"""
