"""Writes grafana/dashboards/*.json from typed builders (``python -m grafana.build``).

The dashboards are built with Grafana's foundation SDK (``grafana-foundation-sdk``, its Grafana
11.6 build, pinned in pyproject.toml's ``grafana`` extra): its builders and models are generated
from the schema Grafana itself validates dashboards with, so the JSON is valid by construction
and mypy checks every option name and enum value. The Flux they run is in grafana/queries.py,
the panels in grafana/panels.py. ``--check`` (run by the tests) fails when the committed JSON is
stale. Grafana 11 model, schemaVersion 41 (the SDK's).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

try:
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import dashboard as dash

    from grafana import queries as q
    from grafana.influxdb import INFLUXDB, FluxAnnotation
    from grafana.panels import panels
except ModuleNotFoundError as missing:
    if missing.name != "grafana_foundation_sdk":
        raise
    raise SystemExit(
        "error: grafana/build.py needs grafana-foundation-sdk: pip install -e '.[grafana]'"
    ) from missing

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DEFAULT_TIMEZONE = "Europe/Brussels"
GRAFANA_ANNOTATIONS = dash.DataSourceRef(type_val="grafana", uid="-- Grafana --")


def builtin_annotations() -> db.AnnotationQuery:
    """Grafana's own annotation store, which every dashboard has (hidden from the toolbar)."""
    return (
        db.AnnotationQuery()
        .name("Annotations & Alerts")
        .built_in(1)
        .type("dashboard")
        .datasource(GRAFANA_ANNOTATIONS)
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
    )


def flux_annotations(name: str, color: str, query: str) -> db.AnnotationQuery:
    # Grafana 11's InfluxDB plugin in Flux mode runs annotations through the standard pipeline:
    # the target is an ordinary query; `_time` places the event and the `text` column labels it.
    return (
        db.AnnotationQuery()
        .name(name)
        .datasource(INFLUXDB)
        .enable(True)
        .hide(False)
        .icon_color(color)
        .target(FluxAnnotation(query))
    )


def timezone_variable() -> db.TextBoxVariable:
    """``${timezone}``: the zone the daily and monthly bars cut days and months in."""
    return (
        db.TextBoxVariable("timezone")
        .label("Time zone for days and months")
        .description("IANA time zone name; the daily and monthly bars follow it.")
        .default_value(DEFAULT_TIMEZONE)
        .current(dash.VariableOption(text=DEFAULT_TIMEZONE, value=DEFAULT_TIMEZONE))
        .options(
            [dash.VariableOption(selected=True, text=DEFAULT_TIMEZONE, value=DEFAULT_TIMEZONE)]
        )
        .hide(dash.VariableHide.DONT_HIDE)
    )


def solar_charging() -> db.Dashboard:
    board = (
        db.Dashboard("Solar charging")
        .uid("scc-solar-charging")
        .description("Solar Car Charge: grid, surplus, EV charging, energy and capacity tariff.")
        .tags(["solar-car-charge"])
        .timezone("browser")
        .editable()
        .tooltip(dash.DashboardCursorSync.CROSSHAIR)
        .time("now-24h", "now")
        .refresh("1m")
        .version(1)
        .fiscal_year_start_month(0)
        .live_now(False)
        .week_start("monday")
        .links([])
        .annotations(
            [
                builtin_annotations(),
                flux_annotations("Mode changes", "purple", q.ANNOTATE_MODES),
                flux_annotations("Charging starts and stops", "blue", q.ANNOTATE_STARTS_STOPS),
            ]
        )
        .with_variable(timezone_variable())
    )
    for panel in panels():
        board.with_panel(panel)
    return board


DASHBOARDS: dict[str, Callable[[], db.Dashboard]] = {"solar-charging.json": solar_charging}


def render(make: Callable[[], db.Dashboard]) -> str:
    return json.dumps(make().build(), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, make in DASHBOARDS.items():
        path = OUT_DIR / name
        text = render(make)
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
        print(f"stale: {', '.join(stale)}; run: python -m grafana.build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
