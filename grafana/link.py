"""The panels about how the charger is reached: through the Wallbox cloud or locally over OCPP,
whether it answers, its firmware, and the current on each phase that a local charger measures.

A row under the others (grafana/panels.py lays out the rest): three stats, then the per-phase
currents full width. On the cloud the per-phase graph stays empty: the cloud does not report them.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dash

from grafana import queries as q
from grafana.fieldconfig import grid, rename
from grafana.influxdb import Flux
from grafana.panels import line_graph, stat_panel

#: The row's top on the 24-column grid: below the capacity tariff and the monthly peaks.
TOP = 40


def _text_stat(
    pid: int, title: str, description: str, query: str, column: str, x: int
) -> stat.Panel:
    """The latest text of a query (a stat that shows strings, over today)."""
    return (
        stat_panel(pid, title, description, query, "none", x=x, time_from="now/d", decimals=0)
        .grid_pos(grid(x, TOP, 8, 4))
        .no_value("-")
        .reduce_options(
            cb.ReduceDataOptions().calcs(["lastNotNull"]).fields(f"/^{column}$/").values(False)
        )
    )


def link() -> stat.Panel:
    return _text_stat(
        12,
        "Charger link",
        "How the controller reaches the charger: through the Wallbox cloud, or locally over "
        "OCPP (the charger connects to the controller on the LAN).",
        q.last_charger_value("link", "link"),
        "link",
        x=0,
    ).mappings(
        [
            dash.ValueMap(
                options={
                    "ocpp": dash.ValueMappingResult(text="local (OCPP)", color="green", index=0),
                    "cloud": dash.ValueMappingResult(text="Wallbox cloud", color="blue", index=1),
                }
            )
        ]
    )


def firmware() -> stat.Panel:
    return _text_stat(
        13,
        "Charger firmware",
        "The firmware the charger reported when it last booted (local control only).",
        q.last_charger_value("firmware", "firmware"),
        "firmware",
        x=8,
    )


def last_heard() -> stat.Panel:
    return stat_panel(
        14,
        "Charger last heard",
        "Seconds since the controller last read the charger. It reads it every cycle (10 s "
        "locally, 60 s on the cloud); a growing number means the charger is not connected.",
        q.CHARGER_LAST_HEARD,
        "s",
        x=16,
        decimals=0,
        steps=((None, "green"), (180, "red")),
    ).grid_pos(grid(16, TOP, 8, 4))


def phase_currents() -> timeseries.Panel:
    return (
        line_graph(
            15,
            "Current per phase (measured by the charger)",
            "What the charger measures on each phase when it is steered locally over OCPP. A car "
            "that charges on one phase draws on L1 only.",
            grid(0, TOP + 4, 24, 8),
            "amp",
            *(
                Flux(ref, q.windowed("charger", f"current_l{n}_a", f"l{n}_a"))
                for ref, n in (("A", 1), ("B", 2), ("C", 3))
            ),
        )
        .decimals(1)
        .axis_soft_min(0)
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .fill_opacity(0)
        .overrides(
            [
                rename("l1_a", "L1", "blue"),
                rename("l2_a", "L2", "orange"),
                rename("l3_a", "L3", "purple"),
            ]
        )
    )


def panels() -> list[stat.Panel | timeseries.Panel]:
    return [link(), firmware(), last_heard(), phase_currents()]
