"""Writes grafana/dashboards/*.json from the readable Flux below (``python grafana/build.py``).

Flux inside JSON strings is unreadable and unreviewable, so the queries live here as text and the
dashboard JSON that Grafana provisions is generated from them; ``--check`` (run by the tests)
fails when the committed JSON is stale. Grafana 11 model, schemaVersion 41.

The queries read exactly the store schema (docs/design.md, "Store schema"). Grafana replaces the
macros ``v.timeRangeStart``, ``v.timeRangeStop``, ``v.windowPeriod`` and ``v.defaultBucket`` (the
datasource's bucket) before sending a query, and ``${timezone}`` from the dashboard variable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "influxdb", "uid": "scc-influxdb"}
OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DEFAULT_TIMEZONE = "Europe/Brussels"

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


# --- Grafana JSON building blocks -------------------------------------------------------------


def target(ref_id: str, query: str) -> dict[str, Any]:
    return {"refId": ref_id, "datasource": DATASOURCE, "query": query}


def rename(column: str, display: str, color: str, extra: list | None = None) -> dict[str, Any]:
    props = [
        {"id": "displayName", "value": display},
        {"id": "color", "value": {"mode": "fixed", "fixedColor": color}},
    ]
    return {"matcher": {"id": "byName", "options": column}, "properties": props + (extra or [])}


#: A bold line without fill, for series drawn over the filled grid power.
LINE_ONLY = [
    {"id": "custom.lineWidth", "value": 2},
    {"id": "custom.fillOpacity", "value": 0},
]
LEGEND = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}
TOOLTIP = {"mode": "multi", "sort": "none"}


def timeseries_custom(**overrides: Any) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "fillOpacity": 10,
        "gradientMode": "none",
        "showPoints": "never",
        "pointSize": 4,
        "spanNulls": False,
        "axisPlacement": "auto",
        "axisLabel": "",
        "axisCenteredZero": False,
        "axisSoftMin": 0,
        "stacking": {"mode": "none", "group": "A"},
        "thresholdsStyle": {"mode": "off"},
        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
    }
    custom.update(overrides)
    return {k: v for k, v in custom.items() if v is not None}


def base_thresholds() -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": "green", "value": None}]}


def stat(
    pid: int,
    title: str,
    description: str,
    query: str,
    unit: str,
    x: int,
    time_from: str,
    decimals: int = 1,
    color: str = "blue",
    thresholds: dict[str, Any] | None = None,
) -> dict[str, Any]:
    color_cfg = {"mode": "thresholds"} if thresholds else {"mode": "fixed", "fixedColor": color}
    return {
        "id": pid,
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 4, "w": 4, "x": x, "y": 0},
        "timeFrom": time_from,
        "targets": [target("A", query)],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "decimals": decimals,
                "noValue": "0" if unit != "percent" else "-",
                "color": color_cfg,
                "thresholds": thresholds or base_thresholds(),
                "mappings": [],
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "value",
            "wideLayout": True,
            "showPercentChange": False,
        },
    }


def panels() -> list[dict[str, Any]]:
    today = "now/d"
    share_thresholds = {
        "mode": "absolute",
        "steps": [
            {"color": "red", "value": None},
            {"color": "orange", "value": 50},
            {"color": "green", "value": 80},
        ],
    }
    out: list[dict[str, Any]] = [
        stat(
            1,
            "EV charged today",
            "Energy into the car since midnight.",
            EV_KWH_TODAY,
            "kwatth",
            0,
            today,
        ),
        stat(
            2,
            "Solar share today",
            "Part of today's EV energy that the solar surplus covered (5-minute steps).",
            SOLAR_SHARE_TODAY,
            "percent",
            4,
            today,
            decimals=0,
            thresholds=share_thresholds,
        ),
        stat(
            3,
            "Exported today",
            "Grid export since midnight, from the meter's own counter.",
            meter_counter_delta("total_power_export_kwh", "export_kwh"),
            "kwatth",
            8,
            today,
            color="green",
        ),
        stat(
            4,
            "Imported today",
            "Grid import since midnight, from the meter's own counter.",
            meter_counter_delta("total_power_import_kwh", "import_kwh"),
            "kwatth",
            12,
            today,
            color="red",
        ),
        stat(
            5,
            "Charging starts today",
            "How often the controller started charging today.",
            STARTS_TODAY,
            "none",
            16,
            today,
            decimals=0,
            color="purple",
        ),
        stat(
            6,
            "This month's 15-min peak",
            "The meter's highest 15-minute average import this month (the capacity tariff).",
            MONTH_PEAK,
            "watt",
            20,
            "now/M",
            decimals=0,
            color="orange",
        ),
        {
            "id": 7,
            "type": "timeseries",
            "title": "Power: grid, estimated PV surplus and EV",
            "description": (
                "Grid import above zero, export below. Estimated PV surplus = EV power - grid "
                "power: what the car could take with the house load as it is. The dashed line is "
                "the controller's own surplus (its window mean) at each decision."
            ),
            "datasource": DATASOURCE,
            "gridPos": {"h": 10, "w": 24, "x": 0, "y": 4},
            "targets": [
                target("A", GRID_IMPORT_EXPORT),
                target("B", windowed("charger", "power_w", "ev_w")),
                target("C", ESTIMATED_SURPLUS),
                target("D", windowed("decision", "surplus_w", "controller_surplus_w")),
            ],
            "fieldConfig": {
                "defaults": {
                    "unit": "watt",
                    "custom": timeseries_custom(axisSoftMin=None, axisCenteredZero=True),
                    "color": {"mode": "palette-classic"},
                    "thresholds": base_thresholds(),
                    "mappings": [],
                },
                "overrides": [
                    rename("import_w", "Grid import", "red"),
                    rename(
                        "export_w",
                        "Grid export",
                        "green",
                        [{"id": "custom.transform", "value": "negative-Y"}],
                    ),
                    rename(
                        "ev_w",
                        "EV charging",
                        "blue",
                        LINE_ONLY,
                    ),
                    rename(
                        "surplus_w",
                        "Estimated PV surplus",
                        "yellow",
                        LINE_ONLY,
                    ),
                    rename(
                        "controller_surplus_w",
                        "Controller surplus",
                        "orange",
                        [
                            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                            {"id": "custom.fillOpacity", "value": 0},
                        ],
                    ),
                ],
            },
            "options": {"legend": LEGEND, "tooltip": TOOLTIP},
        },
        {
            "id": 8,
            "type": "timeseries",
            "title": "Charging current: setpoint vs target",
            "description": (
                "Setpoint: the current the charger is set to (read or sent). Target: what the "
                "controller computed from the surplus at each cycle, floor(surplus / W per A), "
                "clamped to the charger's range; 0 means pause."
            ),
            "datasource": DATASOURCE,
            "gridPos": {"h": 8, "w": 24, "x": 0, "y": 14},
            "targets": [
                target("A", windowed("charger", "current_a", "setpoint_a")),
                target("B", windowed("decision", "target_a", "target_a")),
            ],
            "fieldConfig": {
                "defaults": {
                    "unit": "amp",
                    "decimals": 0,
                    "custom": timeseries_custom(
                        lineInterpolation="stepAfter", fillOpacity=0, lineWidth=2
                    ),
                    "color": {"mode": "palette-classic"},
                    "thresholds": base_thresholds(),
                    "mappings": [],
                },
                "overrides": [
                    rename("setpoint_a", "Charger setpoint", "blue"),
                    rename(
                        "target_a",
                        "Controller target",
                        "yellow",
                        [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}],
                    ),
                ],
            },
            "options": {"legend": LEGEND, "tooltip": TOOLTIP},
        },
        {
            "id": 9,
            "type": "barchart",
            "title": "EV energy per day: solar and grid (30 days)",
            "description": (
                "Each day's EV energy, split into the part the solar surplus covered and the part "
                "from the grid. Days follow the dashboard's timezone variable."
            ),
            "datasource": DATASOURCE,
            "gridPos": {"h": 9, "w": 24, "x": 0, "y": 22},
            "timeFrom": "30d",
            "targets": [target("A", DAILY_EV_KWH)],
            "fieldConfig": {
                "defaults": {
                    "unit": "kwatth",
                    "decimals": 1,
                    "custom": {
                        "lineWidth": 1,
                        "fillOpacity": 80,
                        "gradientMode": "none",
                        "axisPlacement": "auto",
                        "axisLabel": "",
                        "axisSoftMin": 0,
                        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                    },
                    "color": {"mode": "palette-classic"},
                    "thresholds": base_thresholds(),
                    "mappings": [],
                },
                "overrides": [
                    rename("solar_kwh", "Solar", "yellow"),
                    rename("grid_kwh", "Grid", "red"),
                ],
            },
            "options": {
                "xField": "_time",
                "orientation": "auto",
                "stacking": "normal",
                "showValue": "never",
                "groupWidth": 0.7,
                "barWidth": 0.9,
                "barRadius": 0,
                "xTickLabelRotation": 0,
                "xTickLabelSpacing": 100,
                "fullHighlight": False,
                "legend": LEGEND,
                "tooltip": TOOLTIP,
            },
        },
        {
            "id": 10,
            "type": "timeseries",
            "title": "Capacity tariff: 15-minute average vs this month's peak",
            "description": (
                "The meter's running 15-minute average import and its monthly peak: keep the "
                "average under the peak to avoid raising this month's capacity charge."
            ),
            "datasource": DATASOURCE,
            "gridPos": {"h": 9, "w": 16, "x": 0, "y": 31},
            "targets": [
                target("A", windowed("p1", "active_power_average_w", "quarter_average_w", "max")),
                target("B", windowed("p1", "montly_power_peak_w", "month_peak_w", "max")),
            ],
            "fieldConfig": {
                "defaults": {
                    "unit": "watt",
                    "custom": timeseries_custom(fillOpacity=0),
                    "color": {"mode": "palette-classic"},
                    "thresholds": base_thresholds(),
                    "mappings": [],
                },
                "overrides": [
                    rename("quarter_average_w", "15-minute average", "blue"),
                    rename(
                        "month_peak_w",
                        "Month's peak",
                        "orange",
                        [
                            {"id": "custom.lineInterpolation", "value": "stepAfter"},
                            {"id": "custom.lineWidth", "value": 2},
                        ],
                    ),
                ],
            },
            "options": {"legend": LEGEND, "tooltip": TOOLTIP},
        },
        {
            "id": 11,
            "type": "barchart",
            "title": "Monthly 15-minute peak (12 months)",
            "description": "Each month's capacity-tariff peak as the meter reported it.",
            "datasource": DATASOURCE,
            "gridPos": {"h": 9, "w": 8, "x": 16, "y": 31},
            "timeFrom": "1y",
            "targets": [target("A", MONTHLY_PEAKS)],
            "fieldConfig": {
                "defaults": {
                    "unit": "watt",
                    "decimals": 0,
                    "custom": {
                        "lineWidth": 1,
                        "fillOpacity": 80,
                        "gradientMode": "none",
                        "axisPlacement": "auto",
                        "axisLabel": "",
                        "axisSoftMin": 0,
                        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                    },
                    "color": {"mode": "fixed", "fixedColor": "orange"},
                    "thresholds": base_thresholds(),
                    "mappings": [],
                },
                "overrides": [rename("month_peak_w", "Month's peak", "orange")],
            },
            "options": {
                "xField": "_time",
                "orientation": "auto",
                "stacking": "none",
                "showValue": "auto",
                "groupWidth": 0.7,
                "barWidth": 0.9,
                "barRadius": 0,
                "xTickLabelRotation": 0,
                "xTickLabelSpacing": 100,
                "fullHighlight": False,
                "legend": {**LEGEND, "showLegend": False},
                "tooltip": TOOLTIP,
            },
        },
    ]
    return out


def annotation(name: str, color: str, query: str) -> dict[str, Any]:
    # Grafana 11's InfluxDB plugin in Flux mode runs annotations through the standard pipeline:
    # the target is an ordinary query; `_time` places the event and the `text` column labels it.
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": color,
        "target": {"refId": "Anno", "query": query},
    }


def solar_charging() -> dict[str, Any]:
    return {
        "uid": "scc-solar-charging",
        "title": "Solar charging",
        "description": "Solar Car Charge: grid, surplus, EV charging, energy and capacity tariff.",
        "tags": ["solar-car-charge"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "refresh": "1m",
        "schemaVersion": 41,
        "version": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "monday",
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                },
                annotation("Mode changes", "purple", ANNOTATE_MODES),
                annotation("Charging starts and stops", "blue", ANNOTATE_STARTS_STOPS),
            ]
        },
        "templating": {
            "list": [
                {
                    "type": "textbox",
                    "name": "timezone",
                    "label": "Time zone for days and months",
                    "description": "IANA time zone name; the daily and monthly bars follow it.",
                    "query": DEFAULT_TIMEZONE,
                    "current": {"text": DEFAULT_TIMEZONE, "value": DEFAULT_TIMEZONE},
                    "options": [
                        {"selected": True, "text": DEFAULT_TIMEZONE, "value": DEFAULT_TIMEZONE}
                    ],
                    "hide": 0,
                }
            ]
        },
        "panels": panels(),
    }


DASHBOARDS = {"solar-charging.json": solar_charging}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT_DIR / name
        text = render(build)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)}; run: python grafana/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
