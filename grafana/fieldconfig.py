"""Small typed pieces the panels share: colours, thresholds, overrides, legend, tooltip, grid.

Each returns a foundation-SDK builder or model (``grafana-foundation-sdk``), so grafana/panels.py
reads as what each panel shows, and a wrong option is a mypy error here rather than a panel
Grafana silently ignores.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dash


def fixed(color: str) -> db.FieldColor:
    return db.FieldColor().mode(dash.FieldColorModeId.FIXED).fixed_color(color)


def palette() -> db.FieldColor:
    return db.FieldColor().mode(dash.FieldColorModeId.PALETTE_CLASSIC)


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute steps; the first one's value is None (Grafana's -Infinity)."""
    return (
        db.ThresholdsConfig()
        .mode(dash.ThresholdsMode.ABSOLUTE)
        .steps([dash.Threshold(value=value, color=color) for value, color in steps])
    )


BASE_STEPS: tuple[float | None, str] = (None, "green")


def prop(id_val: str, value: object) -> dash.DynamicConfigValue:
    return dash.DynamicConfigValue(id_val=id_val, value=value)


def dashed() -> dash.DynamicConfigValue:
    return prop("custom.lineStyle", cb.LineStyle().fill("dash").dash([10, 10]).build())


#: A bold line without fill, for series drawn over the filled grid power.
LINE_ONLY = (prop("custom.lineWidth", 2), prop("custom.fillOpacity", 0))


def rename(
    column: str, display: str, color: str, *extra: dash.DynamicConfigValue
) -> db.DashboardFieldConfigSourceOverrides:
    """A query column shown under a readable name in a fixed colour."""
    return (
        db.DashboardFieldConfigSourceOverrides()
        .matcher(dash.MatcherConfig(id_val="byName", options=column))
        .properties([prop("displayName", display), prop("color", fixed(color).build()), *extra])
    )


def legend(show: bool = True) -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(show)
        .calcs([])
    )


def tooltip() -> cb.VizTooltipOptions:
    return cb.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE)


def shown() -> cb.HideSeriesConfig:
    return cb.HideSeriesConfig().legend(False).tooltip(False).viz(False)


def grid(x: int, y: int, w: int, h: int) -> dash.GridPos:
    return dash.GridPos(x=x, y=y, w=w, h=h)
