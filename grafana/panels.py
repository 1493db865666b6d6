"""The solar-charging dashboard's panels, built with Grafana's typed builders.

Each panel is a foundation-SDK builder (``grafana-foundation-sdk``, generated from the same
schema Grafana 11.6 validates dashboards with), so a misspelt option, a wrong enum value or a
property in the wrong place is a type error in mypy, not a panel Grafana silently ignores. The
Flux each panel runs is in grafana/queries.py.

Layout on the 24-column grid: six 4-wide stats in the first row, then the power and current
graphs full width, the daily energy bars full width, and the capacity tariff beside the monthly
peaks.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, stat, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dash

from grafana import queries as q
from grafana.fieldconfig import (
    BASE_STEPS,
    LINE_ONLY,
    dashed,
    fixed,
    grid,
    legend,
    palette,
    prop,
    rename,
    shown,
    thresholds,
    tooltip,
)
from grafana.influxdb import INFLUXDB, Flux

TODAY = "now/d"

# --- stats ------------------------------------------------------------------------------------


def stat_panel(
    pid: int,
    title: str,
    description: str,
    query: str,
    unit: str,
    x: int,
    time_from: str = TODAY,
    decimals: int = 1,
    color: str = "blue",
    steps: tuple[tuple[float | None, str], ...] | None = None,
) -> stat.Panel:
    """One number in the top row: the last value of a query over its own range (time_from)."""
    return (
        stat.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(INFLUXDB)
        .grid_pos(grid(x, 0, 4, 4))
        .time_from(time_from)
        .targets([Flux("A", query)])
        .unit(unit)
        .decimals(decimals)
        .no_value("-" if unit == "percent" else "0")
        .color_scheme(
            db.FieldColor().mode(dash.FieldColorModeId.THRESHOLDS) if steps else fixed(color)
        )
        .thresholds(thresholds(*(steps or (BASE_STEPS,))))
        .mappings([])
        .overrides([])
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .text_mode(common.BigValueTextMode.VALUE)
        .wide_layout(True)
        .show_percent_change(False)
    )


def stats() -> list[stat.Panel]:
    return [
        stat_panel(
            1,
            "EV charged today",
            "Energy into the car since midnight.",
            q.EV_KWH_TODAY,
            "kwatth",
            x=0,
        ),
        stat_panel(
            2,
            "Solar share today",
            "Part of today's EV energy that the solar surplus covered (5-minute steps).",
            q.SOLAR_SHARE_TODAY,
            "percent",
            x=4,
            decimals=0,
            steps=((None, "red"), (50, "orange"), (80, "green")),
        ),
        stat_panel(
            3,
            "Exported today",
            "Grid export since midnight, from the meter's own counter.",
            q.meter_counter_delta("total_power_export_kwh", "export_kwh"),
            "kwatth",
            x=8,
            color="green",
        ),
        stat_panel(
            4,
            "Imported today",
            "Grid import since midnight, from the meter's own counter.",
            q.meter_counter_delta("total_power_import_kwh", "import_kwh"),
            "kwatth",
            x=12,
            color="red",
        ),
        stat_panel(
            5,
            "Charging starts today",
            "How often the controller started charging today.",
            q.STARTS_TODAY,
            "none",
            x=16,
            decimals=0,
            color="purple",
        ),
        stat_panel(
            6,
            "This month's 15-min peak",
            "The meter's highest 15-minute average import this month (the capacity tariff).",
            q.MONTH_PEAK,
            "watt",
            x=20,
            time_from="now/M",
            decimals=0,
            color="orange",
        ),
    ]


# --- graphs -----------------------------------------------------------------------------------


def line_graph(
    pid: int, title: str, description: str, where: dash.GridPos, unit: str, *targets: Flux
) -> timeseries.Panel:
    """A time series over the dashboard's range: thin lines, lightly filled, no points."""
    return (
        timeseries.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(INFLUXDB)
        .grid_pos(where)
        .targets(list(targets))
        .unit(unit)
        .draw_style(common.GraphDrawStyle.LINE)
        .line_interpolation(common.LineInterpolation.LINEAR)
        .line_width(1)
        .fill_opacity(10)
        .gradient_mode(common.GraphGradientMode.NONE)
        .show_points(common.VisibilityMode.NEVER)
        .point_size(4)
        .span_nulls(False)
        .axis_placement(common.AxisPlacement.AUTO)
        .axis_label("")
        .axis_centered_zero(False)
        .stacking(cb.StackingConfig().mode(common.StackingMode.NONE).group("A"))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.OFF))
        .hide_from(shown())
        .color_scheme(palette())
        .thresholds(thresholds(BASE_STEPS))
        .mappings([])
        .legend(legend())
        .tooltip(tooltip())
    )


def power() -> timeseries.Panel:
    return (
        line_graph(
            7,
            "Power: grid, estimated PV surplus and EV",
            "Grid import above zero, export below. Estimated PV surplus = EV power - grid "
            "power: what the car could take with the house load as it is. The dashed line is "
            "the controller's own surplus (its window mean) at each decision.",
            grid(0, 4, 24, 10),
            "watt",
            Flux("A", q.GRID_IMPORT_EXPORT),
            Flux("B", q.windowed("charger", "power_w", "ev_w")),
            Flux("C", q.ESTIMATED_SURPLUS),
            Flux("D", q.windowed("decision", "surplus_w", "controller_surplus_w")),
        )
        .axis_centered_zero(True)
        .overrides(
            [
                rename("import_w", "Grid import", "red"),
                rename(
                    "export_w",
                    "Grid export",
                    "green",
                    prop("custom.transform", common.GraphTransform.NEGATIVE_Y),
                ),
                rename("ev_w", "EV charging", "blue", *LINE_ONLY),
                rename("surplus_w", "Estimated PV surplus", "yellow", *LINE_ONLY),
                rename(
                    "controller_surplus_w",
                    "Controller surplus",
                    "orange",
                    dashed(),
                    prop("custom.fillOpacity", 0),
                ),
            ]
        )
    )


def current() -> timeseries.Panel:
    return (
        line_graph(
            8,
            "Charging current: setpoint vs target",
            "Setpoint: the current the charger is set to (read or sent). Target: what the "
            "controller computed from the surplus at each cycle, floor(surplus / W per A), "
            "clamped to the charger's range; 0 means pause. Right axis: the watts per ampere "
            "the car draws, as the controller measured it (230 for a car on one phase, 692.8 "
            "for three on 3N~400 V), else the configured value.",
            grid(0, 14, 24, 8),
            "amp",
            Flux("A", q.windowed("charger", "current_a", "setpoint_a")),
            Flux("B", q.windowed("decision", "target_a", "target_a")),
            Flux("C", q.windowed("charger", "watts_per_amp", "car_w_per_a")),
        )
        .decimals(0)
        .axis_soft_min(0)
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .fill_opacity(0)
        .line_width(2)
        .overrides(
            [
                rename("setpoint_a", "Charger setpoint", "blue"),
                rename("target_a", "Controller target", "yellow", dashed()),
                rename(
                    "car_w_per_a",
                    "Car: W per A",
                    "purple",
                    prop("unit", "suffix: W/A"),
                    prop("custom.axisPlacement", "right"),
                    prop("custom.axisSoftMin", 0),
                    prop("decimals", 1),
                ),
            ]
        )
    )


def capacity_tariff() -> timeseries.Panel:
    return (
        line_graph(
            10,
            "Capacity tariff: 15-minute average vs this month's peak",
            "The meter's running 15-minute average import and its monthly peak: keep the "
            "average under the peak to avoid raising this month's capacity charge.",
            grid(0, 31, 16, 9),
            "watt",
            Flux("A", q.windowed("p1", "active_power_average_w", "quarter_average_w", "max")),
            Flux("B", q.windowed("p1", "montly_power_peak_w", "month_peak_w", "max")),
        )
        .axis_soft_min(0)
        .fill_opacity(0)
        .overrides(
            [
                rename("quarter_average_w", "15-minute average", "blue"),
                rename(
                    "month_peak_w",
                    "Month's peak",
                    "orange",
                    prop("custom.lineInterpolation", common.LineInterpolation.STEP_AFTER),
                    prop("custom.lineWidth", 2),
                ),
            ]
        )
    )


# --- bars -------------------------------------------------------------------------------------


def bars(
    pid: int, title: str, description: str, where: dash.GridPos, time_from: str, query: str
) -> barchart.Panel:
    """Bars over a fixed range, one per row the query returns, on a time x axis (``_time``)."""
    return (
        barchart.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(INFLUXDB)
        .grid_pos(where)
        .time_from(time_from)
        .targets([Flux("A", query)])
        .line_width(1)
        .fill_opacity(80)
        .gradient_mode(common.GraphGradientMode.NONE)
        .axis_placement(common.AxisPlacement.AUTO)
        .axis_label("")
        .axis_soft_min(0)
        .hide_from(shown())
        .thresholds(thresholds(BASE_STEPS))
        .mappings([])
        .x_field("_time")
        .orientation(common.VizOrientation.AUTO)
        .group_width(0.7)
        .bar_width(0.9)
        .bar_radius(0)
        .x_tick_label_rotation(0)
        .x_tick_label_spacing(100)
        .full_highlight(False)
        .tooltip(tooltip())
    )


def daily_energy() -> barchart.Panel:
    return (
        bars(
            9,
            "EV energy per day: solar and grid (30 days)",
            "Each day's EV energy, split into the part the solar surplus covered and the part "
            "from the grid. Days follow the dashboard's timezone variable.",
            grid(0, 22, 24, 9),
            "30d",
            q.DAILY_EV_KWH,
        )
        .unit("kwatth")
        .decimals(1)
        .color_scheme(palette())
        .stacking(common.StackingMode.NORMAL)
        .show_value(common.VisibilityMode.NEVER)
        .legend(legend())
        .overrides([rename("solar_kwh", "Solar", "yellow"), rename("grid_kwh", "Grid", "red")])
    )


def monthly_peaks() -> barchart.Panel:
    return (
        bars(
            11,
            "Monthly 15-minute peak (12 months)",
            "Each month's capacity-tariff peak as the meter reported it.",
            grid(16, 31, 8, 9),
            "1y",
            q.MONTHLY_PEAKS,
        )
        .unit("watt")
        .decimals(0)
        .color_scheme(fixed("orange"))
        .stacking(common.StackingMode.NONE)
        .show_value(common.VisibilityMode.AUTO)
        .legend(legend(show=False))
        .overrides([rename("month_peak_w", "Month's peak", "orange")])
    )


def panels() -> list[cogbuilder.Builder[dash.Panel]]:
    """Every panel, in the order Grafana lays them out (top to bottom, left to right)."""
    return [
        *stats(),
        power(),
        current(),
        daily_energy(),
        capacity_tariff(),
        monthly_peaks(),
    ]
